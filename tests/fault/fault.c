/*
 * fault.c - allocation failures (issue #6).
 *
 * Every allocation of the library goes through lib/alloc.c.  This binary
 * links the test build of the library (lib/libsnapmap-test.la, compiled
 * with -DSM_TESTING), whose seam can fail the k-th allocation from now
 * (sm_alloc_fail_at) and counts allocations (sm_alloc_calls) and live
 * blocks (sm_alloc_live); see lib/alloc.h.
 *
 * Each case is an operation on a prepared map.  run_case():
 *
 *   1. reference run: prepares the map, counts the allocations N the
 *      operation makes, records its return value and the map's full dump
 *      afterwards (every key and value in iteration order, the count and
 *      the version), and how many value destructor calls the map's whole
 *      life makes;
 *   2. for k = 1..N: prepares the same map again (same operations, so the
 *      same allocation sequence), dumps it, fails the k-th allocation,
 *      runs the operation and asserts that allocation was reached, that
 *      the call returned -ENOMEM, that the dump is identical (contents
 *      AND version) and that the value destructor ran once for each
 *      value the call was handed (values_handed()); then, with
 *      injection off, runs the same operation again and asserts that it
 *      returns what the reference run returned and leaves exactly the
 *      reference dump; then a probe put/get/delete (later operations
 *      work); then snapmap_destroy() must succeed, the destructor must
 *      have run exactly as often as in the reference run plus the failed
 *      call's values (nothing a failed write allocated is owned twice or
 *      lost) and every block allocated
 *      through the seam must be freed again (sm_alloc_live back to where
 *      it was: a leak check of its own, in every build, on top of
 *      ASan/valgrind);
 *   3. an operation that makes no allocation (N = 0: a pin, an update
 *      that keeps the value) is run with the first allocation armed to
 *      fail: it must not consume it and must succeed.
 *
 * No case needs a "legitimately not needed" allocation: every allocation
 * the library makes in these operations is required, so every k gives
 * -ENOMEM.
 *
 * Maps ("preps"): empty, one key, and NKEYS keys (three chunks of PER,
 * a little under the layout's target), plus big maps shaped so that one
 * write splits a full chunk, absorbs a neighbour into a chunk that fell
 * below the minimum, or empties the last chunk; the chunk counts are
 * asserted through the snapshot's directory (snapshot.h), so the layout
 * paths are known to be taken.  Batches and the loads' source files are
 * staged/written before the counting starts: only the commit and the load
 * are measured and failed.
 *
 * The shapes follow the layout's constants (SM_CHUNK_TARGET, _MAX and
 * _MIN in lib/snapshot.h); the preparation asserts the chunk counts, so
 * the layout paths are known to be taken.
 *
 * Running it alone: make check TESTS=tests/fault/fault.  Under valgrind,
 * Criterion 2.4.1 still runs each test in a re-executed child, so follow
 * the children:
 *   valgrind --fair-sched=yes --trace-children=yes --leak-check=full \
 *     --error-exitcode=1 \
 *     ./tests/fault/fault --filter 'fault/@(seam|pin|small_maps|big_map)'
 */
#include <urcu.h>
#include <snapmap.h>
#include "internal.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * One timeout for the whole binary (see tests/unit/util.h: Criterion
 * 2.4.1 leaks when tests with different timeouts run in parallel).  A
 * guard against a hang, not a timing assertion: normal runs take
 * seconds, ASan runs a few minutes at most.
 */
#define FAULT_TIMEOUT	900

/* Keys of the big maps: three chunks of PER, just under a built chunk. */
#define PER		(SM_CHUNK_TARGET - SM_CHUNK_TARGET / 32)
#define NKEYS		(3 * PER)
#define STEP		10u	/* big maps hold keys 0, 10, 20, ... */
#define KEY_MAX		32
#define VAL_MAX		64

/* ------------------------------------------------------------------ */
/* Keys, values, the value destructor                                  */
/* ------------------------------------------------------------------ */

static size_t key_of(unsigned num, char *buf)
{
	return (size_t)snprintf(buf, KEY_MAX, "key:%08u", num);
}

/*
 * The value of key @num at generation @gen.  Every third key holds an
 * 8-byte counter (snapmap_add_i64 works on it; its zero bytes go through
 * the text format's \xHH escapes); the others hold strings of varied
 * length, some with a TAB, a newline and a backslash.
 */
static size_t val_of(unsigned num, unsigned gen, unsigned char *buf)
{
	size_t n;

	if (num % 3 == 0) {
		int64_t v = (int64_t)num * 1000 + gen;

		memcpy(buf, &v, sizeof(v));
		return sizeof(v);
	}
	n = (size_t)snprintf((char *)buf, VAL_MAX, "v%u.%u:", num, gen);
	for (unsigned i = 0; i < num % 11; i++)
		buf[n++] = (unsigned char)('a' + i);
	if (num % 7 == 1) {
		memcpy(buf + n, "\t\n\\", 3);
		n += 3;
	}
	return n;
}

/* Value destructor calls of every map (they run in the thread that
 * drains the callback queue, see below). */
static unsigned long destroyed;

static void count_destroy(void *val, size_t vlen, void *ctx)
{
	(void)val;
	(void)vlen;
	(void)ctx;
	uatomic_inc(&destroyed);
}

static unsigned long destroyed_now(void)
{
	return uatomic_read(&destroyed);
}

/* ------------------------------------------------------------------ */
/* The flavor of the maps: memb, with reclamation run by the test      */
/* ------------------------------------------------------------------ */

/*
 * The maps under test use the memb flavor with one change: call_rcu
 * callbacks queue up here, and run_queued() waits for a grace period
 * with memb's synchronize_rcu, then runs them in order; destroy_map()
 * runs the ones snapmap_destroy() queues (it waits for them) at once.
 * Two reasons:
 *
 * - liburcu's call_rcu thread sleeps 10 ms after each wake-up to batch
 *   callbacks, so each snapmap_destroy() (which waits for the map's
 *   callbacks) would cost 10 ms or more, and the thousands of prepared
 *   maps minutes of waiting;
 * - reclamation (and the value destructor) then runs only where the test
 *   says, so the destructor calls of a failed call can be counted
 *   exactly.
 *
 * The read side, synchronize_rcu and thread registration are memb's own,
 * and callbacks still run only after a grace period, as call_rcu
 * promises.  (fault/unpin_allocates_nothing and fault/seam use plain
 * memb.)
 */
struct queued_cb {
	struct rcu_head *head;
	void (*func)(struct rcu_head *head);
};

static struct rcu_flavor_struct fault_flavor;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct queued_cb *queue;
static size_t queue_len, queue_cap;

static bool callbacks_now;	/* run callbacks as they are queued */

static void queue_call_rcu(struct rcu_head *head,
			   void (*func)(struct rcu_head *head))
{
	if (callbacks_now) {
		rcu_flavor.update_synchronize_rcu();
		func(head);
		return;
	}
	pthread_mutex_lock(&queue_lock);
	if (queue_len == queue_cap) {
		queue_cap = queue_cap ? 2 * queue_cap : 64;
		queue = realloc(queue, queue_cap * sizeof(*queue));
		if (!queue)	/* the test's memory, not the library's */
			abort();
	}
	queue[queue_len++] = (struct queued_cb){ head, func };
	pthread_mutex_unlock(&queue_lock);
}

static void run_queued(void)
{
	for (;;) {
		struct queued_cb *batch;
		size_t n;

		pthread_mutex_lock(&queue_lock);
		batch = queue;
		n = queue_len;
		queue = NULL;
		queue_len = queue_cap = 0;
		pthread_mutex_unlock(&queue_lock);
		if (n == 0) {
			free(batch);
			return;
		}
		/* Every reader that could hold what the callbacks free has
		 * left its critical section after this. */
		rcu_flavor.update_synchronize_rcu();
		for (size_t i = 0; i < n; i++)
			batch[i].func(batch[i].head);
		free(batch);
	}
}

static void fault_flavor_init(void)
{
	fault_flavor = rcu_flavor;
	fault_flavor.update_call_rcu = queue_call_rcu;
	fault_flavor.barrier = run_queued;
}

/* snapmap_destroy() of a fault_flavor map: it waits for the callbacks of
 * the map, its own included. */
static int destroy_map(struct snapmap *map)
{
	int rc;

	run_queued();
	callbacks_now = true;
	rc = snapmap_destroy(map);
	callbacks_now = false;
	return rc;
}

/* Where an assertion failed: the case and the allocation failed (0: none). */
static const char *cur_case = "";
static unsigned long cur_k;

#define CTX_FMT		"[%s, k=%lu] "
#define CTX		cur_case, cur_k

/* ------------------------------------------------------------------ */
/* Writes used to prepare maps and to probe them                       */
/* ------------------------------------------------------------------ */

static int put_num(struct snapmap *map, unsigned num, unsigned gen)
{
	char key[KEY_MAX];
	unsigned char val[VAL_MAX];
	size_t klen = key_of(num, key), vlen = val_of(num, gen, val);

	return snapmap_put(map, key, klen, val, vlen);
}

static void bput(struct snapmap_batch *b, unsigned num, unsigned gen)
{
	char key[KEY_MAX];
	unsigned char val[VAL_MAX];
	size_t klen = key_of(num, key), vlen = val_of(num, gen, val);

	cr_assert_eq(snapmap_batch_put(b, key, klen, val, vlen), 0);
}

static void bdel(struct snapmap_batch *b, unsigned num)
{
	char key[KEY_MAX];
	size_t klen = key_of(num, key);

	cr_assert_eq(snapmap_batch_delete(b, key, klen), 0);
}

static struct snapmap_batch *batch_of(struct snapmap *map)
{
	struct snapmap_batch *b = snapmap_batch_new(map);

	cr_assert_not_null(b, CTX_FMT "snapmap_batch_new failed", CTX);
	return b;
}

static void commit_free(struct snapmap_batch *b)
{
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0,
		     CTX_FMT "preparing commit failed", CTX);
	snapmap_batch_free(b);
}

/* Puts keys @first*STEP .. (@last-1)*STEP at @gen in one batch. */
static void put_range(struct snapmap *map, unsigned first, unsigned last,
		      unsigned gen)
{
	struct snapmap_batch *b = batch_of(map);

	for (unsigned i = first; i < last; i++)
		bput(b, i * STEP, gen);
	commit_free(b);
}

static size_t nchunks(struct snapmap *map)
{
	size_t n;

	rcu_read_lock();
	n = sm_layout_nchunks(snapmap_snapshot(map));
	rcu_read_unlock();
	return n;
}

static size_t chunk_size_of(struct snapmap *map, const char *key)
{
	size_t n;

	rcu_read_lock();
	n = sm_layout_chunk_size_of(snapmap_snapshot(map), key, strlen(key));
	rcu_read_unlock();
	return n;
}

static size_t count_of(struct snapmap *map)
{
	size_t n;

	rcu_read_lock();
	n = snapmap_count(snapmap_snapshot(map));
	rcu_read_unlock();
	return n;
}

/* ------------------------------------------------------------------ */
/* Dumps: everything a reader can see of the current snapshot          */
/* ------------------------------------------------------------------ */

struct dump {
	uint64_t version;
	size_t count;
	unsigned char *buf;	/* klen, key, vlen, value, ... in order */
	size_t len, cap;
};

static void dump_append(struct dump *d, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (d->len + n > d->cap) {
		size_t cap = d->cap ? d->cap : 4096;

		while (cap < d->len + n)
			cap *= 2;
		d->buf = realloc(d->buf, cap);
		cr_assert_not_null(d->buf, "out of memory in the test");
		d->cap = cap;
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
}

/*
 * Dumps @map's current snapshot, checking on the way that the keys come
 * strictly increasing, that each is found by snapmap_find() at the very
 * entry the iterator gave, and that the count matches the iteration.
 */
static void dump_take(struct snapmap *map, struct dump *d)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_iter it;
	struct snapmap_kv kv, prev = { 0 };
	size_t n = 0;
	int rc;

	d->len = 0;
	rcu_read_lock();
	snap = snapmap_snapshot(map);
	d->version = snapmap_version(snap);
	d->count = snapmap_count(snap);
	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv), n++) {
		const void *val = NULL;
		size_t vlen = 0, m;

		if (n) {
			m = prev.klen < kv.klen ? prev.klen : kv.klen;
			rc = m ? memcmp(prev.key, kv.key, m) : 0;
			cr_assert(rc < 0 || (rc == 0 && prev.klen < kv.klen),
				  CTX_FMT "keys out of order at #%zu", CTX, n);
		}
		cr_assert_eq(snapmap_find(snap, kv.key, kv.klen, &val, &vlen),
			     0, CTX_FMT "key #%zu not found", CTX, n);
		cr_assert(val == kv.val && vlen == kv.vlen,
			  CTX_FMT "find and iteration disagree on #%zu", CTX,
			  n);
		dump_append(d, &kv.klen, sizeof(kv.klen));
		dump_append(d, kv.key, kv.klen);
		dump_append(d, &kv.vlen, sizeof(kv.vlen));
		dump_append(d, kv.val, kv.vlen);
		prev = kv;
	}
	rcu_read_unlock();
	cr_assert_eq(rc, -ENOENT, CTX_FMT "iteration ended with %d", CTX, rc);
	cr_assert_eq(n, d->count, CTX_FMT "iterated %zu entries, count %zu",
		     CTX, n, d->count);
}

static void dump_assert_eq(const struct dump *got, const struct dump *want,
			   const char *when)
{
	cr_assert_eq(got->version, want->version,
		     CTX_FMT "%s: version %llu, expected %llu", CTX, when,
		     (unsigned long long)got->version,
		     (unsigned long long)want->version);
	cr_assert_eq(got->count, want->count,
		     CTX_FMT "%s: %zu entries, expected %zu", CTX, when,
		     got->count, want->count);
	cr_assert(got->len == want->len &&
		  (got->len == 0 || memcmp(got->buf, want->buf, got->len) == 0),
		  CTX_FMT "%s: the contents differ", CTX, when);
}

static void dump_free(struct dump *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------------ */
/* Files for the loads, written by snapmap_save / snapmap_save_text    */
/* ------------------------------------------------------------------ */

enum file_id { F_BIG_BIN, F_BIG_TXT, F_ONE_BIN, F_ONE_TXT, F_EMPTY_BIN,
	       F_EMPTY_TXT, F_COUNT };

static char files_dir[64];
static char files[F_COUNT][128];

/*
 * Saves a map holding keys @first*STEP .. (@last-1)*STEP at generation 1
 * to @bin and @txt.
 */
static void save_map(unsigned first, unsigned last, const char *bin,
		     const char *txt)
{
	struct snapmap_config cfg = { .value_destroy = count_destroy };
	struct snapmap *map = snapmap_new_flavor(&cfg, &fault_flavor);
	const struct snapmap_snapshot *snap;
	struct snapmap_error err;

	cr_assert_not_null(map);
	if (last > first)
		put_range(map, first, last, 1);
	snap = snapmap_pin(map);
	cr_assert_eq(snapmap_save(snap, bin, &err), 0, "save: %s",
		     err.message);
	cr_assert_eq(snapmap_save_text(snap, txt, &err), 0, "save_text: %s",
		     err.message);
	snapmap_unpin(snap);
	cr_assert_eq(destroy_map(map), 0);
}

static void files_make(void)
{
	static const char *const names[F_COUNT] = {
		"big.snap", "big.txt", "one.snap", "one.txt", "empty.snap",
		"empty.txt",
	};

	snprintf(files_dir, sizeof(files_dir), "/tmp/snapmap-fault-XXXXXX");
	cr_assert_not_null(mkdtemp(files_dir), "mkdtemp: %s",
			   strerror(errno));
	for (int i = 0; i < F_COUNT; i++)
		snprintf(files[i], sizeof(files[i]), "%s/%s", files_dir,
			 names[i]);
	/* Half of it overlaps the big maps (other values), half is new. */
	save_map(NKEYS / 2, NKEYS / 2 + NKEYS, files[F_BIG_BIN],
		 files[F_BIG_TXT]);
	save_map(7, 8, files[F_ONE_BIN], files[F_ONE_TXT]);
	save_map(0, 0, files[F_EMPTY_BIN], files[F_EMPTY_TXT]);
}

static void files_remove(void)
{
	if (!files_dir[0])
		return;
	for (int i = 0; i < F_COUNT; i++)
		unlink(files[i]);
	rmdir(files_dir);
	files_dir[0] = '\0';
}

/* ------------------------------------------------------------------ */
/* Fixtures: a prepared map and what an operation keeps in it          */
/* ------------------------------------------------------------------ */

enum prep {
	P_EMPTY,	/* a new map */
	P_ONE,		/* key 0 */
	P_BIG,		/* NKEYS keys in 3 chunks of PER */
	P_FULL_CHUNK,	/* P_BIG with chunk 0 grown to SM_CHUNK_MAX */
	P_MIN_CHUNK,	/* P_BIG with chunk 0 cut to SM_CHUNK_MIN */
	P_TINY_LAST,	/* P_BIG with the last chunk cut to 1 entry */
};

struct fx {
	struct snapmap *map;
	struct snapmap_batch *batch;
	const struct snapmap_snapshot *pins[4];
	size_t npins;
	long live0;		/* sm_alloc_live() before the map */
	unsigned long destroyed0;
};

static void prepare(struct fx *fx, enum prep prep)
{
	struct snapmap_config cfg = { .value_destroy = count_destroy };
	struct snapmap_batch *b;
	size_t want_count = NKEYS;

	memset(fx, 0, sizeof(*fx));
	fx->live0 = sm_alloc_live();
	fx->destroyed0 = destroyed_now();
	fx->map = snapmap_new_flavor(&cfg, &fault_flavor);
	cr_assert_not_null(fx->map, CTX_FMT "snapmap_new failed", CTX);
	if (prep == P_EMPTY)
		return;
	if (prep == P_ONE) {
		cr_assert_eq(put_num(fx->map, 0, 0), 0);
		return;
	}

	/* One batch into the empty map: three chunks of PER. */
	put_range(fx->map, 0, NKEYS, 0);
	switch (prep) {
	case P_FULL_CHUNK:
		/* SM_CHUNK_MAX - PER more keys below chunk 1's first key. */
		b = batch_of(fx->map);
		for (unsigned i = 0; i < PER; i++)
			bput(b, i * STEP + 1, 0);
		for (unsigned i = 0; i < SM_CHUNK_MAX - 2 * PER; i++)
			bput(b, i * STEP + 2, 0);
		commit_free(b);
		want_count = NKEYS + SM_CHUNK_MAX - PER;
		break;
	case P_MIN_CHUNK:
		b = batch_of(fx->map);
		for (unsigned i = 0; i < PER - SM_CHUNK_MIN; i++)
			bdel(b, i * STEP);
		commit_free(b);
		want_count = NKEYS - (PER - SM_CHUNK_MIN);
		break;
	case P_TINY_LAST:
		b = batch_of(fx->map);
		for (unsigned i = 2 * PER; i < NKEYS - 1; i++)
			bdel(b, i * STEP);
		commit_free(b);
		want_count = NKEYS - (PER - 1);
		break;
	default:
		break;
	}
	cr_assert_eq(nchunks(fx->map), 3, CTX_FMT "prepared %zu chunks",
		     CTX, nchunks(fx->map));
	cr_assert_eq(count_of(fx->map), want_count);
}

/* Later operations work: a put, a get and a delete of another key. */
static void probe(struct fx *fx)
{
	char buf[8];
	size_t len = 0;

	cr_assert_eq(snapmap_put(fx->map, "~probe", 6, "pr", 2), 0,
		     CTX_FMT "probe put failed", CTX);
	cr_assert_eq(snapmap_get(fx->map, "~probe", 6, buf, sizeof(buf),
				 &len), 0, CTX_FMT "probe get failed", CTX);
	cr_assert(len == 2 && memcmp(buf, "pr", 2) == 0);
	cr_assert_eq(snapmap_delete(fx->map, "~probe", 6), 0,
		     CTX_FMT "probe delete failed", CTX);
}

/*
 * Releases the fixture and destroys the map; asserts that every block
 * the library allocated since prepare() was freed.  Returns the value
 * destructor calls of the map's life.
 */
static unsigned long finish(struct fx *fx)
{
	for (size_t i = 0; i < fx->npins; i++)
		snapmap_unpin(fx->pins[i]);
	snapmap_batch_free(fx->batch);
	cr_assert_eq(destroy_map(fx->map), 0,
		     CTX_FMT "snapmap_destroy failed", CTX);
	cr_assert_eq(sm_alloc_live(), fx->live0,
		     CTX_FMT "%ld blocks allocated through the seam were "
		     "never freed", CTX, sm_alloc_live() - fx->live0);
	return destroyed_now() - fx->destroyed0;
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

/* Keys the operations use: K_FIRST is in every prepared map but the empty
 * one; K_MID is in chunk 1 of the big maps; K_NEW is absent everywhere. */
#define K_FIRST		0u
#define K_MID		(NKEYS / 2 * STEP)
#define K_NEW		(K_MID + 5)

static int op_put_new(struct fx *fx)
{
	return put_num(fx->map, K_NEW, 5);
}

static int op_put_first(struct fx *fx)
{
	return put_num(fx->map, K_FIRST, 5);
}

/* Into chunk 0 of P_FULL_CHUNK, which then splits. */
static int op_put_split(struct fx *fx)
{
	return put_num(fx->map, 5, 5);
}

static int del_num(struct fx *fx, unsigned num)
{
	char key[KEY_MAX];
	size_t klen = key_of(num, key);

	return snapmap_delete(fx->map, key, klen);
}

static int op_delete_first(struct fx *fx)
{
	return del_num(fx, K_FIRST);
}

static int op_delete_mid(struct fx *fx)
{
	return del_num(fx, K_MID);
}

static int op_delete_new(struct fx *fx)
{
	return del_num(fx, K_NEW);
}

/* From chunk 0 of P_MIN_CHUNK, which then absorbs chunk 1. */
static int op_delete_absorb(struct fx *fx)
{
	return del_num(fx, (PER - SM_CHUNK_MIN / 2) * STEP);
}

/* The only key of the last chunk of P_TINY_LAST. */
static int op_delete_last(struct fx *fx)
{
	return del_num(fx, (NKEYS - 1) * STEP);
}

static int op_put_if_absent_new(struct fx *fx)
{
	char key[KEY_MAX];
	unsigned char val[VAL_MAX];
	size_t klen = key_of(K_NEW, key), vlen = val_of(K_NEW, 6, val);

	return snapmap_put_if_absent(fx->map, key, klen, val, vlen, NULL, 0,
				     NULL);
}

static int op_put_if_absent_first(struct fx *fx)
{
	char key[KEY_MAX], existing[VAL_MAX];
	unsigned char val[VAL_MAX];
	size_t klen = key_of(K_FIRST, key), vlen = val_of(K_FIRST, 6, val);
	size_t elen = 0;

	return snapmap_put_if_absent(fx->map, key, klen, val, vlen, existing,
				     sizeof(existing), &elen);
}

static int op_replace_first(struct fx *fx)
{
	char key[KEY_MAX];
	unsigned char val[VAL_MAX];
	size_t klen = key_of(K_FIRST, key), vlen = val_of(K_FIRST, 7, val);

	return snapmap_replace(fx->map, key, klen, val, vlen);
}

static int cas_first(struct fx *fx, unsigned expected_gen)
{
	char key[KEY_MAX];
	unsigned char val[VAL_MAX], exp[VAL_MAX];
	size_t klen = key_of(K_FIRST, key), vlen = val_of(K_FIRST, 8, val);
	size_t elen = val_of(K_FIRST, expected_gen, exp);

	return snapmap_compare_and_swap(fx->map, key, klen, exp, elen, val,
					vlen);
}

static int op_cas_first(struct fx *fx)
{
	return cas_first(fx, 0);	/* the prepared value */
}

static int op_cas_mismatch(struct fx *fx)
{
	return cas_first(fx, 99);
}

enum update_how { U_SET, U_DELETE, U_KEEP };

static int update_fn(const void *key, size_t klen, const void *cur,
		     size_t curlen, bool present, struct snapmap_update *u,
		     void *ctx)
{
	const enum update_how *how = ctx;
	unsigned char val[VAL_MAX];
	size_t vlen = val_of(K_FIRST, 9, val);

	(void)key;
	(void)klen;
	(void)cur;
	(void)curlen;
	(void)present;
	switch (*how) {
	case U_SET:
		/* -ENOMEM from here is what snapmap_update returns. */
		return snapmap_update_set(u, val, vlen);
	case U_DELETE:
		return snapmap_update_delete(u);
	case U_KEEP:
		break;
	}
	return 0;
}

static int update_first(struct fx *fx, enum update_how how)
{
	char key[KEY_MAX];
	size_t klen = key_of(K_FIRST, key);

	return snapmap_update(fx->map, key, klen, update_fn, &how);
}

static int op_update_set(struct fx *fx)
{
	return update_first(fx, U_SET);
}

static int op_update_delete(struct fx *fx)
{
	return update_first(fx, U_DELETE);
}

static int op_update_keep(struct fx *fx)
{
	return update_first(fx, U_KEEP);
}

static int add_num(struct fx *fx, unsigned num)
{
	char key[KEY_MAX];
	size_t klen = key_of(num, key);
	int64_t result = 0;

	return snapmap_add_i64(fx->map, key, klen, 42, &result);
}

/* Key 0 holds an 8-byte counter in every prepared map but the empty one. */
static int op_add_first(struct fx *fx)
{
	return add_num(fx, K_FIRST);
}

static int op_add_new(struct fx *fx)
{
	return add_num(fx, K_NEW);
}

static int op_pin(struct fx *fx)
{
	const struct snapmap_snapshot *snap = snapmap_pin(fx->map);

	if (!snap)
		return -errno;
	cr_assert_lt(fx->npins, sizeof(fx->pins) / sizeof(fx->pins[0]));
	fx->pins[fx->npins++] = snap;
	return 0;
}

/* Batches: staged before the counting starts; the op is the commit (a
 * failed commit leaves the ops staged, so the retry commits them). */
static int op_commit(struct fx *fx)
{
	return snapmap_batch_commit(fx->batch, NULL, NULL);
}

/* 2000 random puts and deletes over the big map's keys (and a few new
 * keys between them): touches every chunk; same sequence every time. */
static void stage_random(struct fx *fx)
{
	unsigned long x = 88172645463325252ul;	/* xorshift64 */

	fx->batch = batch_of(fx->map);
	for (int i = 0; i < 2000; i++) {
		unsigned num;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		num = (unsigned)(x % NKEYS) * STEP + (x % 8 == 0 ? 3 : 0);
		if ((x >> 20) % 10 < 6)
			bput(fx->batch, num, 2);
		else
			bdel(fx->batch, num);
	}
}

/* Every kind of op, conditions all met on the big maps. */
static void stage_mixed(struct fx *fx)
{
	unsigned char exp[VAL_MAX], val[VAL_MAX];
	char key[KEY_MAX];
	size_t klen, elen, vlen;
	uint64_t version;

	fx->batch = batch_of(fx->map);
	for (unsigned i = 0; i < 100; i++) {
		klen = key_of(i * STEP + 3, key);
		vlen = val_of(i * STEP + 3, 3, val);
		cr_assert_eq(snapmap_batch_put_if_absent(fx->batch, key, klen,
							 val, vlen), 0);
		klen = key_of((100 + i) * STEP, key);
		vlen = val_of((100 + i) * STEP, 3, val);
		cr_assert_eq(snapmap_batch_replace(fx->batch, key, klen, val,
						   vlen), 0);
		klen = key_of((2 * PER + i) * STEP, key);
		elen = val_of((2 * PER + i) * STEP, 0, exp);
		vlen = val_of((2 * PER + i) * STEP, 3, val);
		cr_assert_eq(snapmap_batch_compare_and_swap(fx->batch, key,
							    klen, exp, elen,
							    val, vlen), 0);
		bdel(fx->batch, (2 * PER + 150 + i) * STEP);
		bput(fx->batch, (2 * PER + 300 + i) * STEP + 7, 3);
	}
	/* And the optimistic-transaction condition, met. */
	rcu_read_lock();
	version = snapmap_version(snapmap_snapshot(fx->map));
	rcu_read_unlock();
	cr_assert_eq(snapmap_batch_require_version(fx->batch, version), 0);
}

/* Deletes all of chunk 1: the empty run absorbs chunk 2. */
static void stage_chunk(struct fx *fx)
{
	fx->batch = batch_of(fx->map);
	for (unsigned i = PER; i < 2 * PER; i++)
		bdel(fx->batch, i * STEP);
}

/* Puts, then a put_if_absent of a present key: -EEXIST at commit. */
static void stage_conflict(struct fx *fx)
{
	char key[KEY_MAX];
	unsigned char val[VAL_MAX];
	size_t klen = key_of(K_FIRST, key), vlen = val_of(K_FIRST, 4, val);

	fx->batch = batch_of(fx->map);
	for (unsigned i = 0; i < 100; i++)
		bput(fx->batch, i * STEP + 1, 4);
	cr_assert_eq(snapmap_batch_put_if_absent(fx->batch, key, klen, val,
						 vlen), 0);
}

static int load(struct fx *fx, enum file_id f, bool text)
{
	struct snapmap_error err;
	uint64_t version = 0;
	int rc;

	rc = text ? snapmap_load_text(fx->map, files[f], &version, &err) :
		    snapmap_load(fx->map, files[f], &version, &err);
	cr_assert_eq(err.code, rc, CTX_FMT "err.code %d, returned %d", CTX,
		     err.code, rc);
	return rc;
}

static int op_load_big_bin(struct fx *fx)
{
	return load(fx, F_BIG_BIN, false);
}

static int op_load_big_txt(struct fx *fx)
{
	return load(fx, F_BIG_TXT, true);
}

static int op_load_one_bin(struct fx *fx)
{
	return load(fx, F_ONE_BIN, false);
}

static int op_load_one_txt(struct fx *fx)
{
	return load(fx, F_ONE_TXT, true);
}

static int op_load_empty_bin(struct fx *fx)
{
	return load(fx, F_EMPTY_BIN, false);
}

static int op_load_empty_txt(struct fx *fx)
{
	return load(fx, F_EMPTY_TXT, true);
}

/* ------------------------------------------------------------------ */
/* The harness                                                         */
/* ------------------------------------------------------------------ */

struct fault_case {
	const char *name;
	enum prep prep;
	void (*stage)(struct fx *fx);	/* optional, not counted */
	int (*run)(struct fx *fx);	/* the operation under test */
	int expect;			/* its return without failures */
	long chunks;			/* chunks after it, or ANY */
	bool no_alloc;			/* must make no allocation */
};

#define ANY	(-1L)	/* chunk count not checked */

/* (operation, k) pairs checked by this process, for the log. */
static unsigned long pairs_checked;

/*
 * How many values @c's operation hands the map.  The destructor runs once
 * on every value handed to a write that no snapshot stores, so a call
 * that fails runs it this many times.  A batch commit hands none: a
 * failed commit leaves its values staged.
 */
static unsigned long values_handed(const struct fault_case *c)
{
	static int (*const one_value[])(struct fx *) = {
		op_put_new, op_put_first, op_put_split, op_put_if_absent_new,
		op_put_if_absent_first, op_replace_first, op_cas_first,
		op_cas_mismatch, op_update_set, op_add_first, op_add_new,
	};

	for (size_t i = 0; i < sizeof(one_value) / sizeof(one_value[0]); i++)
		if (c->run == one_value[i])
			return 1;
	return 0;
}

static void open_case(struct fx *fx, const struct fault_case *c)
{
	prepare(fx, c->prep);
	if (c->stage)
		c->stage(fx);
}

static void run_case(const struct fault_case *c)
{
	/* Static, so that what a failed assertion leaves behind stays
	 * reachable and valgrind reports only what the library lost. */
	static struct dump before, want, now;
	static struct fx fx;
	unsigned long n, calls0, inj0, d_ref, d0;
	int rc_ref, rc;

	cur_case = c->name;

	/* 1. Reference run, no failure: N, the result, the dump after. */
	cur_k = 0;
	open_case(&fx, c);
	dump_take(fx.map, &before);
	calls0 = sm_alloc_calls();
	rc_ref = c->run(&fx);
	n = sm_alloc_calls() - calls0;
	cr_assert_eq(rc_ref, c->expect, CTX_FMT "returned %d, expected %d",
		     CTX, rc_ref, c->expect);
	if (c->no_alloc)
		cr_assert_eq(n, 0, CTX_FMT "made %lu allocations, expected "
			     "none", CTX, n);
	dump_take(fx.map, &want);
	if (rc_ref)
		/* A write that fails its condition changes nothing. */
		dump_assert_eq(&want, &before, "failed condition");
	if (c->chunks != ANY)
		cr_assert_eq(nchunks(fx.map), (size_t)c->chunks,
			     CTX_FMT "%zu chunks after, expected %ld", CTX,
			     nchunks(fx.map), c->chunks);
	probe(&fx);
	d_ref = finish(&fx);

	/* 2. Fail each allocation in turn. */
	for (unsigned long k = 1; k <= n; k++) {
		cur_k = k;
		open_case(&fx, c);
		dump_take(fx.map, &before);
		/* Reclamation of the preparation done: from here on the
		 * destructor count can only move because of the call. */
		run_queued();
		d0 = destroyed_now();
		inj0 = sm_alloc_injected();
		calls0 = sm_alloc_calls();

		sm_alloc_fail_at(k);
		rc = c->run(&fx);
		sm_alloc_fail_at(0);

		cr_assert_eq(sm_alloc_injected(), inj0 + 1,
			     CTX_FMT "allocation #%lu not reached (%lu made)",
			     CTX, k, sm_alloc_calls() - calls0);
		cr_assert_eq(rc, -ENOMEM, CTX_FMT "returned %d, not -ENOMEM",
			     CTX, rc);
		dump_take(fx.map, &now);
		dump_assert_eq(&now, &before, "after the failure");
		run_queued();
		cr_assert_eq(destroyed_now() - d0, values_handed(c),
			     CTX_FMT "the failed call ran %lu value "
			     "destructors, expected %lu", CTX,
			     destroyed_now() - d0, values_handed(c));

		rc = c->run(&fx);
		cr_assert_eq(rc, rc_ref, CTX_FMT "retry returned %d, expected "
			     "%d", CTX, rc, rc_ref);
		dump_take(fx.map, &now);
		dump_assert_eq(&now, &want, "after the retry");
		probe(&fx);
		d0 = finish(&fx);
		cr_assert_eq(d0, d_ref + values_handed(c), CTX_FMT "%lu value "
			     "destructor calls, expected %lu", CTX, d0,
			     d_ref + values_handed(c));
		pairs_checked++;
	}

	/* 3. No allocation: an armed failure must stay unused. */
	if (n == 0) {
		cur_k = 1;
		open_case(&fx, c);
		inj0 = sm_alloc_injected();
		sm_alloc_fail_at(1);
		rc = c->run(&fx);
		cr_assert_eq(sm_alloc_injected(), inj0,
			     CTX_FMT "an operation said to allocate nothing "
			     "allocated", CTX);
		sm_alloc_fail_at(0);
		cr_assert_eq(rc, rc_ref, CTX_FMT "returned %d, expected %d",
			     CTX, rc, rc_ref);
		dump_take(fx.map, &now);
		dump_assert_eq(&now, &want, "no allocation");
		probe(&fx);
		cr_assert_eq(finish(&fx), d_ref);
		pairs_checked++;
	}

	cr_log_info("%s: %lu allocations, each failed in turn", c->name, n);
	dump_free(&before);
	dump_free(&want);
	dump_free(&now);
}

static void setup(void)
{
	/* Release behaviour: a debug build would keep destroyed maps,
	 * poisoned, until exit, and the leak check would count them. */
	setenv("SNAPMAP_DEBUG", "0", 1);
	fault_flavor_init();
	rcu_register_thread();
}

static void teardown(void)
{
	if (pairs_checked)
		cr_log_info("(operation, k) pairs checked: %lu",
			    pairs_checked);
	rcu_unregister_thread();
}

static void setup_files(void)
{
	setup();
	files_make();
}

static void teardown_files(void)
{
	files_remove();
	teardown();
}

/* Every test names its own .init and .fini (none at the suite level, so
 * that the thread is registered exactly once whatever the order). */
TestSuite(fault, .timeout = FAULT_TIMEOUT);

/*
 * Criterion hands a parameter to the test's process byte for byte, and
 * that process is a new exec of this binary: pointers (the names, the
 * functions) would not survive address randomization.  A parameter is
 * therefore an index into one of the tables below.
 */
#define CASE_PARAMS(table)						\
	do {								\
		static int idx_[sizeof(table) / sizeof((table)[0])];	\
									\
		for (size_t i_ = 0; i_ < sizeof(idx_) / sizeof(*idx_);	\
		     i_++)						\
			idx_[i_] = (int)i_;				\
		return cr_make_param_array(int, idx_, sizeof(idx_) /	\
					   sizeof(idx_[0]));		\
	} while (0)

/* ------------------------------------------------------------------ */
/* The seam itself                                                     */
/* ------------------------------------------------------------------ */

Test(fault, seam, .init = setup, .fini = teardown)
{
	unsigned long c0 = sm_alloc_calls(), i0 = sm_alloc_injected();
	long live0 = sm_alloc_live();
	void *p[4];

	/* The third allocation from now fails, once. */
	sm_alloc_fail_at(3);
	p[0] = sm_alloc(16);
	p[1] = sm_calloc(2, 8);
	p[2] = sm_alloc(16);
	p[3] = sm_calloc(1, 1);
	cr_assert(p[0] && p[1] && !p[2] && p[3]);
	cr_assert_eq(sm_alloc_calls(), c0 + 4);
	cr_assert_eq(sm_alloc_injected(), i0 + 1);
	cr_assert_eq(sm_alloc_live(), live0 + 3);
	for (int i = 0; i < 4; i++)
		sm_free(p[i]);
	cr_assert_eq(sm_alloc_live(), live0);

	/* 0 disarms. */
	sm_alloc_fail_at(1);
	sm_alloc_fail_at(0);
	p[0] = sm_alloc(1);
	cr_assert_not_null(p[0]);
	sm_free(p[0]);
	cr_assert_eq(sm_alloc_injected(), i0 + 1);

	/* Creating a map allocates; a failure there is ENOMEM. */
	c0 = sm_alloc_calls();
	{
		struct snapmap *map = snapmap_new(NULL);
		unsigned long made = sm_alloc_calls() - c0;

		cr_assert_not_null(map);
		cr_assert_eq(snapmap_destroy(map), 0);
		cr_assert_gt(made, 0);
		for (unsigned long k = 1; k <= made; k++) {
			sm_alloc_fail_at(k);
			errno = 0;
			map = snapmap_new(NULL);
			sm_alloc_fail_at(0);
			cr_assert_null(map, "snapmap_new survived failure %lu",
				       k);
			cr_assert_eq(errno, ENOMEM);
			cr_assert_eq(sm_alloc_live(), live0);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Pins never allocate                                                 */
/* ------------------------------------------------------------------ */

static const struct fault_case pin_cases[] = {
	{ "pin/empty", P_EMPTY, NULL, op_pin, 0, 0, true },
	{ "pin/one", P_ONE, NULL, op_pin, 0, 1, true },
	{ "pin/big", P_BIG, NULL, op_pin, 0, 3, true },
};

ParameterizedTestParameters(fault, pin)
{
	CASE_PARAMS(pin_cases);
}

ParameterizedTest(int *i, fault, pin, .init = setup,
		  .fini = teardown)
{
	run_case(&pin_cases[*i]);
}

/* Unpinning after the map moved on frees, and allocates nothing. */
Test(fault, unpin_allocates_nothing, .init = setup, .fini = teardown)
{
	struct fx fx;
	const struct snapmap_snapshot *a, *b;
	unsigned long c0;

	cur_case = "unpin";
	prepare(&fx, P_BIG);
	a = snapmap_pin(fx.map);
	cr_assert_eq(put_num(fx.map, K_NEW, 1), 0);
	b = snapmap_pin(fx.map);
	cr_assert_eq(del_num(&fx, K_MID), 0);
	c0 = sm_alloc_calls();
	sm_alloc_fail_at(1);
	snapmap_unpin(a);
	snapmap_unpin(b);
	sm_alloc_fail_at(0);
	cr_assert_eq(sm_alloc_calls(), c0);
	finish(&fx);
}

/* ------------------------------------------------------------------ */
/* Every write on the empty map and on a one-key map                   */
/* ------------------------------------------------------------------ */

static const struct fault_case small_maps_cases[] = {
	{ "empty/put", P_EMPTY, NULL, op_put_new, 0, 1, false },
	{ "empty/delete", P_EMPTY, NULL, op_delete_first, -ENOENT, 0,
	  false },
	{ "empty/put_if_absent", P_EMPTY, NULL, op_put_if_absent_new,
	  0, 1, false },
	{ "empty/replace", P_EMPTY, NULL, op_replace_first, -ENOENT,
	  0, false },
	{ "empty/cas", P_EMPTY, NULL, op_cas_first, -ENOENT, 0, false },
	{ "empty/update_set", P_EMPTY, NULL, op_update_set, 0, 1,
	  false },
	{ "empty/update_delete", P_EMPTY, NULL, op_update_delete, 0, 0,
	  false },
	{ "empty/add_i64", P_EMPTY, NULL, op_add_new, 0, 1, false },
	{ "empty/batch_random", P_EMPTY, stage_random, op_commit, 0, ANY,
	  false },
	{ "empty/load_one", P_EMPTY, NULL, op_load_one_bin, 0, 1,
	  false },
	{ "empty/load_text_one", P_EMPTY, NULL, op_load_one_txt, 0, 1,
	  false },
	{ "empty/load_empty", P_EMPTY, NULL, op_load_empty_bin, 0, 0,
	  false },
	{ "empty/load_text_empty", P_EMPTY, NULL, op_load_empty_txt, 0,
	  0, false },

	{ "one/put", P_ONE, NULL, op_put_new, 0, 1, false },
	{ "one/put_overwrite", P_ONE, NULL, op_put_first, 0, 1, false },
	{ "one/delete", P_ONE, NULL, op_delete_first, 0, 0, false },
	{ "one/delete_absent", P_ONE, NULL, op_delete_mid, -ENOENT, 1,
	  false },
	{ "one/put_if_absent", P_ONE, NULL, op_put_if_absent_new, 0, 1,
	  false },
	{ "one/put_if_absent_present", P_ONE, NULL,
	  op_put_if_absent_first, -EEXIST, 1, false },
	{ "one/replace", P_ONE, NULL, op_replace_first, 0, 1, false },
	{ "one/cas", P_ONE, NULL, op_cas_first, 0, 1, false },
	{ "one/cas_mismatch", P_ONE, NULL, op_cas_mismatch, -EAGAIN, 1,
	  false },
	{ "one/update_set", P_ONE, NULL, op_update_set, 0, 1, false },
	{ "one/update_delete", P_ONE, NULL, op_update_delete, 0, 0,
	  false },
	{ "one/update_keep", P_ONE, NULL, op_update_keep, 0, 1, true },
	{ "one/add_i64", P_ONE, NULL, op_add_first, 0, 1, false },
	{ "one/batch_random", P_ONE, stage_random, op_commit, 0, ANY,
	  false },
	{ "one/load_one", P_ONE, NULL, op_load_one_bin, 0, 1, false },
	{ "one/load_text_one", P_ONE, NULL, op_load_one_txt, 0, 1,
	  false },
	{ "one/load_empty", P_ONE, NULL, op_load_empty_bin, 0, 0,
	  false },
};

ParameterizedTestParameters(fault, small_maps)
{
	CASE_PARAMS(small_maps_cases);
}

ParameterizedTest(int *i, fault, small_maps,
		  .init = setup_files, .fini = teardown_files)
{
	run_case(&small_maps_cases[*i]);
}

/* ------------------------------------------------------------------ */
/* Single-key writes on the big maps, and the layout's reshaping ones */
/* ------------------------------------------------------------------ */

static const struct fault_case big_map_cases[] = {
	{ "big/put", P_BIG, NULL, op_put_new, 0, 3, false },
	{ "big/put_overwrite", P_BIG, NULL, op_put_first, 0, 3, false },
	{ "big/delete", P_BIG, NULL, op_delete_mid, 0, 3, false },
	{ "big/delete_absent", P_BIG, NULL, op_delete_new, -ENOENT, 3,
	  false },
	{ "big/put_if_absent", P_BIG, NULL, op_put_if_absent_new, 0, 3,
	  false },
	{ "big/put_if_absent_present", P_BIG, NULL,
	  op_put_if_absent_first, -EEXIST, 3, false },
	{ "big/replace", P_BIG, NULL, op_replace_first, 0, 3, false },
	{ "big/cas", P_BIG, NULL, op_cas_first, 0, 3, false },
	{ "big/cas_mismatch", P_BIG, NULL, op_cas_mismatch, -EAGAIN, 3,
	  false },
	{ "big/update_set", P_BIG, NULL, op_update_set, 0, 3, false },
	{ "big/update_delete", P_BIG, NULL, op_update_delete, 0, 3,
	  false },
	{ "big/update_keep", P_BIG, NULL, op_update_keep, 0, 3, true },
	{ "big/add_i64", P_BIG, NULL, op_add_first, 0, 3, false },
	{ "big/add_i64_new", P_BIG, NULL, op_add_new, 0, 3, false },
	/* SM_CHUNK_MAX + 1 entries: chunk 0 splits into three. */
	{ "big/put_splits_chunk", P_FULL_CHUNK, NULL, op_put_split, 0,
	  5, false },
	/* SM_CHUNK_MIN - 1 entries: chunk 0 absorbs chunk 1. */
	{ "big/delete_absorbs_chunk", P_MIN_CHUNK, NULL,
	  op_delete_absorb, 0, 2, false },
	/* The last chunk's only entry: the chunk goes. */
	{ "big/delete_empties_chunk", P_TINY_LAST, NULL,
	  op_delete_last, 0, 2, false },
};

ParameterizedTestParameters(fault, big_map)
{
	CASE_PARAMS(big_map_cases);
}

ParameterizedTest(int *i, fault, big_map, .init = setup,
		  .fini = teardown)
{
	run_case(&big_map_cases[*i]);
}

/* ------------------------------------------------------------------ */
/* Batch commits                                                       */
/* ------------------------------------------------------------------ */

static const struct fault_case batch_cases[] = {
	{ "batch/random", P_BIG, stage_random, op_commit, 0, ANY, false },
	{ "batch/mixed", P_BIG, stage_mixed, op_commit, 0, ANY, false },
	{ "batch/delete_chunk", P_BIG, stage_chunk, op_commit, 0, 2,
	  false },
	{ "batch/conflict", P_BIG, stage_conflict, op_commit, -EEXIST,
	  3, false },
	{ "batch/random_full_chunk", P_FULL_CHUNK, stage_random,
	  op_commit, 0, ANY, false },
	{ "batch/random_min_chunk", P_MIN_CHUNK, stage_random,
	  op_commit, 0, ANY, false },
};

ParameterizedTestParameters(fault, batch)
{
	CASE_PARAMS(batch_cases);
}

ParameterizedTest(int *i, fault, batch, .init = setup,
		  .fini = teardown)
{
	run_case(&batch_cases[*i]);
}

/* ------------------------------------------------------------------ */
/* Loads of files of NKEYS entries                                     */
/* ------------------------------------------------------------------ */

static const struct fault_case load_cases[] = {
	{ "load/big_into_empty", P_EMPTY, NULL, op_load_big_bin, 0, 2,
	  false },
	{ "load/big_into_big", P_BIG, NULL, op_load_big_bin, 0, 2,
	  false },
	{ "load/one_into_big", P_BIG, NULL, op_load_one_bin, 0, 1,
	  false },
	{ "load/empty_into_big", P_BIG, NULL, op_load_empty_bin, 0, 0,
	  false },
	{ "load_text/big_into_empty", P_EMPTY, NULL, op_load_big_txt, 0,
	  2, false },
	{ "load_text/big_into_big", P_BIG, NULL, op_load_big_txt, 0, 2,
	  false },
	{ "load_text/one_into_big", P_BIG, NULL, op_load_one_txt, 0, 1,
	  false },
	{ "load_text/empty_into_big", P_BIG, NULL, op_load_empty_txt,
	  0, 0, false },
};

ParameterizedTestParameters(fault, load)
{
	CASE_PARAMS(load_cases);
}

ParameterizedTest(int *i, fault, load, .init = setup_files,
		  .fini = teardown_files)
{
	run_case(&load_cases[*i]);
}

/* ------------------------------------------------------------------ */
/* Chunk shapes around big values (not a fault case: it needs the       */
/* chunk count, which only the test build of the library shows)        */
/* ------------------------------------------------------------------ */

/*
 * The layout cuts a run whose records pass SM_ARENA_MAX bytes where they
 * pass SM_ARENA_TARGET: a value of megabytes gets a chunk of its own and
 * its small neighbours stay in chunks of their usual size, instead of
 * the whole run being cut into as many equal pieces as the bytes ask for.
 */
Test(layout_shape, big_value_stands_alone, .init = setup, .fini = teardown)
{
	enum { N = 20000 };
	struct snapmap *map = snapmap_new(NULL);
	struct snapmap_batch *b = snapmap_batch_new(map);
	size_t before, big = (size_t)8 << 20;
	unsigned char *val = calloc(1, big);
	char key[32];

	cr_assert(map && b && val);
	for (unsigned i = 0; i < N; i++) {
		uint64_t v = i;

		snprintf(key, sizeof(key), "key:%010u", i * 2);
		cr_assert_eq(snapmap_batch_put(b, key, 14, &v, sizeof(v)), 0);
	}
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	before = nchunks(map);

	snprintf(key, sizeof(key), "key:%010u", N + 1);	/* mid-map */
	cr_assert_eq(snapmap_put(map, key, 14, val, big), 0);
	cr_assert_leq(nchunks(map), before + 2,
		      "%zu chunks before an 8 MiB value, %zu after", before,
		      nchunks(map));
	cr_assert_eq(chunk_size_of(map, key), 1, "the big value shares its "
		     "chunk with %zu others", chunk_size_of(map, key) - 1);
	/* Writes next to it leave it alone (no absorbing it either). */
	for (unsigned i = N - 4; i <= N + 6; i += 2) {
		char near[32];
		uint64_t v = i;

		snprintf(near, sizeof(near), "key:%010u", i);
		cr_assert_eq(snapmap_put(map, near, 14, &v, sizeof(v)), 0);
		cr_assert_gt(chunk_size_of(map, near), 1);
	}
	cr_assert_eq(chunk_size_of(map, key), 1);
	snprintf(key, sizeof(key), "key:%010u", N + 3);
	cr_assert_eq(snapmap_put(map, key, 14, val, big / 2), 0);
	cr_assert_leq(nchunks(map), before + 4);
	cr_assert_eq(count_of(map), N + 2);

	snprintf(key, sizeof(key), "key:%010u", N + 1);
	cr_assert_eq(snapmap_delete(map, key, 14), 0);
	snprintf(key, sizeof(key), "key:%010u", N + 3);
	cr_assert_eq(snapmap_delete(map, key, 14), 0);
	cr_assert_leq(nchunks(map), before + 2);
	snapmap_batch_free(b);
	cr_assert_eq(snapmap_destroy(map), 0);
	free(val);
}
