/*
 * test_compound.c - single-key compound writes: put_if_absent, replace,
 * compare_and_swap, update (with update_set/update_delete) and add_i64.
 * Default (memb) flavor.
 */
#include <urcu.h>
#include <snapmap.h>

#include "util.h"

TestSuite(compound, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);
TestSuite(update, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);
TestSuite(add_i64, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);

/* ------------------------------------------------------------------ */
/* put_if_absent                                                       */
/* ------------------------------------------------------------------ */

Test(compound, put_if_absent_inserts_when_absent)
{
	struct snapmap *map = ut_map_new(NULL);
	size_t elen = 12345;
	char buf[8] = "XXXXXXX";

	cr_assert_eq(snapmap_put_if_absent(map, UT_S("k"), UT_S("v1"),
					   buf, sizeof(buf), &elen), 0);
	ut_assert_str(map, "k", "v1");
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 1);
	cr_assert_str_eq(buf, "XXXXXXX", "existing written on success");

	/* An empty key and an empty value. */
	cr_assert_eq(snapmap_put_if_absent(map, NULL, 0, NULL, 0,
					   NULL, 0, NULL), 0);
	ut_assert_value(map, NULL, 0, "", 0);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 2);
	ut_map_destroy(map);
}

Test(compound, put_if_absent_present_is_eexist_with_copy)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "hello", NULL });
	uint64_t v0 = ut_version(map);
	char buf[16];
	size_t elen = 0;

	memset(buf, 'X', sizeof(buf));
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("k"), UT_S("new"),
					   buf, sizeof(buf), &elen), -EEXIST);
	cr_assert_eq(elen, 5);
	cr_assert_eq(memcmp(buf, "hello", 5), 0);
	cr_assert_eq(buf[5], 'X', "copied past the value");
	ut_assert_str(map, "k", "hello");
	cr_assert_eq(ut_version(map), v0);

	/* Exactly the right size. */
	memset(buf, 'X', sizeof(buf));
	elen = 0;
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("k"), UT_S("new"),
					   buf, 5, &elen), -EEXIST);
	cr_assert_eq(elen, 5);
	cr_assert_eq(memcmp(buf, "hello", 5), 0);
	cr_assert_eq(buf[5], 'X');
	ut_map_destroy(map);
}

Test(compound, put_if_absent_truncates_like_snprintf)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "hello", NULL });
	uint64_t v0 = ut_version(map);
	char buf[8];
	size_t elen = 0;

	memset(buf, 'X', sizeof(buf));
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("k"), UT_S("new"),
					   buf, 3, &elen), -EEXIST);
	cr_assert_eq(elen, 5, "existing_len is the full length");
	cr_assert_eq(memcmp(buf, "hel", 3), 0);
	cr_assert_eq(buf[3], 'X', "more than existing_size bytes copied");

	/* No buffer: only the length. */
	elen = 0;
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("k"), UT_S("new"),
					   NULL, 0, &elen), -EEXIST);
	cr_assert_eq(elen, 5);

	/* Nothing optional at all. */
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("k"), UT_S("new"),
					   NULL, 0, NULL), -EEXIST);
	cr_assert_eq(ut_version(map), v0);
	ut_assert_str(map, "k", "hello");
	ut_map_destroy(map);
}

Test(compound, put_if_absent_bad_args)
{
	struct snapmap_config cfg = { .max_key_len = 2, .max_value_len = 2 };
	struct snapmap *map = ut_map_new(&cfg);

	cr_assert_eq(snapmap_put_if_absent(NULL, UT_S("k"), UT_S("v"),
					   NULL, 0, NULL), -EINVAL);
	cr_assert_eq(snapmap_put_if_absent(map, NULL, 1, UT_S("v"),
					   NULL, 0, NULL), -EINVAL);
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("k"), NULL, 1,
					   NULL, 0, NULL), -EINVAL);
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("kkk"), UT_S("v"),
					   NULL, 0, NULL), -E2BIG);
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("k"), UT_S("vvv"),
					   NULL, 0, NULL), -E2BIG);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION);
	cr_assert_eq(ut_count(map), 0);
	ut_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* replace                                                             */
/* ------------------------------------------------------------------ */

Test(compound, replace)
{
	struct snapmap_config cfg = { .max_value_len = 4 };
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "old", NULL });
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_replace(map, UT_S("absent"), UT_S("x")), -ENOENT);
	ut_assert_absent(map, UT_S("absent"));
	cr_assert_eq(ut_version(map), v0);

	cr_assert_eq(snapmap_replace(map, UT_S("k"), UT_S("new")), 0);
	ut_assert_str(map, "k", "new");
	cr_assert_eq(ut_version(map), v0 + 1);

	cr_assert_eq(snapmap_replace(map, UT_S("k"), UT_S("toolong")), -E2BIG);
	cr_assert_eq(snapmap_replace(NULL, UT_S("k"), UT_S("x")), -EINVAL);
	cr_assert_eq(snapmap_replace(map, NULL, 1, UT_S("x")), -EINVAL);
	cr_assert_eq(snapmap_replace(map, UT_S("k"), NULL, 1), -EINVAL);
	ut_assert_str(map, "k", "new");
	cr_assert_eq(ut_version(map), v0 + 1);
	cr_assert_eq(ut_count(map), 1);
	ut_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* compare_and_swap                                                    */
/* ------------------------------------------------------------------ */

Test(compound, cas_absent_is_enoent)
{
	struct snapmap *map = ut_map_new(NULL);

	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("x"),
					      UT_S("y")), -ENOENT);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), NULL, 0,
					      UT_S("y")), -ENOENT);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION);
	cr_assert_eq(ut_count(map), 0);
	ut_map_destroy(map);
}

Test(compound, cas_mismatch_is_eagain)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "abc", NULL });
	uint64_t v0 = ut_version(map);

	/* Same length, other bytes. */
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("abd"),
					      UT_S("new")), -EAGAIN);
	/* A prefix, an extension, the empty value. */
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("ab"),
					      UT_S("new")), -EAGAIN);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("abc\0"),
					      UT_S("new")), -EAGAIN);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), NULL, 0,
					      UT_S("new")), -EAGAIN);
	ut_assert_str(map, "k", "abc");
	cr_assert_eq(ut_version(map), v0);
	ut_map_destroy(map);
}

Test(compound, cas_success)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "abc", NULL });
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("abc"),
					      UT_S("defg")), 0);
	ut_assert_str(map, "k", "defg");
	cr_assert_eq(ut_version(map), v0 + 1);

	/* The old expectation now fails. */
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("abc"),
					      UT_S("x")), -EAGAIN);

	/* Empty to non-empty and back. */
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("defg"),
					      NULL, 0), 0);
	ut_assert_value(map, UT_S("k"), "", 0);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), NULL, 0,
					      UT_S("z")), 0);
	ut_assert_str(map, "k", "z");
	cr_assert_eq(ut_version(map), v0 + 3);
	ut_map_destroy(map);
}

Test(compound, cas_bad_args)
{
	struct snapmap_config cfg = { .max_key_len = 2, .max_value_len = 2 };
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "v", NULL });
	uint64_t v0 = ut_version(map);

	cr_assert_eq(snapmap_compare_and_swap(NULL, UT_S("k"), UT_S("v"),
					      UT_S("w")), -EINVAL);
	cr_assert_eq(snapmap_compare_and_swap(map, NULL, 1, UT_S("v"),
					      UT_S("w")), -EINVAL);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), NULL, 1,
					      UT_S("w")), -EINVAL);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("v"),
					      NULL, 1), -EINVAL);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("kkk"), UT_S("v"),
					      UT_S("w")), -E2BIG);
	cr_assert_eq(snapmap_compare_and_swap(map, UT_S("k"), UT_S("v"),
					      UT_S("www")), -E2BIG);
	ut_assert_str(map, "k", "v");
	cr_assert_eq(ut_version(map), v0);
	ut_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* update                                                              */
/* ------------------------------------------------------------------ */

/* What an update callback saw and what it should do. */
enum upd_action {
	UPD_KEEP,
	UPD_SET,
	UPD_DELETE,
	UPD_SET_THEN_FAIL,
	UPD_SET_TWICE,
	UPD_SET_THEN_DELETE,
	UPD_DELETE_THEN_SET,
};

struct upd {
	enum upd_action action;
	const char *val;	/* for the sets */
	const char *val2;	/* second set of UPD_SET_TWICE */
	int fail;		/* return value of UPD_SET_THEN_FAIL */
	/* seen */
	int calls;
	bool present;
	char key[16], cur[16];
	size_t klen, curlen;
	bool cur_null;
	int set_ret, set2_ret, del_ret;
};

static int upd_fn(const void *key, size_t klen, const void *cur,
		  size_t curlen, bool present, struct snapmap_update *u,
		  void *ctx)
{
	struct upd *d = ctx;

	d->calls++;
	d->present = present;
	d->klen = klen;
	memcpy(d->key, key, klen < sizeof(d->key) ? klen : sizeof(d->key));
	d->curlen = curlen;
	d->cur_null = cur == NULL;
	if (cur)
		memcpy(d->cur, cur,
		       curlen < sizeof(d->cur) ? curlen : sizeof(d->cur));

	switch (d->action) {
	case UPD_KEEP:
		break;
	case UPD_SET:
		d->set_ret = snapmap_update_set(u, d->val, strlen(d->val));
		break;
	case UPD_DELETE:
		d->del_ret = snapmap_update_delete(u);
		break;
	case UPD_SET_THEN_FAIL:
		d->set_ret = snapmap_update_set(u, d->val, strlen(d->val));
		return d->fail;
	case UPD_SET_TWICE:
		d->set_ret = snapmap_update_set(u, d->val, strlen(d->val));
		d->set2_ret = snapmap_update_set(u, d->val2, strlen(d->val2));
		break;
	case UPD_SET_THEN_DELETE:
		d->set_ret = snapmap_update_set(u, d->val, strlen(d->val));
		d->del_ret = snapmap_update_delete(u);
		break;
	case UPD_DELETE_THEN_SET:
		d->del_ret = snapmap_update_delete(u);
		d->set_ret = snapmap_update_set(u, d->val, strlen(d->val));
		break;
	}
	return 0;
}

Test(update, sees_absent_key)
{
	struct snapmap *map = ut_map_new(NULL);
	struct upd d = { .action = UPD_KEEP };

	cr_assert_eq(snapmap_update(map, UT_S("key"), upd_fn, &d), 0);
	cr_assert_eq(d.calls, 1);
	cr_assert_not(d.present);
	cr_assert(d.cur_null);
	cr_assert_eq(d.curlen, 0);
	cr_assert(ut_bytes_eq(d.key, d.klen, UT_S("key")));
	ut_map_destroy(map);
}

Test(update, keep_publishes_nothing)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "cur", NULL });
	uint64_t v0 = ut_version(map);
	struct upd d = { .action = UPD_KEEP };

	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_fn, &d), 0);
	cr_assert_eq(d.calls, 1);
	cr_assert(d.present);
	cr_assert(ut_bytes_eq(d.cur, d.curlen, UT_S("cur")));
	cr_assert(ut_bytes_eq(d.key, d.klen, UT_S("k")));
	cr_assert_eq(ut_version(map), v0);
	ut_assert_str(map, "k", "cur");

	/* Keeping an absent key absent publishes nothing either. */
	cr_assert_eq(snapmap_update(map, UT_S("absent"), upd_fn, &d), 0);
	cr_assert_eq(ut_version(map), v0);
	cr_assert_eq(ut_count(map), 1);
	ut_map_destroy(map);
}

Test(update, set_inserts_and_overwrites)
{
	struct snapmap *map = ut_map_new(NULL);
	struct upd d = { .action = UPD_SET, .val = "first" };

	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_fn, &d), 0);
	cr_assert_eq(d.set_ret, 0);
	ut_assert_str(map, "k", "first");
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 1);

	d.val = "second";
	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_fn, &d), 0);
	cr_assert(d.present);
	cr_assert(ut_bytes_eq(d.cur, d.curlen, UT_S("first")));
	ut_assert_str(map, "k", "second");
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 2);
	ut_map_destroy(map);
}

Test(update, delete_present)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", "j", "w", NULL });
	uint64_t v0 = ut_version(map);
	struct upd d = { .action = UPD_DELETE };

	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_fn, &d), 0);
	cr_assert_eq(d.del_ret, 0);
	ut_assert_absent(map, UT_S("k"));
	ut_assert_str(map, "j", "w");
	cr_assert_eq(ut_count(map), 1);
	cr_assert_eq(ut_version(map), v0 + 1);
	ut_map_destroy(map);
}

/*
 * Deleting an absent key is "a no-op": 0, the map still without the key.
 * The header does not say whether that publishes a version; allow at most
 * one.
 */
Test(update, delete_absent_is_noop)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", NULL });
	uint64_t v0 = ut_version(map);
	struct upd d = { .action = UPD_DELETE };

	cr_assert_eq(snapmap_update(map, UT_S("absent"), upd_fn, &d), 0);
	cr_assert_eq(d.del_ret, 0);
	cr_assert_not(d.present);
	ut_assert_absent(map, UT_S("absent"));
	ut_assert_str(map, "k", "v");
	cr_assert_eq(ut_count(map), 1);
	cr_assert_leq(ut_version(map) - v0, 1);
	ut_map_destroy(map);
}

Test(update, negative_return_abandons_the_change)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "v", NULL });
	uint64_t v0 = ut_version(map);
	struct upd d = {
		.action = UPD_SET_THEN_FAIL, .val = "abandoned",
		.fail = -ECANCELED,
	};

	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_fn, &d), -ECANCELED);
	cr_assert_eq(d.set_ret, 0);
	cr_assert_eq(snapmap_update(map, UT_S("new"), upd_fn, &d),
		     -ECANCELED);
	d.fail = -ENOSPC;
	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_fn, &d), -ENOSPC);

	ut_assert_str(map, "k", "v");
	ut_assert_absent(map, UT_S("new"));
	cr_assert_eq(ut_version(map), v0);
	/* A value handed to the map is destroyed once, published or not:
	 * here by each failed update that set it. */
	cr_assert_eq(ut_dlog_times_str(&log, "abandoned"), 3);
	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_times_str(&log, "abandoned"), 3);
	cr_assert_eq(ut_dlog_calls(&log), 4);
	ut_dlog_fini(&log);
}

Test(update, last_set_or_delete_wins)
{
	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "v", NULL });
	uint64_t v0 = ut_version(map);
	struct upd d = { .action = UPD_SET_TWICE, .val = "s1", .val2 = "s2" };

	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_fn, &d), 0);
	cr_assert_eq(d.set_ret, 0);
	cr_assert_eq(d.set2_ret, 0);
	ut_assert_str(map, "k", "s2");
	cr_assert_eq(ut_version(map), v0 + 1, "one update, one publish");
	/* The first value, replaced inside the callback, never reached a
	 * snapshot: destroyed by the set that replaced it. */
	cr_assert_eq(ut_dlog_times_str(&log, "s1"), 1);

	d = (struct upd){ .action = UPD_SET_THEN_DELETE, .val = "s3" };
	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_fn, &d), 0);
	cr_assert_eq(d.set_ret, 0);
	cr_assert_eq(d.del_ret, 0);
	ut_assert_absent(map, UT_S("k"));
	cr_assert_eq(ut_version(map), v0 + 2);

	d = (struct upd){ .action = UPD_DELETE_THEN_SET, .val = "s4" };
	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_fn, &d), 0);
	ut_assert_str(map, "k", "s4");
	cr_assert_eq(ut_version(map), v0 + 3);

	ut_map_destroy(map);
	/* Every value handed to the map is destroyed once: those that
	 * reached a snapshot, and those a later set or delete of the same
	 * callback replaced. */
	cr_assert_eq(ut_dlog_times_str(&log, "v"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "s1"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "s2"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "s3"), 1);
	cr_assert_eq(ut_dlog_times_str(&log, "s4"), 1);
	cr_assert_eq(ut_dlog_calls(&log), 5);
	ut_dlog_fini(&log);
}

/* update_set / update_delete argument checks, from inside a callback. */
struct upd_args {
	int null_u_set, null_u_del, null_val, too_big, empty_ok;
};

static int upd_args_fn(const void *key, size_t klen, const void *cur,
		       size_t curlen, bool present, struct snapmap_update *u,
		       void *ctx)
{
	struct upd_args *a = ctx;
	static char big[17];

	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	a->null_u_set = snapmap_update_set(NULL, "x", 1);
	a->null_u_del = snapmap_update_delete(NULL);
	a->null_val = snapmap_update_set(u, NULL, 1);
	a->too_big = snapmap_update_set(u, big, sizeof(big));
	a->empty_ok = snapmap_update_set(u, NULL, 0);
	return 0;
}

Test(update, set_and_delete_argument_errors)
{
	struct snapmap_config cfg = { .max_value_len = 16 };
	struct snapmap *map = ut_map_from_strings(&cfg,
		(const char *const[]){ "k", "v", NULL });
	uint64_t v0 = ut_version(map);
	struct upd_args a;

	memset(&a, 0x55, sizeof(a));
	cr_assert_eq(snapmap_update(map, UT_S("k"), upd_args_fn, &a), 0);
	cr_assert_eq(a.null_u_set, -EINVAL);
	cr_assert_eq(a.null_u_del, -EINVAL);
	cr_assert_eq(a.null_val, -EINVAL);
	cr_assert_eq(a.too_big, -E2BIG);
	cr_assert_eq(a.empty_ok, 0);
	/* Only the valid set took effect. */
	ut_assert_value(map, UT_S("k"), "", 0);
	cr_assert_eq(ut_version(map), v0 + 1);
	ut_map_destroy(map);
}

Test(update, common_errors)
{
	struct snapmap_config cfg = { .max_key_len = 2 };
	struct snapmap *map = ut_map_new(&cfg);
	struct upd d = { .action = UPD_SET, .val = "v" };

	cr_assert_eq(snapmap_update(NULL, UT_S("k"), upd_fn, &d), -EINVAL);
	cr_assert_eq(snapmap_update(map, NULL, 1, upd_fn, &d), -EINVAL);
	cr_assert_eq(snapmap_update(map, UT_S("k"), NULL, &d), -EINVAL);
	cr_assert_eq(snapmap_update(map, UT_S("kkk"), upd_fn, &d), -E2BIG);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION);
	cr_assert_eq(ut_count(map), 0);
	ut_map_destroy(map);
}

/*
 * Writes from inside a callback: -EDEADLK on the callback's own map
 * (whichever write), fine on another map.
 */
struct reentry {
	struct snapmap *self, *other;
	struct snapmap_batch *self_batch, *other_batch;
	int put, del, pia, rep, cas, add, upd, commit;
	int other_put, other_commit;
};

static int reentry_fn(const void *key, size_t klen, const void *cur,
		      size_t curlen, bool present, struct snapmap_update *u,
		      void *ctx)
{
	struct reentry *r = ctx;
	struct upd inner = { .action = UPD_SET, .val = "inner" };

	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	r->put = snapmap_put(r->self, UT_S("x"), UT_S("1"));
	r->del = snapmap_delete(r->self, UT_S("k"));
	r->pia = snapmap_put_if_absent(r->self, UT_S("x"), UT_S("1"),
				       NULL, 0, NULL);
	r->rep = snapmap_replace(r->self, UT_S("k"), UT_S("1"));
	r->cas = snapmap_compare_and_swap(r->self, UT_S("k"), UT_S("v"),
					  UT_S("1"));
	r->add = snapmap_add_i64(r->self, UT_S("n"), 1, NULL);
	r->upd = snapmap_update(r->self, UT_S("k"), upd_fn, &inner);
	r->commit = snapmap_batch_commit(r->self_batch, NULL, NULL);

	r->other_put = snapmap_put(r->other, UT_S("from-cb"), UT_S("yes"));
	r->other_commit = snapmap_batch_commit(r->other_batch, NULL, NULL);
	return snapmap_update_set(u, "outer", 5);
}

Test(update, same_map_writes_are_edeadlk_other_map_works)
{
	/* The release behaviour: a debug build would abort here instead
	 * (tests/unit/test_debug.c), unless told not to. */
	setenv("SNAPMAP_DEBUG", "0", 1);
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "k", "v", NULL });
	struct snapmap *other = ut_map_new(NULL);
	struct reentry r = {
		.self = map, .other = other,
		.self_batch = snapmap_batch_new(map),
		.other_batch = snapmap_batch_new(other),
	};
	uint64_t v0 = ut_version(map);

	cr_assert_not_null(r.self_batch);
	cr_assert_not_null(r.other_batch);
	cr_assert_eq(snapmap_batch_put(r.self_batch, UT_S("b"), UT_S("1")), 0);
	cr_assert_eq(snapmap_batch_put(r.other_batch, UT_S("b"), UT_S("2")),
		     0);

	cr_assert_eq(snapmap_update(map, UT_S("k"), reentry_fn, &r), 0);
	cr_assert_eq(r.put, -EDEADLK);
	cr_assert_eq(r.del, -EDEADLK);
	cr_assert_eq(r.pia, -EDEADLK);
	cr_assert_eq(r.rep, -EDEADLK);
	cr_assert_eq(r.cas, -EDEADLK);
	cr_assert_eq(r.add, -EDEADLK);
	cr_assert_eq(r.upd, -EDEADLK);
	cr_assert_eq(r.commit, -EDEADLK);
	cr_assert_eq(r.other_put, 0);
	cr_assert_eq(r.other_commit, 0);

	/* Only the callback's own decision reached this map. */
	cr_assert_eq(ut_version(map), v0 + 1);
	cr_assert_eq(ut_count(map), 1);
	ut_assert_str(map, "k", "outer");
	ut_assert_absent(map, UT_S("x"));
	/* The failed commit kept its op staged. */
	cr_assert_eq(snapmap_batch_count(r.self_batch), 1);

	ut_assert_str(other, "from-cb", "yes");
	ut_assert_str(other, "b", "2");

	/* After the callback, writes to the map work again. */
	cr_assert_eq(snapmap_batch_commit(r.self_batch, NULL, NULL), 0);
	cr_assert_eq(ut_put_str(map, "x", "1"), 0);
	ut_assert_str(map, "b", "1");

	snapmap_batch_free(r.self_batch);
	snapmap_batch_free(r.other_batch);
	ut_map_destroy(map);
	ut_map_destroy(other);
}

/*
 * Nested callbacks: inside A's callback, update B; inside B's callback
 * writes to A and to B are both -EDEADLK, a write to C works.
 */
struct nest {
	struct snapmap *a, *b, *c;
	int b_update, a_put, b_put, c_put;
};

static int nest_inner_fn(const void *key, size_t klen, const void *cur,
			 size_t curlen, bool present,
			 struct snapmap_update *u, void *ctx)
{
	struct nest *n = ctx;

	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	n->a_put = snapmap_put(n->a, UT_S("x"), UT_S("1"));
	n->b_put = snapmap_put(n->b, UT_S("x"), UT_S("1"));
	n->c_put = snapmap_put(n->c, UT_S("x"), UT_S("1"));
	return snapmap_update_set(u, "b", 1);
}

static int nest_outer_fn(const void *key, size_t klen, const void *cur,
			 size_t curlen, bool present,
			 struct snapmap_update *u, void *ctx)
{
	struct nest *n = ctx;

	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	n->b_update = snapmap_update(n->b, UT_S("k"), nest_inner_fn, n);
	return snapmap_update_set(u, "a", 1);
}

Test(update, nested_callbacks_on_two_maps)
{
	/* The release behaviour: a debug build would abort here instead
	 * (tests/unit/test_debug.c), unless told not to. */
	setenv("SNAPMAP_DEBUG", "0", 1);
	struct nest n = {
		.a = ut_map_new(NULL), .b = ut_map_new(NULL),
		.c = ut_map_new(NULL),
	};

	cr_assert_eq(snapmap_update(n.a, UT_S("k"), nest_outer_fn, &n), 0);
	cr_assert_eq(n.b_update, 0);
	cr_assert_eq(n.a_put, -EDEADLK);
	cr_assert_eq(n.b_put, -EDEADLK);
	cr_assert_eq(n.c_put, 0);
	ut_assert_str(n.a, "k", "a");
	ut_assert_str(n.b, "k", "b");
	ut_assert_str(n.c, "x", "1");
	cr_assert_eq(ut_count(n.a), 1);
	cr_assert_eq(ut_count(n.b), 1);

	/* Outside any callback, all three maps take writes again. */
	cr_assert_eq(ut_put_str(n.a, "x", "2"), 0);
	cr_assert_eq(ut_put_str(n.b, "x", "2"), 0);
	ut_map_destroy(n.a);
	ut_map_destroy(n.b);
	ut_map_destroy(n.c);
}

/* ------------------------------------------------------------------ */
/* add_i64                                                             */
/* ------------------------------------------------------------------ */

Test(add_i64, creates_at_delta_and_accumulates)
{
	struct snapmap *map = ut_map_new(NULL);
	int64_t res = 0;

	cr_assert_eq(snapmap_add_i64(map, UT_S("n"), 5, &res), 0);
	cr_assert_eq(res, 5);
	cr_assert_eq(ut_i64(map, UT_S("n")), 5);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 1);

	cr_assert_eq(snapmap_add_i64(map, UT_S("n"), 10, &res), 0);
	cr_assert_eq(res, 15);
	cr_assert_eq(snapmap_add_i64(map, UT_S("n"), -20, &res), 0);
	cr_assert_eq(res, -5);
	cr_assert_eq(snapmap_add_i64(map, UT_S("n"), 7, NULL), 0);
	cr_assert_eq(ut_i64(map, UT_S("n")), 2);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION + 4);

	/* Negative creation, and an empty key. */
	cr_assert_eq(snapmap_add_i64(map, NULL, 0, -3, &res), 0);
	cr_assert_eq(res, -3);
	cr_assert_eq(ut_i64(map, NULL, 0), -3);
	cr_assert_eq(ut_count(map), 2);
	ut_map_destroy(map);
}

Test(add_i64, works_on_a_value_written_by_put)
{
	struct snapmap *map = ut_map_new(NULL);
	int64_t init = 1000, res = 0;

	cr_assert_eq(snapmap_put(map, UT_S("n"), &init, sizeof(init)), 0);
	cr_assert_eq(snapmap_add_i64(map, UT_S("n"), 1, &res), 0);
	cr_assert_eq(res, 1001);
	cr_assert_eq(ut_i64(map, UT_S("n")), 1001);
	ut_map_destroy(map);
}

Test(add_i64, value_not_8_bytes_is_einval)
{
	struct snapmap *map = ut_map_new(NULL);
	uint64_t v0;

	cr_assert_eq(snapmap_put(map, UT_S("short"), UT_S("abc")), 0);
	cr_assert_eq(snapmap_put(map, UT_S("long"), UT_S("123456789")), 0);
	cr_assert_eq(snapmap_put(map, UT_S("empty"), NULL, 0), 0);
	v0 = ut_version(map);

	cr_assert_eq(snapmap_add_i64(map, UT_S("short"), 1, NULL), -EINVAL);
	cr_assert_eq(snapmap_add_i64(map, UT_S("long"), 1, NULL), -EINVAL);
	cr_assert_eq(snapmap_add_i64(map, UT_S("empty"), 1, NULL), -EINVAL);
	cr_assert_eq(ut_version(map), v0);
	ut_assert_str(map, "short", "abc");
	ut_assert_str(map, "long", "123456789");
	ut_assert_value(map, UT_S("empty"), "", 0);
	ut_map_destroy(map);
}

Test(add_i64, overflow_changes_nothing)
{
	struct snapmap *map = ut_map_new(NULL);
	uint64_t v0;
	int64_t res = 0;

	cr_assert_eq(snapmap_add_i64(map, UT_S("max"), INT64_MAX, &res), 0);
	cr_assert_eq(res, INT64_MAX);
	cr_assert_eq(snapmap_add_i64(map, UT_S("min"), INT64_MIN, &res), 0);
	cr_assert_eq(res, INT64_MIN);
	v0 = ut_version(map);

	cr_assert_eq(snapmap_add_i64(map, UT_S("max"), 1, &res), -EOVERFLOW);
	cr_assert_eq(snapmap_add_i64(map, UT_S("max"), INT64_MAX, NULL),
		     -EOVERFLOW);
	cr_assert_eq(snapmap_add_i64(map, UT_S("min"), -1, &res), -EOVERFLOW);
	cr_assert_eq(snapmap_add_i64(map, UT_S("min"), INT64_MIN, NULL),
		     -EOVERFLOW);
	cr_assert_eq(ut_version(map), v0);
	cr_assert_eq(ut_i64(map, UT_S("max")), INT64_MAX);
	cr_assert_eq(ut_i64(map, UT_S("min")), INT64_MIN);

	/* Right up to the edge is fine. */
	cr_assert_eq(snapmap_add_i64(map, UT_S("max"), -1, &res), 0);
	cr_assert_eq(snapmap_add_i64(map, UT_S("max"), 1, &res), 0);
	cr_assert_eq(res, INT64_MAX);
	cr_assert_eq(snapmap_add_i64(map, UT_S("min"), INT64_MAX, &res), 0);
	cr_assert_eq(res, -1);
	ut_map_destroy(map);
}

Test(add_i64, common_errors)
{
	struct snapmap_config cfg = { .max_key_len = 2 };
	struct snapmap *map = ut_map_new(&cfg);

	cr_assert_eq(snapmap_add_i64(NULL, UT_S("n"), 1, NULL), -EINVAL);
	cr_assert_eq(snapmap_add_i64(map, NULL, 1, 1, NULL), -EINVAL);
	cr_assert_eq(snapmap_add_i64(map, UT_S("nnn"), 1, NULL), -E2BIG);
	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION);
	cr_assert_eq(ut_count(map), 0);
	ut_map_destroy(map);
}
