/*
 * subj_cow.c - subject "cow": the naive copy-on-write map, Go's
 * atomic.Value + copyMap pattern.  Every write takes a writer mutex,
 * deep-copies every key and value of the current uthash table into a new
 * one, applies the change, publishes it with rcu_assign_pointer and frees
 * the old table with call_rcu (memb flavor).  Readers: rcu_read_lock,
 * rcu_dereference, HASH_FIND.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define _LGPL_SOURCE
#include <urcu.h>		/* memb flavor, with the rcu_* names */

#include "bench.h"
#include "uttable.h"

struct cow_ver {
	struct uttable t;
	struct rcu_head rcu;
};

struct cow {
	struct cow_ver *cur;	/* RCU-published */
	pthread_mutex_t wlock;
};

static void free_ver(struct rcu_head *head)
{
	struct cow_ver *v = caa_container_of(head, struct cow_ver, rcu);

	ut_clear(&v->t);
	free(v);
}

static void *create(const struct keyset *ks)
{
	struct cow *c = xcalloc(1, sizeof(*c));

	c->cur = xcalloc(1, sizeof(*c->cur));
	ut_build(&c->cur->t, ks);
	pthread_mutex_init(&c->wlock, NULL);
	return c;
}

static int find(void *m, const void *key, size_t klen, uint64_t *val)
{
	struct cow *c = m;
	struct ut_entry *e;
	int found = 0;

	rcu_read_lock();
	e = ut_lookup(&rcu_dereference(c->cur)->t, key, klen);
	if (e) {
		*val = e->val;
		found = 1;
	}
	rcu_read_unlock();
	return found;
}

/* The copy: called with the writer mutex held. */
static struct cow_ver *copy_cur(struct cow *c)
{
	struct cow_ver *v = xcalloc(1, sizeof(*v));

	ut_clone(&v->t, &c->cur->t);
	return v;
}

/* Publish @v, retire the old version; unlocks the writer mutex. */
static void publish(struct cow *c, struct cow_ver *v)
{
	struct cow_ver *old = c->cur;

	rcu_assign_pointer(c->cur, v);
	pthread_mutex_unlock(&c->wlock);
	call_rcu(&old->rcu, free_ver);
}

static int put(void *m, const void *key, size_t klen, uint64_t val)
{
	struct cow *c = m;
	struct cow_ver *v;

	pthread_mutex_lock(&c->wlock);
	v = copy_cur(c);
	ut_put(&v->t, key, klen, val);
	publish(c, v);
	return 0;
}

static int del(void *m, const void *key, size_t klen)
{
	struct cow *c = m;
	struct cow_ver *v;

	pthread_mutex_lock(&c->wlock);
	if (!ut_lookup(&c->cur->t, key, klen)) {
		pthread_mutex_unlock(&c->wlock);
		return -ENOENT;
	}
	v = copy_cur(c);
	ut_del(&v->t, key, klen);
	publish(c, v);
	return 0;
}

/* One copy for the whole batch, as a Go programmer would write it. */
static int batch(void *m, const struct kvref *kv, size_t n)
{
	struct cow *c = m;
	struct cow_ver *v;

	pthread_mutex_lock(&c->wlock);
	v = copy_cur(c);
	for (size_t i = 0; i < n; i++)
		ut_put(&v->t, kv[i].key, kv[i].klen, kv[i].val);
	publish(c, v);
	return 0;
}

static void destroy(void *m)
{
	struct cow *c = m;

	rcu_barrier();
	ut_clear(&c->cur->t);
	free(c->cur);
	pthread_mutex_destroy(&c->wlock);
	free(c);
}

static size_t bytes(void *m)
{
	struct cow *c = m;

	return sizeof(*c) + sizeof(*c->cur) + ut_bytes(&c->cur->t);
}

const struct subject subj_cow = {
	.name = "cow",
	.flavor = "memb",
	.what = "naive copy-on-write uthash (deep copy per write), RCU-published",
	.flags = SUBJ_CONCURRENT,
	.create = create,
	.find = find,
	.put = put,
	.del = del,
	.batch = batch,
	.destroy = destroy,
	.bytes = bytes,
	.enter = memb_enter,
	.leave = memb_leave,
	.barrier = memb_barrier,
};
