/*
 * subj_locked.c - the lock-based subjects, all uthash behind pthread
 * locks; they differ only in the lock and the number of shards.  The
 * code is in locked.c.
 *   rwlock     one pthread_rwlock (what a C programmer writes first)
 *   rwlock64   64 shards, one pthread_rwlock each (the segment lock)
 *   mutex      one pthread_mutex
 */
#include "config.h"

#include "bench.h"
#include "locked.h"

static void *create_rwlock(const struct keyset *ks)
{
	return locked_create(ks, LOCK_RW, 1);
}

static void *create_rwlock64(const struct keyset *ks)
{
	return locked_create(ks, LOCK_RW, 64);
}

static void *create_mutex(const struct keyset *ks)
{
	return locked_create(ks, LOCK_MUTEX, 1);
}

#define LOCKED_SUBJECT(NAME, WHAT, CREATE)	\
	{					\
		.name = (NAME),			\
		.flavor = "-",			\
		.what = (WHAT),			\
		.flags = SUBJ_CONCURRENT,	\
		.create = (CREATE),		\
		.find = locked_find,		\
		.put = locked_put,		\
		.del = locked_del,		\
		.batch = locked_batch,		\
		.destroy = locked_destroy,	\
		.bytes = locked_bytes,		\
	}

const struct subject subj_rwlock = LOCKED_SUBJECT("rwlock",
	"uthash behind one pthread_rwlock", create_rwlock);
const struct subject subj_rwlock64 = LOCKED_SUBJECT("rwlock64",
	"uthash in 64 shards, one pthread_rwlock each", create_rwlock64);
const struct subject subj_mutex = LOCKED_SUBJECT("mutex",
	"uthash behind one pthread_mutex", create_mutex);
