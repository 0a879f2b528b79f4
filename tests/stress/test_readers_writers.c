/*
 * test_readers_writers.c - readers validate every snapshot they see while
 * two writers put and delete, in each RCU flavor.
 *
 * Readers check, in every snapshot: the snapshot is internally consistent
 * (st_validate_snapshot: order, count, find, seek); every value was
 * written whole by the writer it names, under the key it names, at a
 * sequence number that writer had already issued; the version never goes
 * backwards; every snapshot of a version holds the same contents, whichever
 * reader sees it; and, per key, a writer's values never go back to an
 * older sequence number (a later snapshot cannot hold an earlier write).
 * At the end: the version counts exactly the publishes the writers made,
 * and each key holds what the last write on it left.
 */
#include "util.h"

#define RW_WRITERS	2
#define RW_READERS	3
#define RW_KEYS		60
#define RW_OPS		(1500 * ST_SCALE)	/* per writer */
#define RW_MAX_SNAPSHOTS (5000 * ST_SCALE)	/* per reader */
#define RW_PREFILL	RW_WRITERS	/* writer id of the prefilled values */
#define RW_VERSIONS	(1 + RW_KEYS + RW_WRITERS * RW_OPS)	/* at most */

struct rw_shared {
	struct snapmap *map;
	const struct rcu_flavor_struct *fl;
	pthread_barrier_t start, end;
	atomic_uint writers_running;
	/* Writer w has handed sequence numbers below issued[w] to the map. */
	_Atomic uint64_t issued[RW_WRITERS + 1];
	struct st_version_log versions;
};

static _Atomic uint64_t rw_digests[RW_VERSIONS];

struct rw_writer {
	struct rw_shared *sh;
	unsigned id;
	uint64_t puts, deletes_ok, deletes_absent;
	int64_t last_seq[RW_KEYS];	/* seq of the last op on key, -1: none */
	bool last_put[RW_KEYS];		/* that op was a put (else a delete) */
};

struct rw_reader {
	struct rw_shared *sh;
	unsigned id;
	uint64_t snapshots, prev_version, final_version, versions_seen;
	uint64_t rng;
	size_t final_count;
	uint64_t max_seq[RW_KEYS][RW_WRITERS + 1];
};

static bool rw_check_entry(const struct snapmap_kv *kv, size_t index,
			   void *ctx)
{
	struct rw_reader *r = ctx;
	struct st_value_info vi;
	unsigned char key[ST_KEY_MAX];
	size_t klen;
	uint64_t issued;

	if (!ST_CHECK(st_value_decode(kv->val, kv->vlen, &vi),
		      "reader %u: entry %zu holds a value no writer wrote "
		      "(%zu bytes)", r->id, index, kv->vlen))
		return false;
	if (!ST_CHECK(vi.key_id < RW_KEYS && vi.writer <= RW_PREFILL,
		      "reader %u: value names key %u, writer %u", r->id,
		      vi.key_id, vi.writer))
		return false;
	klen = st_key(vi.key_id, key);
	if (!ST_CHECK(st_bytes_eq(kv->key, kv->klen, key, klen),
		      "reader %u: value written for key %u found under another "
		      "key", r->id, vi.key_id))
		return false;
	issued = atomic_load(&r->sh->issued[vi.writer]);
	if (!ST_CHECK(vi.seq < issued, "reader %u: key %u holds seq %" PRIu64
		      " of writer %u, which has issued only up to %" PRIu64,
		      r->id, vi.key_id, vi.seq, vi.writer, issued))
		return false;
	if (!ST_CHECK(vi.seq >= r->max_seq[vi.key_id][vi.writer],
		      "reader %u: key %u went back from seq %" PRIu64 " to %"
		      PRIu64 " of writer %u in a later snapshot", r->id,
		      vi.key_id, r->max_seq[vi.key_id][vi.writer], vi.seq,
		      vi.writer))
		return false;
	r->max_seq[vi.key_id][vi.writer] = vi.seq;
	/* Now and then, let writers publish while we are in here. */
	st_maybe_yield(&r->rng, 256);
	return true;
}

/* One snapshot, in one read-side critical section. */
static bool rw_read_once(struct rw_reader *r)
{
	const struct rcu_flavor_struct *fl = r->sh->fl;
	struct st_snap_info info;
	unsigned char key[ST_KEY_MAX], buf[ST_VALUE_MAX];
	struct st_value_info vi;
	size_t klen, vlen;
	unsigned k;
	bool ok;
	int rc;

	fl->read_lock();
	ok = st_validate_snapshot(snapmap_snapshot(r->sh->map), RW_KEYS,
				  rw_check_entry, r, &info);
	fl->read_unlock();
	fl->read_quiescent_state();	/* qsbr: no reference kept */
	if (!ok || !st_version_log_check(&r->sh->versions, info.version,
					 info.digest))
		return false;
	if (!ST_CHECK(info.version >= r->prev_version, "reader %u: version "
		      "went back from %" PRIu64 " to %" PRIu64, r->id,
		      r->prev_version, info.version))
		return false;
	if (info.version != r->prev_version || r->snapshots == 0)
		r->versions_seen++;
	r->prev_version = info.version;
	r->final_version = info.version;
	r->final_count = info.count;
	r->snapshots++;

	/* snapmap_get takes the read lock itself. */
	k = (unsigned)(r->snapshots * 7 % RW_KEYS);
	klen = st_key(k, key);
	rc = snapmap_get(r->sh->map, key, klen, buf, sizeof(buf), &vlen);
	if (!ST_CHECK(rc == 0 || rc == -ENOENT, "reader %u: get returned %d",
		      r->id, rc))
		return false;
	if (rc == 0 && !ST_CHECK(st_value_decode(buf, vlen, &vi) &&
				 vi.key_id == k,
				 "reader %u: get of key %u copied a bad value",
				 r->id, k))
		return false;
	return true;
}

static void *rw_reader_main(void *arg)
{
	struct rw_reader *r = arg;
	const struct rcu_flavor_struct *fl = r->sh->fl;
	bool last;

	st_thread_begin(fl, &r->sh->start);
	do {
		/* Read the flag first: the snapshot after it is the final one. */
		last = atomic_load(&r->sh->writers_running) == 0;
		if (!rw_read_once(r))
			break;
	} while (!last && !st_failed() && r->snapshots < RW_MAX_SNAPSHOTS);
	/* Everyone meets here; then one last look at the final state. */
	st_barrier_wait(fl, &r->sh->end);
	if (!st_failed())
		rw_read_once(r);
	st_thread_end(fl);
	return NULL;
}

static void *rw_writer_main(void *arg)
{
	struct rw_writer *w = arg;
	struct rw_shared *sh = w->sh;
	const struct rcu_flavor_struct *fl = sh->fl;
	uint64_t rng = 0x5eed0000u + w->id, seq;
	unsigned char key[ST_KEY_MAX], val[ST_VALUE_MAX];
	struct st_value_info vi;
	size_t klen, vlen;
	unsigned k;
	int rc;

	st_thread_begin(fl, &sh->start);
	for (seq = 1; seq <= RW_OPS && !st_failed(); seq++) {
		k = (unsigned)st_rand_below(&rng, RW_KEYS);
		klen = st_key(k, key);
		if (st_rand_below(&rng, 10) < 7) {
			vi = (struct st_value_info){ k, w->id, seq };
			vlen = st_value_encode(&vi, val);
			atomic_store(&sh->issued[w->id], seq + 1);
			rc = snapmap_put(sh->map, key, klen, val, vlen);
			if (!ST_CHECK(rc == 0, "writer %u: put returned %d",
				      w->id, rc))
				break;
			w->puts++;
			w->last_put[k] = true;
		} else {
			rc = snapmap_delete(sh->map, key, klen);
			if (!ST_CHECK(rc == 0 || rc == -ENOENT,
				      "writer %u: delete returned %d", w->id, rc))
				break;
			if (rc == 0)
				w->deletes_ok++;
			else
				w->deletes_absent++;
			w->last_put[k] = false;
		}
		w->last_seq[k] = (int64_t)seq;
		fl->read_quiescent_state();
		st_maybe_yield(&rng, 16);
	}
	atomic_fetch_sub(&sh->writers_running, 1);
	st_barrier_wait(fl, &sh->end);
	st_thread_end(fl);
	return NULL;
}

struct rw_param {
	enum st_flavor flavor;
};

ParameterizedTestParameters(stress, readers_writers)
{
	static struct rw_param params[] = {
		{ ST_MEMB }, { ST_QSBR }, { ST_BP }, { ST_MB },
	};

	return cr_make_param_array(struct rw_param, params, ST_NELEM(params));
}

ParameterizedTest(struct rw_param *p, stress, readers_writers,
		  .init = st_test_init, .timeout = ST_TIMEOUT)
{
	const struct rcu_flavor_struct *fl = st_flavor(p->flavor);
	const char *fname = st_flavor_name(p->flavor);
	static struct rw_shared sh;
	static struct rw_writer writers[RW_WRITERS];
	static struct rw_reader readers[RW_READERS];
	pthread_t tids[RW_WRITERS + RW_READERS];
	unsigned char key[ST_KEY_MAX], val[ST_VALUE_MAX];
	struct st_value_info vi;
	struct st_snap_info info;
	uint64_t expected_version;
	const void *fval;
	size_t klen, vlen, fvlen, i;
	unsigned k, w;
	bool ok, deleted;
	int rc;

	fl->register_thread();
	memset(&sh, 0, sizeof(sh));
	sh.fl = fl;
	sh.map = st_map_new(fl, NULL);
	memset(rw_digests, 0, sizeof(rw_digests));
	sh.versions = (struct st_version_log){ rw_digests, RW_VERSIONS };

	/* Prefill every key (writer RW_PREFILL, seq 0). */
	atomic_store(&sh.issued[RW_PREFILL], 1);
	for (k = 0; k < RW_KEYS; k++) {
		vi = (struct st_value_info){ k, RW_PREFILL, 0 };
		vlen = st_value_encode(&vi, val);
		klen = st_key(k, key);
		rc = snapmap_put(sh.map, key, klen, val, vlen);
		cr_assert_eq(rc, 0, "[%s] prefill put: %d", fname, rc);
	}

	st_barrier_init(&sh.start, RW_WRITERS + RW_READERS);
	st_barrier_init(&sh.end, RW_WRITERS + RW_READERS);
	atomic_store(&sh.writers_running, RW_WRITERS);
	for (w = 0; w < RW_WRITERS; w++) {
		memset(&writers[w], 0, sizeof(writers[w]));
		writers[w].sh = &sh;
		writers[w].id = w;
		for (k = 0; k < RW_KEYS; k++)
			writers[w].last_seq[k] = -1;
		st_spawn(&tids[w], rw_writer_main, &writers[w]);
	}
	for (i = 0; i < RW_READERS; i++) {
		memset(&readers[i], 0, sizeof(readers[i]));
		readers[i].sh = &sh;
		readers[i].id = (unsigned)i;
		readers[i].rng = 0x4ead0000u + i;
		st_spawn(&tids[RW_WRITERS + i], rw_reader_main, &readers[i]);
	}
	st_join(fl, tids, RW_WRITERS + RW_READERS);
	st_assert_no_failure();

	/* Every successful write published exactly one version. */
	expected_version = SNAPMAP_INITIAL_VERSION + RW_KEYS;
	for (w = 0; w < RW_WRITERS; w++) {
		cr_assert_eq(writers[w].puts + writers[w].deletes_ok +
			     writers[w].deletes_absent, RW_OPS,
			     "[%s] writer %u did not finish", fname, w);
		expected_version += writers[w].puts + writers[w].deletes_ok;
	}

	fl->read_lock();
	ok = st_validate_snapshot(snapmap_snapshot(sh.map), RW_KEYS, NULL, NULL,
				  &info);
	fl->read_unlock();
	ok = ok && st_version_log_check(&sh.versions, info.version,
					info.digest);
	st_assert_no_failure();
	cr_assert(ok);
	cr_assert_eq(info.version, expected_version, "[%s] final version %"
		     PRIu64 ", expected %" PRIu64 " (one per successful write)",
		     fname, info.version, expected_version);
	for (i = 0; i < RW_READERS; i++) {
		cr_log_info("[%s] reader %zu: %" PRIu64 " snapshots, %" PRIu64
			    " versions of %" PRIu64, fname, i,
			    readers[i].snapshots, readers[i].versions_seen,
			    info.version);
		cr_assert_gt(readers[i].snapshots, 1, "[%s] reader %zu idle",
			     fname, i);
		cr_assert_eq(readers[i].final_version, info.version,
			     "[%s] reader %zu saw final v%" PRIu64 ", map is at v%"
			     PRIu64, fname, i, readers[i].final_version,
			     info.version);
		cr_assert_eq(readers[i].final_count, info.count,
			     "[%s] reader %zu final count", fname, i);
	}

	/* Each key holds what the last write on it left. */
	fl->read_lock();
	for (k = 0; k < RW_KEYS; k++) {
		klen = st_key(k, key);
		rc = snapmap_find(snapmap_snapshot(sh.map), key, klen, &fval,
				  &fvlen);
		if (rc == 0) {
			cr_assert(st_value_decode(fval, fvlen, &vi),
				  "[%s] key %u: bad final value", fname, k);
			if (vi.writer == RW_PREFILL) {
				for (w = 0; w < RW_WRITERS; w++)
					cr_assert_eq(writers[w].last_seq[k], -1,
						     "[%s] key %u still holds its "
						     "prefill value but writer %u "
						     "wrote it", fname, k, w);
			} else {
				cr_assert(vi.writer < RW_WRITERS);
				cr_assert(writers[vi.writer].last_put[k] &&
					  writers[vi.writer].last_seq[k] ==
					  (int64_t)vi.seq,
					  "[%s] key %u holds seq %" PRIu64
					  " of writer %u, whose last op on it "
					  "was %s seq %" PRId64, fname, k,
					  vi.seq, vi.writer,
					  writers[vi.writer].last_put[k] ?
					  "put" : "delete",
					  writers[vi.writer].last_seq[k]);
			}
		} else {
			cr_assert_eq(rc, -ENOENT, "[%s] find: %d", fname, rc);
			deleted = false;
			for (w = 0; w < RW_WRITERS; w++)
				deleted |= writers[w].last_seq[k] >= 0 &&
					   !writers[w].last_put[k];
			cr_assert(deleted, "[%s] key %u is absent but no "
				  "writer's last op on it was a delete",
				  fname, k);
		}
	}
	fl->read_unlock();

	st_map_destroy(sh.map);
	pthread_barrier_destroy(&sh.start);
	pthread_barrier_destroy(&sh.end);
	fl->unregister_thread();
}
