/*
 * test_batch_atomicity.c - readers never see part of a batch.
 *
 * The map holds groups of keys ("g<g>/k<k>").  Each group belongs to one
 * writer, which commits batches that set every key of the group to the
 * same batch number (some keys first to a junk value that a later op of
 * the same batch overwrites: the last op wins), delete the whole group,
 * compare-and-swap the whole group, or try a conditional batch that must
 * fail (put_if_absent on a present group, replace on an absent one) and
 * change nothing.  As the owner knows its groups' state, every outcome is
 * predicted exactly.
 * Readers scan each group by prefix (snapmap_iter_seek) in every snapshot
 * and must find either all of its keys, carrying one batch number, or
 * none; never a junk value; never an older batch number than before.
 */
#include "util.h"

#define BA_GROUPS	4
#define BA_GROUP_KEYS	8
#define BA_WRITERS	2	/* writer w owns groups w, w + 2, ... */
#define BA_READERS	2
#define BA_COMMITS	(800 * ST_SCALE)	/* batches tried per writer */
#define BA_MAX_SNAPSHOTS (5000 * ST_SCALE)	/* per reader */

#define BA_MAGIC	0x42415443u	/* "BATC" */
#define BA_JUNK		0x4a554e4bu	/* "JUNK" */

struct ba_value {
	uint32_t magic;
	uint32_t writer;
	uint32_t group;
	uint32_t key;
	uint64_t batch;
};

struct ba_shared {
	struct snapmap *map;
	const struct rcu_flavor_struct *fl;
	pthread_barrier_t start;
	atomic_uint writers_running;
	/* Writer w has staged batch numbers below issued[w]. */
	_Atomic uint64_t issued[BA_WRITERS];
	/* Every commit publishes its own version: each is handed out once. */
	atomic_bool version_taken[2 + BA_WRITERS * BA_COMMITS];
	/* ... and names one content, whichever reader sees it. */
	_Atomic uint64_t digests[2 + BA_WRITERS * BA_COMMITS];
	struct st_version_log versions;
};

struct ba_group_state {
	bool present;
	uint64_t batch;
};

struct ba_writer {
	struct ba_shared *sh;
	unsigned id;
	uint64_t commits, expected_failures, prev_version;
	struct ba_group_state state[BA_GROUPS];
};

struct ba_reader {
	struct ba_shared *sh;
	unsigned id;
	uint64_t snapshots, prev_version, rng;
	uint64_t last_batch[BA_GROUPS];
};

static size_t ba_key(unsigned g, unsigned k, char *buf)
{
	return (size_t)sprintf(buf, "g%u/k%u", g, k);
}

static struct ba_value ba_value(uint32_t magic, unsigned w, unsigned g,
				unsigned k, uint64_t batch)
{
	struct ba_value v;

	memset(&v, 0, sizeof(v));
	v.magic = magic;
	v.writer = w;
	v.group = g;
	v.key = k;
	v.batch = batch;
	return v;
}

/*
 * Scans group @g of @snap by prefix.  *present: all keys there, *batch
 * their common number; false after recording a failure (a partial group,
 * mixed numbers, a junk or foreign value).
 */
static bool ba_scan_group(const struct snapmap_snapshot *snap, unsigned who,
			  unsigned g, bool *present, uint64_t *batch)
{
	struct snapmap_iter it;
	struct snapmap_kv kv;
	struct ba_value v;
	char prefix[16], key[32];
	size_t plen = (size_t)sprintf(prefix, "g%u/", g), n = 0;
	uint64_t first = 0;
	int rc;

	for (rc = snapmap_iter_seek(snap, &it, prefix, plen, &kv);
	     rc == 0 && kv.klen >= plen && memcmp(kv.key, prefix, plen) == 0;
	     rc = snapmap_iter_next(&it, &kv)) {
		if (!ST_CHECK(n < BA_GROUP_KEYS && kv.vlen == sizeof(v),
			      "%u: group %u: entry %zu of %zu bytes", who, g, n,
			      kv.vlen))
			return false;
		memcpy(&v, kv.val, sizeof(v));
		if (!ST_CHECK(v.magic != BA_JUNK, "%u: group %u: saw the junk "
			      "value an op later in the same batch overwrote",
			      who, g))
			return false;
		if (!ST_CHECK(v.magic == BA_MAGIC && v.group == g &&
			      v.writer == g % BA_WRITERS &&
			      st_bytes_eq(kv.key, kv.klen, key,
					  ba_key(g, v.key, key)),
			      "%u: group %u: foreign value (magic %x, group %u, "
			      "writer %u)", who, g, v.magic, v.group, v.writer))
			return false;
		if (n == 0)
			first = v.batch;
		if (!ST_CHECK(v.batch == first, "%u: group %u mixes batches %"
			      PRIu64 " and %" PRIu64 " in one snapshot", who,
			      g, first, v.batch))
			return false;
		n++;
	}
	if (!ST_CHECK(rc == 0 || rc == -ENOENT, "%u: group %u: iter %d", who,
		      g, rc))
		return false;
	if (!ST_CHECK(n == 0 || n == BA_GROUP_KEYS, "%u: group %u: %zu of %d "
		      "keys in one snapshot (batch %" PRIu64 ")", who, g, n,
		      BA_GROUP_KEYS, first))
		return false;
	*present = n != 0;
	*batch = first;
	return true;
}

static bool ba_read_once(struct ba_reader *r)
{
	const struct rcu_flavor_struct *fl = r->sh->fl;
	const struct snapmap_snapshot *snap;
	struct st_snap_info info;
	uint64_t batch, issued;
	bool ok, present;
	unsigned g;

	fl->read_lock();
	snap = snapmap_snapshot(r->sh->map);
	ok = st_validate_snapshot(snap, BA_GROUPS * BA_GROUP_KEYS, NULL, NULL,
				  &info);
	for (g = 0; ok && g < BA_GROUPS; g++) {
		ok = ba_scan_group(snap, r->id, g, &present, &batch);
		st_maybe_yield(&r->rng, 16);
		if (!ok || !present)
			continue;
		issued = atomic_load(&r->sh->issued[g % BA_WRITERS]);
		ok = ST_CHECK(batch < issued, "reader %u: group %u holds batch %"
			      PRIu64 ", its writer staged only below %" PRIu64,
			      r->id, g, batch, issued) &&
		     ST_CHECK(batch >= r->last_batch[g], "reader %u: group %u "
			      "went back from batch %" PRIu64 " to %" PRIu64,
			      r->id, g, r->last_batch[g], batch);
		r->last_batch[g] = batch;
	}
	fl->read_unlock();
	fl->read_quiescent_state();
	if (!ok || !st_version_log_check(&r->sh->versions, info.version,
					 info.digest))
		return false;
	if (!ST_CHECK(info.version >= r->prev_version, "reader %u: version "
		      "went back from %" PRIu64 " to %" PRIu64, r->id,
		      r->prev_version, info.version))
		return false;
	r->prev_version = info.version;
	r->snapshots++;
	return true;
}

static void *ba_reader_main(void *arg)
{
	struct ba_reader *r = arg;
	const struct rcu_flavor_struct *fl = r->sh->fl;
	bool last;

	st_thread_begin(fl, &r->sh->start);
	do {
		last = atomic_load(&r->sh->writers_running) == 0;
		if (!ba_read_once(r))
			break;
	} while (!last && !st_failed() && r->snapshots < BA_MAX_SNAPSHOTS);
	st_thread_end(fl);
	return NULL;
}

enum ba_kind {
	BA_PUT,			/* put all (junk first on some keys) */
	BA_DELETE,		/* delete all */
	BA_CAS,			/* compare_and_swap all from the current batch */
	BA_PUT_IF_ABSENT,	/* put_if_absent all */
	BA_REPLACE,		/* replace all */
};

/* Stages one batch on group @g; returns the staging rc. */
static int ba_stage(struct ba_writer *w, struct snapmap_batch *batch,
		    unsigned g, enum ba_kind kind, uint64_t n, uint64_t *rng)
{
	struct ba_value v, old, junk;
	char key[32];
	size_t klen;
	unsigned k;
	int rc = 0;

	for (k = 0; k < BA_GROUP_KEYS && rc == 0; k++) {
		klen = ba_key(g, k, key);
		v = ba_value(BA_MAGIC, w->id, g, k, n);
		switch (kind) {
		case BA_PUT:
			if (st_rand_below(rng, 2)) {
				junk = ba_value(BA_JUNK, w->id, g, k, n);
				rc = snapmap_batch_put(batch, key, klen, &junk,
						       sizeof(junk));
				if (rc)
					break;
			}
			rc = snapmap_batch_put(batch, key, klen, &v, sizeof(v));
			break;
		case BA_DELETE:
			rc = snapmap_batch_delete(batch, key, klen);
			break;
		case BA_CAS:
			old = ba_value(BA_MAGIC, w->id, g, k, w->state[g].batch);
			rc = snapmap_batch_compare_and_swap(batch, key, klen,
							    &old, sizeof(old),
							    &v, sizeof(v));
			break;
		case BA_PUT_IF_ABSENT:
			rc = snapmap_batch_put_if_absent(batch, key, klen, &v,
							 sizeof(v));
			break;
		case BA_REPLACE:
			rc = snapmap_batch_replace(batch, key, klen, &v,
						   sizeof(v));
			break;
		}
	}
	return rc;
}

/* One batch on one of the writer's groups; outcome predicted exactly. */
static bool ba_write_once(struct ba_writer *w, struct snapmap_batch *batch,
			  uint64_t *rng)
{
	struct ba_shared *sh = w->sh;
	unsigned g = w->id + BA_WRITERS *
		     (unsigned)st_rand_below(rng, BA_GROUPS / BA_WRITERS);
	struct ba_group_state *st = &w->state[g];
	uint64_t n = atomic_load(&sh->issued[w->id]), version = 0, batch_no;
	size_t failed_op = 0, staged;
	enum ba_kind kind;
	int rc, expect;
	bool present, ok;

	static const enum ba_kind when_present[] = {
		BA_PUT, BA_PUT, BA_DELETE, BA_CAS, BA_PUT_IF_ABSENT, BA_REPLACE,
	};
	static const enum ba_kind when_absent[] = {
		BA_PUT, BA_PUT_IF_ABSENT, BA_PUT_IF_ABSENT, BA_REPLACE,
		BA_DELETE,
	};

	kind = st->present ?
	       when_present[st_rand_below(rng, ST_NELEM(when_present))] :
	       when_absent[st_rand_below(rng, ST_NELEM(when_absent))];
	if (!st->present && kind == BA_REPLACE)
		expect = -ENOENT;
	else if (st->present && kind == BA_PUT_IF_ABSENT)
		expect = -EEXIST;
	else
		expect = 0;

	atomic_store(&sh->issued[w->id], n + 1);
	rc = ba_stage(w, batch, g, kind, n, rng);
	if (!ST_CHECK(rc == 0, "writer %u: staging returned %d", w->id, rc))
		return false;
	staged = snapmap_batch_count(batch);
	st_maybe_yield(rng, 4);
	rc = snapmap_batch_commit(batch, &version, &failed_op);
	sh->fl->read_quiescent_state();
	if (!ST_CHECK(rc == expect, "writer %u: batch kind %d on group %u "
		      "(%s) returned %d, expected %d", w->id, (int)kind, g,
		      st->present ? "present" : "absent", rc, expect))
		return false;
	if (rc == 0) {
		w->commits++;
		if (!ST_CHECK(version > w->prev_version && snapmap_batch_count(
				      batch) == 0,
			      "writer %u: committed as v%" PRIu64 " after v%"
			      PRIu64, w->id, version, w->prev_version))
			return false;
		w->prev_version = version;
		if (!ST_CHECK(version < ST_NELEM(sh->version_taken) &&
			      !atomic_exchange(&sh->version_taken[version], true),
			      "writer %u: v%" PRIu64 " was committed twice (or is "
			      "out of range)", w->id, version))
			return false;
		if (kind == BA_DELETE) {
			st->present = false;
		} else {
			st->present = true;
			st->batch = n;
		}
		return true;
	}
	w->expected_failures++;
	if (!ST_CHECK(failed_op < staged && snapmap_batch_count(batch) ==
		      staged, "writer %u: failed commit: failed_op %zu, %zu "
		      "ops staged of %zu", w->id, failed_op,
		      snapmap_batch_count(batch), staged))
		return false;
	rc = snapmap_batch_abort(batch);
	if (!ST_CHECK(rc == 0, "writer %u: abort %d", w->id, rc))
		return false;
	/* Nothing changed: the group is as its owner left it. */
	sh->fl->read_lock();
	ok = ba_scan_group(snapmap_snapshot(sh->map), w->id, g, &present,
			   &batch_no);
	sh->fl->read_unlock();
	return ok && ST_CHECK(present == st->present &&
			      (!present || batch_no == st->batch),
			      "writer %u: failed batch changed group %u", w->id,
			      g);
}

static void *ba_writer_main(void *arg)
{
	struct ba_writer *w = arg;
	const struct rcu_flavor_struct *fl = w->sh->fl;
	struct snapmap_batch *batch;
	uint64_t rng = 0xba7c0000u + w->id, i;

	st_thread_begin(fl, &w->sh->start);
	batch = snapmap_batch_new(w->sh->map);
	if (ST_CHECK(batch != NULL, "writer %u: batch_new: %s", w->id,
		     strerror(errno))) {
		for (i = 0; i < BA_COMMITS && !st_failed(); i++)
			if (!ba_write_once(w, batch, &rng))
				break;
		snapmap_batch_free(batch);
	}
	atomic_fetch_sub(&w->sh->writers_running, 1);
	st_thread_end(fl);
	return NULL;
}

struct ba_param {
	enum st_flavor flavor;
};

ParameterizedTestParameters(stress, batch_atomicity)
{
	static struct ba_param params[] = { { ST_MEMB }, { ST_QSBR } };

	return cr_make_param_array(struct ba_param, params, ST_NELEM(params));
}

ParameterizedTest(struct ba_param *p, stress, batch_atomicity,
		  .init = st_test_init, .timeout = ST_TIMEOUT)
{
	const struct rcu_flavor_struct *fl = st_flavor(p->flavor);
	const char *fname = st_flavor_name(p->flavor);
	static struct ba_shared sh;
	static struct ba_writer writers[BA_WRITERS];
	static struct ba_reader readers[BA_READERS];
	pthread_t tids[BA_WRITERS + BA_READERS];
	uint64_t expected_version = SNAPMAP_INITIAL_VERSION, version, batch_no;
	const struct ba_group_state *st;
	unsigned i, g;
	bool present, ok;

	fl->register_thread();
	memset(&sh, 0, sizeof(sh));
	sh.fl = fl;
	sh.map = st_map_new(fl, NULL);
	sh.versions = (struct st_version_log){ sh.digests,
					       ST_NELEM(sh.digests) };
	st_barrier_init(&sh.start, BA_WRITERS + BA_READERS);
	atomic_store(&sh.writers_running, BA_WRITERS);
	for (i = 0; i < BA_WRITERS; i++) {
		memset(&writers[i], 0, sizeof(writers[i]));
		writers[i].sh = &sh;
		writers[i].id = i;
		st_spawn(&tids[i], ba_writer_main, &writers[i]);
	}
	for (i = 0; i < BA_READERS; i++) {
		memset(&readers[i], 0, sizeof(readers[i]));
		readers[i].sh = &sh;
		readers[i].id = i;
		readers[i].rng = 0xbead0000u + i;
		st_spawn(&tids[BA_WRITERS + i], ba_reader_main, &readers[i]);
	}
	st_join(fl, tids, BA_WRITERS + BA_READERS);
	st_assert_no_failure();

	for (i = 0; i < BA_WRITERS; i++) {
		cr_assert_eq(writers[i].commits + writers[i].expected_failures,
			     BA_COMMITS, "[%s] writer %u stopped early", fname,
			     i);
		cr_assert_gt(writers[i].expected_failures, 0, "[%s] writer %u "
			     "never tried a failing batch", fname, i);
		expected_version += writers[i].commits;
	}
	for (i = 0; i < BA_READERS; i++)
		cr_log_info("[%s] reader %u: %" PRIu64 " snapshots", fname, i,
			    readers[i].snapshots);
	for (i = 0; i < BA_READERS; i++)
		cr_assert_gt(readers[i].snapshots, 0, "[%s] reader %u idle",
			     fname, i);

	fl->read_lock();
	version = snapmap_version(snapmap_snapshot(sh.map));
	ok = true;
	for (g = 0; ok && g < BA_GROUPS; g++) {
		st = &writers[g % BA_WRITERS].state[g];
		ok = ba_scan_group(snapmap_snapshot(sh.map), 99, g, &present,
				   &batch_no) &&
		     ST_CHECK(present == st->present &&
			      (!present || batch_no == st->batch),
			      "final group %u: %s/%" PRIu64 ", its writer left "
			      "it %s/%" PRIu64, g, present ? "present" : "absent",
			      batch_no, st->present ? "present" : "absent",
			      st->batch);
	}
	fl->read_unlock();
	st_assert_no_failure();
	cr_assert(ok);
	cr_assert_eq(version, expected_version, "[%s] version %" PRIu64
		     ", expected %" PRIu64 " (one per successful batch)", fname,
		     version, expected_version);

	st_map_destroy(sh.map);
	pthread_barrier_destroy(&sh.start);
	fl->unregister_thread();
}
