/*
 * util.h - helpers shared by the unit tests (tests/unit/test_*.c).
 *
 * Include it after the liburcu flavor header.  The helpers that enter a
 * read-side critical section or wait for callbacks do so through
 * UT_FLAVOR, a pointer to the struct rcu_flavor_struct the test's maps
 * were created with.  It defaults to &rcu_flavor, which the flavor header
 * included before (<urcu.h> in every file but one: the memb flavor) maps
 * to that flavor's object.  test_flavor.c, whose maps change flavor from
 * test to test, defines UT_FLAVOR to its own variable before including
 * this file.  ut_map_new() creates maps with snapmap_new() in the first
 * case and with snapmap_new_flavor(cfg, UT_FLAVOR) in the second.
 *
 * Assertions inside helpers are Criterion's: they fail the calling test.
 * Only call the asserting helpers from the test's own thread.
 */
#ifndef SNAPMAP_TESTS_UNIT_UTIL_H
#define SNAPMAP_TESTS_UNIT_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <urcu/flavor.h>

#include <snapmap.h>

#include "../contract.h"

#ifndef UT_FLAVOR
#define UT_FLAVOR		(&rcu_flavor)
/* snapmap_new() binds to the flavor header included before snapmap.h. */
#define UT_MAP_NEW(cfg)		snapmap_new(cfg)
#else
#define UT_MAP_NEW(cfg)		snapmap_new_flavor((cfg), UT_FLAVOR)
#endif

/*
 * UT_TIMEOUT - the Criterion .timeout of every unit test, in seconds: a
 * guard that turns a deadlock into a failure, not a timing assertion.
 * Keep one value for the whole binary: Criterion 2.4.1's runner leaks
 * (LeakSanitizer reports it at exit, failing ASan builds) when tests with
 * different timeouts run in parallel.
 */
#define UT_TIMEOUT	120

/* ------------------------------------------------------------------ */
/* Byte strings                                                        */
/* ------------------------------------------------------------------ */

/*
 * UT_S(lit) - a string literal as the two arguments "pointer, length",
 * embedded NUL bytes included: snapmap_put(map, UT_S("a\0b"), UT_S("v")).
 */
#define UT_S(lit)	(lit), (sizeof(lit) - 1)

/* A byte string; UT_B(lit) builds one from a literal (NULs included). */
struct ut_bytes {
	const void *p;
	size_t n;
};
#define UT_B(lit)	((struct ut_bytes){ (lit), sizeof(lit) - 1 })

#define UT_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static inline bool ut_bytes_eq(const void *a, size_t alen,
			       const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* ------------------------------------------------------------------ */
/* RCU thread state                                                    */
/* ------------------------------------------------------------------ */

/* Criterion .init / .fini fixtures: register the test's thread. */
static inline void ut_register(void)
{
	UT_FLAVOR->register_thread();
}

static inline void ut_unregister(void)
{
	UT_FLAVOR->unregister_thread();
}

/* Wait until every call_rcu callback queued so far has run. */
static inline void ut_barrier(void)
{
	UT_FLAVOR->barrier();
}

/* ------------------------------------------------------------------ */
/* Maps                                                                */
/* ------------------------------------------------------------------ */

static inline struct snapmap *ut_map_new(const struct snapmap_config *cfg)
{
	struct snapmap *map = UT_MAP_NEW(cfg);

	cr_assert_not_null(map, "map creation failed, errno %d", errno);
	return map;
}

static inline void ut_map_destroy(struct snapmap *map)
{
	cr_assert_eq(snapmap_destroy(map), 0, "snapmap_destroy failed");
}

static inline int ut_put_str(struct snapmap *map, const char *key,
			     const char *val)
{
	return snapmap_put(map, key, strlen(key), val, strlen(val));
}

/*
 * A new map (flavor UT_FLAVOR) holding @pairs: key, value, key, value, ...,
 * NULL.  Each pair is one put.
 */
static inline struct snapmap *ut_map_from_strings(
	const struct snapmap_config *cfg, const char *const *pairs)
{
	struct snapmap *map = ut_map_new(cfg);

	for (size_t i = 0; pairs[i]; i += 2) {
		cr_assert_not_null(pairs[i + 1], "odd number of strings");
		cr_assert_eq(ut_put_str(map, pairs[i], pairs[i + 1]), 0,
			     "put of \"%s\" failed", pairs[i]);
	}
	return map;
}

/* Version and entry count of the current snapshot. */
static inline uint64_t ut_version(struct snapmap *map)
{
	uint64_t v;

	UT_FLAVOR->read_lock();
	v = snapmap_version(snapmap_snapshot(map));
	UT_FLAVOR->read_unlock();
	return v;
}

static inline size_t ut_count(struct snapmap *map)
{
	size_t n;

	UT_FLAVOR->read_lock();
	n = snapmap_count(snapmap_snapshot(map));
	UT_FLAVOR->read_unlock();
	return n;
}

/* Assert that @key maps to exactly @val in the current snapshot. */
static inline void ut_assert_value(struct snapmap *map,
				   const void *key, size_t klen,
				   const void *val, size_t vlen)
{
	char buf[256];
	size_t got = (size_t)-1;
	int ret;

	cr_assert_leq(vlen, sizeof(buf), "helper buffer too small");
	ret = snapmap_get(map, key, klen, buf, sizeof(buf), &got);
	cr_assert_eq(ret, 0, "get of a %zu-byte key returned %d", klen, ret);
	cr_assert_eq(got, vlen, "value length %zu, expected %zu", got, vlen);
	cr_assert(ut_bytes_eq(buf, got, val, vlen), "value bytes differ");
}

static inline void ut_assert_str(struct snapmap *map, const char *key,
				 const char *val)
{
	ut_assert_value(map, key, strlen(key), val, strlen(val));
}

static inline void ut_assert_absent(struct snapmap *map, const void *key,
				    size_t klen)
{
	char buf[8];

	cr_assert_eq(snapmap_get(map, key, klen, buf, sizeof(buf), NULL),
		     -ENOENT, "a %zu-byte key is present", klen);
}

/*
 * Assert that iterating @snap (read lock held or pinned) yields exactly
 * the keys @keys[0..n) in that order.
 */
static inline void ut_assert_snap_keys(const struct snapmap_snapshot *snap,
				       const struct ut_bytes *keys, size_t n)
{
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t i = 0;
	int ret;

	cr_assert_eq(snapmap_count(snap), n, "count %zu, expected %zu",
		     snapmap_count(snap), n);
	for (ret = snapmap_iter_first(snap, &it, &kv); ret == 0;
	     ret = snapmap_iter_next(&it, &kv), i++) {
		cr_assert_lt(i, n, "more keys than expected");
		cr_assert(ut_bytes_eq(kv.key, kv.klen, keys[i].p, keys[i].n),
			  "key #%zu differs (got %zu bytes, want %zu)",
			  i, kv.klen, keys[i].n);
	}
	cr_assert_eq(ret, -ENOENT, "iteration ended with %d", ret);
	cr_assert_eq(i, n, "%zu keys, expected %zu", i, n);
}

/* The same on the map's current snapshot. */
static inline void ut_assert_keys(struct snapmap *map,
				  const struct ut_bytes *keys, size_t n)
{
	UT_FLAVOR->read_lock();
	ut_assert_snap_keys(snapmap_snapshot(map), keys, n);
	UT_FLAVOR->read_unlock();
}

static inline void ut_assert_aligned(const void *p, size_t vlen)
{
	cr_assert_eq((uintptr_t)p % contract_value_align(vlen), 0,
		     "%p (%zu bytes) is not aligned to %zu", p, vlen,
		     contract_value_align(vlen));
}

/* The counter at @key (asserts it is an 8-byte value). */
static inline int64_t ut_i64(struct snapmap *map, const void *key,
			     size_t klen)
{
	int64_t v;
	size_t vlen = 0;

	cr_assert_eq(snapmap_get(map, key, klen, &v, sizeof(v), &vlen), 0);
	cr_assert_eq(vlen, sizeof(v));
	return v;
}

/* ------------------------------------------------------------------ */
/* A value destructor that records its calls                           */
/* ------------------------------------------------------------------ */

/*
 * struct ut_dlog - what ut_dlog_fn saw.  Pass the log as destroy_ctx:
 * the destructor runs in the call_rcu thread, in snapmap_unpin() or in
 * snapmap_destroy(), hence the mutex.  Each call records up to 32 bytes
 * of the value and its length; tests store distinct values so that they
 * can count the calls per value.
 */
#define UT_DLOG_MAX	512
#define UT_DLOG_BYTES	32

struct ut_dlog {
	pthread_mutex_t lock;
	size_t calls;
	struct {
		size_t len;
		unsigned char bytes[UT_DLOG_BYTES];
	} rec[UT_DLOG_MAX];
};

static inline void ut_dlog_init(struct ut_dlog *log)
{
	memset(log, 0, sizeof(*log));
	pthread_mutex_init(&log->lock, NULL);
}

static inline void ut_dlog_fn(void *val, size_t vlen, void *ctx)
{
	struct ut_dlog *log = ctx;

	pthread_mutex_lock(&log->lock);
	if (log->calls < UT_DLOG_MAX) {
		log->rec[log->calls].len = vlen;
		memcpy(log->rec[log->calls].bytes, val,
		       vlen < UT_DLOG_BYTES ? vlen : UT_DLOG_BYTES);
	}
	log->calls++;
	pthread_mutex_unlock(&log->lock);
}

/* A config whose destructor records into @log. */
static inline struct snapmap_config ut_dlog_config(struct ut_dlog *log)
{
	struct snapmap_config cfg = {
		.value_destroy = ut_dlog_fn,
		.destroy_ctx = log,
	};

	return cfg;
}

static inline size_t ut_dlog_calls(struct ut_dlog *log)
{
	size_t n;

	pthread_mutex_lock(&log->lock);
	n = log->calls;
	pthread_mutex_unlock(&log->lock);
	return n;
}

/* How many times the value @val/@vlen (at most 32 bytes) was destroyed. */
static inline size_t ut_dlog_times(struct ut_dlog *log, const void *val,
				   size_t vlen)
{
	size_t n = 0;

	cr_assert_leq(vlen, UT_DLOG_BYTES, "value too long for the log");
	pthread_mutex_lock(&log->lock);
	cr_assert_leq(log->calls, UT_DLOG_MAX, "log overflow");
	for (size_t i = 0; i < log->calls; i++)
		if (ut_bytes_eq(log->rec[i].bytes, log->rec[i].len, val, vlen))
			n++;
	pthread_mutex_unlock(&log->lock);
	return n;
}

static inline size_t ut_dlog_times_str(struct ut_dlog *log, const char *val)
{
	return ut_dlog_times(log, val, strlen(val));
}

static inline void ut_dlog_fini(struct ut_dlog *log)
{
	pthread_mutex_destroy(&log->lock);
}

#endif /* SNAPMAP_TESTS_UNIT_UTIL_H */
