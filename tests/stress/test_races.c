/*
 * test_races.c - threads race snapmap_put_if_absent (then snapmap_delete)
 * on the same keys, round after round.
 *
 * In every round all threads start together (a barrier) and try to insert
 * the round's keys, each thread with its own value (its own length, too).
 * Checks, per key: exactly one thread gets 0; every other gets -EEXIST
 * and the value it was handed is the winner's (truncated like snprintf
 * for the threads that pass a short buffer, with the full length
 * reported); after the round every thread reads the winner's value with
 * snapmap_get.  In even rounds the threads then race to delete the keys:
 * exactly one delete per key returns 0, the others -ENOENT.  Odd rounds'
 * keys stay and must hold the winner's value at the end, and the version
 * counts exactly the winning writes.
 */
#include "util.h"

#define RC_THREADS	6
#define RC_ROUNDS	(50 * ST_SCALE)	/* even: half the rounds delete */
#define RC_KEYS		16	/* per round */
#define RC_VAL_MAX	48
#define RC_SHORT_BUF	6	/* existing_size used by odd threads */

struct rc_attempt {
	int rc;			/* put_if_absent */
	size_t existing_len;
	unsigned char existing[RC_VAL_MAX];
	int get_rc;		/* snapmap_get after the round */
	size_t get_len;
	unsigned char got[RC_VAL_MAX];
	int del_rc;		/* delete race (even rounds) */
};

struct rc_shared {
	struct snapmap *map;
	const struct rcu_flavor_struct *fl;
	pthread_barrier_t round;
	struct rc_attempt att[RC_ROUNDS][RC_KEYS][RC_THREADS];
};

struct rc_thread {
	struct rc_shared *sh;
	unsigned id;
};

static size_t rc_key(unsigned round, unsigned k, char *buf)
{
	return (size_t)sprintf(buf, "race/%03u/%02u", round, k);
}

/* Thread @t's value for a key: its own bytes and its own length. */
static size_t rc_value(unsigned round, unsigned k, unsigned t,
		       unsigned char *buf)
{
	size_t len = 12 + (size_t)t * 5, i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(round * 31u + k * 7u + t * 101u + i);
	return len;
}

static void *rc_thread_main(void *arg)
{
	struct rc_thread *th = arg;
	struct rc_shared *sh = th->sh;
	const struct rcu_flavor_struct *fl = sh->fl;
	unsigned char val[RC_VAL_MAX];
	size_t esize = th->id % 2 ? RC_SHORT_BUF : RC_VAL_MAX;
	unsigned r, j, k;
	char key[32];
	size_t klen, vlen;
	struct rc_attempt *a;

	fl->register_thread();
	for (r = 0; r < RC_ROUNDS; r++) {
		st_barrier_wait(fl, &sh->round);
		for (j = 0; j < RC_KEYS; j++) {
			/* Half the threads walk the keys backwards. */
			k = th->id % 2 ? RC_KEYS - 1 - j : j;
			a = &sh->att[r][k][th->id];
			klen = rc_key(r, k, key);
			vlen = rc_value(r, k, th->id, val);
			a->rc = snapmap_put_if_absent(sh->map, key, klen, val,
						      vlen, a->existing, esize,
						      &a->existing_len);
			fl->read_quiescent_state();
		}
		/* Everyone has tried: the winner's value is in place. */
		st_barrier_wait(fl, &sh->round);
		for (k = 0; k < RC_KEYS; k++) {
			a = &sh->att[r][k][th->id];
			klen = rc_key(r, k, key);
			a->get_rc = snapmap_get(sh->map, key, klen, a->got,
						sizeof(a->got), &a->get_len);
		}
		if (r % 2)
			continue;
		st_barrier_wait(fl, &sh->round);
		for (j = 0; j < RC_KEYS; j++) {
			k = th->id % 2 ? j : RC_KEYS - 1 - j;
			klen = rc_key(r, k, key);
			sh->att[r][k][th->id].del_rc =
				snapmap_delete(sh->map, key, klen);
			fl->read_quiescent_state();
		}
	}
	fl->unregister_thread();
	return NULL;
}

struct rc_param {
	enum st_flavor flavor;
};

ParameterizedTestParameters(stress, put_if_absent_race)
{
	static struct rc_param params[] = { { ST_MEMB }, { ST_QSBR } };

	return cr_make_param_array(struct rc_param, params, ST_NELEM(params));
}

ParameterizedTest(struct rc_param *p, stress, put_if_absent_race,
		  .init = st_test_init, .timeout = ST_TIMEOUT)
{
	const struct rcu_flavor_struct *fl = st_flavor(p->flavor);
	const char *fname = st_flavor_name(p->flavor);
	static struct rc_shared sh;
	static struct rc_thread threads[RC_THREADS];
	pthread_t tids[RC_THREADS];
	unsigned char wval[RC_VAL_MAX], got[RC_VAL_MAX];
	const struct rc_attempt *a;
	uint64_t expected_version = SNAPMAP_INITIAL_VERSION, version;
	unsigned r, k, t, winner, winners, deleters;
	size_t wlen, n, glen, klen;
	char key[32];
	int rc;

	fl->register_thread();
	memset(&sh, 0, sizeof(sh));
	sh.fl = fl;
	sh.map = st_map_new(fl, NULL);
	st_barrier_init(&sh.round, RC_THREADS);
	for (t = 0; t < RC_THREADS; t++) {
		threads[t].sh = &sh;
		threads[t].id = t;
		st_spawn(&tids[t], rc_thread_main, &threads[t]);
	}
	st_join(fl, tids, RC_THREADS);

	for (r = 0; r < RC_ROUNDS; r++) {
		for (k = 0; k < RC_KEYS; k++) {
			winners = 0;
			winner = RC_THREADS;
			for (t = 0; t < RC_THREADS; t++) {
				a = &sh.att[r][k][t];
				cr_assert(a->rc == 0 || a->rc == -EEXIST,
					  "[%s] round %u key %u thread %u: "
					  "put_if_absent returned %d", fname,
					  r, k, t, a->rc);
				if (a->rc == 0) {
					winners++;
					winner = t;
				}
			}
			cr_assert_eq(winners, 1, "[%s] round %u key %u: %u "
				     "threads inserted it", fname, r, k,
				     winners);
			wlen = rc_value(r, k, winner, wval);
			expected_version++;
			for (t = 0; t < RC_THREADS; t++) {
				a = &sh.att[r][k][t];
				if (t != winner) {
					n = t % 2 ? RC_SHORT_BUF : RC_VAL_MAX;
					n = n < wlen ? n : wlen;
					cr_assert_eq(a->existing_len, wlen,
						     "[%s] round %u key %u: loser "
						     "%u told length %zu, winner "
						     "%u wrote %zu", fname, r, k,
						     t, a->existing_len, winner,
						     wlen);
					cr_assert(memcmp(a->existing, wval, n)
						  == 0, "[%s] round %u key %u: "
						  "loser %u was handed another "
						  "value than winner %u's",
						  fname, r, k, t, winner);
				}
				cr_assert(a->get_rc == 0 &&
					  st_bytes_eq(a->got, a->get_len,
						      wval, wlen),
					  "[%s] round %u key %u: thread %u read "
					  "back %d/%zu bytes, not winner %u's "
					  "value", fname, r, k, t, a->get_rc,
					  a->get_len, winner);
			}
			if (r % 2) {
				/* Kept: the map still holds the winner's value. */
				klen = rc_key(r, k, key);
				rc = snapmap_get(sh.map, key, klen, got,
						 sizeof(got), &glen);
				cr_assert(rc == 0 && st_bytes_eq(got, glen,
								 wval, wlen),
					  "[%s] round %u key %u: final value "
					  "is not winner %u's (%d)", fname, r,
					  k, winner, rc);
				continue;
			}
			deleters = 0;
			for (t = 0; t < RC_THREADS; t++) {
				a = &sh.att[r][k][t];
				cr_assert(a->del_rc == 0 || a->del_rc == -ENOENT,
					  "[%s] round %u key %u thread %u: "
					  "delete returned %d", fname, r, k, t,
					  a->del_rc);
				deleters += a->del_rc == 0;
			}
			cr_assert_eq(deleters, 1, "[%s] round %u key %u: %u "
				     "deletes succeeded", fname, r, k,
				     deleters);
			expected_version++;
			klen = rc_key(r, k, key);
			rc = snapmap_get(sh.map, key, klen, got, sizeof(got),
					 &glen);
			cr_assert_eq(rc, -ENOENT, "[%s] round %u key %u still "
				     "present after the delete race (%d)",
				     fname, r, k, rc);
		}
	}

	fl->read_lock();
	version = snapmap_version(snapmap_snapshot(sh.map));
	n = snapmap_count(snapmap_snapshot(sh.map));
	fl->read_unlock();
	cr_assert_eq(version, expected_version, "[%s] version %" PRIu64
		     ", expected %" PRIu64 " (one per winning write)", fname,
		     version, expected_version);
	cr_assert_eq(n, (size_t)RC_ROUNDS / 2 * RC_KEYS, "[%s] %zu keys left",
		     fname, n);

	st_map_destroy(sh.map);
	pthread_barrier_destroy(&sh.round);
	fl->unregister_thread();
}
