/*
 * test_waits.c - the one rule for "may this thread wait for a grace
 * period" (lib/context.c), under every flavor: the places where waiting
 * could never finish get -EDEADLK, a deferred teardown, or a write over
 * the reclaim limit, never a hang.  Each test would hang on a library
 * that waits there; the Criterion timeout turns that into a failure.
 */
#include "flavors.h"

#include <stdatomic.h>
#include <urcu/call-rcu.h>

/* ------------------------------------------------------------------ */
/* Maps stored in a map (issue 11, item 1)                             */
/* ------------------------------------------------------------------ */

enum { INNER_MAPS = 24, INNER_KEYS = 40 };

static atomic_int inner_values_destroyed;
static atomic_int inner_destroy_failures;

static void count_inner_value(void *val, size_t vlen, void *ctx)
{
	(void)val;
	(void)vlen;
	(void)ctx;
	atomic_fetch_add(&inner_values_destroyed, 1);
}

/* The outer map's destructor: its values are maps.  It runs on the
 * call_rcu worker, where snapmap_destroy() must not wait. */
static void destroy_inner_map(void *val, size_t vlen, void *ctx)
{
	struct snapmap *inner;

	(void)ctx;
	cr_assert_eq(vlen, sizeof(inner));
	memcpy(&inner, val, sizeof(inner));
	if (snapmap_destroy(inner) != 0)
		atomic_fetch_add(&inner_destroy_failures, 1);
}

static struct snapmap *inner_map_new(unsigned id)
{
	struct snapmap_config cfg = { .value_destroy = count_inner_value };
	struct snapmap *inner = ut_map_new(&cfg);
	char key[32];

	for (unsigned k = 0; k < INNER_KEYS; k++) {
		snprintf(key, sizeof(key), "map%u/key%u", id, k);
		cr_assert_eq(ut_put_str(inner, key, "v"), 0);
	}
	return inner;
}

FLAVOR_TEST_IN(waits, maps_in_a_map)
{
	use_flavor(p);

	struct snapmap_config cfg = { .value_destroy = destroy_inner_map };
	struct snapmap *outer = ut_map_new(&cfg);
	char key[32];

	for (unsigned id = 0; id < INNER_MAPS; id++) {
		struct snapmap *inner = inner_map_new(id);

		snprintf(key, sizeof(key), "%u", id);
		cr_assert_eq(snapmap_put(outer, key, strlen(key), &inner,
					 sizeof(inner)), 0);
	}
	/* Replacing and deleting: the old inner maps die on the call_rcu
	 * worker, after a grace period. */
	for (unsigned id = 0; id < INNER_MAPS / 2; id++) {
		struct snapmap *inner = inner_map_new(INNER_MAPS + id);

		snprintf(key, sizeof(key), "%u", id);
		if (id % 2)
			cr_assert_eq(snapmap_delete(outer, key, strlen(key)),
				     0);
		else
			cr_assert_eq(snapmap_put(outer, key, strlen(key),
						 &inner, sizeof(inner)), 0);
		if (id % 2)
			cr_assert_eq(snapmap_destroy(inner), 0);
	}
	ut_flavor->thread_offline();
	ut_barrier();
	ut_flavor->thread_online();
	/* The rest die with the outer map. */
	ut_map_destroy(outer);
	/* Deferred teardowns finish on the worker; a barrier of the
	 * process still completes (it hung when destroy barriered there). */
	ut_flavor->thread_offline();
	ut_barrier();
	ut_barrier();
	ut_flavor->thread_online();
	cr_assert_eq(atomic_load(&inner_destroy_failures), 0);
	cr_assert_eq(atomic_load(&inner_values_destroyed),
		     (INNER_MAPS + INNER_MAPS / 2) * INNER_KEYS,
		     "%s: every inner map's values destroyed", p->name);
}

/* ------------------------------------------------------------------ */
/* A write from the application's own call_rcu callback (item 2)      */
/* ------------------------------------------------------------------ */

enum { CALLBACK_PUTS = 64 };

static struct {
	struct rcu_head head;
	struct snapmap *map;
	atomic_int done;
	atomic_int failed;
} from_cb;

static void write_from_callback(struct rcu_head *head)
{
	char key[16];

	(void)head;
	for (int i = 0; i < CALLBACK_PUTS; i++) {
		snprintf(key, sizeof(key), "cb%d", i);
		if (ut_put_str(from_cb.map, key, "x") != 0)
			atomic_fetch_add(&from_cb.failed, 1);
	}
	atomic_store(&from_cb.done, 1);
}

FLAVOR_TEST_IN(waits, write_from_call_rcu_callback)
{
	use_flavor(p);

	/* Every publish puts it over the limit: each write wants to wait. */
	struct snapmap_config cfg = { .reclaim_limit = 1 };
	struct snapmap_stats st;

	from_cb.map = ut_map_new(&cfg);
	cr_assert_eq(ut_put_str(from_cb.map, "k", "v"), 0);
	ut_flavor->update_call_rcu(&from_cb.head, write_from_callback);
	ut_flavor->thread_offline();
	ut_barrier();
	ut_flavor->thread_online();
	cr_assert_eq(atomic_load(&from_cb.done), 1);
	cr_assert_eq(atomic_load(&from_cb.failed), 0);
	cr_assert_eq(ut_count(from_cb.map), CALLBACK_PUTS + 1);
	cr_assert_eq(snapmap_stats(from_cb.map, &st), 0);
	cr_assert_gt(st.reclaim_over_limit, 0,
		     "the callback's writes went over the limit");
	ut_map_destroy(from_cb.map);
}

/* ------------------------------------------------------------------ */
/* An update callback that destroys another map while a writer of the  */
/* same map waits for the mutex inside its critical section (item 3)   */
/* ------------------------------------------------------------------ */

struct blocked_writer {
	struct snapmap *map;
	pthread_barrier_t in_read_side;
	int put_rc;
};

static void *write_inside_read_side(void *arg)
{
	struct blocked_writer *w = arg;

	ut_flavor->register_thread();
	ut_flavor->read_lock();
	pthread_barrier_wait(&w->in_read_side);
	/* Blocks on the writer mutex, held by the update callback, while
	 * this thread holds up every grace period. */
	w->put_rc = ut_put_str(w->map, "from-reader", "1");
	ut_flavor->read_unlock();
	ut_flavor->unregister_thread();
	return NULL;
}

struct destroy_in_update {
	struct blocked_writer *writer;
	struct snapmap *other;
	int destroy_rc, wait_rc;
};

static int destroy_other_fn(const void *key, size_t klen, const void *cur,
			    size_t curlen, bool present,
			    struct snapmap_update *u, void *ctx)
{
	struct destroy_in_update *d = ctx;

	(void)key;
	(void)klen;
	(void)cur;
	(void)curlen;
	(void)present;
	pthread_barrier_wait(&d->writer->in_read_side);
	d->wait_rc = snapmap_wait_version(d->other, UINT64_MAX - 1, 10, NULL);
	d->destroy_rc = snapmap_destroy(d->other);
	return snapmap_update_set(u, UT_S("set"));
}

FLAVOR_TEST_IN(waits, destroy_from_update_callback)
{
	use_flavor(p);

	struct ut_dlog log;
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct blocked_writer w = { .map = ut_map_new(NULL) };
	struct destroy_in_update d = { .writer = &w };
	pthread_t t;

	ut_dlog_init(&log);
	d.other = ut_map_new(&cfg);
	cr_assert_eq(ut_put_str(d.other, "a", "A"), 0);
	cr_assert_eq(ut_put_str(d.other, "a", "B"), 0);
	pthread_barrier_init(&w.in_read_side, NULL, 2);
	cr_assert_eq(pthread_create(&t, NULL, write_inside_read_side, &w), 0);

	cr_assert_eq(snapmap_update(w.map, UT_S("k"), destroy_other_fn, &d),
		     0);
	cr_assert_eq(d.wait_rc, -EDEADLK,
		     "%s: wait_version in an update callback", p->name);
	cr_assert_eq(d.destroy_rc, 0, "%s: destroy is deferred there",
		     p->name);
	cr_assert_eq(offline_join(t), 0);
	cr_assert_eq(w.put_rc, 0);
	ut_assert_str(w.map, "k", "set");
	ut_assert_str(w.map, "from-reader", "1");

	ut_flavor->thread_offline();
	ut_barrier();
	ut_barrier();
	ut_flavor->thread_online();
	cr_assert_eq(ut_dlog_calls(&log), 2, "both values of the deferred "
		     "map destroyed");
	pthread_barrier_destroy(&w.in_read_side);
	ut_map_destroy(w.map);
	ut_dlog_fini(&log);
}

/* ------------------------------------------------------------------ */
/* Inside a read-side critical section (item 4)                        */
/* ------------------------------------------------------------------ */

FLAVOR_TEST_IN(waits, inside_read_side)
{
	use_flavor(p);

	struct snapmap *map = ut_map_new(NULL);
	/* qsbr has no read-side critical section to wait for: its online
	 * thread is put offline for the wait, as everywhere. */
	int expect = p->id == FL_QSBR ? 0 : -EDEADLK;
	uint64_t v;

	cr_assert_eq(ut_put_str(map, "k", "v"), 0);
	ut_flavor->read_lock();
	cr_assert_eq(snapmap_wait_version(map, 0, 10, &v),
		     expect ? expect : 0, "%s: wait_version", p->name);
	/* A check that does not sleep is fine anywhere. */
	cr_assert_eq(snapmap_wait_version(map, 0, 0, &v), 0);
	if (expect) {
		cr_assert_eq(snapmap_destroy(map), -EDEADLK,
			     "%s: destroy inside the read-side section",
			     p->name);
		/* Nothing was torn down. */
		cr_assert_eq(ut_put_str(map, "k2", "v"), 0);
	}
	ut_flavor->read_unlock();
	cr_assert_eq(ut_count(map), expect ? 2 : 1);
	if (!expect) {
		ut_flavor->read_lock();
		cr_assert_eq(snapmap_destroy(map), 0);
		ut_flavor->read_unlock();
	} else {
		ut_map_destroy(map);
	}
}
