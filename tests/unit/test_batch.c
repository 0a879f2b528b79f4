/*
 * test_batch.c - batches: staging and its errors, commit in one publish,
 * staging order, conditional ops evaluated against the batch's earlier
 * ops, failed_op, require_version, empty and repeated commits, abort,
 * reuse.  Default (memb) flavor.
 */
#include <stdio.h>

#include <urcu.h>
#include <snapmap.h>

#include "util.h"

TestSuite(batch, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);

/* A new batch of @map (asserted). */
static struct snapmap_batch *batch_of(struct snapmap *map)
{
	struct snapmap_batch *b = snapmap_batch_new(map);

	cr_assert_not_null(b, "snapmap_batch_new failed, errno %d", errno);
	cr_assert_eq(snapmap_batch_count(b), 0);
	return b;
}

Test(batch, new_null_is_einval)
{
	errno = 0;
	cr_assert_null(snapmap_batch_new(NULL));
	cr_assert_eq(errno, EINVAL);
}

Test(batch, null_batch_arguments)
{
	snapmap_batch_free(NULL);	/* ignored */
	cr_assert_eq(snapmap_batch_count(NULL), 0);
	cr_assert_eq(snapmap_batch_put(NULL, UT_S("k"), UT_S("v")), -EINVAL);
	cr_assert_eq(snapmap_batch_delete(NULL, UT_S("k")), -EINVAL);
	cr_assert_eq(snapmap_batch_put_if_absent(NULL, UT_S("k"), UT_S("v")),
		     -EINVAL);
	cr_assert_eq(snapmap_batch_replace(NULL, UT_S("k"), UT_S("v")),
		     -EINVAL);
	cr_assert_eq(snapmap_batch_compare_and_swap(NULL, UT_S("k"),
						    UT_S("e"), UT_S("v")),
		     -EINVAL);
	cr_assert_eq(snapmap_batch_require_version(NULL, 0), -EINVAL);
	cr_assert_eq(snapmap_batch_abort(NULL), -EINVAL);
	cr_assert_eq(snapmap_batch_commit(NULL, NULL, NULL), -EINVAL);
}

Test(batch, staging_errors_leave_the_batch_unchanged)
{
	struct snapmap_config cfg = { .max_key_len = 3, .max_value_len = 3 };
	struct snapmap *map = ut_map_new(&cfg);
	struct snapmap_batch *b = batch_of(map);

	cr_assert_eq(snapmap_batch_put(b, UT_S("ok"), UT_S("ok")), 0);
	cr_assert_eq(snapmap_batch_count(b), 1);

	cr_assert_eq(snapmap_batch_put(b, NULL, 1, UT_S("v")), -EINVAL);
	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), NULL, 1), -EINVAL);
	cr_assert_eq(snapmap_batch_put(b, UT_S("kkkk"), UT_S("v")), -E2BIG);
	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("vvvv")), -E2BIG);
	cr_assert_eq(snapmap_batch_delete(b, NULL, 1), -EINVAL);
	cr_assert_eq(snapmap_batch_delete(b, UT_S("kkkk")), -E2BIG);
	cr_assert_eq(snapmap_batch_put_if_absent(b, NULL, 1, UT_S("v")),
		     -EINVAL);
	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("k"), NULL, 1),
		     -EINVAL);
	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("kkkk"), UT_S("v")),
		     -E2BIG);
	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("k"), UT_S("vvvv")),
		     -E2BIG);
	cr_assert_eq(snapmap_batch_replace(b, NULL, 1, UT_S("v")), -EINVAL);
	cr_assert_eq(snapmap_batch_replace(b, UT_S("k"), NULL, 1), -EINVAL);
	cr_assert_eq(snapmap_batch_replace(b, UT_S("kkkk"), UT_S("v")),
		     -E2BIG);
	cr_assert_eq(snapmap_batch_replace(b, UT_S("k"), UT_S("vvvv")),
		     -E2BIG);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, NULL, 1, UT_S("e"),
						    UT_S("v")), -EINVAL);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("k"), NULL, 1,
						    UT_S("v")), -EINVAL);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("k"), UT_S("e"),
						    NULL, 1), -EINVAL);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("kkkk"),
						    UT_S("e"), UT_S("v")),
		     -E2BIG);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("k"), UT_S("e"),
						    UT_S("vvvv")), -E2BIG);
	cr_assert_eq(snapmap_batch_count(b), 1);

	/* Only the valid op is committed. */
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	cr_assert_eq(ut_count(map), 1);
	ut_assert_str(map, "ok", "ok");
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, staging_does_not_touch_the_map)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_batch_put(b, UT_S("b"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_delete(b, UT_S("a")), 0);
	cr_assert_eq(snapmap_batch_count(b), 2);
	cr_assert_eq(ut_version(map), v0);
	ut_assert_str(map, "a", "1");
	ut_assert_absent(map, UT_S("b"));
	snapmap_batch_free(b);		/* never committed */
	ut_assert_str(map, "a", "1");
	cr_assert_eq(ut_version(map), v0);
	ut_map_destroy(map);
}

Test(batch, commit_applies_everything_in_one_version)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "del", "x", "keep", "k", "over", "o",
				       NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map), ver = 0;
	char key[16], val[16];

	for (int i = 99; i >= 0; i--) {
		snprintf(key, sizeof(key), "n%02d", i);
		snprintf(val, sizeof(val), "v%d", i);
		cr_assert_eq(snapmap_batch_put(b, key, strlen(key),
					       val, strlen(val)), 0);
	}
	cr_assert_eq(snapmap_batch_delete(b, UT_S("del")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("over"), UT_S("O")), 0);
	cr_assert_eq(snapmap_batch_count(b), 102);

	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), 0);
	cr_assert_eq(ver, v0 + 1);
	cr_assert_eq(ut_version(map), v0 + 1);
	cr_assert_eq(snapmap_batch_count(b), 0, "a committed batch is empty");
	cr_assert_eq(ut_count(map), 102);
	ut_assert_absent(map, UT_S("del"));
	ut_assert_str(map, "keep", "k");
	ut_assert_str(map, "over", "O");
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "n%02d", i);
		snprintf(val, sizeof(val), "v%d", i);
		ut_assert_str(map, key, val);
	}

	/* Sorted like any snapshot. */
	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	struct snapmap_iter it;
	struct snapmap_kv prev, kv;
	size_t n = 1;
	cr_assert_eq(snapmap_iter_first(snap, &it, &prev), 0);
	while (snapmap_iter_next(&it, &kv) == 0) {
		cr_assert_lt(contract_bytewise_cmp(prev.key, prev.klen, kv.key,
					     kv.klen), 0);
		prev = kv;
		n++;
	}
	cr_assert_eq(n, 102);
	rcu_read_unlock();

	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, later_ops_on_a_key_win)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "d", "present", NULL });
	struct snapmap_batch *b = batch_of(map);

	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("1")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("j"), UT_S("j")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("3")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("x"), UT_S("x")), 0);
	cr_assert_eq(snapmap_batch_delete(b, UT_S("x")), 0);
	cr_assert_eq(snapmap_batch_delete(b, UT_S("d")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("d"), UT_S("again")), 0);
	cr_assert_eq(snapmap_batch_count(b), 8);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);

	ut_assert_str(map, "k", "3");
	ut_assert_str(map, "j", "j");
	ut_assert_absent(map, UT_S("x"));
	ut_assert_str(map, "d", "again");
	cr_assert_eq(ut_count(map), 3);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, conditions_see_earlier_ops_of_the_batch)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "p", "old", NULL });
	struct snapmap_batch *b = batch_of(map);

	/* put then CAS on the value the put left. */
	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("1")), 0);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("k"), UT_S("1"),
						    UT_S("2")), 0);
	/* replace of a key the batch created. */
	cr_assert_eq(snapmap_batch_replace(b, UT_S("k"), UT_S("3")), 0);
	/* delete then put_if_absent of a key the map has. */
	cr_assert_eq(snapmap_batch_delete(b, UT_S("p")), 0);
	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("p"), UT_S("new")),
		     0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);

	ut_assert_str(map, "k", "3");
	ut_assert_str(map, "p", "new");
	cr_assert_eq(ut_count(map), 2);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, conditional_ops_succeed_against_the_map)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "r", "r0", "c", "c0", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("n"), UT_S("n1")), 0);
	cr_assert_eq(snapmap_batch_replace(b, UT_S("r"), UT_S("r1")), 0);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("c"), UT_S("c0"),
						    UT_S("c1")), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	ut_assert_str(map, "n", "n1");
	ut_assert_str(map, "r", "r1");
	ut_assert_str(map, "c", "c1");
	cr_assert_eq(ut_version(map), v0 + 1);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

/*
 * Commit @b expecting failure @err at op @idx; assert the map kept
 * version @v0 and @count entries and the batch kept @staged ops.
 */
static void assert_commit_fails(struct snapmap *map, struct snapmap_batch *b,
				int err, size_t idx, uint64_t v0, size_t count)
{
	size_t staged = snapmap_batch_count(b);
	size_t failed = 12345;
	uint64_t ver = 777;

	cr_assert_eq(snapmap_batch_commit(b, &ver, &failed), err);
	cr_assert_eq(failed, idx, "failed_op %zu, expected %zu", failed, idx);
	cr_assert_eq(ut_version(map), v0, "a failed commit published");
	cr_assert_eq(ut_count(map), count);
	cr_assert_eq(snapmap_batch_count(b), staged,
		     "a failed commit dropped its ops");
}

Test(batch, put_then_put_if_absent_same_key_is_eexist)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_batch_put(b, UT_S("z"), UT_S("0")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("1")), 0);
	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("k"), UT_S("2")), 0);
	assert_commit_fails(map, b, -EEXIST, 2, v0, 1);
	ut_assert_absent(map, UT_S("k"));
	ut_assert_absent(map, UT_S("z"));
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, put_if_absent_of_present_key_is_eexist)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("a"), UT_S("2")), 0);
	assert_commit_fails(map, b, -EEXIST, 0, v0, 1);
	ut_assert_str(map, "a", "1");
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, replace_and_cas_of_absent_key_are_enoent)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_batch_put(b, UT_S("b"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_replace(b, UT_S("absent"), UT_S("x")), 0);
	assert_commit_fails(map, b, -ENOENT, 1, v0, 1);
	cr_assert_eq(snapmap_batch_abort(b), 0);

	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("absent"),
						    UT_S("1"), UT_S("x")), 0);
	assert_commit_fails(map, b, -ENOENT, 0, v0, 1);
	cr_assert_eq(snapmap_batch_abort(b), 0);

	/* Absent because an earlier op of the batch deleted it. */
	cr_assert_eq(snapmap_batch_delete(b, UT_S("a")), 0);
	cr_assert_eq(snapmap_batch_replace(b, UT_S("a"), UT_S("x")), 0);
	assert_commit_fails(map, b, -ENOENT, 1, v0, 1);
	ut_assert_str(map, "a", "1");
	ut_assert_absent(map, UT_S("b"));
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, cas_mismatch_is_eagain)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "abc", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("a"), UT_S("ab"),
						    UT_S("x")), 0);
	assert_commit_fails(map, b, -EAGAIN, 0, v0, 1);
	cr_assert_eq(snapmap_batch_abort(b), 0);

	/* Mismatch against the value an earlier op of the batch wrote. */
	cr_assert_eq(snapmap_batch_put(b, UT_S("a"), UT_S("new")), 0);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("a"), UT_S("abc"),
						    UT_S("x")), 0);
	assert_commit_fails(map, b, -EAGAIN, 1, v0, 1);
	ut_assert_str(map, "a", "abc");
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

/*
 * Several failing ops: failed_op is the smallest staging index, even when
 * its key sorts after the key of a later failing op.
 */
Test(batch, failed_op_is_the_smallest_failing_index)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "aaa", "1", "mmm", "2", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map);

	/* #0 fine, #1 -ENOENT, #2 -EEXIST, #3 -EAGAIN. */
	cr_assert_eq(snapmap_batch_put(b, UT_S("ok"), UT_S("x")), 0);
	cr_assert_eq(snapmap_batch_replace(b, UT_S("zzz"), UT_S("x")), 0);
	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("aaa"), UT_S("x")),
		     0);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("mmm"),
						    UT_S("no"), UT_S("x")), 0);
	assert_commit_fails(map, b, -ENOENT, 1, v0, 2);
	ut_assert_absent(map, UT_S("ok"));
	ut_assert_str(map, "aaa", "1");
	ut_assert_str(map, "mmm", "2");
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, failed_commit_keeps_ops_and_can_be_retried)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "taken", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map), ver = 0;

	cr_assert_eq(snapmap_batch_put(b, UT_S("a"), UT_S("1")), 0);
	cr_assert_eq(snapmap_batch_put_if_absent(b, UT_S("k"), UT_S("mine")),
		     0);
	assert_commit_fails(map, b, -EEXIST, 1, v0, 1);
	/* NULL out pointers on a failure. */
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), -EEXIST);
	cr_assert_eq(snapmap_batch_count(b), 2);

	/* Remove the conflict; the same staged ops now commit. */
	cr_assert_eq(snapmap_delete(map, UT_S("k")), 0);
	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), 0);
	cr_assert_eq(ver, v0 + 2);
	cr_assert_eq(snapmap_batch_count(b), 0);
	ut_assert_str(map, "a", "1");
	ut_assert_str(map, "k", "mine");
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, require_version)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map), ver = 0;

	/* Stale: somebody published since. */
	cr_assert_eq(snapmap_batch_require_version(b, v0), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("a"), UT_S("1")), 0);
	cr_assert_eq(ut_put_str(map, "other", "x"), 0);
	assert_commit_fails(map, b, -ESTALE, SNAPMAP_BATCH_VERSION_OP,
			    v0 + 1, 2);
	ut_assert_absent(map, UT_S("a"));

	/* A newer version than exists is stale too. */
	cr_assert_eq(snapmap_batch_abort(b), 0);
	cr_assert_eq(snapmap_batch_require_version(b, v0 + 5), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("a"), UT_S("1")), 0);
	assert_commit_fails(map, b, -ESTALE, SNAPMAP_BATCH_VERSION_OP,
			    v0 + 1, 2);

	/* The current version: commits. */
	cr_assert_eq(snapmap_batch_abort(b), 0);
	cr_assert_eq(snapmap_batch_require_version(b, v0 + 1), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("a"), UT_S("1")), 0);
	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), 0);
	cr_assert_eq(ver, v0 + 2);
	ut_assert_str(map, "a", "1");
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

/* The optimistic transaction the header describes: read, compute, commit. */
Test(batch, optimistic_transaction_from_a_snapshot)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "x", "1", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t seen;
	size_t failed = 0;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	seen = snapmap_version(snap);
	cr_assert_eq(snapmap_find(snap, UT_S("x"), NULL, NULL), 0);
	rcu_read_unlock();

	cr_assert_eq(snapmap_batch_require_version(b, seen), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("x"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_put(b, UT_S("y"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, &failed), 0);
	ut_assert_str(map, "x", "2");
	ut_assert_str(map, "y", "2");
	cr_assert_eq(ut_version(map), seen + 1);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, empty_commit_publishes_nothing)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map), ver = 0;

	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), 0);
	cr_assert_eq(ver, v0, "*version is the current version");
	cr_assert_eq(ut_version(map), v0);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, commit_again_with_nothing_staged_is_ealready)
{
	struct snapmap *map = ut_map_new(NULL);
	struct snapmap_batch *b = batch_of(map);
	uint64_t ver = 0;

	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("v")), 0);
	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), 0);
	cr_assert_eq(ver, SNAPMAP_INITIAL_VERSION + 1);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), -EALREADY);
	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), -EALREADY);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 1);

	/* Staging again makes it committable (reuse). */
	cr_assert_eq(snapmap_batch_put(b, UT_S("k2"), UT_S("v2")), 0);
	cr_assert_eq(snapmap_batch_count(b), 1);
	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), 0);
	cr_assert_eq(ver, SNAPMAP_INITIAL_VERSION + 2);
	ut_assert_str(map, "k", "v");
	ut_assert_str(map, "k2", "v2");
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), -EALREADY);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, abort_empties_the_batch_and_drops_the_condition)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_batch_put(b, UT_S("a"), UT_S("1")), 0);
	cr_assert_eq(snapmap_batch_delete(b, UT_S("k")), 0);
	cr_assert_eq(snapmap_batch_require_version(b, v0 + 100), 0);
	cr_assert_eq(snapmap_batch_count(b), 2);
	cr_assert_eq(snapmap_batch_abort(b), 0);
	cr_assert_eq(snapmap_batch_count(b), 0);
	cr_assert_eq(ut_version(map), v0);

	/* Reuse: the old ops and the stale condition are gone. */
	cr_assert_eq(snapmap_batch_put(b, UT_S("b"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	ut_assert_str(map, "b", "2");
	ut_assert_str(map, "k", "v");
	ut_assert_absent(map, UT_S("a"));
	cr_assert_eq(ut_version(map), v0 + 1);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, reuse_after_commit)
{
	struct snapmap *map = ut_map_new(NULL);
	struct snapmap_batch *b = batch_of(map);
	char key[8];

	for (int round = 0; round < 5; round++) {
		snprintf(key, sizeof(key), "r%d", round);
		cr_assert_eq(snapmap_batch_put(b, key, strlen(key),
					       UT_S("v")), 0);
		if (round > 0) {
			snprintf(key, sizeof(key), "r%d", round - 1);
			cr_assert_eq(snapmap_batch_delete(b, key,
							  strlen(key)), 0);
		}
		cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
		cr_assert_eq(ut_count(map), 1);
		cr_assert_eq(ut_version(map),
			     SNAPMAP_INITIAL_VERSION + round + 1);
	}
	ut_assert_str(map, "r4", "v");
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, unchanging_ops_still_publish)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", NULL });
	struct snapmap_batch *b = batch_of(map);
	uint64_t v0 = ut_version(map), ver = 0;

	/* Deleting an absent key is fine in a batch... */
	cr_assert_eq(snapmap_batch_delete(b, UT_S("absent")), 0);
	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), 0);
	/* ... and, as the header says, still publishes. */
	cr_assert_eq(ver, v0 + 1);
	cr_assert_eq(ut_version(map), v0 + 1);
	cr_assert_eq(ut_count(map), 1);
	ut_assert_str(map, "k", "v");

	/* So does a put of the same value. */
	cr_assert_eq(snapmap_batch_put(b, UT_S("k"), UT_S("v")), 0);
	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), 0);
	cr_assert_eq(ver, v0 + 2);
	ut_assert_str(map, "k", "v");
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, binary_and_empty_keys)
{
	static const struct ut_bytes want[] = {
		UT_B(""), UT_B("\0"), UT_B("a"), UT_B("a\0"), UT_B("b"),
	};
	struct snapmap *map = ut_map_new(NULL);
	struct snapmap_batch *b = batch_of(map);

	for (size_t i = UT_ARRAY_SIZE(want); i-- > 0;)
		cr_assert_eq(snapmap_batch_put(b, want[i].p, want[i].n,
					       NULL, 0), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	ut_assert_keys(map, want, UT_ARRAY_SIZE(want));
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

/*
 * A commit sorts its ops by the 8 bytes after what all their keys share
 * before it compares whole keys: keys that tie on those bytes (one a
 * prefix of another, a zero byte past the end, a difference after them)
 * keep the bytewise order, and a key staged twice keeps its last value.
 */
Test(batch, keys_that_tie_on_their_first_bytes)
{
	static const struct ut_bytes want[] = {
		UT_B("p/AAAAAAA"), UT_B("p/AAAAAAA\0"), UT_B("p/AAAAAAAA"),
		UT_B("p/AAAAAAAA\0"), UT_B("p/AAAAAAAAa"), UT_B("p/AAAAAAAAb"),
		UT_B("p/AAAAAAAB"),
	};
	struct snapmap *map = ut_map_new(NULL);
	struct snapmap_batch *b = batch_of(map);

	cr_assert_eq(snapmap_batch_put(b, UT_S("p/AAAAAAAAa"),
				       UT_S("first")), 0);
	for (size_t i = UT_ARRAY_SIZE(want); i-- > 0;)
		cr_assert_eq(snapmap_batch_put(b, want[i].p, want[i].n,
					       want[i].p, want[i].n), 0);
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	ut_assert_keys(map, want, UT_ARRAY_SIZE(want));
	for (size_t i = 0; i < UT_ARRAY_SIZE(want); i++)
		ut_assert_value(map, want[i].p, want[i].n, want[i].p,
				want[i].n);
	snapmap_batch_free(b);
	ut_map_destroy(map);
}

Test(batch, two_batches_of_one_map)
{
	struct snapmap *map = ut_map_new(NULL);
	struct snapmap_batch *b1 = batch_of(map), *b2 = batch_of(map);

	cr_assert_eq(snapmap_batch_put_if_absent(b1, UT_S("k"), UT_S("1")), 0);
	cr_assert_eq(snapmap_batch_put_if_absent(b2, UT_S("k"), UT_S("2")), 0);
	cr_assert_eq(snapmap_batch_commit(b1, NULL, NULL), 0);
	cr_assert_eq(snapmap_batch_commit(b2, NULL, NULL), -EEXIST);
	ut_assert_str(map, "k", "1");
	snapmap_batch_free(b1);
	cr_assert_eq(snapmap_destroy(map), -EBUSY, "b2 still exists");
	snapmap_batch_free(b2);
	ut_map_destroy(map);
}
