/*
 * util.h - helpers shared by the bounded concurrency ("torture") tests.
 *
 * Every test here runs a bounded number of operations on a few threads
 * that start together (a start barrier), checks invariants that follow
 * from the contract in include/snapmap.h, and never looks at a clock.
 *
 * Worker threads must not call cr_assert(): Criterion aborts a test by
 * longjmp()ing to a jump buffer on the main thread's stack.  Workers
 * check with ST_CHECK(), which records the first failure (file, line,
 * message) and tells every thread to stop; the main thread joins them and
 * then calls st_assert_no_failure(), which fails the test with that
 * message.
 *
 * Flavors: this file includes only <urcu/flavor.h> (through snapmap.h).
 * Each flavor header (<urcu/urcu-memb.h>, <urcu/urcu-qsbr.h>, ...) maps
 * the generic names (rcu_read_lock, call_rcu, rcu_flavor, ...) to its own
 * symbols with macros, so two of them cannot be included in one
 * translation unit.  The tests reach every flavor through its exported
 * struct rcu_flavor_struct and call its function pointers instead.
 */
#ifndef SNAPMAP_TESTS_STRESS_UTIL_H
#define SNAPMAP_TESTS_STRESS_UTIL_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ST_PLAIN
# include "plain.h"	/* the runner for ThreadSanitizer builds */
#else
# include <criterion/criterion.h>
# include <criterion/parameterized.h>
#endif

#include "snapmap.h"

#include "../contract.h"

#include "tsan.h"

/* ------------------------------------------------------------------ */
/* Flavors                                                             */
/* ------------------------------------------------------------------ */

/* Defined by liburcu.so (memb), liburcu-qsbr.so, liburcu-bp.so and
 * liburcu-mb.so. */
extern const struct rcu_flavor_struct urcu_memb_flavor;
extern const struct rcu_flavor_struct urcu_qsbr_flavor;
extern const struct rcu_flavor_struct urcu_bp_flavor;
extern const struct rcu_flavor_struct urcu_mb_flavor;

/*
 * Parameterized tests carry a flavor as this enum, not as a pointer: the
 * parameter is copied into the test's process, where only plain values
 * are sure to mean the same thing.
 */
enum st_flavor {
	ST_MEMB,
	ST_QSBR,
	ST_BP,
	ST_MB,
};

static inline const struct rcu_flavor_struct *st_flavor(enum st_flavor f)
{
	switch (f) {
	case ST_MEMB:
		return &urcu_memb_flavor;
	case ST_QSBR:
		return &urcu_qsbr_flavor;
	case ST_BP:
		return &urcu_bp_flavor;
	case ST_MB:
		return &urcu_mb_flavor;
	}
	cr_assert_fail("unknown flavor %d", (int)f);
	return NULL;
}

static inline const char *st_flavor_name(enum st_flavor f)
{
	static const char *const names[] = { "memb", "qsbr", "bp", "mb" };

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

/* ------------------------------------------------------------------ */
/* Failures recorded by worker threads                                 */
/* ------------------------------------------------------------------ */

struct st_failure {
	pthread_mutex_t lock;
	atomic_bool failed;
	char msg[1024];
};

static struct st_failure st_failure = { .lock = PTHREAD_MUTEX_INITIALIZER };

__attribute__((format(printf, 3, 4)))
static inline void st_fail_record(const char *file, int line,
				  const char *fmt, ...)
{
	va_list ap;
	int n;

	pthread_mutex_lock(&st_failure.lock);
	if (!atomic_load(&st_failure.failed)) {
		n = snprintf(st_failure.msg, sizeof(st_failure.msg), "%s:%d: ",
			     file, line);
		if (n < 0)
			n = 0;
		if ((size_t)n < sizeof(st_failure.msg)) {
			va_start(ap, fmt);
			vsnprintf(st_failure.msg + n,
				  sizeof(st_failure.msg) - (size_t)n, fmt, ap);
			va_end(ap);
		}
		atomic_store(&st_failure.failed, true);
	}
	pthread_mutex_unlock(&st_failure.lock);
}

/*
 * ST_CHECK(cond, fmt, ...) - evaluates to true when @cond holds; else
 * records the failure (the first one wins) and evaluates to false.  For
 * worker threads: `if (!ST_CHECK(...)) return false;`.
 */
#define ST_CHECK(cond, ...) \
	((cond) ? true : (st_fail_record(__FILE__, __LINE__, __VA_ARGS__), false))

/* Whether some thread recorded a failure (workers stop early then). */
static inline bool st_failed(void)
{
	return atomic_load(&st_failure.failed);
}

/*
 * The .init fixture of every stress test: start with no failure recorded
 * (each test normally runs in a process of its own, but not under
 * Criterion's --debug or with a runner that reuses the process).
 */
static inline void st_test_init(void)
{
	pthread_mutex_lock(&st_failure.lock);
	atomic_store(&st_failure.failed, false);
	st_failure.msg[0] = '\0';
	pthread_mutex_unlock(&st_failure.lock);
}

/* Main thread, after joining the workers. */
static inline void st_assert_no_failure(void)
{
	bool failed;
	char msg[sizeof(st_failure.msg)];

	pthread_mutex_lock(&st_failure.lock);
	failed = atomic_load(&st_failure.failed);
	memcpy(msg, st_failure.msg, sizeof(msg));
	pthread_mutex_unlock(&st_failure.lock);
	cr_assert(!failed, "worker thread failed: %s", msg);
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

/*
 * Blocking calls under qsbr: an online thread that blocks would stall
 * every grace period, so go offline around it.  thread_offline and
 * thread_online are no-ops in the other flavors.
 */
static inline void st_barrier_wait(const struct rcu_flavor_struct *fl,
				   pthread_barrier_t *b)
{
	fl->thread_offline();
	pthread_barrier_wait(b);
	fl->thread_online();
}

/*
 * First thing a worker does: register with the flavor (online, under
 * qsbr), then wait for the others so that they all run together.
 */
static inline void st_thread_begin(const struct rcu_flavor_struct *fl,
				   pthread_barrier_t *start)
{
	fl->register_thread();
	st_barrier_wait(fl, start);
}

static inline void st_thread_end(const struct rcu_flavor_struct *fl)
{
	fl->unregister_thread();
}

static inline void st_barrier_init(pthread_barrier_t *b, unsigned n)
{
	int rc = pthread_barrier_init(b, NULL, n);

	cr_assert_eq(rc, 0, "pthread_barrier_init: %s", strerror(rc));
}

static inline void st_spawn(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	int rc = pthread_create(tid, NULL, fn, arg);

	cr_assert_eq(rc, 0, "pthread_create: %s", strerror(rc));
}

/* Joins @n threads; the caller (a registered thread) is offline meanwhile. */
static inline void st_join(const struct rcu_flavor_struct *fl,
			   const pthread_t *tids, size_t n)
{
	size_t i;
	int rc;

	fl->thread_offline();
	for (i = 0; i < n; i++) {
		rc = pthread_join(tids[i], NULL);
		cr_assert_eq(rc, 0, "pthread_join: %s", strerror(rc));
	}
	fl->thread_online();
}

/*
 * Ends a read-side critical section in which this thread read bytes of
 * @snap itself after its last library call on @snap (see tsan.h).
 */
static inline void st_read_unlock(const struct rcu_flavor_struct *fl,
				  const struct snapmap_snapshot *snap)
{
	st_tsan_read_done(snap);
	fl->read_unlock();
}

/* ------------------------------------------------------------------ */
/* Maps                                                                */
/* ------------------------------------------------------------------ */

static inline struct snapmap *st_map_new(const struct rcu_flavor_struct *fl,
					 const struct snapmap_config *cfg)
{
	struct snapmap *map = snapmap_new_flavor(cfg, fl);

	cr_assert_not_null(map, "snapmap_new_flavor: %s", strerror(errno));
	return map;
}

static inline void st_map_destroy(struct snapmap *map)
{
	int rc = snapmap_destroy(map);

	cr_assert_eq(rc, 0, "snapmap_destroy: %d (%s)", rc, strerror(-rc));
}

/* ------------------------------------------------------------------ */
/* Pseudo-random numbers (splitmix64): reproducible per thread seed    */
/* ------------------------------------------------------------------ */

static inline uint64_t st_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t st_rand_below(uint64_t *state, uint64_t n)
{
	return st_rand(state) % n;
}

/*
 * On a 2-core machine a thread often runs its whole share in one time
 * slice.  Yielding now and then, inside a race window (between a read and
 * the commit that depends on it, in the middle of a scan), lets the other
 * threads in there.  It changes the interleavings, never what is checked.
 */
static inline void st_maybe_yield(uint64_t *state, unsigned one_in)
{
	if (st_rand_below(state, one_in) == 0)
		sched_yield();
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

static inline bool st_bytes_eq(const void *a, size_t alen,
			       const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/*
 * Binary keys with prefix relations: key @id has length 1 + id % 5 and
 * its bytes depend on id / 5 and the position only, so keys 5b .. 5b+4
 * are prefixes of one another.  Bytes run over 0x00 .. 0xff (a signed
 * char comparison would misorder them).  Distinct ids give distinct keys.
 */
#define ST_KEY_MAX	8

static inline size_t st_key(unsigned id, unsigned char *buf)
{
	unsigned base = id / 5;
	size_t len = 1 + id % 5, j;

	for (j = 0; j < len; j++)
		buf[j] = (unsigned char)(base * 0x35u + j * 0x9du +
					 (j ? base * 0x11u : 0));
	return len;
}

/* ------------------------------------------------------------------ */
/* Self-checking values                                                */
/* ------------------------------------------------------------------ */

/*
 * A value says which key it was written for, by which writer, at which
 * of that writer's sequence numbers; its length and payload follow from
 * those, and a checksum covers the header.  A value that decodes was
 * written whole by the writer it names.
 */
#define ST_VALUE_MAGIC		0x534d5641u	/* "SMVA" */
#define ST_VALUE_PAYLOAD_MAX	41
#define ST_VALUE_MAX		(sizeof(struct st_value_hdr) + ST_VALUE_PAYLOAD_MAX)

struct st_value_hdr {
	uint32_t magic;
	uint32_t key_id;
	uint32_t writer;
	uint32_t len;		/* the whole value's length */
	uint64_t seq;
	uint64_t sum;
};

struct st_value_info {
	unsigned key_id;
	unsigned writer;
	uint64_t seq;
};

static inline uint64_t st_value_sum(const struct st_value_hdr *h)
{
	uint64_t s = 1469598103934665603ull;

	s = (s ^ h->magic) * 1099511628211ull;
	s = (s ^ h->key_id) * 1099511628211ull;
	s = (s ^ h->writer) * 1099511628211ull;
	s = (s ^ h->len) * 1099511628211ull;
	s = (s ^ h->seq) * 1099511628211ull;
	return s;
}

static inline unsigned char st_payload_byte(const struct st_value_info *vi,
					    size_t i)
{
	return (unsigned char)(vi->seq + vi->key_id * 3u + vi->writer * 5u +
			       i * 11u);
}

/* Encodes @vi into @buf (ST_VALUE_MAX bytes); returns the length. */
static inline size_t st_value_encode(const struct st_value_info *vi,
				     unsigned char *buf)
{
	struct st_value_hdr h;
	size_t plen = (size_t)((vi->seq * 7u + vi->key_id) %
			       (ST_VALUE_PAYLOAD_MAX + 1)), i;

	memset(&h, 0, sizeof(h));
	h.magic = ST_VALUE_MAGIC;
	h.key_id = vi->key_id;
	h.writer = vi->writer;
	h.len = (uint32_t)(sizeof(h) + plen);
	h.seq = vi->seq;
	h.sum = st_value_sum(&h);
	memcpy(buf, &h, sizeof(h));
	for (i = 0; i < plen; i++)
		buf[sizeof(h) + i] = st_payload_byte(vi, i);
	return sizeof(h) + plen;
}

/* Decodes and verifies a value; false if it is not one st_value_encode made. */
static inline bool st_value_decode(const void *val, size_t vlen,
				   struct st_value_info *vi)
{
	struct st_value_hdr h;
	const unsigned char *p = val;
	size_t i;

	if (!val || vlen < sizeof(h) || vlen > ST_VALUE_MAX)
		return false;
	memcpy(&h, val, sizeof(h));
	if (h.magic != ST_VALUE_MAGIC || h.len != vlen ||
	    h.sum != st_value_sum(&h))
		return false;
	vi->key_id = h.key_id;
	vi->writer = h.writer;
	vi->seq = h.seq;
	if (vlen - sizeof(h) != (size_t)((vi->seq * 7u + vi->key_id) %
					 (ST_VALUE_PAYLOAD_MAX + 1)))
		return false;
	for (i = sizeof(h); i < vlen; i++)
		if (p[i] != st_payload_byte(vi, i - sizeof(h)))
			return false;
	return true;
}

/* 8-byte native-order integers (counters, balances). */
static inline int64_t st_i64(const void *val)
{
	int64_t v;

	memcpy(&v, val, sizeof(v));
	return v;
}

/* ------------------------------------------------------------------ */
/* Snapshot validation                                                 */
/* ------------------------------------------------------------------ */

/*
 * Called for every entry of a snapshot in key order; @index is its
 * position.  Returns false after recording a failure with ST_CHECK.
 */
typedef bool (*st_entry_check_fn)(const struct snapmap_kv *kv, size_t index,
				  void *ctx);

struct st_snap_info {
	uint64_t version;
	size_t count;
	uint64_t digest;	/* st_snapshot_digest() of the snapshot */
};

/*
 * A digest of a snapshot's contents: every key and value, in order.  Two
 * snapshots with the same version must have the same digest.
 */
#define ST_DIGEST_INIT	1469598103934665603ull

static inline uint64_t st_digest_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	h = (h ^ n) * 1099511628211ull;
	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static inline uint64_t st_digest_entry(uint64_t h, const struct snapmap_kv *kv)
{
	return st_digest_bytes(st_digest_bytes(h, kv->key, kv->klen),
			       kv->val, kv->vlen);
}

/* Call inside a read-side critical section or on a pinned snapshot. */
static inline uint64_t st_snapshot_digest(const struct snapmap_snapshot *snap)
{
	struct snapmap_iter it;
	struct snapmap_kv kv;
	uint64_t h = ST_DIGEST_INIT;
	int rc;

	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv))
		h = st_digest_entry(h, &kv);
	return h;
}

/*
 * The digest of every version some thread has seen, shared by all
 * threads of a test: a version names one content, whoever looks at it.
 * @digests: @n zeroed slots (0: not seen yet).
 */
struct st_version_log {
	_Atomic uint64_t *digests;
	size_t n;
};

/* Worker-safe: records or compares; false after recording a failure. */
static inline bool st_version_log_check(struct st_version_log *log,
					uint64_t version, uint64_t digest)
{
	uint64_t seen = 0;

	digest |= 1;	/* never 0, the "not seen" mark */
	if (!ST_CHECK(version < log->n, "version %" PRIu64 " beyond the %zu "
		      "publishes this test can make", version, log->n))
		return false;
	if (atomic_compare_exchange_strong(&log->digests[version], &seen,
					   digest))
		return true;
	return ST_CHECK(seen == digest, "two snapshots with version %" PRIu64
			" hold different contents", version);
}

#define ST_SEEK_KEY_MAX	64

/*
 * st_validate_snapshot - check one snapshot against the header's contract
 * (the map must use the default bytewise order):
 *  - iteration is strictly increasing in key order and yields exactly
 *    snapmap_count() entries, then -ENOENT again and again;
 *  - every value is aligned to max_align_t;
 *  - snapmap_find() of every iterated key yields the same value bytes;
 *  - snapmap_iter_seek() to a middle key lands on it and continues with
 *    its successor; a seek just past it lands on the successor;
 *  - version and count do not change while we look;
 *  - @check (if any) accepts every entry.
 * @info, if not NULL, receives version, count and digest.
 * Call inside a read-side critical section or on a pinned snapshot.
 * Returns false after recording a failure.
 */
static inline bool st_validate_snapshot(const struct snapmap_snapshot *snap,
					size_t max_entries,
					st_entry_check_fn check, void *ctx,
					struct st_snap_info *info)
{
	struct snapmap_iter it;
	struct snapmap_kv kv, prev = { 0 }, mid = { 0 }, after_mid = { 0 };
	unsigned char seek_key[ST_SEEK_KEY_MAX];
	const void *fval;
	size_t fvlen, n = 0, count, mid_index;
	uint64_t version, digest = ST_DIGEST_INIT;
	int rc;

	if (!ST_CHECK(snap != NULL, "NULL snapshot"))
		return false;
	version = snapmap_version(snap);
	count = snapmap_count(snap);
	if (!ST_CHECK(count <= max_entries,
		      "snapshot v%" PRIu64 " has %zu entries, at most %zu possible",
		      version, count, max_entries))
		return false;
	mid_index = count / 2;

	rc = snapmap_iter_first(snap, &it, &kv);
	if (!ST_CHECK(rc == (count ? 0 : -ENOENT),
		      "iter_first on v%" PRIu64 " (count %zu) returned %d",
		      version, count, rc))
		return false;
	while (rc == 0) {
		if (!ST_CHECK(n < count, "v%" PRIu64 ": iteration yields more "
			      "than count=%zu entries", version, count))
			return false;
		if (!ST_CHECK(kv.key != NULL || kv.klen == 0,
			      "v%" PRIu64 ": entry %zu has a NULL key", version, n))
			return false;
		if (!ST_CHECK(kv.val != NULL && (uintptr_t)kv.val %
			      contract_value_align(kv.vlen) == 0,
			      "v%" PRIu64 ": entry %zu value %p not aligned to %zu",
			      version, n, kv.val, contract_value_align(kv.vlen)))
			return false;
		if (n > 0 &&
		    !ST_CHECK(contract_bytewise_cmp(prev.key, prev.klen,
					      kv.key, kv.klen) < 0,
			      "v%" PRIu64 ": entry %zu (klen %zu) does not sort "
			      "after entry %zu (klen %zu)", version, n, kv.klen,
			      n - 1, prev.klen))
			return false;
		rc = snapmap_find(snap, kv.key, kv.klen, &fval, &fvlen);
		if (!ST_CHECK(rc == 0, "v%" PRIu64 ": find of iterated entry %zu "
			      "returned %d", version, n, rc))
			return false;
		if (!ST_CHECK(st_bytes_eq(fval, fvlen, kv.val, kv.vlen),
			      "v%" PRIu64 ": find of entry %zu gives another value "
			      "(%zu vs %zu bytes)", version, n, fvlen, kv.vlen))
			return false;
		if (check && !check(&kv, n, ctx))
			return false;
		digest = st_digest_entry(digest, &kv);
		if (n == mid_index)
			mid = kv;
		else if (n == mid_index + 1)
			after_mid = kv;
		prev = kv;
		n++;
		rc = snapmap_iter_next(&it, &kv);
	}
	if (!ST_CHECK(rc == -ENOENT, "v%" PRIu64 ": iter_next returned %d",
		      version, rc))
		return false;
	if (!ST_CHECK(n == count, "v%" PRIu64 ": iterated %zu entries, "
		      "snapmap_count says %zu", version, n, count))
		return false;
	rc = snapmap_iter_next(&it, &kv);
	if (!ST_CHECK(rc == -ENOENT, "v%" PRIu64 ": iter_next past the end "
		      "returned %d the second time", version, rc))
		return false;

	if (count > 0) {
		/* Seek to the middle key: it, then its successor. */
		rc = snapmap_iter_seek(snap, &it, mid.key, mid.klen, &kv);
		if (!ST_CHECK(rc == 0 && st_bytes_eq(kv.key, kv.klen,
						     mid.key, mid.klen),
			      "v%" PRIu64 ": seek to entry %zu failed (%d)",
			      version, mid_index, rc))
			return false;
		rc = snapmap_iter_next(&it, &kv);
		if (mid_index + 1 < count) {
			if (!ST_CHECK(rc == 0 && st_bytes_eq(kv.key, kv.klen,
							     after_mid.key,
							     after_mid.klen),
				      "v%" PRIu64 ": next after seek is not entry "
				      "%zu (%d)", version, mid_index + 1, rc))
				return false;
		} else if (!ST_CHECK(rc == -ENOENT, "v%" PRIu64 ": next after "
				     "seek to the last entry returned %d",
				     version, rc)) {
			return false;
		}
		/* key || 0x00 is the smallest key above key. */
		if (!ST_CHECK(mid.klen < sizeof(seek_key),
			      "key of %zu bytes too long for the seek check",
			      mid.klen))
			return false;
		if (mid.klen)
			memcpy(seek_key, mid.key, mid.klen);
		seek_key[mid.klen] = 0;
		rc = snapmap_iter_seek(snap, &it, seek_key, mid.klen + 1, &kv);
		if (mid_index + 1 < count) {
			if (!ST_CHECK(rc == 0 && st_bytes_eq(kv.key, kv.klen,
							     after_mid.key,
							     after_mid.klen),
				      "v%" PRIu64 ": seek past entry %zu does not "
				      "land on its successor (%d)", version,
				      mid_index, rc))
				return false;
		} else if (!ST_CHECK(rc == -ENOENT, "v%" PRIu64 ": seek past the "
				     "last key returned %d", version, rc)) {
			return false;
		}
	}

	if (!ST_CHECK(snapmap_version(snap) == version &&
		      snapmap_count(snap) == count,
		      "snapshot changed while read: v%" PRIu64 "/%zu then "
		      "v%" PRIu64 "/%zu", version, count, snapmap_version(snap),
		      snapmap_count(snap)))
		return false;
	if (info) {
		info->version = version;
		info->count = count;
		info->digest = digest;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */
/* ------------------------------------------------------------------ */

#define ST_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Operation counts are sized for a ThreadSanitizer build, which runs
 * instrumented code 5-15 times slower and whose value lies in seeing each
 * kind of interleaving rather than many of them; other builds repeat
 * ST_SCALE times as many operations to meet more interleavings.
 */
#ifdef ST_TSAN
# define ST_SCALE	1
#else
# define ST_SCALE	10
#endif

/* Safety net only: no test asserts anything about time. */
#define ST_TIMEOUT	120

#endif /* SNAPMAP_TESTS_STRESS_UTIL_H */
