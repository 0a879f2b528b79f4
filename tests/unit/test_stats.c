/*
 * test_stats.c - snapmap_stats, and the reclaim limit (backpressure).
 */
#include <urcu.h>
#include <snapmap.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Declared here rather than by <urcu-qsbr.h>, whose names would clash
 * with <urcu.h>'s in one file. */
extern const struct rcu_flavor_struct urcu_qsbr_flavor;

static void setup(void)
{
	rcu_register_thread();
}

static void teardown(void)
{
	rcu_unregister_thread();
}

TestSuite(stats, .init = setup, .fini = teardown, .timeout = 120);

static int put_n(struct snapmap *map, unsigned i)
{
	char key[32], val[16];
	int klen = snprintf(key, sizeof(key), "key:%010u", i);

	memset(val, (int)i, sizeof(val));
	return snapmap_put(map, key, (size_t)klen, val, sizeof(val));
}

static struct snapmap_stats stats_of(struct snapmap *map)
{
	struct snapmap_stats st;

	cr_assert_eq(snapmap_stats(map, &st), 0);
	return st;
}

Test(stats, counts_follow_the_writes)
{
	struct snapmap *map = snapmap_new(NULL);
	struct snapmap_stats st = stats_of(map);
	uint64_t empty_bytes = st.live_bytes;
	const struct snapmap_snapshot *pin;

	cr_assert_eq(snapmap_stats(NULL, &st), -EINVAL);
	cr_assert_eq(snapmap_stats(map, NULL), -EINVAL);
	cr_assert_eq(st.version, SNAPMAP_INITIAL_VERSION);
	cr_assert_eq(st.entries, 0);
	cr_assert_eq(st.publishes, 0);
	cr_assert_gt(empty_bytes, 0);

	for (unsigned i = 0; i < 3000; i++)
		cr_assert_eq(put_n(map, i), 0);
	st = stats_of(map);
	cr_assert_eq(st.version, 3000);
	cr_assert_eq(st.entries, 3000);
	cr_assert_eq(st.publishes, 3000);
	cr_assert_geq(st.writer_acquisitions, 3000);
	/* Every entry holds at least its key, its value and a pointer. */
	cr_assert_geq(st.live_bytes, empty_bytes + 3000 * (14 + 16 + 8));
	cr_assert_lt(st.live_bytes, empty_bytes + 3000 * 256);

	/* Failures, by cause; none of them publishes. */
	cr_assert_eq(snapmap_delete(map, "absent", 6), -ENOENT);
	cr_assert_eq(snapmap_put_if_absent(map, "key:0000000001", 14, "x", 1,
					   NULL, 0, NULL), -EEXIST);
	cr_assert_eq(snapmap_put(map, NULL, 3, "x", 1), -EINVAL);
	st = stats_of(map);
	cr_assert_eq(st.failed_conflict, 2);
	cr_assert_eq(st.failed_invalid, 1);
	cr_assert_eq(st.failed_nomem, 0);
	cr_assert_eq(st.publishes, 3000);

	/* Deleting everything gives the memory back. */
	for (unsigned i = 0; i < 3000; i++) {
		char key[32];
		int klen = snprintf(key, sizeof(key), "key:%010u", i);

		cr_assert_eq(snapmap_delete(map, key, (size_t)klen), 0);
	}
	st = stats_of(map);
	cr_assert_eq(st.entries, 0);
	cr_assert_eq(st.live_bytes, empty_bytes);

	pin = snapmap_pin(map);
	cr_assert_eq(stats_of(map).pinned_snapshots, 1);
	snapmap_unpin(pin);
	cr_assert_eq(stats_of(map).pinned_snapshots, 0);

	/* Once every grace period has passed, nothing waits any more. */
	rcu_barrier();
	st = stats_of(map);
	cr_assert_eq(st.reclaim_snapshots, 0);
	cr_assert_eq(st.reclaim_bytes, 0);
	cr_assert_eq(snapmap_destroy(map), 0);
}

/* ------------------------------------------------------------------ */
/* Reclaim limit                                                       */
/* ------------------------------------------------------------------ */

#define STORM_KEYS	20000
#define STORM_WRITES	4000
#define LIMIT		(256 * 1024)

struct storm {
	struct snapmap *map;
	atomic_int stop;
	const struct rcu_flavor_struct *flavor;
};

static void *storm_reader(void *arg)
{
	struct storm *s = arg;
	unsigned long found = 0;

	s->flavor->register_thread();
	while (!atomic_load(&s->stop)) {
		char key[32];
		int klen = snprintf(key, sizeof(key), "key:%010lu",
				    found % STORM_KEYS);

		s->flavor->read_lock();
		found += snapmap_find(snapmap_snapshot(s->map), key,
				      (size_t)klen, NULL, NULL) == 0;
		s->flavor->read_unlock();
		s->flavor->read_quiescent_state();
	}
	s->flavor->unregister_thread();
	return NULL;
}

/*
 * A writer as fast as it can go, two readers: the bytes waiting for
 * reclamation never exceed the limit by more than one snapshot's worth,
 * and the writer was held back to get there.
 */
static void storm(const struct rcu_flavor_struct *flavor)
{
	struct snapmap_config cfg = { .reclaim_limit = LIMIT };
	struct storm s = { .flavor = flavor };
	struct snapmap_batch *b;
	pthread_t readers[2];
	uint64_t peak = 0, snapshot_bytes;
	struct snapmap_stats st;

	s.map = snapmap_new_flavor(&cfg, flavor);
	cr_assert_not_null(s.map);
	b = snapmap_batch_new(s.map);
	for (unsigned i = 0; i < STORM_KEYS; i++) {
		char key[32];
		int klen = snprintf(key, sizeof(key), "key:%010u", i);

		cr_assert_eq(snapmap_batch_put(b, key, (size_t)klen, "v", 1), 0);
	}
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	snapmap_batch_free(b);
	snapshot_bytes = stats_of(s.map).live_bytes;

	for (int i = 0; i < 2; i++)
		pthread_create(&readers[i], NULL, storm_reader, &s);
	for (unsigned w = 0; w < STORM_WRITES; w++) {
		cr_assert_eq(put_n(s.map, (w * 7919u) % STORM_KEYS), 0);
		st = stats_of(s.map);
		if (st.reclaim_bytes > peak)
			peak = st.reclaim_bytes;
	}
	atomic_store(&s.stop, 1);
	flavor->thread_offline();	/* joining blocks */
	for (int i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	flavor->thread_online();

	st = stats_of(s.map);
	cr_assert_gt(st.reclaim_waits, 0, "the storm never hit the limit");
	cr_assert_leq(peak, LIMIT + snapshot_bytes,
		      "peak %llu bytes waiting, limit %d + one snapshot %llu",
		      (unsigned long long)peak, LIMIT,
		      (unsigned long long)snapshot_bytes);
	cr_assert_eq(snapmap_destroy(s.map), 0);
}

Test(stats, reclaim_limit_holds_a_write_storm_memb)
{
	storm(&rcu_flavor);
}

Test(stats, reclaim_limit_holds_a_write_storm_qsbr)
{
	/* A qsbr writer waits offline, so the grace period it waits for
	 * does not wait for it. */
	urcu_qsbr_flavor.register_thread();
	storm(&urcu_qsbr_flavor);
	urcu_qsbr_flavor.unregister_thread();
}

/*
 * A writer inside a read-side critical section cannot wait for a grace
 * period (it would wait for itself): it writes over the limit and the
 * statistics count it.
 */
Test(stats, writer_inside_read_section_goes_over_the_limit)
{
	struct snapmap_config cfg = { .reclaim_limit = 1 };
	struct snapmap *map = snapmap_new(&cfg);
	struct snapmap_stats st;

	rcu_read_lock();
	for (unsigned i = 0; i < 50; i++)
		cr_assert_eq(put_n(map, i), 0);
	rcu_read_unlock();
	st = stats_of(map);
	cr_assert_eq(st.version, 50);
	cr_assert_gt(st.reclaim_over_limit, 0);
	cr_assert_eq(st.reclaim_waits, 0);

	/* Outside it, the next write waits instead. */
	cr_assert_eq(put_n(map, 99), 0);
	cr_assert_gt(stats_of(map).reclaim_waits, 0);
	cr_assert_eq(snapmap_destroy(map), 0);
}

/*
 * A write from inside another map's update callback holds that map's
 * writer mutex: it must not wait for reclamation (a reader or a qsbr
 * thread blocked on that mutex would hold up the grace period forever),
 * so it goes over the limit.  And what would wait for the map whose
 * callback runs fails with -EDEADLK.
 */
struct nested_write {
	struct snapmap *other;
	int put_rc, destroy_rc, wait_rc;
};

static int write_other_map(const void *key, size_t klen, const void *cur,
			   size_t curlen, bool present,
			   struct snapmap_update *u, void *ctx)
{
	struct nested_write *n = ctx;

	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	(void)u;
	n->put_rc = put_n(n->other, 7);
	return 0;
}

static int wait_on_own_map(const void *key, size_t klen, const void *cur,
			   size_t curlen, bool present,
			   struct snapmap_update *u, void *ctx)
{
	struct nested_write *n = ctx;

	(void)key; (void)klen; (void)cur; (void)curlen; (void)present;
	(void)u;
	n->wait_rc = snapmap_wait_version(n->other, 1000, 10, NULL);
	n->destroy_rc = snapmap_destroy(n->other);
	return 0;
}

Test(stats, write_from_update_callback_never_waits)
{
	struct snapmap_config cfg = { .reclaim_limit = 1 };
	struct snapmap *a = snapmap_new(NULL), *b = snapmap_new(&cfg);
	struct nested_write n = { .other = b };

	setenv("SNAPMAP_DEBUG", "0", 1);	/* -EDEADLK, not an abort */
	cr_assert_eq(put_n(a, 1), 0);
	for (unsigned i = 0; i < 20; i++)	/* b over its limit */
		cr_assert_eq(put_n(b, i), 0);
	cr_assert_eq(snapmap_update(a, "key:0000000001", 14, write_other_map,
				    &n), 0);
	cr_assert_eq(n.put_rc, 0);
	cr_assert_gt(stats_of(b).reclaim_over_limit, 0);

	n.other = a;
	cr_assert_eq(snapmap_update(a, "key:0000000001", 14, wait_on_own_map,
				    &n), 0);
	cr_assert_eq(n.wait_rc, -EDEADLK);
	cr_assert_eq(n.destroy_rc, -EDEADLK);
	cr_assert_eq(snapmap_destroy(a), 0);
	cr_assert_eq(snapmap_destroy(b), 0);
}
