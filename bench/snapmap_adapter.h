/*
 * snapmap_adapter.h - the body of the libsnapmap adapter, shared by the
 * flavor-specific files subj_snapmap_memb.c and subj_snapmap_qsbr.c.
 * Each includes its liburcu flavor header, then this file, after
 * defining SUBJ_VAR (the struct subject's name), SUBJ_NAME, SUBJ_FLAVOR
 * and SUBJ_HOOKS (the flavor's thread hooks, from flavor_*.c).
 * snapmap_new() binds the map to the flavor header included first.
 *
 * Default configuration (snapmap_new(NULL)) unless SUBJ_CFG names one.
 * Building uses one batch of N puts; find is the documented fast path:
 * rcu_read_lock, snapmap_snapshot, snapmap_find, copy the 8-byte value,
 * unlock.  A range scan is snapmap_iter_seek then snapmap_iter_next,
 * copying each value, all in one read-side critical section.  With
 * SUBJ_NORCU defined, both read a pinned snapshot with no RCU call at all
 * (writes re-pin): the same layout and search without RCU, to show what
 * the read-side critical section costs.
 */
#ifndef SUBJ_VAR
#error "define SUBJ_VAR, SUBJ_NAME, SUBJ_FLAVOR and SUBJ_HOOKS first"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapmap.h"
#include "bench.h"

#ifndef SUBJ_CFG
#define SUBJ_CFG NULL
#endif
#ifndef SUBJ_WHAT
#define SUBJ_WHAT "libsnapmap, default config, " SUBJ_FLAVOR " flavor"
#endif

struct sm_adapter {
	struct snapmap *map;
	const struct snapmap_snapshot *pin;	/* SUBJ_NORCU */
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

	a->map = snapmap_new(SUBJ_CFG);
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
#ifdef SUBJ_NORCU
	a->pin = snapmap_pin(a->map);
#endif
	return a;
}

#ifdef SUBJ_NORCU
static void sm_repin(struct sm_adapter *a)
{
	const struct snapmap_snapshot *old = a->pin;

	a->pin = snapmap_pin(a->map);
	snapmap_unpin(old);
}
#else
static void sm_repin(struct sm_adapter *a)
{
	(void)a;
}
#endif

/* The snapshot a read uses, and the end of that read. */
#ifdef SUBJ_NORCU
static const struct snapmap_snapshot *sm_read_begin(struct sm_adapter *a)
{
	return a->pin;
}

static void sm_read_end(void)
{
}
#else
static const struct snapmap_snapshot *sm_read_begin(struct sm_adapter *a)
{
	rcu_read_lock();
	return snapmap_snapshot(a->map);
}

static void sm_read_end(void)
{
	rcu_read_unlock();
}
#endif

static int sm_find(void *m, const void *key, size_t klen, uint64_t *val)
{
	struct sm_adapter *a = m;
	const void *v;
	size_t vlen;
	int r;

	r = snapmap_find(sm_read_begin(a), key, klen, &v, &vlen);
	if (r == 0 && vlen == sizeof(*val))
		memcpy(val, v, sizeof(*val));
	sm_read_end();
	return r == 0 && vlen == sizeof(*val);
}

/*
 * One critical section for the whole scan: the iterator is only valid
 * inside the one that positioned it.  A value of the wrong size ends the
 * scan early, which the caller's checksum reports.  The scan reads blocks
 * of SCAN_BLOCK entries with snapmap_iter_next_n(), or, for
 * snapmap-step (SUBJ_SCAN_STEP), one snapmap_iter_next() per key.
 */
#define SCAN_BLOCK	64

static size_t sm_scan(void *m, const void *key, size_t klen, size_t len,
		      uint64_t *sum)
{
	struct sm_adapter *a = m;
	struct snapmap_iter it;
	struct snapmap_kv kv[SCAN_BLOCK];
	uint64_t acc = 0;	/* local: *sum might alias the values */
	size_t n = 0, got = 1;
	int r;

	r = snapmap_iter_seek(sm_read_begin(a), &it, key, klen, &kv[0]);
	while (r == 0 && n < len) {
		for (size_t i = 0; i < got && n < len; i++, n++) {
			uint64_t v;

			if (kv[i].vlen != sizeof(uint64_t))
				goto out;
			memcpy(&v, kv[i].val, sizeof(v));
			acc += (uint32_t)v;
		}
		if (n == len)
			break;
#ifdef SUBJ_SCAN_STEP
		r = snapmap_iter_next(&it, &kv[0]);
#else
		r = snapmap_iter_next_n(&it, kv, len - n < SCAN_BLOCK ?
					len - n : SCAN_BLOCK, &got);
#endif
	}
out:
	sm_read_end();
	*sum += acc;
	return n;
}

static int sm_put(void *m, const void *key, size_t klen, uint64_t val)
{
	struct sm_adapter *a = m;
	int r = snapmap_put(a->map, key, klen, &val, sizeof(val));

	sm_repin(a);
	return r;
}

static int sm_del(void *m, const void *key, size_t klen)
{
	struct sm_adapter *a = m;
	int r = snapmap_delete(a->map, key, klen);

	sm_repin(a);
	return r;
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
	r = snapmap_batch_commit(a->batch, NULL, NULL);
	sm_repin(a);
	return r;
}

static void sm_destroy(void *m)
{
	struct sm_adapter *a = m;
	int r;

	snapmap_batch_free(a->batch);
	snapmap_unpin(a->pin);
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
	.what = SUBJ_WHAT,
#if defined(SUBJ_NORCU)
	.flags = 0,	/* a floor: one thread, no writer while it reads */
#elif defined(SUBJ_SCAN_STEP)
	.flags = SUBJ_SCAN_ONLY,
#else
	.flags = SUBJ_CONCURRENT,
#endif
	.create = sm_create,
	.find = sm_find,
	.put = sm_put,
	.del = sm_del,
	.batch = sm_batch,
	.scan = sm_scan,
	.destroy = sm_destroy,
	.bytes = sm_bytes,
	SUBJ_HOOKS
};
