/*
 * test_config.c - struct snapmap_config: custom key orders (compare,
 * compare_ctx) and the value destructor (value_destroy, destroy_ctx).
 * Limits are in test_basic.c.  Default (memb) flavor.
 */
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>

#include <urcu.h>
#include <snapmap.h>

#include "util.h"

TestSuite(compare, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);
TestSuite(destructor, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);

/* ------------------------------------------------------------------ */
/* Custom comparators                                                  */
/* ------------------------------------------------------------------ */

/* compare_ctx of every comparator below: counts its calls. */
struct cmp_ctx {
	atomic_size_t calls;
};

/*
 * Numeric order on 8-byte native uint64_t keys; keys of other lengths
 * sort after them, bytewise.
 */
static int cmp_u64(const void *a, size_t alen, const void *b, size_t blen,
		   void *ctx)
{
	struct cmp_ctx *c = ctx;
	uint64_t x, y;

	atomic_fetch_add(&c->calls, 1);
	if (alen != 8 || blen != 8) {
		if ((alen == 8) != (blen == 8))
			return alen == 8 ? -1 : 1;
		return contract_bytewise_cmp(a, alen, b, blen);
	}
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	return (x > y) - (x < y);
}

/* The reverse of the default order. */
static int cmp_reverse(const void *a, size_t alen, const void *b,
		       size_t blen, void *ctx)
{
	struct cmp_ctx *c = ctx;

	atomic_fetch_add(&c->calls, 1);
	return contract_bytewise_cmp(b, blen, a, alen);
}

/* ASCII case-insensitive: "abc" and "ABC" are the same key. */
static int cmp_nocase(const void *a, size_t alen, const void *b,
		      size_t blen, void *ctx)
{
	struct cmp_ctx *c = ctx;
	size_t n = alen < blen ? alen : blen;
	int r = n ? strncasecmp(a, b, n) : 0;

	atomic_fetch_add(&c->calls, 1);
	if (r)
		return r;
	return (alen > blen) - (alen < blen);
}

static void put_u64(struct snapmap *map, uint64_t k, const char *val)
{
	cr_assert_eq(snapmap_put(map, &k, sizeof(k), val, strlen(val)), 0);
}

Test(compare, numeric_order_on_u64_keys)
{
	/* 256 < 1 < 2 < 65536 bytewise on little-endian; numeric differs. */
	static const uint64_t ins[] = { 256, 1, 65536, 2, UINT64_MAX, 0 };
	static const uint64_t want[] = { 0, 1, 2, 256, 65536, UINT64_MAX };
	struct cmp_ctx cc = { 0 };
	struct snapmap_config cfg = { .compare = cmp_u64, .compare_ctx = &cc };
	struct snapmap *map = ut_map_new(&cfg);
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t i = 0;
	int ret;

	for (size_t n = 0; n < UT_ARRAY_SIZE(ins); n++)
		put_u64(map, ins[n], "v");
	cr_assert_gt(atomic_load(&cc.calls), 0, "compare was not called "
		     "(or not with compare_ctx)");

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	for (ret = snapmap_iter_first(snap, &it, &kv); ret == 0;
	     ret = snapmap_iter_next(&it, &kv), i++) {
		uint64_t k;

		cr_assert_lt(i, UT_ARRAY_SIZE(want));
		cr_assert_eq(kv.klen, 8);
		memcpy(&k, kv.key, 8);
		cr_assert_eq(k, want[i], "entry #%zu is %llu", i,
			     (unsigned long long)k);
	}
	cr_assert_eq(ret, -ENOENT);
	cr_assert_eq(i, UT_ARRAY_SIZE(want));

	/* Seek follows the custom order: first key >= 3 is 256. */
	uint64_t probe = 3;
	cr_assert_eq(snapmap_iter_seek(snap, &it, &probe, 8, &kv), 0);
	cr_assert_eq(kv.klen, 8);
	cr_assert_eq(memcmp(kv.key, &want[3], 8), 0);
	rcu_read_unlock();

	/* Lookups and deletes too. */
	uint64_t k = 65536;
	ut_assert_value(map, &k, 8, UT_S("v"));
	cr_assert_eq(snapmap_delete(map, &k, 8), 0);
	ut_assert_absent(map, &k, 8);
	cr_assert_eq(ut_count(map), UT_ARRAY_SIZE(want) - 1);
	ut_map_destroy(map);
}

Test(compare, reverse_order)
{
	static const struct ut_bytes want[] = {
		UT_B("b"), UT_B("ab"), UT_B("a\0"), UT_B("a"), UT_B(""),
	};
	struct cmp_ctx cc = { 0 };
	struct snapmap_config cfg = {
		.compare = cmp_reverse, .compare_ctx = &cc,
	};
	struct snapmap *map = ut_map_new(&cfg);
	struct snapmap_iter it;
	struct snapmap_kv kv;

	for (size_t i = 0; i < UT_ARRAY_SIZE(want); i++)
		cr_assert_eq(snapmap_put(map, want[i].p, want[i].n,
					 UT_S("v")), 0);
	ut_assert_keys(map, want, UT_ARRAY_SIZE(want));

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	/* "First key >= probe" in the map's order: here, bytewise <=. */
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("aa"), &kv), 0);
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("a\0")));
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("c"), &kv), 0);
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("b")));
	cr_assert_eq(snapmap_iter_seek(snap, &it, NULL, 0, &kv), 0);
	cr_assert_eq(kv.klen, 0);
	cr_assert_eq(snapmap_iter_next(&it, &kv), -ENOENT);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(compare, comparator_decides_key_equality)
{
	struct cmp_ctx cc = { 0 };
	struct snapmap_config cfg = {
		.compare = cmp_nocase, .compare_ctx = &cc,
	};
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "Hello", "1", "world", "2", NULL });

	ut_assert_str(map, "hello", "1");
	ut_assert_str(map, "HELLO", "1");
	ut_assert_str(map, "WoRlD", "2");

	/* A put of an equal key overwrites: still two entries. */
	cr_assert_eq(ut_put_str(map, "HELLO", "3"), 0);
	cr_assert_eq(ut_count(map), 2);
	ut_assert_str(map, "hello", "3");
	cr_assert_eq(snapmap_delete(map, UT_S("WORLD")), 0);
	cr_assert_eq(ut_count(map), 1);
	ut_map_destroy(map);
}

Test(compare, batch_uses_the_comparator)
{
	struct cmp_ctx cc = { 0 };
	struct snapmap_config cfg = {
		.compare = cmp_nocase, .compare_ctx = &cc,
	};
	struct snapmap *map = ut_map_new(&cfg);
	struct snapmap_batch *b = snapmap_batch_new(map);
	static const struct ut_bytes want[] = { UT_B("a"), UT_B("b"),
						UT_B("C") };

	cr_assert_not_null(b);
	cr_assert_eq(snapmap_batch_put(b, UT_S("C"), UT_S("1")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("b"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("a"), UT_S("3")), 0);
	/* Same key as "C" for this map: applied after it, so it wins. */
	cr_assert_eq(snapmap_batch_put(b, UT_S("c"), UT_S("4")), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);

	cr_assert_eq(ut_count(map), 3);
	ut_assert_str(map, "C", "4");
	ut_assert_str(map, "c", "4");
	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t i = 0;
	for (int ret = snapmap_iter_first(snap, &it, &kv); ret == 0;
	     ret = snapmap_iter_next(&it, &kv), i++) {
		cr_assert_lt(i, 3);
		cr_assert_eq(kv.klen, 1);
		cr_assert_eq(cmp_nocase(kv.key, 1, want[i].p, 1, &cc), 0,
			     "entry #%zu out of order", i);
	}
	cr_assert_eq(i, 3);
	rcu_read_unlock();

	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(compare, each_map_gets_its_own_ctx)
{
	struct cmp_ctx c1 = { 0 }, c2 = { 0 };
	struct snapmap_config cfg1 = { .compare = cmp_u64, .compare_ctx = &c1 };
	struct snapmap_config cfg2 = { .compare = cmp_u64, .compare_ctx = &c2 };
	struct snapmap *m1 = ut_map_new(&cfg1);
	struct snapmap *m2 = ut_map_new(&cfg2);

	put_u64(m1, 1, "a");
	put_u64(m1, 2, "b");
	put_u64(m1, 3, "c");
	cr_assert_gt(atomic_load(&c1.calls), 0);
	cr_assert_eq(atomic_load(&c2.calls), 0);

	put_u64(m2, 1, "a");
	put_u64(m2, 2, "b");
	size_t before = atomic_load(&c1.calls);
	cr_assert_gt(atomic_load(&c2.calls), 0);
	put_u64(m2, 3, "c");
	cr_assert_eq(atomic_load(&c1.calls), before);
	ut_map_destroy(m1);
	ut_map_destroy(m2);
}

/* ------------------------------------------------------------------ */
/* Value destructor                                                    */
/* ------------------------------------------------------------------ */

Test(destructor, once_per_value_overwritten_deleted_or_left)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_new(&cfg);

	cr_assert_eq(ut_put_str(map, "k", "k-v1"), 0);
	cr_assert_eq(ut_put_str(map, "k", "k-v2"), 0);	/* overwrites v1 */
	cr_assert_eq(ut_put_str(map, "j", "j-v1"), 0);
	cr_assert_eq(snapmap_delete(map, UT_S("j")), 0);	/* deletes it */
	cr_assert_eq(ut_put_str(map, "e", ""), 0);	/* empty value */
	cr_assert_eq(ut_put_str(map, "x", "x-v1"), 0);

	/* The superseded values go once their snapshots are reclaimed... */
	ut_barrier();
	cr_assert_eq(ut_dlog_times_str(&log, "k-v1"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "j-v1"), 1);
	/* ... but not the ones still in the map. */
	cr_assert_eq(ut_dlog_times_str(&log, "k-v2"), 0);
	cr_assert_eq(ut_dlog_times_str(&log, "x-v1"), 0);
	cr_assert_eq(ut_dlog_times_str(&log, ""), 0);
	cr_assert_eq(ut_dlog_calls(&log), 2);
	ut_assert_str(map, "k", "k-v2");

	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_times_str(&log, "k-v1"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "j-v1"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "k-v2"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "x-v1"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, ""), 1);
	cr_assert_eq(ut_dlog_calls(&log), 5);
	ut_dlog_fini(&log);
}

Test(destructor, values_left_in_map_run_at_destroy)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_new(&cfg);
	char key[16], val[16];

	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		snprintf(val, sizeof(val), "val%d", i);
		cr_assert_eq(ut_put_str(map, key, val), 0);
	}
	ut_barrier();
	cr_assert_eq(ut_dlog_calls(&log), 0);
	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_calls(&log), 100);
	for (int i = 0; i < 100; i++) {
		snprintf(val, sizeof(val), "val%d", i);
		cr_assert_eq(ut_dlog_times_str(&log, val), 1, "%s", val);
	}
	ut_dlog_fini(&log);
}

/* An update callback that sets a value, then fails with @ctx's error. */
static int set_then_fail(const void *key, size_t klen, const void *cur,
			 size_t curlen, bool present, struct snapmap_update *u,
			 void *ctx)
{
	(void)key;
	(void)klen;
	(void)cur;
	(void)curlen;
	(void)present;
	snapmap_update_set(u, UT_S("upd-failed"));
	return *(int *)ctx;
}

/*
 * The contract: every value handed to a write of a map with a destructor
 * is destroyed exactly once, whether it was published or not.  A failed
 * write destroys its value before it returns; a staged batch value at
 * abort, free or, replaced by a later op, at commit.
 */
Test(destructor, failed_writes_destroy_their_value_once)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	cfg.max_value_len = 8;
	cfg.max_key_len = 8;
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "orig", NULL });
	struct snapmap_batch *b;
	int cancel = -ECANCELED;
	static const char *const failed[] = {
		"too-long-value", "longkey", "pia", "rep", "cas", "cas2",
		"upd-failed", "bigbatch-value", "batch1", "bpia", "batch2",
		"bdup1",
	};

	cr_assert_eq(ut_put_str(map, "k", "too-long-value"), -E2BIG);
	cr_assert_eq(ut_put_str(map, "key-too-long", "longkey"), -E2BIG);
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("k"), UT_S("pia"),
					   NULL, 0, NULL), -EEXIST);
	cr_assert_eq(snapmap_replace(map, UT_S("absent"), UT_S("rep")),
		     -ENOENT);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("nope"),
					      UT_S("cas")), -EAGAIN);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("absent"),
					      UT_S("orig"), UT_S("cas2")),
		     -ENOENT);
	cr_assert_eq(snapmap_update(map, UT_S("k"), set_then_fail, &cancel),
		     -ECANCELED);

	/* A failed batch commit keeps its ops; abort and free drop them. */
	b = snapmap_batch_new(map);
	cr_assert_not_null(b);
	cr_assert_eq(snapmap_batch_put(b, UT_S("n"), UT_S("bigbatch-value")),
		     -E2BIG);
	cr_assert_eq(snapmap_batch_put(b, UT_S("n"), UT_S("batch1")), 0);
	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("k"), UT_S("bpia")),
		     0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), -EEXIST);
	cr_assert_eq(ut_dlog_times_str(&log, "batch1"), 0,
		     "still staged after the failed commit");
	cr_assert_eq(snapmap_batch_abort(b), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("n"), UT_S("batch2")), 0);
	snapmap_batch_free(b);
	/* Committed, but replaced by a later op of the same batch. */
	b = snapmap_batch_new(map);
	cr_assert_eq(snapmap_batch_put(b, UT_S("d"), UT_S("bdup1")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("d"), UT_S("bdup2")), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	snapmap_batch_free(b);

	for (size_t i = 0; i < UT_ARRAY_SIZE(failed); i++)
		cr_assert_eq(ut_dlog_times_str(&log, failed[i]), 1, "%s",
			     failed[i]);
	cr_assert_eq(ut_dlog_calls(&log), UT_ARRAY_SIZE(failed));
	ut_assert_str(map, "k", "orig");
	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_times_str(&log, "orig"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "bdup2"), 1);
	cr_assert_eq(ut_dlog_calls(&log), UT_ARRAY_SIZE(failed) + 2);
	ut_dlog_fini(&log);
}

Test(destructor, compound_writes_store_values)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_new(&cfg);
	int64_t one = 1, three = 3;

	cr_assert_eq(snapmap_put_if_absent(map, UT_S("a"), UT_S("pia"),
					   NULL, 0, NULL), 0);
	cr_assert_eq(snapmap_replace(map, UT_S("a"), UT_S("rep")), 0);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("a"), UT_S("rep"),
					      UT_S("cas")), 0);
	cr_assert_eq(snapmap_add_i64(map, UT_S("n"), 1, NULL), 0);
	cr_assert_eq(snapmap_add_i64(map, UT_S("n"), 2, NULL), 0);

	ut_barrier();
	cr_assert_eq(ut_dlog_times_str(&log, "pia"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "rep"), 1);
	cr_assert_eq(ut_dlog_times(&log, &one, sizeof(one)), 1);
	cr_assert_eq(ut_dlog_calls(&log), 3);

	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_times_str(&log, "cas"), 1);
	cr_assert_eq(ut_dlog_times(&log, &three, sizeof(three)), 1);
	cr_assert_eq(ut_dlog_calls(&log), 5);
	ut_dlog_fini(&log);
}

/*
 * Every value a committed batch stored is destroyed exactly once,
 * including one a later op of the same batch overwrote or deleted (the
 * header: "each value stored in the map (by put, a compound write or a
 * batch)").
 */
Test(destructor, batch_values_including_overwritten_in_batch)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "old", "old-v", NULL });
	struct snapmap_batch *b = snapmap_batch_new(map);

	cr_assert_not_null(b);
	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("b1")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("b2")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("d"), UT_S("b3")), 0);
	cr_assert_eq(snapmap_batch_delete(b, UT_S("d")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("old"), UT_S("b4")), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	snapmap_batch_free(b);

	ut_assert_str(map, "k", "b2");
	ut_assert_absent(map, UT_S("d"));
	ut_barrier();
	cr_assert_eq(ut_dlog_times_str(&log, "old-v"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "b2"), 0);
	cr_assert_eq(ut_dlog_times_str(&log, "b4"), 0);

	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_times_str(&log, "b1"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "b2"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "b3"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "b4"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "old-v"), 1);
	cr_assert_eq(ut_dlog_calls(&log), 5);
	ut_dlog_fini(&log);
}

Test(destructor, ctx_is_passed_through_per_map)
{
	struct ut_dlog l1, l2;
	ut_dlog_init(&l1);
	ut_dlog_init(&l2);
	struct snapmap_config c1 = ut_dlog_config(&l1);
	struct snapmap_config c2 = ut_dlog_config(&l2);
	struct snapmap *m1 = ut_map_from_strings(&c1,
		(const char *const[]){ "k", "one", NULL });
	struct snapmap *m2 = ut_map_from_strings(&c2,
		(const char *const[]){ "k", "two", "j", "deux", NULL });

	ut_map_destroy(m1);
	cr_assert_eq(ut_dlog_calls(&l1), 1);
	cr_assert_eq(ut_dlog_times_str(&l1, "one"), 1);
	cr_assert_eq(ut_dlog_calls(&l2), 0);
	ut_map_destroy(m2);
	cr_assert_eq(ut_dlog_calls(&l1), 1);
	cr_assert_eq(ut_dlog_calls(&l2), 2);
	cr_assert_eq(ut_dlog_times_str(&l2, "two"), 1);
	cr_assert_eq(ut_dlog_times_str(&l2, "deux"), 1);
	ut_dlog_fini(&l1);
	ut_dlog_fini(&l2);
}

/*
 * A snapshot stores copies of its values, and a write that rebuilds a
 * chunk copies the values it keeps.  A value that a pinned snapshot
 * holds, whose key lives in a chunk rewritten by later writes and is then
 * overwritten and deleted, is destroyed once, and only after the pin is
 * released: not when the chunk version that held it last is reclaimed.
 */
Test(destructor, waits_for_pins_across_chunk_rewrites)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_new(&cfg);
	const struct snapmap_snapshot *pin;
	const void *pinned;
	size_t plen;
	char key[16], val[16];

	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		snprintf(val, sizeof(val), "v%02d", i);
		cr_assert_eq(ut_put_str(map, key, val), 0);
	}
	pin = snapmap_pin(map);
	cr_assert_not_null(pin);
	/* Neighbours of k07 change: every chunk version after the pin
	 * carries a copy of "v07". */
	for (int i = 0; i < 40; i++)
		if (i != 7)
			cr_assert_eq(ut_put_str(map, "k06", "new"), 0);
	cr_assert_eq(ut_put_str(map, "k07", "v07b"), 0);
	cr_assert_eq(snapmap_delete(map, UT_S("k07")), 0);
	ut_barrier();
	cr_assert_eq(ut_dlog_times_str(&log, "v07"), 0,
		     "a value of a pinned snapshot was destroyed");
	cr_assert_eq(snapmap_find(pin, UT_S("k07"), &pinned, &plen), 0);
	cr_assert(ut_bytes_eq(pinned, plen, UT_S("v07")));

	snapmap_unpin(pin);
	ut_barrier();
	cr_assert_eq(ut_dlog_times_str(&log, "v07"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "v07b"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "v06"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "new"), 38);
	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_times_str(&log, "v07"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "new"), 39);
	cr_assert_eq(ut_dlog_calls(&log), 40 + 39 + 1);
	ut_dlog_fini(&log);
}

/* The destructor sees the map's copy: the stored bytes, aligned. */
struct copy_check {
	atomic_int calls, aligned, matches;
	const void *caller_buf;
	atomic_int same_as_caller;
};

static void check_copy_fn(void *val, size_t vlen, void *ctx)
{
	struct copy_check *c = ctx;

	atomic_fetch_add(&c->calls, 1);
	if ((uintptr_t)val % contract_value_align(vlen) == 0)
		atomic_fetch_add(&c->aligned, 1);
	if (ut_bytes_eq(val, vlen, UT_S("payload")))
		atomic_fetch_add(&c->matches, 1);
	if (val == c->caller_buf)
		atomic_fetch_add(&c->same_as_caller, 1);
}

Test(destructor, receives_the_maps_copy)
{
	char buf[] = "payload";
	struct copy_check cc = { .caller_buf = buf };
	struct snapmap_config cfg = {
		.value_destroy = check_copy_fn, .destroy_ctx = &cc,
	};
	struct snapmap *map = ut_map_new(&cfg);

	cr_assert_eq(snapmap_put(map, UT_S("k"), buf, 7), 0);
	memset(buf, 0, sizeof(buf));
	ut_map_destroy(map);
	cr_assert_eq(atomic_load(&cc.calls), 1);
	cr_assert_eq(atomic_load(&cc.matches), 1);
	cr_assert_eq(atomic_load(&cc.aligned), 1);
	cr_assert_eq(atomic_load(&cc.same_as_caller), 0);
}

/*
 * A pin of a map with a destructor keeps the values later writes replace
 * (their destructors wait for the unpin), not the chunks they were
 * replaced in: 4,000 puts over 20,000 keys while an old version is
 * pinned hold a few bytes per put, not a rebuilt chunk each.
 */
Test(destructor, a_pin_keeps_dead_values_not_chunks)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_new(&cfg);
	struct snapmap_batch *b = snapmap_batch_new(map);
	const struct snapmap_snapshot *pin;
	size_t before, grown;
	char key[32];

	cr_assert_not_null(b);
	for (unsigned i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "key:%010u", i);
		cr_assert_eq(snapmap_batch_put(b, key, 14, "v", 1), 0);
	}
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	snapmap_batch_free(b);
	pin = snapmap_pin(map);
	ut_barrier();
	before = mallinfo2().uordblks;
	for (unsigned i = 0; i < 4000; i++) {
		snprintf(key, sizeof(key), "key:%010u", (i * 7919u) % 20000);
		cr_assert_eq(ut_put_str(map, key, "w"), 0);
	}
	ut_barrier();
	grown = mallinfo2().uordblks - before;
	/* Graves: under 100 bytes a put; the first version's chunks, all of
	 * them at most: about 1 MB.  A chunk a put would be 20 MB. */
	cr_assert_lt(grown, (size_t)4 << 20, "%zu bytes held by the pin",
		     grown);
	cr_assert_eq(ut_dlog_calls(&log), 0, "a value died before the unpin");
	snapmap_unpin(pin);
	ut_barrier();
	cr_assert_eq(ut_dlog_calls(&log), 4000);
	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_calls(&log), 20000 + 4000);
	ut_dlog_fini(&log);
}
