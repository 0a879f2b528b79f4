/*
 * subj_rwlock.c - subject "rwlock": uthash behind one pthread_rwlock.
 * The code is in locked.c, shared with the other lock-based subjects.
 */
#include "config.h"

#include "bench.h"
#include "locked.h"

static void *create(const struct keyset *ks)
{
	return locked_create(ks, LOCK_RW, 1);
}

const struct subject subj_rwlock = {
	.name = "rwlock",
	.flavor = "-",
	.what = "uthash behind one pthread_rwlock",
	.flags = SUBJ_CONCURRENT,
	.create = create,
	.find = locked_find,
	.put = locked_put,
	.del = locked_del,
	.batch = locked_batch,
	.destroy = locked_destroy,
	.bytes = locked_bytes,
};
