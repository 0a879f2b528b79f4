/*
 * test_bank.c - the bank-account invariant: money moves, the total stays.
 *
 * N accounts hold 8-byte balances whose sum is constant.  Writers move a
 * random amount between two accounts: they read both balances from one
 * snapshot, then commit a two-op batch conditioned either on the version
 * they read (snapmap_batch_require_version: optimistic transaction) or on
 * both balances being unchanged (snapmap_batch_compare_and_swap).  A
 * failed commit must report the failing condition, keep its ops staged
 * and change nothing; the writer aborts and retries.  Each failure needs
 * another writer's commit in between, which bounds the retries.
 * Readers sum every snapshot they see, inside a read-side critical
 * section or through a pin, and must always find the constant total with
 * no negative balance, and the same contents for the same version.  Each
 * commit must publish a version no other commit got.  At the end the
 * total holds, every balance is what the committed transfers left (none
 * lost), and the version counts the prefill batch plus one publish per
 * transfer.
 */
#include "util.h"

#define BK_ACCOUNTS	16
#define BK_INITIAL	1000
#define BK_TOTAL	((int64_t)BK_ACCOUNTS * BK_INITIAL)
#define BK_WRITERS	2
#define BK_READERS	2
#define BK_TRANSFERS	(1000 * ST_SCALE)	/* committed, per writer */
#define BK_MAX_SNAPSHOTS (5000 * ST_SCALE)	/* per reader */

enum bk_mode {
	BK_VERSION,	/* snapmap_batch_require_version + batch_put */
	BK_CAS,		/* snapmap_batch_compare_and_swap */
};

static const char *const bk_mode_name[] = { "require_version", "cas" };

struct bk_shared {
	struct snapmap *map;
	const struct rcu_flavor_struct *fl;
	enum bk_mode mode;
	pthread_barrier_t start;
	atomic_uint writers_running;
	/* Every commit publishes its own version: each is handed out once. */
	atomic_bool version_taken[2 + BK_WRITERS * BK_TRANSFERS];
	/* ... and names one content, whichever reader sees it. */
	_Atomic uint64_t digests[2 + BK_WRITERS * BK_TRANSFERS];
	struct st_version_log versions;
};

struct bk_writer {
	struct bk_shared *sh;
	unsigned id;
	uint64_t commits, conflicts;
	int64_t net[BK_ACCOUNTS];	/* what this writer's transfers moved */
};

struct bk_reader {
	struct bk_shared *sh;
	unsigned id;
	uint64_t snapshots, pinned, prev_version, rng;
};

static size_t bk_key(unsigned acct, char *buf)
{
	return (size_t)sprintf(buf, "acct/%02u", acct);
}

struct bk_sum {
	unsigned reader;
	int64_t sum;
	uint64_t *rng;		/* NULL: never yield */
};

/* Entry @index must be account @index, with a non-negative balance. */
static bool bk_check_account(const struct snapmap_kv *kv, size_t index,
			     void *ctx)
{
	struct bk_sum *s = ctx;
	char key[32];
	size_t klen = bk_key((unsigned)index, key);
	int64_t bal;

	if (!ST_CHECK(st_bytes_eq(kv->key, kv->klen, key, klen),
		      "reader %u: entry %zu is not account %zu", s->reader,
		      index, index))
		return false;
	if (!ST_CHECK(kv->vlen == sizeof(bal), "reader %u: account %zu has "
		      "%zu bytes", s->reader, index, kv->vlen))
		return false;
	bal = st_i64(kv->val);
	if (!ST_CHECK(bal >= 0 && bal <= BK_TOTAL, "reader %u: account %zu "
		      "holds %" PRId64, s->reader, index, bal))
		return false;
	s->sum += bal;
	if (s->rng)	/* let writers publish while we are in the middle */
		st_maybe_yield(s->rng, 64);
	return true;
}

/* Sums one snapshot; false after recording a failure. */
static bool bk_audit(struct bk_shared *sh, const struct snapmap_snapshot *snap,
		     unsigned reader, uint64_t *rng, uint64_t *version)
{
	struct bk_sum s = { .reader = reader, .rng = rng };
	struct st_snap_info info;

	if (!st_validate_snapshot(snap, BK_ACCOUNTS, bk_check_account, &s,
				  &info) ||
	    !st_version_log_check(&sh->versions, info.version, info.digest))
		return false;
	if (!ST_CHECK(info.count == BK_ACCOUNTS, "reader %u: v%" PRIu64
		      " has %zu accounts", reader, info.version, info.count))
		return false;
	*version = info.version;
	return ST_CHECK(s.sum == BK_TOTAL, "reader %u: v%" PRIu64 " sums to %"
			PRId64 ", not %" PRId64, reader, info.version, s.sum,
			BK_TOTAL);
}

static void *bk_reader_main(void *arg)
{
	struct bk_reader *r = arg;
	const struct rcu_flavor_struct *fl = r->sh->fl;
	const struct snapmap_snapshot *snap;
	uint64_t version = 0;
	bool ok, last;

	st_thread_begin(fl, &r->sh->start);
	do {
		last = atomic_load(&r->sh->writers_running) == 0;
		if (r->snapshots % 3 == 2) {
			/* A pin: read with no read-side critical section. */
			snap = snapmap_pin(r->sh->map);
			if (!ST_CHECK(snap != NULL, "reader %u: pin failed: %s",
				      r->id, strerror(errno)))
				break;
			fl->read_quiescent_state();
			ok = bk_audit(r->sh, snap, r->id, &r->rng, &version);
			snapmap_unpin(snap);
			r->pinned++;
		} else {
			fl->read_lock();
			ok = bk_audit(r->sh, snapmap_snapshot(r->sh->map),
				      r->id, &r->rng, &version);
			fl->read_unlock();
			fl->read_quiescent_state();
		}
		if (!ok || !ST_CHECK(version >= r->prev_version, "reader %u: "
				     "version went back from %" PRIu64 " to %"
				     PRIu64, r->id, r->prev_version, version))
			break;
		r->prev_version = version;
		r->snapshots++;
	} while (!last && !st_failed() && r->snapshots < BK_MAX_SNAPSHOTS);
	st_thread_end(fl);
	return NULL;
}

/* Reads two balances and the version from one snapshot. */
static bool bk_read(struct bk_writer *w, unsigned a, unsigned b,
		    int64_t *ba, int64_t *bb, uint64_t *version)
{
	const struct rcu_flavor_struct *fl = w->sh->fl;
	const struct snapmap_snapshot *snap;
	const void *va, *vb;
	size_t la, lb;
	char ka[32], kb[32];
	int rca, rcb;

	fl->read_lock();
	snap = snapmap_snapshot(w->sh->map);
	*version = snapmap_version(snap);
	rca = snapmap_find(snap, ka, bk_key(a, ka), &va, &la);
	rcb = snapmap_find(snap, kb, bk_key(b, kb), &vb, &lb);
	if (rca == 0 && rcb == 0 && la == 8 && lb == 8) {
		*ba = st_i64(va);
		*bb = st_i64(vb);
	}
	st_read_unlock(fl, snap);	/* after reading the balances */
	return ST_CHECK(rca == 0 && rcb == 0 && la == 8 && lb == 8,
			"writer %u: accounts %u/%u: find %d/%d", w->id, a, b,
			rca, rcb);
}

/* One committed transfer; false after recording a failure. */
static bool bk_transfer(struct bk_writer *w, struct snapmap_batch *batch,
			uint64_t *rng)
{
	struct bk_shared *sh = w->sh;
	/* Each failed commit needs a commit of another writer in between. */
	const uint64_t max_conflicts = (uint64_t)(BK_WRITERS - 1) * BK_TRANSFERS;
	unsigned a = (unsigned)st_rand_below(rng, BK_ACCOUNTS);
	unsigned b = (a + 1 + (unsigned)st_rand_below(rng, BK_ACCOUNTS - 1)) %
		     BK_ACCOUNTS;
	int64_t ba = 0, bb = 0, na, nb, amount;
	uint64_t version, committed;
	size_t failed_op, staged;
	char ka[32], kb[32];
	size_t kalen = bk_key(a, ka), kblen = bk_key(b, kb);
	int rc;

	for (;;) {
		if (!bk_read(w, a, b, &ba, &bb, &version))
			return false;
		amount = ba ? (int64_t)st_rand_below(rng, (uint64_t)ba + 1) : 0;
		st_maybe_yield(rng, 4);	/* widen the read-to-commit window */
		na = ba - amount;
		nb = bb + amount;
		if (sh->mode == BK_VERSION) {
			rc = snapmap_batch_put(batch, ka, kalen, &na, sizeof(na));
			rc = rc ? rc : snapmap_batch_put(batch, kb, kblen, &nb,
							 sizeof(nb));
			rc = rc ? rc : snapmap_batch_require_version(batch,
								     version);
		} else {
			rc = snapmap_batch_compare_and_swap(batch, ka, kalen,
							    &ba, sizeof(ba),
							    &na, sizeof(na));
			rc = rc ? rc : snapmap_batch_compare_and_swap(
				batch, kb, kblen, &bb, sizeof(bb), &nb,
				sizeof(nb));
		}
		if (!ST_CHECK(rc == 0 && snapmap_batch_count(batch) == 2,
			      "writer %u: staging returned %d, %zu ops staged",
			      w->id, rc, snapmap_batch_count(batch)))
			return false;

		failed_op = 12345;
		rc = snapmap_batch_commit(batch, &committed, &failed_op);
		sh->fl->read_quiescent_state();
		if (rc == 0) {
			w->commits++;
			w->net[a] -= amount;
			w->net[b] += amount;
			if (!ST_CHECK(snapmap_batch_count(batch) == 0,
				      "writer %u: batch not empty after commit",
				      w->id))
				return false;
			if (!ST_CHECK(committed < ST_NELEM(sh->version_taken) &&
				      !atomic_exchange(&sh->version_taken[committed],
						       true),
				      "writer %u: v%" PRIu64 " was committed twice "
				      "(or is out of range)", w->id, committed))
				return false;
			if (sh->mode == BK_VERSION)
				return ST_CHECK(committed == version + 1,
						"writer %u: committed on v%"
						PRIu64 " as v%" PRIu64, w->id,
						version, committed);
			return ST_CHECK(committed > version, "writer %u: "
					"committed as v%" PRIu64 " after "
					"reading v%" PRIu64, w->id, committed,
					version);
		}
		staged = snapmap_batch_count(batch);
		if (sh->mode == BK_VERSION) {
			if (!ST_CHECK(rc == -ESTALE &&
				      failed_op == SNAPMAP_BATCH_VERSION_OP,
				      "writer %u: commit returned %d, failed_op "
				      "%zu", w->id, rc, failed_op))
				return false;
		} else if (!ST_CHECK(rc == -EAGAIN && failed_op < 2,
				     "writer %u: commit returned %d, failed_op "
				     "%zu", w->id, rc, failed_op)) {
			return false;
		}
		if (!ST_CHECK(staged == 2, "writer %u: %zu ops staged after a "
			      "failed commit, expected 2", w->id, staged))
			return false;
		rc = snapmap_batch_abort(batch);
		if (!ST_CHECK(rc == 0 && snapmap_batch_count(batch) == 0,
			      "writer %u: abort returned %d", w->id, rc))
			return false;
		if (!ST_CHECK(++w->conflicts <= max_conflicts, "writer %u: %"
			      PRIu64 " failed commits, more than the other "
			      "writers committed", w->id, w->conflicts))
			return false;
	}
}

static void *bk_writer_main(void *arg)
{
	struct bk_writer *w = arg;
	const struct rcu_flavor_struct *fl = w->sh->fl;
	struct snapmap_batch *batch;
	uint64_t rng = 0xba4c0000u + w->id, i;

	st_thread_begin(fl, &w->sh->start);
	batch = snapmap_batch_new(w->sh->map);
	if (ST_CHECK(batch != NULL, "writer %u: batch_new: %s", w->id,
		     strerror(errno))) {
		for (i = 0; i < BK_TRANSFERS && !st_failed(); i++)
			if (!bk_transfer(w, batch, &rng))
				break;
		snapmap_batch_free(batch);
	}
	atomic_fetch_sub(&w->sh->writers_running, 1);
	st_thread_end(fl);
	return NULL;
}

struct bk_param {
	enum st_flavor flavor;
	enum bk_mode mode;
};

ParameterizedTestParameters(stress, bank)
{
	static struct bk_param params[] = {
		{ ST_MEMB, BK_VERSION },
		{ ST_MEMB, BK_CAS },
		{ ST_QSBR, BK_VERSION },
		{ ST_BP, BK_CAS },
	};

	return cr_make_param_array(struct bk_param, params, ST_NELEM(params));
}

ParameterizedTest(struct bk_param *p, stress, bank,
		  .init = st_test_init, .timeout = ST_TIMEOUT)
{
	const struct rcu_flavor_struct *fl = st_flavor(p->flavor);
	const char *mname = bk_mode_name[p->mode];
	static struct bk_shared sh;
	static struct bk_writer writers[BK_WRITERS];
	static struct bk_reader readers[BK_READERS];
	pthread_t tids[BK_WRITERS + BK_READERS];
	struct snapmap_batch *batch;
	int64_t initial = BK_INITIAL;
	uint64_t version, expected_version;
	int64_t balance, expected;
	const void *val;
	size_t vlen;
	unsigned i, w;
	char key[32];
	bool ok;
	int rc;

	cr_log_info("bank: %s, %s", st_flavor_name(p->flavor), mname);
	fl->register_thread();
	memset(&sh, 0, sizeof(sh));
	sh.fl = fl;
	sh.mode = p->mode;
	sh.map = st_map_new(fl, NULL);
	sh.versions = (struct st_version_log){ sh.digests,
					       ST_NELEM(sh.digests) };

	/* Open every account in one batch: one publish. */
	batch = snapmap_batch_new(sh.map);
	cr_assert_not_null(batch);
	for (i = 0; i < BK_ACCOUNTS; i++) {
		rc = snapmap_batch_put_if_absent(batch, key, bk_key(i, key),
						 &initial, sizeof(initial));
		cr_assert_eq(rc, 0, "stage account %u: %d", i, rc);
	}
	rc = snapmap_batch_commit(batch, &version, NULL);
	cr_assert_eq(rc, 0, "prefill commit: %d", rc);
	cr_assert_eq(version, SNAPMAP_INITIAL_VERSION + 1);
	snapmap_batch_free(batch);

	st_barrier_init(&sh.start, BK_WRITERS + BK_READERS);
	atomic_store(&sh.writers_running, BK_WRITERS);
	for (i = 0; i < BK_WRITERS; i++) {
		memset(&writers[i], 0, sizeof(writers[i]));
		writers[i].sh = &sh;
		writers[i].id = i;
		st_spawn(&tids[i], bk_writer_main, &writers[i]);
	}
	for (i = 0; i < BK_READERS; i++) {
		memset(&readers[i], 0, sizeof(readers[i]));
		readers[i].sh = &sh;
		readers[i].id = i;
		readers[i].rng = 0xa0d10000u + i;
		st_spawn(&tids[BK_WRITERS + i], bk_reader_main, &readers[i]);
	}
	st_join(fl, tids, BK_WRITERS + BK_READERS);
	st_assert_no_failure();

	expected_version = SNAPMAP_INITIAL_VERSION + 1;
	for (i = 0; i < BK_WRITERS; i++) {
		cr_assert_eq(writers[i].commits, BK_TRANSFERS,
			     "[%s] writer %u committed %" PRIu64, mname, i,
			     writers[i].commits);
		expected_version += writers[i].commits;
		cr_log_info("[%s] writer %u: %" PRIu64 " conflicts", mname, i,
			    writers[i].conflicts);
	}
	for (i = 0; i < BK_READERS; i++) {
		cr_log_info("[%s] reader %u: %" PRIu64 " snapshots (%" PRIu64
			    " pinned)", mname, i, readers[i].snapshots,
			    readers[i].pinned);
		cr_assert_gt(readers[i].snapshots, 0, "[%s] reader %u idle",
			     mname, i);
	}

	fl->read_lock();
	ok = bk_audit(&sh, snapmap_snapshot(sh.map), BK_READERS, NULL,
		      &version);
	fl->read_unlock();
	st_assert_no_failure();
	cr_assert(ok);
	cr_assert_eq(version, expected_version, "[%s] final version %" PRIu64
		     ", expected %" PRIu64 " (one per transfer)", mname,
		     version, expected_version);

	/* No transfer lost: each balance is what the committed ones left. */
	for (i = 0; i < BK_ACCOUNTS; i++) {
		expected = BK_INITIAL;
		for (w = 0; w < BK_WRITERS; w++)
			expected += writers[w].net[i];
		fl->read_lock();
		rc = snapmap_find(snapmap_snapshot(sh.map), key, bk_key(i, key),
				  &val, &vlen);
		balance = rc == 0 && vlen == 8 ? st_i64(val) : -1;
		fl->read_unlock();
		cr_assert_eq(balance, expected, "[%s] account %u holds %" PRId64
			     ", its committed transfers leave %" PRId64, mname,
			     i, balance, expected);
	}

	st_map_destroy(sh.map);
	pthread_barrier_destroy(&sh.start);
	fl->unregister_thread();
}
