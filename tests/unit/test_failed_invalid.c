/*
 * test_failed_invalid.c - snapmap_stats.failed_invalid counts every
 * -EINVAL and -E2BIG a write returns on a map (issue 11, item 17): one
 * case per argument check of every write, put to compound writes,
 * update, batch staging and loads.  Each call must fail as documented,
 * count once in failed_invalid and nowhere else, and leave the map as it
 * was.
 */
#include <urcu.h>
#include <snapmap.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

/* The map of every case: tiny limits, and one entry that is no int64. */
#define MAX_KEY		4
#define MAX_VALUE	8
#define LONG_KEY	"12345"		/* MAX_KEY + 1 */
#define LONG_VALUE	"123456789"	/* MAX_VALUE + 1 */
#define SEED_KEY	"seed"
#define SEED_VALUE	"abc"

struct invalid_case {
	const char *name;
	int (*call)(struct snapmap *map);
	int expect;
};

static int returns_einval(const void *key, size_t klen, const void *cur,
			  size_t curlen, bool present,
			  struct snapmap_update *u, void *ctx)
{
	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	(void)u; (void)ctx;
	return -EINVAL;
}

static int set_long_value(const void *key, size_t klen, const void *cur,
			  size_t curlen, bool present,
			  struct snapmap_update *u, void *ctx)
{
	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	(void)ctx;
	return snapmap_update_set(u, UT_S(LONG_VALUE));
}

/* Stages one op in a fresh batch of @map; returns what staging did. */
#define BATCH_CASE(fn, stage)						\
	static int fn(struct snapmap *map)				\
	{								\
		struct snapmap_batch *b = snapmap_batch_new(map);	\
		int rc;							\
									\
		cr_assert_not_null(b);					\
		rc = stage;						\
		snapmap_batch_free(b);					\
		return rc;						\
	}

/* One write call on @map. */
#define CALL_CASE(fn, call)						\
	static int fn(struct snapmap *map)				\
	{								\
		return call;						\
	}

CALL_CASE(put_null_key, snapmap_put(map, NULL, 1, UT_S("v")))
CALL_CASE(put_null_value, snapmap_put(map, UT_S("k"), NULL, 1))
CALL_CASE(put_long_key, snapmap_put(map, UT_S(LONG_KEY), UT_S("v")))
CALL_CASE(put_long_value, snapmap_put(map, UT_S("k"), UT_S(LONG_VALUE)))
CALL_CASE(delete_null_key, snapmap_delete(map, NULL, 1))
CALL_CASE(delete_long_key, snapmap_delete(map, UT_S(LONG_KEY)))
CALL_CASE(pia_null_buffer, snapmap_put_if_absent(map, UT_S(SEED_KEY),
		UT_S("v"), NULL, 4, NULL))
CALL_CASE(pia_null_key, snapmap_put_if_absent(map, NULL, 1, UT_S("v"),
		NULL, 0, NULL))
CALL_CASE(pia_long_value, snapmap_put_if_absent(map, UT_S("k"),
		UT_S(LONG_VALUE), NULL, 0, NULL))
CALL_CASE(replace_long_key, snapmap_replace(map, UT_S(LONG_KEY), UT_S("v")))
CALL_CASE(replace_null_value, snapmap_replace(map, UT_S(SEED_KEY), NULL, 1))
CALL_CASE(cas_null_expected, snapmap_compare_and_swap(map, UT_S(SEED_KEY),
		NULL, 1, UT_S("v")))
CALL_CASE(cas_long_expected, snapmap_compare_and_swap(map, UT_S(SEED_KEY),
		UT_S(LONG_VALUE), UT_S("v")))
CALL_CASE(cas_long_value, snapmap_compare_and_swap(map, UT_S(SEED_KEY),
		UT_S(SEED_VALUE), UT_S(LONG_VALUE)))
CALL_CASE(update_null_fn, snapmap_update(map, UT_S(SEED_KEY), NULL, NULL))
CALL_CASE(update_long_key, snapmap_update(map, UT_S(LONG_KEY),
		returns_einval, NULL))
CALL_CASE(update_fn_einval, snapmap_update(map, UT_S(SEED_KEY),
		returns_einval, NULL))
CALL_CASE(update_set_long, snapmap_update(map, UT_S(SEED_KEY),
		set_long_value, NULL))
CALL_CASE(add_i64_not_int64, snapmap_add_i64(map, UT_S(SEED_KEY), 1, NULL))
CALL_CASE(add_i64_null_key, snapmap_add_i64(map, NULL, 1, 1, NULL))
CALL_CASE(load_null_path, snapmap_load(map, NULL, NULL, NULL))
CALL_CASE(load_text_null_path, snapmap_load_text(map, NULL, NULL, NULL))
BATCH_CASE(batch_put_null_key, snapmap_batch_put(b, NULL, 1, UT_S("v")))
BATCH_CASE(batch_put_long_value, snapmap_batch_put(b, UT_S("k"),
		UT_S(LONG_VALUE)))
BATCH_CASE(batch_delete_long_key, snapmap_batch_delete(b, UT_S(LONG_KEY)))
BATCH_CASE(batch_pia_null_value, snapmap_batch_put_if_absent(b, UT_S("k"),
		NULL, 1))
BATCH_CASE(batch_replace_long_key, snapmap_batch_replace(b, UT_S(LONG_KEY),
		UT_S("v")))
BATCH_CASE(batch_cas_null_expected, snapmap_batch_compare_and_swap(b,
		UT_S(SEED_KEY), NULL, 1, UT_S("v")))

#define CASE(fn, rc)	{ #fn, fn, rc }

static const struct invalid_case cases[] = {
	CASE(put_null_key, -EINVAL),
	CASE(put_null_value, -EINVAL),
	CASE(put_long_key, -E2BIG),
	CASE(put_long_value, -E2BIG),
	CASE(delete_null_key, -EINVAL),
	CASE(delete_long_key, -E2BIG),
	CASE(pia_null_buffer, -EINVAL),
	CASE(pia_null_key, -EINVAL),
	CASE(pia_long_value, -E2BIG),
	CASE(replace_long_key, -E2BIG),
	CASE(replace_null_value, -EINVAL),
	CASE(cas_null_expected, -EINVAL),
	CASE(cas_long_expected, -E2BIG),
	CASE(cas_long_value, -E2BIG),
	CASE(update_null_fn, -EINVAL),
	CASE(update_long_key, -E2BIG),
	CASE(update_fn_einval, -EINVAL),
	CASE(update_set_long, -E2BIG),
	CASE(add_i64_not_int64, -EINVAL),
	CASE(add_i64_null_key, -EINVAL),
	CASE(load_null_path, -EINVAL),
	CASE(load_text_null_path, -EINVAL),
	CASE(batch_put_null_key, -EINVAL),
	CASE(batch_put_long_value, -E2BIG),
	CASE(batch_delete_long_key, -E2BIG),
	CASE(batch_pia_null_value, -EINVAL),
	CASE(batch_replace_long_key, -E2BIG),
	CASE(batch_cas_null_expected, -EINVAL),
};

/*
 * The parameters are indexes into cases[]: Criterion copies them into the
 * test's process, where the addresses of another process mean nothing.
 */
ParameterizedTestParameters(failed_invalid, counted_once)
{
	static size_t index[UT_ARRAY_SIZE(cases)];

	for (size_t i = 0; i < UT_ARRAY_SIZE(cases); i++)
		index[i] = i;
	return cr_make_param_array(size_t, index, UT_ARRAY_SIZE(index));
}

ParameterizedTest(size_t *index, failed_invalid, counted_once,
		  .init = ut_register, .fini = ut_unregister,
		  .timeout = UT_TIMEOUT)
{
	const struct invalid_case *c = &cases[*index];
	const struct snapmap_config cfg = {
		.max_key_len = MAX_KEY, .max_value_len = MAX_VALUE,
	};
	struct snapmap *map = ut_map_new(&cfg);
	struct snapmap_stats before, after;
	int rc;

	cr_assert_eq(ut_put_str(map, SEED_KEY, SEED_VALUE), 0);
	cr_assert_eq(snapmap_stats(map, &before), 0);
	rc = c->call(map);
	cr_assert_eq(snapmap_stats(map, &after), 0);

	cr_assert_eq(rc, c->expect, "%s: returned %d, expected %d", c->name,
		     rc, c->expect);
	cr_assert_eq(after.failed_invalid, before.failed_invalid + 1,
		     "%s: failed_invalid went from %llu to %llu", c->name,
		     (unsigned long long)before.failed_invalid,
		     (unsigned long long)after.failed_invalid);
	cr_assert_eq(after.failed_nomem, before.failed_nomem, "%s", c->name);
	cr_assert_eq(after.failed_conflict, before.failed_conflict, "%s",
		     c->name);
	cr_assert_eq(after.failed_deadlock, before.failed_deadlock, "%s",
		     c->name);
	cr_assert_eq(after.failed_other, before.failed_other, "%s", c->name);
	/* A failed write leaves the map exactly as it was. */
	cr_assert_eq(after.publishes, before.publishes, "%s", c->name);
	cr_assert_eq(after.version, before.version, "%s", c->name);
	cr_assert_eq(ut_count(map), 1, "%s", c->name);
	ut_assert_str(map, SEED_KEY, SEED_VALUE);
	ut_map_destroy(map);
}

struct load_inside {
	struct snapmap *map;
	const char *path;
};

/* A load from inside an update callback of its own map (-EDEADLK). */
static int load_inside(const void *key, size_t klen, const void *cur,
		       size_t curlen, bool present, struct snapmap_update *u,
		       void *ctx)
{
	const struct load_inside *load = ctx;

	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	(void)u;
	return snapmap_load_text(load->map, load->path, NULL, NULL);
}

/*
 * The same rule for a load whose file is good: failing to publish it is
 * the map's failure, counted once.  (-EDEADLK here, where the writer
 * mutex is reached only after the file was read and checked.)
 */
Test(failed_invalid, load_publish_failure_counted, .init = ut_register,
     .fini = ut_unregister, .timeout = UT_TIMEOUT)
{
	char path[] = "/tmp/snapmap-failed-XXXXXX";
	int fd = mkstemp(path);
	struct load_inside load = { NULL, path };
	struct snapmap_stats before, after;
	struct snapmap *map;

	/* The release behaviour: a debug build's maps would abort instead
	 * (tests/unit/test_debug.c), unless told not to when created. */
	setenv("SNAPMAP_DEBUG", "0", 1);
	map = load.map = ut_map_new(NULL);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "k\tv\n", 4), 4);
	close(fd);
	cr_assert_eq(snapmap_stats(map, &before), 0);
	cr_assert_eq(snapmap_update(map, UT_S("u"), load_inside, &load),
		     -EDEADLK);
	cr_assert_eq(snapmap_stats(map, &after), 0);
	unlink(path);
	/* Counted twice: by the load, then by the update that returned its
	 * error; each failed call once. */
	cr_assert_eq(after.failed_deadlock, before.failed_deadlock + 2);
	cr_assert_eq(after.failed_invalid, before.failed_invalid);
	cr_assert_eq(after.version, before.version);
	ut_map_destroy(map);
}
