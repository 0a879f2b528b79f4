/*
 * test_pin.c - snapmap_pin/snapmap_unpin: a pinned snapshot outlives
 * later writes and grace periods, is readable without the read lock and
 * from other (even unregistered) threads, and keeps its values from the
 * destructor until the last unpin.  Default (memb) flavor.
 */
#include <stdio.h>

#include <urcu.h>
#include <snapmap.h>

#include "util.h"

TestSuite(pin, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);

Test(pin, null_map_is_einval)
{
	errno = 0;
	cr_assert_null(snapmap_pin(NULL));
	cr_assert_eq(errno, EINVAL);
}

Test(pin, unpin_null_is_ignored)
{
	struct snapmap *map = ut_map_new(NULL);
	const struct snapmap_snapshot *pin = snapmap_pin(map);

	cr_assert_not_null(pin);
	snapmap_unpin(NULL);
	/* It released nothing: the real pin still holds the map. */
	cr_assert_eq(snapmap_destroy(map), -EBUSY);
	cr_assert_eq(snapmap_count(pin), 0);
	snapmap_unpin(pin);
	ut_map_destroy(map);
}

Test(pin, empty_map)
{
	struct snapmap *map = ut_map_new(NULL);
	const struct snapmap_snapshot *pin = snapmap_pin(map);
	struct snapmap_iter it;
	struct snapmap_kv kv;

	cr_assert_not_null(pin);
	cr_assert_eq(ut_put_str(map, "k", "v"), 0);
	cr_assert_eq(snapmap_count(pin), 0);
	cr_assert_eq(snapmap_version(pin), SNAPMAP_INITIAL_VERSION);
	cr_assert_eq(snapmap_iter_first(pin, &it, &kv), -ENOENT);
	cr_assert_eq(snapmap_find(pin, UT_S("k"), NULL, NULL), -ENOENT);
	snapmap_unpin(pin);
	ut_map_destroy(map);
}

/*
 * Everything below reads the pinned snapshot outside any read-side
 * critical section, after many writes and after call_rcu has reclaimed
 * every superseded snapshot (ASan would see a use after free).
 */
Test(pin, survives_later_writes_and_grace_periods)
{
	static const struct ut_bytes keys[] = {
		UT_B("a"), UT_B("b"), UT_B("c"),
	};
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", "b", "2", "c", "3", NULL });
	const struct snapmap_snapshot *pin = snapmap_pin(map);
	uint64_t pv = ut_version(map);
	const void *val, *held_val;
	size_t vlen, held_len;
	char key[16];

	cr_assert_not_null(pin);
	cr_assert_eq(snapmap_version(pin), pv);
	cr_assert_eq(snapmap_find(pin, UT_S("b"), &held_val, &held_len), 0);

	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "new%d", i);
		cr_assert_eq(ut_put_str(map, key, "x"), 0);
		cr_assert_eq(ut_put_str(map, "b", key), 0);
	}
	cr_assert_eq(snapmap_delete(map, UT_S("a")), 0);
	cr_assert_eq(snapmap_delete(map, UT_S("c")), 0);
	ut_barrier();

	cr_assert_eq(snapmap_version(pin), pv);
	cr_assert_eq(snapmap_count(pin), 3);
	cr_assert_eq(snapmap_find(pin, UT_S("a"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("1")));
	ut_assert_aligned(val, vlen);
	cr_assert_eq(snapmap_find(pin, UT_S("new0"), NULL, NULL), -ENOENT);
	/* A pointer read from the pin before the writes is still good. */
	cr_assert(ut_bytes_eq(held_val, held_len, UT_S("2")));
	ut_assert_snap_keys(pin, keys, UT_ARRAY_SIZE(keys));

	/* The map itself moved on. */
	cr_assert_eq(ut_version(map), pv + 402);
	cr_assert_eq(ut_count(map), 201);
	snapmap_unpin(pin);
	ut_map_destroy(map);
}

Test(pin, two_pins_of_different_versions)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v1", NULL });
	const struct snapmap_snapshot *p1 = snapmap_pin(map);
	const struct snapmap_snapshot *p2;
	const void *val;
	size_t vlen;

	cr_assert_eq(ut_put_str(map, "k", "v2"), 0);
	p2 = snapmap_pin(map);
	cr_assert_not_null(p1);
	cr_assert_not_null(p2);
	cr_assert_eq(snapmap_version(p2), snapmap_version(p1) + 1);
	cr_assert_eq(ut_put_str(map, "k", "v3"), 0);
	ut_barrier();

	cr_assert_eq(snapmap_find(p1, UT_S("k"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("v1")));
	cr_assert_eq(snapmap_find(p2, UT_S("k"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("v2")));
	snapmap_unpin(p1);
	cr_assert_eq(snapmap_find(p2, UT_S("k"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("v2")));
	snapmap_unpin(p2);
	ut_assert_str(map, "k", "v3");
	ut_map_destroy(map);
}

Test(pin, pin_inside_a_read_side_critical_section)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", NULL });
	const struct snapmap_snapshot *pin;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	pin = snapmap_pin(map);
	cr_assert_not_null(pin);
	cr_assert_eq(snapmap_version(pin), snapmap_version(snap));
	rcu_read_unlock();

	cr_assert_eq(ut_put_str(map, "k", "w"), 0);
	ut_barrier();
	cr_assert_eq(snapmap_find(pin, UT_S("k"), NULL, NULL), 0);
	cr_assert_eq(snapmap_count(pin), 1);
	snapmap_unpin(pin);
	ut_map_destroy(map);
}

Test(pin, destructor_runs_at_last_unpin_not_before)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "pinned", "shared", "s", NULL });
	const struct snapmap_snapshot *p1 = snapmap_pin(map);
	const struct snapmap_snapshot *p2 = snapmap_pin(map);

	cr_assert_not_null(p1);
	cr_assert_not_null(p2);
	/* "pinned" is now held by the pinned snapshot only. */
	cr_assert_eq(ut_put_str(map, "k", "current"), 0);
	ut_barrier();
	cr_assert_eq(ut_dlog_calls(&log), 0, "destroyed while pinned");

	snapmap_unpin(p1);
	cr_assert_eq(ut_dlog_calls(&log), 0, "destroyed while still pinned");
	cr_assert_eq(snapmap_find(p2, UT_S("k"), NULL, NULL), 0);

	snapmap_unpin(p2);
	ut_barrier();
	cr_assert_eq(ut_dlog_times_str(&log, "pinned"), 1);
	/* Values the current snapshot shares are untouched. */
	cr_assert_eq(ut_dlog_times_str(&log, "s"), 0);
	cr_assert_eq(ut_dlog_calls(&log), 1);
	ut_assert_str(map, "shared", "s");

	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_times_str(&log, "pinned"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "current"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "s"), 1);
	cr_assert_eq(ut_dlog_calls(&log), 3);
	ut_dlog_fini(&log);
}

/*
 * Once call_rcu has retired the pinned snapshot, the unpin that drops the
 * last reference runs the destructor itself, before it returns.
 */
Test(pin, unpin_of_a_retired_snapshot_runs_the_destructor)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "old", NULL });
	const struct snapmap_snapshot *pin = snapmap_pin(map);

	cr_assert_not_null(pin);
	cr_assert_eq(snapmap_delete(map, UT_S("k")), 0);
	ut_barrier();
	cr_assert_eq(ut_dlog_calls(&log), 0);
	snapmap_unpin(pin);
	cr_assert_eq(ut_dlog_times_str(&log, "old"), 1);
	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_calls(&log), 1);
	ut_dlog_fini(&log);
}

/* Pin of the current snapshot, then unpin, destroys nothing current. */
Test(pin, unpin_of_current_snapshot_destroys_nothing)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "v", NULL });

	for (int i = 0; i < 10; i++)
		snapmap_unpin(snapmap_pin(map));
	ut_barrier();
	cr_assert_eq(ut_dlog_calls(&log), 0);
	ut_assert_str(map, "k", "v");
	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_calls(&log), 1);
	ut_dlog_fini(&log);
}

/*
 * Pins travel: a thread that never registered with RCU reads the pinned
 * snapshot and unpins it (unpin needs no registration).
 */
struct plain_reader {
	const struct snapmap_snapshot *pin;
	int find_ret, iter_ret;
	size_t count, iterated;
	uint64_t version;
	char val[16];
	size_t vlen;
};

static void *plain_reader_fn(void *arg)
{
	struct plain_reader *r = arg;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	const void *val = NULL;

	r->count = snapmap_count(r->pin);
	r->version = snapmap_version(r->pin);
	r->find_ret = snapmap_find(r->pin, UT_S("k"), &val, &r->vlen);
	if (r->find_ret == 0 && r->vlen <= sizeof(r->val))
		memcpy(r->val, val, r->vlen);
	for (r->iter_ret = snapmap_iter_first(r->pin, &it, &kv);
	     r->iter_ret == 0; r->iter_ret = snapmap_iter_next(&it, &kv))
		r->iterated++;
	snapmap_unpin(r->pin);
	return NULL;
}

Test(pin, read_and_unpin_from_an_unregistered_thread)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "pinned", "j", "j", NULL });
	struct plain_reader r = { .pin = snapmap_pin(map) };
	uint64_t pv = ut_version(map);
	pthread_t t;

	cr_assert_not_null(r.pin);
	cr_assert_eq(ut_put_str(map, "k", "later"), 0);
	ut_barrier();

	cr_assert_eq(pthread_create(&t, NULL, plain_reader_fn, &r), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(r.count, 2);
	cr_assert_eq(r.version, pv);
	cr_assert_eq(r.find_ret, 0);
	cr_assert(ut_bytes_eq(r.val, r.vlen, UT_S("pinned")));
	cr_assert_eq(r.iter_ret, -ENOENT);
	cr_assert_eq(r.iterated, 2);
	/* That thread's unpin released the last reference. */
	cr_assert_eq(ut_dlog_times_str(&log, "pinned"), 1);

	cr_assert_eq(snapmap_destroy(map), 0, "the pin was released");
	cr_assert_eq(ut_dlog_calls(&log), 3);
	ut_dlog_fini(&log);
}

Test(pin, iterate_and_seek_a_pin)
{
	static const struct ut_bytes keys[] = {
		UT_B("a"), UT_B("a\0"), UT_B("ab"), UT_B("b"),
	};
	struct snapmap *map = ut_map_new(NULL);
	const struct snapmap_snapshot *pin;
	struct snapmap_iter it;
	struct snapmap_kv kv;

	for (size_t i = 0; i < UT_ARRAY_SIZE(keys); i++)
		cr_assert_eq(snapmap_put(map, keys[i].p, keys[i].n,
					 UT_S("v")), 0);
	pin = snapmap_pin(map);
	cr_assert_not_null(pin);
	cr_assert_eq(snapmap_delete(map, UT_S("ab")), 0);
	cr_assert_eq(ut_put_str(map, "aa", "new"), 0);
	ut_barrier();

	ut_assert_snap_keys(pin, keys, UT_ARRAY_SIZE(keys));
	cr_assert_eq(snapmap_iter_seek(pin, &it, UT_S("aa"), &kv), 0);
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("ab")));
	cr_assert_eq(snapmap_iter_next(&it, &kv), 0);
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("b")));
	cr_assert_eq(snapmap_iter_next(&it, &kv), -ENOENT);
	snapmap_unpin(pin);
	ut_map_destroy(map);
}
