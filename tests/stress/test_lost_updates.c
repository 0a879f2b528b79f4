/*
 * test_lost_updates.c - T threads each add K times to a few shared
 * counters; no increment may be lost or applied twice.
 *
 * Three ways to increment, all of which the header promises are atomic
 * with respect to every other writer: snapmap_add_i64, snapmap_update
 * with a callback that adds, and a snapmap_get + snapmap_compare_and_swap
 * retry loop.  Checks: each counter ends at exactly T*K*delta; the new
 * values handed back to the threads are exactly delta, 2*delta, ...,
 * T*K*delta, each once (so every increment saw its predecessor's result);
 * each thread's own results move strictly in delta's direction; the
 * version counts one publish per increment.
 */
#include "util.h"

#define LU_THREADS	4
#define LU_K		(1000 * ST_SCALE) /* increments per thread and key */
#define LU_KEYS		3

static const int64_t lu_delta[LU_KEYS] = { 1, 7, -3 };

enum lu_mode {
	LU_ADD_I64,
	LU_UPDATE,
	LU_CAS,
};

static const char *const lu_mode_name[] = { "add_i64", "update", "cas" };

struct lu_shared {
	struct snapmap *map;
	const struct rcu_flavor_struct *fl;
	enum lu_mode mode;
	pthread_barrier_t start;
};

struct lu_thread {
	struct lu_shared *sh;
	unsigned id;
	uint64_t cas_retries, rng;
	int64_t results[LU_KEYS][LU_K];
};

static size_t lu_key(unsigned k, char *buf)
{
	return (size_t)sprintf(buf, "counter/%u", k);
}

struct lu_update_ctx {
	int64_t delta;
	int64_t result;
	bool bad_value;
};

/* snapmap_update_fn: counter += delta (created at delta when absent). */
static int lu_add_cb(const void *key, size_t klen, const void *cur,
		     size_t curlen, bool present, struct snapmap_update *u,
		     void *ctx)
{
	struct lu_update_ctx *c = ctx;
	int64_t v = 0;

	(void)key;
	(void)klen;
	if (present) {
		if (curlen != sizeof(v) || cur == NULL) {
			c->bad_value = true;
			return -EINVAL;
		}
		v = st_i64(cur);
	}
	v += c->delta;
	c->result = v;
	return snapmap_update_set(u, &v, sizeof(v));
}

/* One increment of counter @k; false after recording a failure. */
static bool lu_increment(struct lu_thread *t, unsigned k, int64_t *result)
{
	struct lu_shared *sh = t->sh;
	/* Each failed CAS needs a successful increment by another thread. */
	const uint64_t max_retries = (uint64_t)(LU_THREADS - 1) * LU_K * LU_KEYS;
	struct lu_update_ctx uc = { .delta = lu_delta[k] };
	char key[32];
	size_t klen = lu_key(k, key), vlen;
	int64_t cur, next;
	int rc;

	switch (sh->mode) {
	case LU_ADD_I64:
		rc = snapmap_add_i64(sh->map, key, klen, lu_delta[k], result);
		return ST_CHECK(rc == 0, "thread %u: add_i64 returned %d",
				t->id, rc);
	case LU_UPDATE:
		rc = snapmap_update(sh->map, key, klen, lu_add_cb, &uc);
		if (!ST_CHECK(!uc.bad_value, "thread %u: update callback saw "
			      "a value that is not 8 bytes", t->id))
			return false;
		*result = uc.result;
		return ST_CHECK(rc == 0, "thread %u: update returned %d",
				t->id, rc);
	case LU_CAS:
		for (;;) {
			rc = snapmap_get(sh->map, key, klen, &cur, sizeof(cur),
					 &vlen);
			if (!ST_CHECK(rc == 0 && vlen == sizeof(cur),
				      "thread %u: get returned %d (%zu bytes)",
				      t->id, rc, vlen))
				return false;
			next = cur + lu_delta[k];
			st_maybe_yield(&t->rng, 4);	/* widen the window */
			rc = snapmap_compare_and_swap(sh->map, key, klen,
						      &cur, sizeof(cur),
						      &next, sizeof(next));
			if (rc == 0) {
				*result = next;
				return true;
			}
			if (!ST_CHECK(rc == -EAGAIN, "thread %u: compare_and_swap"
				      " returned %d", t->id, rc))
				return false;
			if (!ST_CHECK(++t->cas_retries <= max_retries,
				      "thread %u: %" PRIu64 " failed CAS, more "
				      "than the other threads' increments",
				      t->id, t->cas_retries))
				return false;
		}
	}
	return ST_CHECK(false, "unknown mode %d", (int)sh->mode);
}

static void *lu_thread_main(void *arg)
{
	struct lu_thread *t = arg;
	const struct rcu_flavor_struct *fl = t->sh->fl;
	unsigned i, j, k;

	st_thread_begin(fl, &t->sh->start);
	for (i = 0; i < LU_K && !st_failed(); i++) {
		for (j = 0; j < LU_KEYS; j++) {
			/* Threads walk the keys in different orders. */
			k = (j + t->id) % LU_KEYS;
			if (!lu_increment(t, k, &t->results[k][i]))
				break;
			if (i > 0 && !ST_CHECK(lu_delta[k] > 0 ?
					       t->results[k][i] > t->results[k][i - 1] :
					       t->results[k][i] < t->results[k][i - 1],
					       "thread %u: counter %u went from %"
					       PRId64 " to %" PRId64 " against "
					       "delta %" PRId64, t->id, k,
					       t->results[k][i - 1],
					       t->results[k][i], lu_delta[k]))
				break;
			fl->read_quiescent_state();
			st_maybe_yield(&t->rng, 16);
		}
	}
	st_thread_end(fl);
	return NULL;
}

struct lu_param {
	enum st_flavor flavor;
	enum lu_mode mode;
};

ParameterizedTestParameters(stress, lost_updates)
{
	static struct lu_param params[] = {
		{ ST_MEMB, LU_ADD_I64 },
		{ ST_QSBR, LU_ADD_I64 },
		{ ST_MEMB, LU_UPDATE },
		{ ST_MEMB, LU_CAS },
	};

	return cr_make_param_array(struct lu_param, params, ST_NELEM(params));
}

ParameterizedTest(struct lu_param *p, stress, lost_updates,
		  .init = st_test_init, .timeout = ST_TIMEOUT)
{
	const struct rcu_flavor_struct *fl = st_flavor(p->flavor);
	static struct lu_shared sh;
	static struct lu_thread threads[LU_THREADS];
	static bool seen[LU_THREADS * LU_K + 1];
	pthread_t tids[LU_THREADS];
	uint64_t expected_version = SNAPMAP_INITIAL_VERSION, version;
	int64_t zero = 0, r, v;
	char key[32];
	size_t klen, vlen, n;
	unsigned i, k, t;
	int rc;

	cr_log_info("lost_updates: %s, %s", st_flavor_name(p->flavor),
		    lu_mode_name[p->mode]);
	fl->register_thread();
	memset(&sh, 0, sizeof(sh));
	sh.fl = fl;
	sh.mode = p->mode;
	sh.map = st_map_new(fl, NULL);
	if (p->mode == LU_CAS) {
		/* compare_and_swap needs the key present. */
		for (k = 0; k < LU_KEYS; k++) {
			klen = lu_key(k, key);
			rc = snapmap_put(sh.map, key, klen, &zero, sizeof(zero));
			cr_assert_eq(rc, 0, "prefill put: %d", rc);
			expected_version++;
		}
	}

	st_barrier_init(&sh.start, LU_THREADS);
	for (t = 0; t < LU_THREADS; t++) {
		memset(&threads[t], 0, sizeof(threads[t]));
		threads[t].sh = &sh;
		threads[t].id = t;
		threads[t].rng = 0x10570000u + t;
		st_spawn(&tids[t], lu_thread_main, &threads[t]);
	}
	st_join(fl, tids, LU_THREADS);
	st_assert_no_failure();

	for (k = 0; k < LU_KEYS; k++) {
		klen = lu_key(k, key);
		rc = snapmap_get(sh.map, key, klen, &v, sizeof(v), &vlen);
		cr_assert_eq(rc, 0, "[%s] counter %u: get %d",
			     lu_mode_name[p->mode], k, rc);
		cr_assert_eq(vlen, sizeof(v));
		cr_assert_eq(v, (int64_t)LU_THREADS * LU_K * lu_delta[k],
			     "[%s] counter %u ends at %" PRId64 ", expected %"
			     PRId64, lu_mode_name[p->mode], k, v,
			     (int64_t)LU_THREADS * LU_K * lu_delta[k]);

		/* The results are delta * 1 .. delta * T*K, each once. */
		memset(seen, 0, sizeof(seen));
		for (t = 0; t < LU_THREADS; t++) {
			for (i = 0; i < LU_K; i++) {
				r = threads[t].results[k][i];
				cr_assert(r % lu_delta[k] == 0 &&
					  r / lu_delta[k] >= 1 &&
					  r / lu_delta[k] <= LU_THREADS * LU_K,
					  "[%s] counter %u: thread %u got %" PRId64,
					  lu_mode_name[p->mode], k, t, r);
				n = (size_t)(r / lu_delta[k]);
				cr_assert(!seen[n], "[%s] counter %u: result %"
					  PRId64 " handed out twice",
					  lu_mode_name[p->mode], k, r);
				seen[n] = true;
			}
		}
		expected_version += (uint64_t)LU_THREADS * LU_K;
	}
	if (p->mode == LU_CAS)
		for (t = 0; t < LU_THREADS; t++)
			cr_log_info("[cas] thread %u: %" PRIu64 " failed CAS", t,
				    threads[t].cas_retries);

	fl->read_lock();
	version = snapmap_version(snapmap_snapshot(sh.map));
	fl->read_unlock();
	cr_assert_eq(version, expected_version, "[%s] version %" PRIu64
		     ", expected %" PRIu64 " (one publish per increment)",
		     lu_mode_name[p->mode], version, expected_version);

	st_map_destroy(sh.map);
	pthread_barrier_destroy(&sh.start);
	fl->unregister_thread();
}
