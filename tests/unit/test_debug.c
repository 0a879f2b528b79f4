/*
 * test_debug.c - the --enable-debug checks fire (death tests).
 *
 * In a debug build misuse aborts with a message: a destroyed map used
 * again, read-side calls outside a read-side critical section on a
 * snapshot nobody pinned, an unpin without a pin, a write to a map from
 * inside its own update callback.  Each test does one of these and
 * expects SIGABRT.  A build without --enable-debug has no checks, and
 * these tests are not compiled into it (the release behaviour of the same
 * calls is tested elsewhere: -EDEADLK in test_compound.c).
 */
#include "config.h"

#ifdef SNAPMAP_DEBUG

#include <urcu.h>
#include <snapmap.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

static void setup(void)
{
	rcu_register_thread();
}

static void teardown(void)
{
	rcu_unregister_thread();
}

TestSuite(debug, .init = setup, .fini = teardown, .timeout = 120);

static struct snapmap *map_with_one_key(void)
{
	struct snapmap *map = snapmap_new(NULL);

	cr_assert_not_null(map);
	cr_assert_eq(snapmap_put(map, "k", 1, "v", 1), 0);
	return map;
}

Test(debug, checks_are_on_by_default)
{
	/* Control for the tests below: the same calls, used correctly, do
	 * not abort. */
	struct snapmap *map = map_with_one_key();
	const struct snapmap_snapshot *pin = snapmap_pin(map);

	rcu_read_lock();
	cr_assert_eq(snapmap_find(snapmap_snapshot(map), "k", 1, NULL, NULL),
		     0);
	rcu_read_unlock();
	cr_assert_eq(snapmap_count(pin), 1);
	snapmap_unpin(pin);
	cr_assert_eq(snapmap_destroy(map), 0);
}

Test(debug, snapshot_outside_read_side_section, .signal = SIGABRT)
{
	struct snapmap *map = map_with_one_key();

	snapmap_snapshot(map);
}

Test(debug, find_on_unpinned_snapshot_after_unlock, .signal = SIGABRT)
{
	struct snapmap *map = map_with_one_key();
	const struct snapmap_snapshot *snap;

	rcu_read_lock();
	snap = snapmap_snapshot(map);
	rcu_read_unlock();
	snapmap_find(snap, "k", 1, NULL, NULL);
}

Test(debug, unpin_without_pin, .signal = SIGABRT)
{
	struct snapmap *map = map_with_one_key();
	const struct snapmap_snapshot *pin = snapmap_pin(map);

	snapmap_unpin(pin);
	snapmap_unpin(pin);
}

Test(debug, map_used_after_destroy, .signal = SIGABRT)
{
	struct snapmap *map = map_with_one_key();

	cr_assert_eq(snapmap_destroy(map), 0);
	snapmap_put(map, "k", 1, "w", 1);
}

static int write_own_map(const void *key, size_t klen, const void *cur,
			 size_t curlen, bool present, struct snapmap_update *u,
			 void *ctx)
{
	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	(void)u;
	return snapmap_put(ctx, "x", 1, "y", 1);
}

Test(debug, write_from_own_update_callback, .signal = SIGABRT)
{
	struct snapmap *map = map_with_one_key();

	snapmap_update(map, "k", 1, write_own_map, map);
}

Test(debug, checks_off_with_environment)
{
	struct snapmap *map;

	setenv("SNAPMAP_DEBUG", "0", 1);
	map = map_with_one_key();
	cr_assert_eq(snapmap_update(map, "k", 1, write_own_map, map),
		     -EDEADLK);
	cr_assert_eq(snapmap_destroy(map), 0);
}

#endif /* SNAPMAP_DEBUG */
