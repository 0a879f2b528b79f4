/*
 * locked.h - a uthash table behind a lock: one pthread_rwlock, one
 * pthread_mutex, or 1..64 shards each with its own rwlock (the shard is
 * chosen by hash64() of the key).  Locks use default attributes (glibc's
 * rwlock default prefers readers).  The subjects using it are in
 * subj_locked.c.
 */
#ifndef BENCH_LOCKED_H
#define BENCH_LOCKED_H

#include <stddef.h>
#include <stdint.h>

struct keyset;
struct kvref;

enum lock_kind { LOCK_RW, LOCK_MUTEX };

void *locked_create(const struct keyset *ks, enum lock_kind kind,
		    unsigned nshards);
int locked_find(void *m, const void *key, size_t klen, uint64_t *val);
int locked_put(void *m, const void *key, size_t klen, uint64_t val);
int locked_del(void *m, const void *key, size_t klen);
/* Takes every shard's write lock, in order: atomic for readers. */
int locked_batch(void *m, const struct kvref *kv, size_t n);
void locked_destroy(void *m);
size_t locked_bytes(void *m);

#endif /* BENCH_LOCKED_H */
