/*
 * locked.c - see locked.h.
 */
#include "config.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>

#include "bench.h"
#include "locked.h"
#include "uttable.h"

struct shard {
	alignas(64) union {
		pthread_rwlock_t rw;
		pthread_mutex_t mx;
	} lock;
	struct uttable t;
};

struct locked {
	enum lock_kind kind;
	unsigned nshards;	/* a power of two */
	unsigned shift;		/* 64 - log2(nshards) */
	struct shard *shards;
};

static struct shard *shard_of(struct locked *l, const void *key, size_t klen)
{
	if (l->nshards == 1)
		return l->shards;
	return &l->shards[hash64(key, klen) >> l->shift];
}

static void rd_lock(struct locked *l, struct shard *s)
{
	if (l->kind == LOCK_RW)
		pthread_rwlock_rdlock(&s->lock.rw);
	else
		pthread_mutex_lock(&s->lock.mx);
}

static void wr_lock(struct locked *l, struct shard *s)
{
	if (l->kind == LOCK_RW)
		pthread_rwlock_wrlock(&s->lock.rw);
	else
		pthread_mutex_lock(&s->lock.mx);
}

static void unlock(struct locked *l, struct shard *s)
{
	if (l->kind == LOCK_RW)
		pthread_rwlock_unlock(&s->lock.rw);
	else
		pthread_mutex_unlock(&s->lock.mx);
}

void *locked_create(const struct keyset *ks, enum lock_kind kind,
		    unsigned nshards)
{
	struct locked *l = xcalloc(1, sizeof(*l));

	l->kind = kind;
	l->nshards = nshards;
	l->shift = 64;
	while ((1u << (64 - l->shift)) < nshards)
		l->shift--;
	if (posix_memalign((void **)&l->shards, 64,
			   nshards * sizeof(*l->shards)))
		die("out of memory");
	for (unsigned i = 0; i < nshards; i++) {
		struct shard *s = &l->shards[i];

		if (kind == LOCK_RW)
			pthread_rwlock_init(&s->lock.rw, NULL);
		else
			pthread_mutex_init(&s->lock.mx, NULL);
		s->t.head = NULL;
	}
	for (size_t i = 0; i < ks->n; i++)
		ut_put(&shard_of(l, ks_key(ks, i), ks->klen)->t,
		       ks_key(ks, i), ks->klen, val_make(i, 0));
	return l;
}

int locked_find(void *m, const void *key, size_t klen, uint64_t *val)
{
	struct locked *l = m;
	struct shard *s = shard_of(l, key, klen);
	struct ut_entry *e;
	int found = 0;

	rd_lock(l, s);
	e = ut_lookup(&s->t, key, klen);
	if (e) {
		*val = e->val;
		found = 1;
	}
	unlock(l, s);
	return found;
}

int locked_put(void *m, const void *key, size_t klen, uint64_t val)
{
	struct locked *l = m;
	struct shard *s = shard_of(l, key, klen);

	wr_lock(l, s);
	ut_put(&s->t, key, klen, val);
	unlock(l, s);
	return 0;
}

int locked_del(void *m, const void *key, size_t klen)
{
	struct locked *l = m;
	struct shard *s = shard_of(l, key, klen);
	int r;

	wr_lock(l, s);
	r = ut_del(&s->t, key, klen);
	unlock(l, s);
	return r;
}

int locked_batch(void *m, const struct kvref *kv, size_t n)
{
	struct locked *l = m;

	for (unsigned i = 0; i < l->nshards; i++)
		wr_lock(l, &l->shards[i]);
	for (size_t i = 0; i < n; i++)
		ut_put(&shard_of(l, kv[i].key, kv[i].klen)->t,
		       kv[i].key, kv[i].klen, kv[i].val);
	for (unsigned i = l->nshards; i-- > 0;)
		unlock(l, &l->shards[i]);
	return 0;
}

void locked_destroy(void *m)
{
	struct locked *l = m;

	for (unsigned i = 0; i < l->nshards; i++) {
		struct shard *s = &l->shards[i];

		ut_clear(&s->t);
		if (l->kind == LOCK_RW)
			pthread_rwlock_destroy(&s->lock.rw);
		else
			pthread_mutex_destroy(&s->lock.mx);
	}
	free(l->shards);
	free(l);
}

size_t locked_bytes(void *m)
{
	struct locked *l = m;
	size_t b = sizeof(*l) + l->nshards * sizeof(*l->shards);

	for (unsigned i = 0; i < l->nshards; i++)
		b += ut_bytes(&l->shards[i].t);
	return b;
}
