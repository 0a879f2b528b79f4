/*
 * snapmap_adapter.h - the body of the libsnapmap adapter, shared by the
 * flavor-specific files subj_snapmap_memb.c and subj_snapmap_qsbr.c.
 * Each includes its liburcu flavor header, then this file, after
 * defining SUBJ_VAR (the struct subject's name), SUBJ_NAME, SUBJ_FLAVOR
 * and SUBJ_HOOKS (the flavor's thread hooks, from flavor_*.c).
 * snapmap_new() binds the map to the flavor header included first.
 *
 * Default configuration (snapmap_new(NULL)).  Building uses one batch of
 * N puts; find is the documented fast path: rcu_read_lock,
 * snapmap_snapshot, snapmap_find, copy the 8-byte value, unlock.
 */
#ifndef SUBJ_VAR
#error "define SUBJ_VAR, SUBJ_NAME, SUBJ_FLAVOR and SUBJ_HOOKS first"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapmap.h"
#include "bench.h"

struct sm_adapter {
	struct snapmap *map;
	struct snapmap_batch *batch;	/* made by the first batch write,
					 * then reused */
};

/*
 * Bulk load: one batch of N puts.  The batch is freed afterwards so that
 * the memory figure counts the map alone; sm_batch() makes its own.
 */
static void *sm_create(const struct keyset *ks)
{
	struct sm_adapter *a = xcalloc(1, sizeof(*a));
	struct snapmap_batch *b;
	int r;

	a->map = snapmap_new(NULL);
	if (!a->map)
		die("snapmap_new: %s", strerror(errno));
	b = snapmap_batch_new(a->map);
	if (!b)
		die("snapmap_batch_new: %s", strerror(errno));
	for (size_t i = 0; i < ks->n; i++) {
		uint64_t v = val_make(i, 0);

		r = snapmap_batch_put(b, ks_key(ks, i), ks->klen, &v, sizeof(v));
		if (r)
			die("snapmap_batch_put: %s", strerror(-r));
	}
	r = snapmap_batch_commit(b, NULL, NULL);
	if (r)
		die("snapmap_batch_commit: %s", strerror(-r));
	snapmap_batch_free(b);
	return a;
}

static int sm_find(void *m, const void *key, size_t klen, uint64_t *val)
{
	struct sm_adapter *a = m;
	const void *v;
	size_t vlen;
	int r;

	rcu_read_lock();
	r = snapmap_find(snapmap_snapshot(a->map), key, klen, &v, &vlen);
	if (r == 0 && vlen == sizeof(*val))
		memcpy(val, v, sizeof(*val));
	rcu_read_unlock();
	return r == 0 && vlen == sizeof(*val);
}

static int sm_put(void *m, const void *key, size_t klen, uint64_t val)
{
	struct sm_adapter *a = m;

	return snapmap_put(a->map, key, klen, &val, sizeof(val));
}

static int sm_del(void *m, const void *key, size_t klen)
{
	struct sm_adapter *a = m;

	return snapmap_delete(a->map, key, klen);
}

static int sm_batch(void *m, const struct kvref *kv, size_t n)
{
	struct sm_adapter *a = m;
	int r;

	if (!a->batch && !(a->batch = snapmap_batch_new(a->map)))
		return -errno;
	for (size_t i = 0; i < n; i++) {
		r = snapmap_batch_put(a->batch, kv[i].key, kv[i].klen,
				      &kv[i].val, sizeof(kv[i].val));
		if (r) {
			snapmap_batch_abort(a->batch);
			return r;
		}
	}
	return snapmap_batch_commit(a->batch, NULL, NULL);
}

static void sm_destroy(void *m)
{
	struct sm_adapter *a = m;
	int r;

	snapmap_batch_free(a->batch);
	r = snapmap_destroy(a->map);
	if (r)
		die("snapmap_destroy: %s", strerror(-r));
	free(a);
}

/* The API has no memory statistics: the tables use mallinfo2() deltas. */
static size_t sm_bytes(void *m)
{
	(void)m;
	return 0;
}

const struct subject SUBJ_VAR = {
	.name = SUBJ_NAME,
	.flavor = SUBJ_FLAVOR,
	.what = "libsnapmap, default config, " SUBJ_FLAVOR " flavor",
	.flags = SUBJ_CONCURRENT,
	.create = sm_create,
	.find = sm_find,
	.put = sm_put,
	.del = sm_del,
	.batch = sm_batch,
	.destroy = sm_destroy,
	.bytes = sm_bytes,
	SUBJ_HOOKS
};
