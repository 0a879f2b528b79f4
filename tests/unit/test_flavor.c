/*
 * test_flavor.c - the same scenarios under every liburcu flavor (memb,
 * mb, qsbr, bp), as Criterion parameterized tests.  Maps are created with
 * snapmap_new_flavor(cfg, &urcu_<flavor>_flavor) and threads use that
 * flavor's struct rcu_flavor_struct only: register_thread, read_lock,
 * read_unlock, read_quiescent_state, thread_offline, thread_online,
 * barrier, unregister_thread.
 *
 * Under qsbr a registered thread is online until it says otherwise and a
 * grace period waits for every online thread to pass a quiescent state,
 * so every thread here announces quiescent states while it loops and
 * goes offline while it blocks (pthread barriers, joins).  Under the
 * other flavors those calls are no-ops.
 */

#include "flavors.h"

/* ------------------------------------------------------------------ */
/* Single thread: every kind of call                                   */
/* ------------------------------------------------------------------ */

FLAVOR_TEST(basic_operations)
{
	use_flavor(p);

	struct snapmap *map = ut_map_new(NULL);
	struct snapmap_batch *b;
	const struct snapmap_snapshot *pin;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	const void *val;
	size_t vlen;
	int64_t n = 0;

	cr_assert_eq(ut_version(map), SNAPMAP_INITIAL_VERSION, "%s", p->name);
	cr_assert_eq(ut_put_str(map, "b", "2"), 0);
	cr_assert_eq(ut_put_str(map, "a", "1"), 0);
	cr_assert_eq(snapmap_put_if_absent(map, UT_S("c"), UT_S("3"),
					   NULL, 0, NULL), 0);
	cr_assert_eq(snapmap_add_i64(map, UT_S("n"), 41, NULL), 0);
	cr_assert_eq(snapmap_add_i64(map, UT_S("n"), 1, &n), 0);
	cr_assert_eq(n, 42);
	ut_assert_str(map, "a", "1");

	/* find and iterate inside this flavor's read-side section. */
	ut_flavor->read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_version(snap), SNAPMAP_INITIAL_VERSION + 5);
	cr_assert_eq(snapmap_find(snap, UT_S("b"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("2")));
	cr_assert_eq(snapmap_iter_first(snap, &it, &kv), 0);
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("a")));
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("bb"), &kv), 0);
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("c")));
	/* A write inside the section: allowed, it waits for nobody. */
	cr_assert_eq(ut_put_str(map, "d", "4"), 0);
	cr_assert_eq(snapmap_count(snap), 4);
	ut_flavor->read_unlock();
	cr_assert_eq(ut_count(map), 5);

	/* A pin outlives writes and grace periods. */
	pin = snapmap_pin(map);
	cr_assert_not_null(pin);
	cr_assert_eq(snapmap_delete(map, UT_S("a")), 0);
	ut_barrier();
	cr_assert_eq(snapmap_find(pin, UT_S("a"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("1")));
	cr_assert_eq(snapmap_count(pin), 5);

	/* A batch, committed in one publish. */
	b = snapmap_batch_new(map);
	cr_assert_not_null(b);
	uint64_t v0 = ut_version(map), ver = 0;
	cr_assert_eq(snapmap_batch_put(b, UT_S("x"), UT_S("X")), 0);
	cr_assert_eq(snapmap_batch_delete(b, UT_S("b")), 0);
	cr_assert_eq(snapmap_batch_compare_and_swap(b, UT_S("c"), UT_S("3"),
						    UT_S("33")), 0);
	cr_assert_eq(snapmap_batch_commit(b, &ver, NULL), 0);
	cr_assert_eq(ver, v0 + 1);
	ut_assert_str(map, "x", "X");
	ut_assert_str(map, "c", "33");
	ut_assert_absent(map, UT_S("b"));

	cr_assert_eq(snapmap_destroy(map), -EBUSY);
	snapmap_batch_free(b);
	snapmap_unpin(pin);
	ut_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* A writer thread and reader threads                                  */
/* ------------------------------------------------------------------ */

enum { READERS = 3, ROUNDS = 2000 };

struct rw_shared {
	struct snapmap *map;
	/* set by the threads, checked by the test's thread after join */
	int writer_err;
	atomic_bool writer_done;
	atomic_int reader_errors;
	char first_error[128];
	pthread_mutex_t error_lock;
};

static void reader_error(struct rw_shared *s, const char *what,
			 long long a, long long b)
{
	pthread_mutex_lock(&s->error_lock);
	if (atomic_fetch_add(&s->reader_errors, 1) == 0)
		snprintf(s->first_error, sizeof(s->first_error),
			 "%s (%lld, %lld)", what, a, b);
	pthread_mutex_unlock(&s->error_lock);
}

/*
 * Writer: in round i, a batch sets "a" and "b" to i together, then a put
 * sets "c" to i.  Readers must never see a != b, and "c" never ahead of
 * "a" in the same snapshot.
 */
static void *rw_writer(void *arg)
{
	struct rw_shared *s = arg;
	struct snapmap_batch *b;

	ut_flavor->register_thread();
	b = snapmap_batch_new(s->map);
	if (!b)
		s->writer_err = -errno;
	for (int64_t i = 1; b && i <= ROUNDS && !s->writer_err; i++) {
		int ret = snapmap_batch_put(b, UT_S("a"), &i, sizeof(i));

		if (!ret)
			ret = snapmap_batch_put(b, UT_S("b"), &i, sizeof(i));
		if (!ret)
			ret = snapmap_batch_commit(b, NULL, NULL);
		if (!ret)
			ret = snapmap_put(s->map, UT_S("c"), &i, sizeof(i));
		s->writer_err = ret;
		if (i % 64 == 0)
			ut_flavor->read_quiescent_state();
	}
	snapmap_batch_free(b);
	ut_flavor->unregister_thread();
	atomic_store(&s->writer_done, true);
	return NULL;
}

static int64_t read_i64(const struct snapmap_snapshot *snap,
			const char *key)
{
	const void *val;
	size_t vlen;
	int64_t v;

	if (snapmap_find(snap, key, strlen(key), &val, &vlen) != 0 ||
	    vlen != sizeof(v))
		return -1;
	memcpy(&v, val, sizeof(v));
	return v;
}

/*
 * Reader: checks each snapshot it loads, until it has loaded one after
 * the writer finished.
 */
static void *rw_reader(void *arg)
{
	struct rw_shared *s = arg;
	uint64_t last_version = SNAPMAP_INITIAL_VERSION;
	bool done;

	ut_flavor->register_thread();
	do {
		done = atomic_load(&s->writer_done);

		ut_flavor->read_lock();
		const struct snapmap_snapshot *snap = snapmap_snapshot(s->map);
		uint64_t v = snapmap_version(snap) - SNAPMAP_INITIAL_VERSION;
		int64_t a = read_i64(snap, "a");
		int64_t b = read_i64(snap, "b");
		int64_t c = read_i64(snap, "c");
		ut_flavor->read_unlock();
		ut_flavor->read_quiescent_state();

		if (v < last_version)
			reader_error(s, "version went back", (long long)v,
				     (long long)last_version);
		last_version = v;
		if (v == 0)
			continue;	/* nothing written yet */
		if (a != b)
			reader_error(s, "torn batch: a != b", a, b);
		/* Version 2i-1: a = b = i, c = i-1 (absent for i = 1). */
		if (c != a && c != (a == 1 ? -1 : a - 1))
			reader_error(s, "c out of step with a", c, a);
		if (v != (uint64_t)(2 * a - (c == a ? 0 : 1)))
			reader_error(s, "version does not match contents",
				     (long long)v, a);
	} while (!done && atomic_load(&s->reader_errors) == 0);
	ut_flavor->unregister_thread();
	return NULL;
}

FLAVOR_TEST(writer_and_readers)
{
	use_flavor(p);

	struct rw_shared s = { .map = ut_map_new(NULL) };
	pthread_t writer, readers[READERS];

	pthread_mutex_init(&s.error_lock, NULL);
	for (int i = 0; i < READERS; i++)
		cr_assert_eq(pthread_create(&readers[i], NULL, rw_reader, &s),
			     0);
	cr_assert_eq(pthread_create(&writer, NULL, rw_writer, &s), 0);

	cr_assert_eq(offline_join(writer), 0);
	for (int i = 0; i < READERS; i++)
		cr_assert_eq(offline_join(readers[i]), 0);

	cr_assert_eq(s.writer_err, 0, "%s: writer failed with %d", p->name,
		     s.writer_err);
	cr_assert_eq(atomic_load(&s.reader_errors), 0, "%s: %s", p->name,
		     s.first_error);
	cr_assert_eq(ut_version(s.map), SNAPMAP_INITIAL_VERSION + 2 * ROUNDS);
	cr_assert_eq(ut_i64(s.map, UT_S("a")), ROUNDS);
	cr_assert_eq(ut_i64(s.map, UT_S("c")), ROUNDS);
	/* Destroyed from this thread, registered and online. */
	ut_map_destroy(s.map);
	pthread_mutex_destroy(&s.error_lock);
}

/* ------------------------------------------------------------------ */
/* An offline reader lets grace periods complete                        */
/* ------------------------------------------------------------------ */

struct offline_shared {
	struct snapmap *map;
	pthread_barrier_t read_done, reclaimed;
	int before_ret, after_ret;
	char before[8], after[8];
	size_t before_len, after_len;
};

static void read_k(struct snapmap *map, int *ret, char *buf, size_t *len)
{
	const void *val;

	ut_flavor->read_lock();
	*ret = snapmap_find(snapmap_snapshot(map), UT_S("k"), &val, len);
	if (*ret == 0 && *len <= 8)
		memcpy(buf, val, *len);
	ut_flavor->read_unlock();
}

static void *offline_reader(void *arg)
{
	struct offline_shared *s = arg;

	ut_flavor->register_thread();
	read_k(s->map, &s->before_ret, s->before, &s->before_len);
	ut_flavor->read_quiescent_state();
	/* Blocks while the test's thread waits for a grace period. */
	offline_barrier_wait(&s->read_done);
	offline_barrier_wait(&s->reclaimed);
	read_k(s->map, &s->after_ret, s->after, &s->after_len);
	ut_flavor->unregister_thread();
	return NULL;
}

/*
 * The reader thread stays registered but blocks offline; the writer
 * overwrites "k" and waits (barrier) for the old value's reclamation,
 * which needs a grace period that the blocked reader must not hold up.
 */
FLAVOR_TEST(offline_reader_lets_reclamation_proceed)
{
	use_flavor(p);

	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct offline_shared s = {
		.map = ut_map_from_strings(&cfg,
			(const char *const[]){ "k", "v1", NULL }),
	};
	pthread_t t;

	pthread_barrier_init(&s.read_done, NULL, 2);
	pthread_barrier_init(&s.reclaimed, NULL, 2);
	cr_assert_eq(pthread_create(&t, NULL, offline_reader, &s), 0);

	offline_barrier_wait(&s.read_done);
	cr_assert_eq(ut_put_str(s.map, "k", "v2"), 0);
	ut_barrier();
	cr_assert_eq(ut_dlog_times_str(&log, "v1"), 1,
		     "%s: old value not reclaimed", p->name);
	cr_assert_eq(ut_dlog_times_str(&log, "v2"), 0);
	offline_barrier_wait(&s.reclaimed);
	cr_assert_eq(offline_join(t), 0);

	cr_assert_eq(s.before_ret, 0);
	cr_assert(ut_bytes_eq(s.before, s.before_len, UT_S("v1")));
	cr_assert_eq(s.after_ret, 0);
	cr_assert(ut_bytes_eq(s.after, s.after_len, UT_S("v2")));

	ut_map_destroy(s.map);
	cr_assert_eq(ut_dlog_calls(&log), 2);
	pthread_barrier_destroy(&s.read_done);
	pthread_barrier_destroy(&s.reclaimed);
	ut_dlog_fini(&log);
}

/* ------------------------------------------------------------------ */
/* Pins across threads                                                 */
/* ------------------------------------------------------------------ */

struct pin_shared {
	struct snapmap *map;
	const struct snapmap_snapshot *pin;
};

static void *pinning_thread(void *arg)
{
	struct pin_shared *s = arg;

	ut_flavor->register_thread();
	s->pin = snapmap_pin(s->map);
	ut_flavor->unregister_thread();
	return NULL;
}

/* Pinned in one registered thread, read and released in another. */
FLAVOR_TEST(pin_taken_in_another_thread)
{
	use_flavor(p);

	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct pin_shared s = {
		.map = ut_map_from_strings(&cfg,
			(const char *const[]){ "k", "old", NULL }),
	};
	pthread_t t;
	const void *val;
	size_t vlen;

	cr_assert_eq(pthread_create(&t, NULL, pinning_thread, &s), 0);
	cr_assert_eq(offline_join(t), 0);
	cr_assert_not_null(s.pin);

	cr_assert_eq(ut_put_str(s.map, "k", "new"), 0);
	ut_barrier();
	cr_assert_eq(ut_dlog_calls(&log), 0, "%s: destroyed while pinned",
		     p->name);
	cr_assert_eq(snapmap_find(s.pin, UT_S("k"), &val, &vlen), 0);
	cr_assert(ut_bytes_eq(val, vlen, UT_S("old")));
	snapmap_unpin(s.pin);
	cr_assert_eq(ut_dlog_times_str(&log, "old"), 1);

	ut_map_destroy(s.map);
	cr_assert_eq(ut_dlog_calls(&log), 2);
	ut_dlog_fini(&log);
}

/* ------------------------------------------------------------------ */
/* Destroy with reclamation pending                                    */
/* ------------------------------------------------------------------ */

/*
 * Many superseded snapshots are still queued on call_rcu when the
 * registered, online thread destroys the map: destroy waits for them and
 * every value is destroyed exactly once.
 */
FLAVOR_TEST(destroy_with_pending_reclamation)
{
	use_flavor(p);

	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct snapmap *map = ut_map_new(&cfg);
	char val[16];

	for (int i = 0; i < 300; i++) {
		snprintf(val, sizeof(val), "v%d", i);
		cr_assert_eq(ut_put_str(map, i % 2 ? "odd" : "even", val), 0);
	}
	ut_map_destroy(map);
	cr_assert_eq(ut_dlog_calls(&log), 300, "%s", p->name);
	for (int i = 0; i < 300; i++) {
		snprintf(val, sizeof(val), "v%d", i);
		cr_assert_eq(ut_dlog_times_str(&log, val), 1, "%s: %s",
			     p->name, val);
	}
	ut_dlog_fini(&log);
}

/* ------------------------------------------------------------------ */
/* snapmap_wait_version from a registered, online thread                */
/* ------------------------------------------------------------------ */

struct flavor_waiter {
	struct snapmap *map;
	uint64_t after, got;
	int ret, find_ret;
	char val[8];
	size_t vlen;
};

static void *flavor_waiter_fn(void *arg)
{
	struct flavor_waiter *w = arg;

	ut_flavor->register_thread();	/* online, under qsbr */
	w->ret = snapmap_wait_version(w->map, w->after, -1, &w->got);
	read_k(w->map, &w->find_ret, w->val, &w->vlen);
	ut_flavor->unregister_thread();
	return NULL;
}

/*
 * The waiter sleeps through a grace period: the test's thread waits for
 * the reclamation of a value while the waiter sleeps, which under qsbr
 * completes only because the sleeping waiter is offline.
 */
FLAVOR_TEST(wait_version_sleeps_offline)
{
	use_flavor(p);

	struct ut_dlog log;
	ut_dlog_init(&log);
	struct snapmap_config cfg = ut_dlog_config(&log);
	struct flavor_waiter w = {
		.map = ut_map_from_strings(&cfg,
			(const char *const[]){ "k", "v1", NULL }),
	};
	pthread_t t;

	w.after = ut_version(w.map) + 1;
	cr_assert_eq(pthread_create(&t, NULL, flavor_waiter_fn, &w), 0);

	cr_assert_eq(ut_put_str(w.map, "k", "v2"), 0);	/* not enough */
	ut_barrier();
	cr_assert_eq(ut_dlog_times_str(&log, "v1"), 1, "%s", p->name);
	cr_assert_eq(ut_put_str(w.map, "k", "v3"), 0);	/* wakes it */
	cr_assert_eq(offline_join(t), 0);

	cr_assert_eq(w.ret, 0, "%s: wait returned %d", p->name, w.ret);
	cr_assert_eq(w.got, w.after + 1);
	cr_assert_eq(w.find_ret, 0);
	cr_assert(ut_bytes_eq(w.val, w.vlen, UT_S("v3")));
	ut_map_destroy(w.map);
	cr_assert_eq(ut_dlog_calls(&log), 3);
	ut_dlog_fini(&log);
}
