/*
 * subj_rwlock64.c - subject "rwlock64": uthash in 64 shards, one
 * pthread_rwlock each.
 * The code is in locked.c, shared with the other lock-based subjects.
 */
#include "config.h"

#include "bench.h"
#include "locked.h"

static void *create(const struct keyset *ks)
{
	return locked_create(ks, LOCK_RW, 64);
}

const struct subject subj_rwlock64 = {
	.name = "rwlock64",
	.flavor = "-",
	.what = "uthash in 64 shards, one pthread_rwlock each",
	.flags = SUBJ_CONCURRENT,
	.create = create,
	.find = locked_find,
	.put = locked_put,
	.del = locked_del,
	.batch = locked_batch,
	.destroy = locked_destroy,
	.bytes = locked_bytes,
};
