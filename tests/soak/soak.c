/*
 * soak.c - readers, writers, batches and pins together, checking
 * invariants continuously, for a given time.
 *
 *   soak [--seconds N] [--keys N]      (default: 600 s, 20000 keys)
 *
 * Two maps, both under the memb flavor:
 *   bank   NACCOUNTS 8-byte balances whose sum never changes: transfer
 *          threads move amounts with version-conditioned batches (retrying
 *          on -ESTALE) or compare-and-swap batches; every snapshot a reader
 *          sees must sum to the total.  Counter threads snapmap_add_i64 on
 *          shared counters; at the end each equals the increments made.
 *   churn  keys "k:%08u" whose values name their key and a checksum:
 *          writers put and delete one key at a time or in batches; readers
 *          check every snapshot is sorted, holds as many entries as it
 *          says, carries only well-formed values and never goes back in
 *          version; pinners pin a snapshot, hand it to another thread,
 *          which checks after a while that it is unchanged and unpins it;
 *          a saver saves pinned snapshots (binary and text, in turn) and
 *          loads each file into a third map, which must then hold the
 *          same entries.
 *
 * Prints what it did and one closing line "soak: N passed, N failed", one
 * check per invariant family; exits 1 on any failure.  Run by `make soak`
 * (long) and by `make check` under ThreadSanitizer (short), where
 * Criterion's sandbox cannot start.
 */
#include <urcu.h>
#include <snapmap.h>

#include "../stress/tsan.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NACCOUNTS	64
#define INITIAL_BALANCE	1000
#define NCOUNTERS	4

enum check {
	BANK_TOTAL,		/* every snapshot sums to the total */
	COUNTERS,		/* no increment lost */
	SORTED,			/* snapshots sorted, count right */
	VALUES,			/* values well formed, match their key */
	VERSIONS,		/* a reader never sees an older version */
	PINS,			/* pinned snapshots never change */
	FILES,			/* a saved and loaded snapshot is the same */
	API,			/* every call returned what it may */
	NCHECKS
};

static const char *const check_names[NCHECKS] = {
	"bank total", "counters", "sorted", "values", "versions", "pins",
	"files", "api results",
};

static atomic_long failures[NCHECKS];
static atomic_int stop;
static atomic_long ops, versions_seen;
static struct snapmap *bank, *churn, *loaded;
static char save_dir[] = "/tmp/snapmap-soak.XXXXXX";
static unsigned nkeys = 20000;

static void fail(enum check c, const char *what, long a, long b)
{
	if (atomic_fetch_add(&failures[c], 1) < 5)
		fprintf(stderr, "soak: %s: %s (%ld, %ld)\n", check_names[c],
			what, a, b);
}

#define soak_assert(c, cond, a, b) \
	do { if (!(cond)) fail((c), #cond, (long)(a), (long)(b)); } while (0)

/* ------------------------------------------------------------------ */
/* Bank                                                                */
/* ------------------------------------------------------------------ */

static size_t account_key(char *buf, unsigned i)
{
	return (size_t)sprintf(buf, "acct:%03u", i);
}

static int64_t read_i64(const void *val)
{
	int64_t v;

	memcpy(&v, val, sizeof(v));
	return v;
}

/* Moves @amount from @a to @b; optimistic on the version, or by CAS. */
static void transfer(unsigned a, unsigned b, int64_t amount, bool by_cas,
		     struct snapmap_batch *batch)
{
	for (;;) {
		const struct snapmap_snapshot *snap;
		char ka[16], kb[16];
		size_t la = account_key(ka, a), lb = account_key(kb, b);
		int64_t va, vb, na, nb;
		const void *pa, *pb;
		uint64_t version;
		int rc;

		rcu_read_lock();
		snap = snapmap_snapshot(bank);
		version = snapmap_version(snap);
		rc = snapmap_find(snap, ka, la, &pa, NULL) |
		     snapmap_find(snap, kb, lb, &pb, NULL);
		soak_assert(API, rc == 0, rc, 0);
		va = read_i64(pa);
		vb = read_i64(pb);
		st_tsan_read_done(snap);
		rcu_read_unlock();

		na = va - amount;
		nb = vb + amount;
		if (by_cas) {
			snapmap_batch_compare_and_swap(batch, ka, la, &va, 8,
						       &na, 8);
			snapmap_batch_compare_and_swap(batch, kb, lb, &vb, 8,
						       &nb, 8);
		} else {
			snapmap_batch_require_version(batch, version);
			snapmap_batch_put(batch, ka, la, &na, 8);
			snapmap_batch_put(batch, kb, lb, &nb, 8);
		}
		rc = snapmap_batch_commit(batch, NULL, NULL);
		if (rc == 0)
			return;
		soak_assert(API, rc == (by_cas ? -EAGAIN : -ESTALE), rc, 0);
		snapmap_batch_abort(batch);
		if (atomic_load(&stop))
			return;
	}
}

static void *transfer_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	struct snapmap_batch *batch;

	rcu_register_thread();
	batch = snapmap_batch_new(bank);
	while (!atomic_load(&stop)) {
		unsigned a = (unsigned)rand_r(&seed) % NACCOUNTS;
		unsigned b = (a + 1 + (unsigned)rand_r(&seed) % (NACCOUNTS - 1)) %
			     NACCOUNTS;

		transfer(a, b, rand_r(&seed) % 50, seed & 1, batch);
		atomic_fetch_add(&ops, 1);
	}
	snapmap_batch_free(batch);
	rcu_unregister_thread();
	return NULL;
}

static long counter_adds[NCOUNTERS];	/* under counter_lock */
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;

static void *counter_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	long mine[NCOUNTERS] = { 0 };

	rcu_register_thread();
	while (!atomic_load(&stop)) {
		unsigned c = (unsigned)rand_r(&seed) % NCOUNTERS;
		char key[16];
		int rc;

		sprintf(key, "ctr:%u", c);
		rc = snapmap_add_i64(bank, key, strlen(key), 1, NULL);
		soak_assert(API, rc == 0, rc, c);
		if (rc == 0)
			mine[c]++;
		atomic_fetch_add(&ops, 1);
	}
	pthread_mutex_lock(&counter_lock);
	for (int c = 0; c < NCOUNTERS; c++)
		counter_adds[c] += mine[c];
	pthread_mutex_unlock(&counter_lock);
	rcu_unregister_thread();
	return NULL;
}

static void *bank_reader(void *arg)
{
	(void)arg;
	rcu_register_thread();
	while (!atomic_load(&stop)) {
		const struct snapmap_snapshot *snap;
		int64_t total = 0;

		rcu_read_lock();
		snap = snapmap_snapshot(bank);
		for (unsigned i = 0; i < NACCOUNTS; i++) {
			char key[16];
			size_t len = account_key(key, i);
			const void *val;

			if (snapmap_find(snap, key, len, &val, NULL) == 0)
				total += read_i64(val);
		}
		st_tsan_read_done(snap);
		rcu_read_unlock();
		soak_assert(BANK_TOTAL, total == NACCOUNTS * INITIAL_BALANCE, total,
		       NACCOUNTS * INITIAL_BALANCE);
		atomic_fetch_add(&ops, 1);
	}
	rcu_unregister_thread();
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Churn                                                               */
/* ------------------------------------------------------------------ */

struct churn_value {
	uint32_t key_id;
	uint32_t writer;
	uint64_t seq;
	uint64_t check;		/* mixes the three above */
};

static uint64_t value_check(const struct churn_value *v)
{
	return (v->key_id * 0x9e3779b97f4a7c15ull) ^ (v->seq << 7) ^ v->writer;
}

static size_t churn_key(char *buf, unsigned id)
{
	return (size_t)sprintf(buf, "k:%08u", id);
}

static void *churn_writer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	struct snapmap_batch *batch;
	uint64_t seq = 0;

	rcu_register_thread();
	batch = snapmap_batch_new(churn);
	while (!atomic_load(&stop)) {
		unsigned n = seed % 4 == 0 ? 1 + (unsigned)rand_r(&seed) % 200 : 1;

		for (unsigned i = 0; i < n; i++) {
			unsigned id = (unsigned)rand_r(&seed) % nkeys;
			struct churn_value v = { id, seed % 1000, ++seq, 0 };
			char key[16];
			size_t len = churn_key(key, id);
			int rc;

			v.check = value_check(&v);
			if (rand_r(&seed) % 3 == 0) {
				rc = n > 1 ? snapmap_batch_delete(batch, key, len)
					   : snapmap_delete(churn, key, len);
				soak_assert(API, rc == 0 || rc == -ENOENT, rc, id);
			} else {
				rc = n > 1 ? snapmap_batch_put(batch, key, len,
							       &v, sizeof(v))
					   : snapmap_put(churn, key, len, &v,
							 sizeof(v));
				soak_assert(API, rc == 0, rc, id);
			}
		}
		if (n > 1) {
			int rc = snapmap_batch_commit(batch, NULL, NULL);

			soak_assert(API, rc == 0, rc, n);
		}
		atomic_fetch_add(&ops, n);
	}
	snapmap_batch_free(batch);
	rcu_unregister_thread();
	return NULL;
}

/* Checks one snapshot; returns a checksum of its content. */
static uint64_t check_snapshot(const struct snapmap_snapshot *snap)
{
	struct snapmap_iter it;
	struct snapmap_kv kv, prev = { 0 };
	uint64_t sum = 0;		/* of the content only */
	size_t n = 0;
	int rc;

	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv), n++) {
		struct churn_value v;
		char key[16];

		if (n) {
			size_t m = prev.klen < kv.klen ? prev.klen : kv.klen;
			int c = memcmp(prev.key, kv.key, m);

			soak_assert(SORTED, c < 0 || (c == 0 && prev.klen < kv.klen),
			       n, c);
		}
		prev = kv;
		soak_assert(VALUES, kv.vlen == sizeof(v), kv.vlen, sizeof(v));
		if (kv.vlen != sizeof(v))
			continue;
		memcpy(&v, kv.val, sizeof(v));
		soak_assert(VALUES, v.check == value_check(&v), v.key_id, v.seq);
		soak_assert(VALUES, churn_key(key, v.key_id) == kv.klen &&
			       memcmp(key, kv.key, kv.klen) == 0, v.key_id, n);
		sum = sum * 31 + v.check;
	}
	soak_assert(API, rc == -ENOENT, rc, n);
	soak_assert(SORTED, n == snapmap_count(snap), n, snapmap_count(snap));
	return sum;
}

static void *churn_reader(void *arg)
{
	uint64_t last = 0;

	(void)arg;
	rcu_register_thread();
	while (!atomic_load(&stop)) {
		const struct snapmap_snapshot *snap;
		uint64_t version;

		rcu_read_lock();
		snap = snapmap_snapshot(churn);
		version = snapmap_version(snap);
		check_snapshot(snap);
		rcu_read_unlock();
		soak_assert(VERSIONS, version >= last, version, last);
		last = version;
		atomic_fetch_add(&versions_seen, 1);
	}
	rcu_unregister_thread();
	return NULL;
}

/* Pins travel from the pinner to the checker through this slot. */
struct handoff {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct snapmap_snapshot *snap;
	uint64_t sum;
	bool done;
};

static struct handoff handoff = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, false,
};

static void *pinner(void *arg)
{
	(void)arg;
	rcu_register_thread();
	while (!atomic_load(&stop)) {
		const struct snapmap_snapshot *snap = snapmap_pin(churn);
		uint64_t sum = check_snapshot(snap);

		/* Blocking: a memb thread may block outside a critical
		 * section; the pin, not RCU, keeps the snapshot. */
		pthread_mutex_lock(&handoff.lock);
		while (handoff.snap && !handoff.done)
			pthread_cond_wait(&handoff.cond, &handoff.lock);
		if (handoff.done) {
			pthread_mutex_unlock(&handoff.lock);
			snapmap_unpin(snap);
			break;
		}
		handoff.snap = snap;
		handoff.sum = sum;
		pthread_cond_broadcast(&handoff.cond);
		pthread_mutex_unlock(&handoff.lock);
		atomic_fetch_add(&ops, 1);
	}
	rcu_unregister_thread();
	return NULL;
}

static void *pin_checker(void *arg)
{
	(void)arg;
	rcu_register_thread();
	for (;;) {
		const struct snapmap_snapshot *snap;
		uint64_t sum;

		pthread_mutex_lock(&handoff.lock);
		while (!handoff.snap && !handoff.done)
			pthread_cond_wait(&handoff.cond, &handoff.lock);
		snap = handoff.snap;
		sum = handoff.sum;
		handoff.snap = NULL;
		pthread_cond_broadcast(&handoff.cond);
		pthread_mutex_unlock(&handoff.lock);
		if (!snap)
			break;
		usleep(1000);	/* let writers publish past it */
		soak_assert(PINS, check_snapshot(snap) == sum, 0, 0);
		snapmap_unpin(snap);
	}
	rcu_unregister_thread();
	return NULL;
}

/* Saves pinned snapshots and loads them into another map, in turn as
 * binary and as text files. */
static void *saver(void *arg)
{
	char path[64];
	unsigned round = 0;

	(void)arg;
	rcu_register_thread();
	snprintf(path, sizeof(path), "%s/churn.snap", save_dir);
	while (!atomic_load(&stop)) {
		const struct snapmap_snapshot *snap = snapmap_pin(churn);
		const struct snapmap_snapshot *back;
		bool text = round++ % 2;
		struct snapmap_error err;
		int rc;

		rc = text ? snapmap_save_text(snap, path, &err)
			  : snapmap_save(snap, path, &err);
		soak_assert(API, rc == 0, rc, text);
		if (rc == 0) {
			rc = text ? snapmap_load_text(loaded, path, NULL, &err)
				  : snapmap_load(loaded, path, NULL, &err);
			soak_assert(API, rc == 0, rc, text);
		}
		if (rc == 0) {
			back = snapmap_pin(loaded);
			soak_assert(FILES, snapmap_count(back) == snapmap_count(snap),
			       snapmap_count(back), snapmap_count(snap));
			soak_assert(FILES, check_snapshot(back) == check_snapshot(snap),
			       round, text);
			snapmap_unpin(back);
		}
		snapmap_unpin(snap);
		atomic_fetch_add(&ops, 1);
		usleep(20000);
	}
	unlink(path);
	rcu_unregister_thread();
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

static void setup(void)
{
	int64_t balance = INITIAL_BALANCE;

	bank = snapmap_new(NULL);
	churn = snapmap_new(NULL);
	loaded = snapmap_new(NULL);
	if (!bank || !churn || !loaded || !mkdtemp(save_dir)) {
		perror("soak: setup");
		exit(2);
	}
	for (unsigned i = 0; i < NACCOUNTS; i++) {
		char key[16];

		soak_assert(API, snapmap_put(bank, key, account_key(key, i),
					&balance, 8) == 0, i, 0);
	}
}

static void check_counters(void)
{
	for (int c = 0; c < NCOUNTERS; c++) {
		char key[16];
		int64_t v = 0;
		size_t len;

		sprintf(key, "ctr:%d", c);
		if (snapmap_get(bank, key, strlen(key), &v, sizeof(v), &len))
			v = 0;
		soak_assert(COUNTERS, v == counter_adds[c], v, counter_adds[c]);
	}
}

int main(int argc, char **argv)
{
	void *(*const roles[])(void *) = {
		transfer_thread, transfer_thread, counter_thread,
		counter_thread, bank_reader, churn_writer, churn_writer,
		churn_reader, churn_reader, pinner, pin_checker, saver,
	};
	enum { NROLES = sizeof(roles) / sizeof(roles[0]) };
	pthread_t threads[NROLES];
	unsigned seconds = 600;
	struct rusage ru;
	long failed = 0;
	int passed = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--keys") && i + 1 < argc)
			nkeys = (unsigned)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: soak [--seconds N] [--keys N]\n");
			return 2;
		}
	}
	if (!nkeys)
		nkeys = 1;
	rcu_register_thread();
	setup();
	for (int i = 0; i < NROLES; i++)
		pthread_create(&threads[i], NULL, roles[i],
			       (void *)(uintptr_t)(i * 7919 + 1));
	/* The main thread sleeps outside any critical section. */
	for (unsigned s = 0; s < seconds; s++) {
		sleep(1);
		if (seconds >= 60 && s % 60 == 59)
			fprintf(stderr, "soak: %u s, %ld ops\n", s + 1,
				atomic_load(&ops));
	}
	atomic_store(&stop, 1);
	pthread_mutex_lock(&handoff.lock);
	handoff.done = true;
	pthread_cond_broadcast(&handoff.cond);
	pthread_mutex_unlock(&handoff.lock);
	for (int i = 0; i < NROLES; i++)
		pthread_join(threads[i], NULL);

	check_counters();
	rcu_read_lock();
	printf("soak: %u s, %ld operations, %ld reader snapshots checked, "
	       "bank at version %" PRIu64 ", churn at version %" PRIu64
	       " with %zu keys\n", seconds, atomic_load(&ops),
	       atomic_load(&versions_seen),
	       snapmap_version(snapmap_snapshot(bank)),
	       snapmap_version(snapmap_snapshot(churn)),
	       snapmap_count(snapmap_snapshot(churn)));
	rcu_read_unlock();
	soak_assert(API, snapmap_destroy(bank) == 0, 0, 0);
	soak_assert(API, snapmap_destroy(churn) == 0, 0, 0);
	soak_assert(API, snapmap_destroy(loaded) == 0, 0, 0);
	rmdir(save_dir);
	rcu_unregister_thread();

	getrusage(RUSAGE_SELF, &ru);
	printf("soak: peak RSS %ld KiB\n", ru.ru_maxrss);
	for (int c = 0; c < NCHECKS; c++) {
		long n = atomic_load(&failures[c]);

		printf("soak: %-12s %s (%ld failures)\n", check_names[c],
		       n ? "FAIL" : "ok", n);
		failed += n != 0;
		passed += n == 0;
	}
	printf("soak: %d passed, %ld failed\n", passed, failed);
	return failed ? 1 : 0;
}
