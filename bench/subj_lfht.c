/*
 * subj_lfht.c - subject "lfht": liburcu's lock-free resizable hash table
 * (cds_lfht) under the memb flavor, used as its documentation advises:
 *   - cds_lfht_new(init_size = the next power of two >= N, 1, 0,
 *     CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
 *   - hash: MurmurHash64A (hash64() in util.c), 64 bits, fixed seed;
 *   - lookups and updates inside rcu_read_lock; an overwrite publishes a
 *     new node with cds_lfht_add_replace (values are never modified in
 *     place) and the old node is freed with call_rcu.
 * lfht has no atomic multi-key write: a "batch" is N single puts.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define _LGPL_SOURCE
#include <urcu.h>		/* memb flavor, with the rcu_* names */
#include <urcu/rculfhash.h>

#include "bench.h"

struct lf_node {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	uint64_t val;
	size_t klen;
	unsigned char key[];
};

struct lf_key {
	const void *key;
	size_t klen;
};

static int match(struct cds_lfht_node *node, const void *arg)
{
	const struct lf_node *n = caa_container_of(node, struct lf_node, node);
	const struct lf_key *k = arg;

	return n->klen == k->klen && memcmp(n->key, k->key, k->klen) == 0;
}

static void free_node(struct rcu_head *head)
{
	free(caa_container_of(head, struct lf_node, rcu));
}

static int put(void *m, const void *key, size_t klen, uint64_t val)
{
	struct cds_lfht *ht = m;
	struct lf_node *n = xmalloc(sizeof(*n) + klen);
	struct lf_key k = { key, klen };
	struct cds_lfht_node *old;

	cds_lfht_node_init(&n->node);
	n->val = val;
	n->klen = klen;
	memcpy(n->key, key, klen);
	rcu_read_lock();
	old = cds_lfht_add_replace(ht, hash64(key, klen), match, &k, &n->node);
	rcu_read_unlock();
	if (old)
		call_rcu(&caa_container_of(old, struct lf_node, node)->rcu,
			 free_node);
	return 0;
}

static void *create(const struct keyset *ks)
{
	unsigned long size = 1;
	struct cds_lfht *ht;

	while (size < ks->n)
		size <<= 1;
	ht = cds_lfht_new(size, 1, 0,
			  CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!ht)
		die("cds_lfht_new failed");
	for (size_t i = 0; i < ks->n; i++)
		put(ht, ks_key(ks, i), ks->klen, val_make(i, 0));
	return ht;
}

static int find(void *m, const void *key, size_t klen, uint64_t *val)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct lf_key k = { key, klen };
	int found = 0;

	rcu_read_lock();
	cds_lfht_lookup(m, hash64(key, klen), match, &k, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (node) {
		*val = caa_container_of(node, struct lf_node, node)->val;
		found = 1;
	}
	rcu_read_unlock();
	return found;
}

static int del(void *m, const void *key, size_t klen)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct lf_key k = { key, klen };
	int r = -ENOENT;

	rcu_read_lock();
	cds_lfht_lookup(m, hash64(key, klen), match, &k, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (node && cds_lfht_del(m, node) == 0) {
		call_rcu(&caa_container_of(node, struct lf_node, node)->rcu,
			 free_node);
		r = 0;
	}
	rcu_read_unlock();
	return r;
}

static void destroy(void *m)
{
	struct cds_lfht *ht = m;
	struct cds_lfht_iter iter;
	struct lf_node *n;

	rcu_read_lock();
	cds_lfht_for_each_entry(ht, &iter, n, node)
		if (cds_lfht_del(ht, &n->node) == 0)
			call_rcu(&n->rcu, free_node);
	rcu_read_unlock();
	rcu_barrier();
	if (cds_lfht_destroy(ht, NULL))
		die("cds_lfht_destroy failed");
}

/* lfht does not expose its bucket memory: mallinfo2() deltas only. */
static size_t bytes(void *m)
{
	(void)m;
	return 0;
}

const struct subject subj_lfht = {
	.name = "lfht",
	.flavor = "memb",
	.what = "liburcu cds_lfht, auto-resize + accounting, MurmurHash64A",
	.flags = SUBJ_CONCURRENT,
	.create = create,
	.find = find,
	.put = put,
	.del = del,
	.batch = NULL,
	.destroy = destroy,
	.bytes = bytes,
	.enter = memb_enter,
	.leave = memb_leave,
	.barrier = memb_barrier,
};
