/*
 * test_basic.c - map lifecycle and the plain read/write functions:
 * snapmap_new/new_flavor/destroy, put, get, find, delete, snapshot,
 * count, version.  Default (memb) flavor.
 */
#include <stdio.h>
#include <stdlib.h>

#include <urcu.h>
#include <snapmap.h>

#include "util.h"

TestSuite(lifecycle, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);
TestSuite(basic, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

Test(lifecycle, new_with_null_config_is_empty)
{
	struct snapmap *map = snapmap_new(NULL);

	cr_assert_not_null(map);
	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	cr_assert_not_null(snap);
	cr_assert_eq(snapmap_version(snap), SNAPMAP_INITIAL_VERSION);
	cr_assert_eq(snapmap_count(snap), 0);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(lifecycle, new_flavor_explicit_memb)
{
	struct snapmap *map = snapmap_new_flavor(NULL, &urcu_memb_flavor);

	cr_assert_not_null(map);
	cr_assert_eq(ut_put_str(map, "k", "v"), 0);
	ut_assert_str(map, "k", "v");
	ut_map_destroy(map);
}

Test(lifecycle, new_flavor_null_flavor_is_einval)
{
	struct snapmap_config cfg = { 0 };

	errno = 0;
	cr_assert_null(snapmap_new_flavor(NULL, NULL));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(snapmap_new_flavor(&cfg, NULL));
	cr_assert_eq(errno, EINVAL);
}

#if SIZE_MAX > UINT32_MAX
Test(lifecycle, max_lengths_above_limit_are_einval)
{
	struct snapmap_config cfg = {
		.max_key_len = (size_t)SNAPMAP_LEN_LIMIT + 1,
	};

	errno = 0;
	cr_assert_null(snapmap_new(&cfg));
	cr_assert_eq(errno, EINVAL);

	cfg.max_key_len = 0;
	cfg.max_value_len = (size_t)SNAPMAP_LEN_LIMIT + 1;
	errno = 0;
	cr_assert_null(snapmap_new(&cfg));
	cr_assert_eq(errno, EINVAL);

	cfg.max_key_len = SIZE_MAX;
	cfg.max_value_len = 0;
	errno = 0;
	cr_assert_null(snapmap_new(&cfg));
	cr_assert_eq(errno, EINVAL);
}
#endif

Test(lifecycle, max_lengths_at_limit_are_accepted)
{
	struct snapmap_config cfg = {
		.max_key_len = SNAPMAP_LEN_LIMIT,
		.max_value_len = SNAPMAP_LEN_LIMIT,
	};
	struct snapmap *map = snapmap_new(&cfg);

	cr_assert_not_null(map, "errno %d", errno);
	cr_assert_eq(ut_put_str(map, "k", "v"), 0);
	ut_map_destroy(map);
}

Test(lifecycle, config_is_copied)
{
	struct snapmap_config cfg = { .max_key_len = 2 };
	struct snapmap *map = snapmap_new(&cfg);

	cr_assert_not_null(map);
	cfg.max_key_len = 1;
	cr_assert_eq(ut_put_str(map, "ab", "v"), 0);
	cr_assert_eq(ut_put_str(map, "abc", "v"), -E2BIG);
	ut_map_destroy(map);
}

Test(lifecycle, destroy_null_is_einval)
{
	cr_assert_eq(snapmap_destroy(NULL), -EINVAL);
}

Test(lifecycle, destroy_empty_map)
{
	struct snapmap *map = snapmap_new(NULL);

	cr_assert_not_null(map);
	cr_assert_eq(snapmap_destroy(map), 0);
}

Test(lifecycle, destroy_with_pin_is_ebusy_and_map_survives)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", NULL });
	const struct snapmap_snapshot *pin = snapmap_pin(map);

	cr_assert_not_null(pin);
	cr_assert_eq(snapmap_destroy(map), -EBUSY);

	/* Intact: readable, writable, and the pin still works. */
	ut_assert_str(map, "a", "1");
	cr_assert_eq(ut_put_str(map, "b", "2"), 0);
	ut_assert_str(map, "b", "2");
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 2);
	cr_assert_eq(snapmap_count(pin), 1);
	cr_assert_eq(snapmap_find(pin, UT_S("a"), NULL, NULL), 0);

	/* Still busy while the pin lasts; free to go after. */
	cr_assert_eq(snapmap_destroy(map), -EBUSY);
	snapmap_unpin(pin);
	ut_map_destroy(map);
}

Test(lifecycle, destroy_with_live_batch_is_ebusy_and_map_survives)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", NULL });
	struct snapmap_batch *b = snapmap_batch_new(map);

	cr_assert_not_null(b);
	cr_assert_eq(snapmap_destroy(map), -EBUSY);

	/* The batch and the map still work. */
	cr_assert_eq(snapmap_batch_put(b, UT_S("b"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	ut_assert_str(map, "a", "1");
	ut_assert_str(map, "b", "2");

	/* An empty, committed batch still counts. */
	cr_assert_eq(snapmap_destroy(map), -EBUSY);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* put / get / find / delete                                           */
/* ------------------------------------------------------------------ */

Test(basic, each_write_increments_version_by_one)
{
	struct snapmap *map = ut_map_new(NULL);

	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION);
	cr_assert_eq(ut_put_str(map, "k", "v1"), 0);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 1);
	cr_assert_eq(ut_put_str(map, "k", "v2"), 0);		/* overwrite */
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 2);
	cr_assert_eq(ut_put_str(map, "k", "v2"), 0);		/* same bytes */
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 3);
	cr_assert_eq(ut_put_str(map, "j", "w"), 0);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 4);
	cr_assert_eq(snapmap_delete(map, UT_S("k")), 0);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 5);
	cr_assert_eq(ut_count(map), 1);
	ut_map_destroy(map);
}

Test(basic, put_get_overwrite_delete)
{
	struct snapmap *map = ut_map_new(NULL);

	ut_assert_absent(map, UT_S("k"));
	cr_assert_eq(ut_put_str(map, "k", "first"), 0);
	ut_assert_str(map, "k", "first");
	cr_assert_eq(ut_count(map), 1);

	cr_assert_eq(ut_put_str(map, "k", "2nd"), 0);
	ut_assert_str(map, "k", "2nd");
	cr_assert_eq(ut_count(map), 1);

	cr_assert_eq(snapmap_delete(map, UT_S("k")), 0);
	ut_assert_absent(map, UT_S("k"));
	cr_assert_eq(ut_count(map), 0);
	ut_map_destroy(map);
}

Test(basic, caller_buffers_are_copied)
{
	struct snapmap *map = ut_map_new(NULL);
	char key[] = "key", val[] = "value";

	cr_assert_eq(snapmap_put(map, key, 3, val, 5), 0);
	memset(key, 'X', 3);
	memset(val, 'Y', 5);
	ut_assert_str(map, "key", "value");
	ut_map_destroy(map);
}

Test(basic, empty_key_and_empty_value_are_legal)
{
	struct snapmap *map = ut_map_new(NULL);
	const void *val = NULL;
	size_t vlen = 99;

	cr_assert_eq(snapmap_put(map, NULL, 0, UT_S("for empty key")), 0);
	cr_assert_eq(snapmap_put(map, UT_S("empty value"), NULL, 0), 0);
	cr_assert_eq(snapmap_put(map, UT_S("empty too"), "ignored", 0), 0);
	cr_assert_eq(ut_count(map), 3);

	ut_assert_value(map, "", 0, UT_S("for empty key"));
	ut_assert_value(map, NULL, 0, UT_S("for empty key"));
	ut_assert_value(map, UT_S("empty value"), "", 0);
	ut_assert_value(map, UT_S("empty too"), "", 0);

	/* get of an empty value: a NULL buffer of size 0 is enough. */
	vlen = 99;
	cr_assert_eq(snapmap_get(map, UT_S("empty value"), NULL, 0, &vlen), 0);
	cr_assert_eq(vlen, 0);

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	vlen = 99;
	cr_assert_eq(snapmap_find(snap, NULL, 0, &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("for empty key")));
	vlen = 99;
	cr_assert_eq(snapmap_find(snap, UT_S("empty value"), &val, &vlen), 0);
	cr_assert_eq(vlen, 0);
	rcu_read_unlock();

	cr_assert_eq(snapmap_delete(map, NULL, 0), 0);
	ut_assert_absent(map, NULL, 0);
	cr_assert_eq(ut_count(map), 2);
	ut_map_destroy(map);
}

Test(basic, keys_are_binary)
{
	struct snapmap *map = ut_map_new(NULL);

	cr_assert_eq(snapmap_put(map, UT_S("a"), UT_S("1")), 0);
	cr_assert_eq(snapmap_put(map, UT_S("a\0"), UT_S("2")), 0);
	cr_assert_eq(snapmap_put(map, UT_S("a\0b"), UT_S("3")), 0);
	cr_assert_eq(snapmap_put(map, UT_S("\0"), UT_S("4")), 0);
	cr_assert_eq(ut_count(map), 4);
	ut_assert_value(map, UT_S("a"), UT_S("1"));
	ut_assert_value(map, UT_S("a\0"), UT_S("2"));
	ut_assert_value(map, UT_S("a\0b"), UT_S("3"));
	ut_assert_value(map, UT_S("\0"), UT_S("4"));
	ut_assert_absent(map, UT_S("a\0\0"));
	ut_assert_absent(map, NULL, 0);
	ut_map_destroy(map);
}

Test(basic, bad_arguments_are_einval_and_change_nothing)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", NULL });
	uint64_t v0 = ut_version(map);
	char buf[8];

	cr_assert_eq(snapmap_put(NULL, UT_S("k"), UT_S("v")), -EINVAL);
	cr_assert_eq(snapmap_put(map, NULL, 1, UT_S("v")), -EINVAL);
	cr_assert_eq(snapmap_put(map, UT_S("k"), NULL, 1), -EINVAL);
	cr_assert_eq(snapmap_delete(NULL, UT_S("k")), -EINVAL);
	cr_assert_eq(snapmap_delete(map, NULL, 1), -EINVAL);
	cr_assert_eq(snapmap_get(NULL, UT_S("k"), buf, sizeof(buf), NULL),
		     -EINVAL);
	cr_assert_eq(snapmap_get(map, NULL, 1, buf, sizeof(buf), NULL),
		     -EINVAL);
	cr_assert_eq(snapmap_get(map, UT_S("k"), NULL, 4, NULL), -EINVAL);

	cr_assert_eq(ut_version(map), v0);
	cr_assert_eq(ut_count(map), 1);
	ut_assert_str(map, "k", "v");
	ut_map_destroy(map);
}

Test(basic, delete_absent_is_enoent_and_publishes_nothing)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", NULL });
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_delete(map, UT_S("absent")), -ENOENT);
	cr_assert_eq(snapmap_delete(map, UT_S("k\0")), -ENOENT);
	cr_assert_eq(snapmap_delete(map, NULL, 0), -ENOENT);
	cr_assert_eq(ut_version(map), v0);
	ut_assert_str(map, "k", "v");

	/* ... also on an empty map. */
	cr_assert_eq(snapmap_delete(map, UT_S("k")), 0);
	cr_assert_eq(snapmap_delete(map, UT_S("k")), -ENOENT);
	cr_assert_eq(ut_version(map), v0 + 1);
	ut_map_destroy(map);
}

Test(basic, configured_maxima_are_e2big)
{
	struct snapmap_config cfg = { .max_key_len = 4, .max_value_len = 8 };
	struct snapmap *map = ut_map_new(&cfg);
	uint64_t v0;

	cr_assert_eq(snapmap_put(map, UT_S("1234"), UT_S("12345678")), 0);
	v0 = ut_version(map);
	cr_assert_eq(snapmap_put(map, UT_S("12345"), UT_S("v")), -E2BIG);
	cr_assert_eq(snapmap_put(map, UT_S("k"), UT_S("123456789")), -E2BIG);
	cr_assert_eq(snapmap_put(map, UT_S("1234"), UT_S("123456789")),
		     -E2BIG);
	cr_assert_eq(snapmap_delete(map, UT_S("12345")), -E2BIG);
	cr_assert_eq(ut_version(map), v0);
	cr_assert_eq(ut_count(map), 1);
	ut_assert_value(map, UT_S("1234"), UT_S("12345678"));
	ut_map_destroy(map);
}

Test(basic, default_maxima)
{
	struct snapmap *map = ut_map_new(NULL);
	size_t klen = SNAPMAP_DEFAULT_MAX_KEY_LEN;
	size_t vlen = SNAPMAP_DEFAULT_MAX_VALUE_LEN + 1;
	char *key = malloc(klen + 1);
	char *val = calloc(1, vlen);

	cr_assert_not_null(key);
	cr_assert_not_null(val);
	memset(key, 'k', klen + 1);

	cr_assert_eq(snapmap_put(map, key, klen, UT_S("v")), 0);
	cr_assert_eq(snapmap_put(map, key, klen + 1, UT_S("v")), -E2BIG);
	cr_assert_eq(snapmap_put(map, UT_S("k"), val, vlen), -E2BIG);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 1);
	cr_assert_eq(ut_count(map), 1);
	ut_assert_value(map, key, klen, UT_S("v"));
	ut_assert_absent(map, UT_S("k"));

	free(key);
	free(val);
	ut_map_destroy(map);
}

Test(basic, get_with_small_buffer_is_erange)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "hello", NULL });
	char buf[8] = "XXXXXXX";
	size_t vlen = 0;

	cr_assert_eq(snapmap_get(map, UT_S("k"), buf, 4, &vlen), -ERANGE);
	cr_assert_eq(vlen, 5);
	cr_assert_str_eq(buf, "XXXXXXX", "nothing may be copied on -ERANGE");

	vlen = 0;
	cr_assert_eq(snapmap_get(map, UT_S("k"), NULL, 0, &vlen), -ERANGE);
	cr_assert_eq(vlen, 5);
	cr_assert_eq(snapmap_get(map, UT_S("k"), buf, 4, NULL), -ERANGE);

	vlen = 0;
	cr_assert_eq(snapmap_get(map, UT_S("k"), buf, 5, &vlen), 0);
	cr_assert_eq(vlen, 5);
	cr_assert_eq(memcmp(buf, "hello", 5), 0);
	cr_assert_eq(buf[5], 'X', "wrote past the value");

	/* A larger buffer, a NULL length pointer. */
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(snapmap_get(map, UT_S("k"), buf, sizeof(buf), NULL), 0);
	cr_assert_str_eq(buf, "hello");

	cr_assert_eq(snapmap_get(map, UT_S("nope"), buf, sizeof(buf), &vlen),
		     -ENOENT);
	ut_map_destroy(map);
}

Test(basic, find_in_snapshot)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", "bb", "22", NULL });
	const void *val = NULL;
	size_t vlen = 0;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);

	cr_assert_eq(snapmap_find(snap, UT_S("bb"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("22")));
	cr_assert_eq(snapmap_find(snap, UT_S("a"), NULL, NULL), 0);
	cr_assert_eq(snapmap_find(snap, UT_S("a"), &val, NULL), 0);
	cr_assert(ut_bytes_eq(val, 1, UT_S("1")));
	vlen = 0;
	cr_assert_eq(snapmap_find(snap, UT_S("a"), NULL, &vlen), 0);
	cr_assert_eq(vlen, 1);

	cr_assert_eq(snapmap_find(snap, UT_S("b"), NULL, NULL), -ENOENT);
	cr_assert_eq(snapmap_find(snap, UT_S("bbb"), NULL, NULL), -ENOENT);
	cr_assert_eq(snapmap_find(snap, UT_S(""), NULL, NULL), -ENOENT);
	cr_assert_eq(snapmap_find(snap, NULL, 1, NULL, NULL), -EINVAL);
	cr_assert_eq(snapmap_find(NULL, UT_S("a"), &val, &vlen), -EINVAL);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(basic, count_and_version_of_null_are_zero)
{
	cr_assert_eq(snapmap_count(NULL), 0);
	cr_assert_eq(snapmap_version(NULL), 0);
}

Test(basic, values_are_aligned)
{
	static const char blob[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	struct snapmap *map = ut_map_new(NULL);
	char key[8];

	/* Every combination of odd and even key and value lengths, values
	 * of 1 to 36 bytes (16 and 32 need alignof(max_align_t)). */
	for (size_t k = 0; k < 6; k++)
		for (size_t v = 0; v < 36; v++) {
			memset(key, 0, sizeof(key));
			snprintf(key, sizeof(key), "%zu.%zu", k, v);
			cr_assert_eq(snapmap_put(map, key, strlen(key) + k % 3,
						 blob, v + 1), 0);
		}

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t n = 0;
	int ret;

	for (ret = snapmap_iter_first(snap, &it, &kv); ret == 0;
	     ret = snapmap_iter_next(&it, &kv), n++) {
		const void *val = NULL;
		size_t vlen = 0;

		ut_assert_aligned(kv.val, kv.vlen);
		cr_assert_eq(snapmap_find(snap, kv.key, kv.klen, &val, &vlen),
			     0);
		ut_assert_aligned(val, vlen);
		cr_assert_eq(val, kv.val);
		cr_assert(ut_bytes_eq(val, vlen, blob, vlen));
	}
	cr_assert_eq(ret, -ENOENT);
	cr_assert_eq(n, 6 * 36);
	rcu_read_unlock();
	ut_map_destroy(map);
}

/*
 * Writers may run inside a read-side critical section; a snapshot the
 * reader already holds is immutable and keeps showing its own version.
 */
Test(basic, snapshot_is_immutable_across_writes_in_rcs)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "old", "gone", "x", NULL });
	const void *val;
	size_t vlen;

	rcu_read_lock();
	const struct snapmap_snapshot *s1 = snapmap_snapshot(map);
	uint64_t v1 = snapmap_version(s1);

	cr_assert_eq(ut_put_str(map, "k", "new"), 0);
	cr_assert_eq(ut_put_str(map, "added", "y"), 0);
	cr_assert_eq(snapmap_delete(map, UT_S("gone")), 0);

	/* get nests its own read lock inside ours. */
	ut_assert_str(map, "k", "new");

	cr_assert_eq(snapmap_version(s1), v1);
	cr_assert_eq(snapmap_count(s1), 2);
	cr_assert_eq(snapmap_find(s1, UT_S("k"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("old")));
	cr_assert_eq(snapmap_find(s1, UT_S("gone"), NULL, NULL), 0);
	cr_assert_eq(snapmap_find(s1, UT_S("added"), NULL, NULL), -ENOENT);

	const struct snapmap_snapshot *s2 = snapmap_snapshot(map);
	cr_assert_eq(snapmap_version(s2), v1 + 3);
	cr_assert_eq(snapmap_count(s2), 2);
	cr_assert_eq(snapmap_find(s2, UT_S("k"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("new")));
	cr_assert_eq(snapmap_find(s2, UT_S("gone"), NULL, NULL), -ENOENT);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(basic, many_keys)
{
	struct snapmap *map = ut_map_new(NULL);
	char key[16], val[16];
	const size_t n = 2000;

	/* Insert in a scrambled order (multiplication by a unit mod n). */
	for (size_t i = 0; i < n; i++) {
		size_t j = (i * 7919) % n;

		snprintf(key, sizeof(key), "key%zu", j);
		snprintf(val, sizeof(val), "val%zu", j);
		cr_assert_eq(ut_put_str(map, key, val), 0);
	}
	cr_assert_eq(ut_count(map), n);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + n);
	for (size_t j = 0; j < n; j++) {
		snprintf(key, sizeof(key), "key%zu", j);
		snprintf(val, sizeof(val), "val%zu", j);
		ut_assert_str(map, key, val);
	}
	for (size_t j = 0; j < n; j += 2) {
		snprintf(key, sizeof(key), "key%zu", j);
		cr_assert_eq(snapmap_delete(map, key, strlen(key)), 0);
	}
	cr_assert_eq(ut_count(map), n / 2);
	for (size_t j = 0; j < n; j++) {
		snprintf(key, sizeof(key), "key%zu", j);
		snprintf(val, sizeof(val), "val%zu", j);
		if (j % 2)
			ut_assert_str(map, key, val);
		else
			ut_assert_absent(map, key, strlen(key));
	}
	ut_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* snapmap_wait_version                                                */
/* ------------------------------------------------------------------ */

TestSuite(wait, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);

Test(wait, null_map_is_einval)
{
	uint64_t got = 77;

	cr_assert_eq(snapmap_wait_version(NULL, 0, 0, &got), -EINVAL);
	cr_assert_eq(snapmap_wait_version(NULL, 0, -1, NULL), -EINVAL);
}

Test(wait, newer_version_returns_at_once)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", "b", "2", NULL });
	uint64_t v = ut_version(map), got = 0;

	cr_assert_eq(snapmap_wait_version(map, v - 1, 0, &got), 0);
	cr_assert_eq(got, v);
	/* No limit, but nothing to wait for. */
	got = 0;
	cr_assert_eq(snapmap_wait_version(map, SNAPMAP_INITIAL_VERSION, -1,
					  &got), 0);
	cr_assert_eq(got, v);
	cr_assert_eq(snapmap_wait_version(map, v - 2, 1000, NULL), 0);
	ut_map_destroy(map);
}

Test(wait, no_newer_version_times_out)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", NULL });
	uint64_t v = ut_version(map), got = 0;

	cr_assert_eq(snapmap_wait_version(map, v, 0, &got), -ETIMEDOUT);
	cr_assert_eq(got, v, "*version is the current version on return");
	got = 0;
	cr_assert_eq(snapmap_wait_version(map, v, 10, &got), -ETIMEDOUT);
	cr_assert_eq(got, v);
	cr_assert_eq(snapmap_wait_version(map, v + 5, 0, NULL), -ETIMEDOUT);
	cr_assert_eq(ut_version(map), v, "waiting published something");
	ut_map_destroy(map);
}

/* memb: waiting inside a read-side critical section is refused. */
Test(wait, inside_read_side_section_is_edeadlk)
{
	struct snapmap *map = ut_map_new(NULL);
	uint64_t v = ut_version(map);

	rcu_read_lock();
	/* A short limit, so that a missing check fails instead of hanging. */
	cr_assert_eq(snapmap_wait_version(map, v, 10, NULL), -EDEADLK);
	rcu_read_unlock();
	cr_assert_eq(snapmap_wait_version(map, v, 0, NULL), -ETIMEDOUT);
	ut_map_destroy(map);
}

/* A waiter: a plain thread, never registered with RCU. */
struct waiter {
	struct snapmap *map;
	uint64_t after, got;
	int ret;
	pthread_t thread;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	w->ret = snapmap_wait_version(w->map, w->after, -1, &w->got);
	return NULL;
}

static void start_waiter(struct waiter *w, struct snapmap *map,
			 uint64_t after)
{
	*w = (struct waiter){ .map = map, .after = after, .ret = 1 };
	cr_assert_eq(pthread_create(&w->thread, NULL, waiter_fn, w), 0);
}

Test(wait, every_waiter_wakes_on_a_publish)
{
	struct snapmap *map = ut_map_new(NULL);
	uint64_t v0 = ut_version(map);
	struct waiter w[3];

	for (int i = 0; i < 3; i++)
		start_waiter(&w[i], map, v0);
	/* Whether they already sleep or not, one put satisfies them all. */
	cr_assert_eq(ut_put_str(map, "k", "v"), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(pthread_join(w[i].thread, NULL), 0);
		cr_assert_eq(w[i].ret, 0, "waiter %d", i);
		cr_assert_eq(w[i].got, v0 + 1, "waiter %d", i);
	}
	ut_map_destroy(map);
}

Test(wait, waits_past_versions_not_yet_enough)
{
	struct snapmap *map = ut_map_new(NULL);
	struct snapmap_batch *b = snapmap_batch_new(map);
	uint64_t v0 = ut_version(map);
	struct waiter w;

	cr_assert_not_null(b);
	start_waiter(&w, map, v0 + 2);
	cr_assert_eq(ut_put_str(map, "a", "1"), 0);		/* v0 + 1 */
	cr_assert_eq(snapmap_delete(map, UT_S("a")), 0);	/* v0 + 2 */
	/* A batch commit is a publish too. */
	cr_assert_eq(snapmap_batch_put(b, UT_S("b"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);	/* v0 + 3 */
	cr_assert_eq(pthread_join(w.thread, NULL), 0);
	cr_assert_eq(w.ret, 0);
	cr_assert_eq(w.got, v0 + 3);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}
