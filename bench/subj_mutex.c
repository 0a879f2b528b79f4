/*
 * subj_mutex.c - subject "mutex": uthash behind one pthread_mutex.
 * The code is in locked.c, shared with the other lock-based subjects.
 */
#include "config.h"

#include "bench.h"
#include "locked.h"

static void *create(const struct keyset *ks)
{
	return locked_create(ks, LOCK_MUTEX, 1);
}

const struct subject subj_mutex = {
	.name = "mutex",
	.flavor = "-",
	.what = "uthash behind one pthread_mutex",
	.flags = SUBJ_CONCURRENT,
	.create = create,
	.find = locked_find,
	.put = locked_put,
	.del = locked_del,
	.batch = locked_batch,
	.destroy = locked_destroy,
	.bytes = locked_bytes,
};
