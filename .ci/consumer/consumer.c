/*
 * consumer.c - a program that uses an INSTALLED libsnapmap, the way a
 * user's program would: built by .ci/consumer.sh outside the source tree
 * with nothing but `pkg-config --cflags --libs snapmap liburcu-FLAVOR`.
 *
 * It registers with RCU, creates a map, writes, reads in read-side
 * critical sections and through pins, iterates, commits batches, saves
 * and loads a snapshot file, and destroys the maps, checking every
 * documented result on the way and that the value destructor ran exactly
 * once per value handed to a write, published or not.  Exits 0 when
 * every check passed, 1 otherwise.
 *
 * The flavor is the program's choice, made with the mapping header it
 * includes; consumer.sh builds it once per flavor: memb (no macro), mb
 * (-DRCU_MB), qsbr (-DCONSUMER_QSBR), bp (-DCONSUMER_BP).
 *
 * Usage: consumer DIR   (DIR: a writable directory for the snapshot file)
 */
#if defined(CONSUMER_QSBR)
#include <urcu-qsbr.h>
#elif defined(CONSUMER_BP)
#include <urcu-bp.h>
#else
#include <urcu.h>		/* memb, or mb with RCU_MB */
#endif
#include <snapmap.h>		/* snapmap_new() binds to that flavor */

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static int checks, failed;

#define CHECK(cond)							\
	do {								\
		checks++;						\
		if (!(cond)) {						\
			failed++;					\
			fprintf(stderr, "consumer.c:%d: check failed: %s\n", \
				__LINE__, #cond);			\
		}							\
	} while (0)

/* rc must equal want; prints both (and the library's words) otherwise. */
#define CHECK_RC(expr, want)						\
	do {								\
		int rc_ = (expr);					\
		checks++;						\
		if (rc_ != (want)) {					\
			failed++;					\
			fprintf(stderr, "consumer.c:%d: %s returned %d (%s),"\
				" expected %d\n", __LINE__, #expr, rc_,	\
				snapmap_strerror(rc_), (want));		\
		}							\
	} while (0)

/* Values handed to writes (counted by us) and destroyed (counted by the
 * library's destructor, which runs on the call_rcu thread: hence an
 * atomic). */
static unsigned long handed;
static atomic_ulong destroyed;

static void count_destroy(void *val, size_t vlen, void *ctx)
{
	(void)val;
	(void)vlen;
	(void)ctx;
	atomic_fetch_add(&destroyed, 1);
}

static int put_str(struct snapmap *map, const char *key, const char *val)
{
	/* Handed whatever the put returns. */
	handed++;
	return snapmap_put(map, key, strlen(key), val, strlen(val));
}

/* Inside a read-side critical section: does @snap map @key to @want? */
static int has(const struct snapmap_snapshot *snap, const char *key,
	       const char *want)
{
	const void *val;
	size_t vlen;

	if (snapmap_find(snap, key, strlen(key), &val, &vlen) != 0)
		return 0;
	return vlen == strlen(want) && memcmp(val, want, vlen) == 0;
}

static void test_put_find(struct snapmap *map)
{
	const struct snapmap_snapshot *snap;
	const void *val;
	char key[16], want[16];

	rcu_read_lock();
	snap = snapmap_snapshot(map);
	CHECK(snapmap_version(snap) == SNAPMAP_INITIAL_VERSION);
	CHECK(snapmap_count(snap) == 0);
	rcu_read_unlock();

	for (int i = 9; i >= 0; i--) {	/* out of order on purpose */
		snprintf(key, sizeof(key), "key:%d", i);
		snprintf(want, sizeof(want), "value %d", i);
		CHECK_RC(put_str(map, key, want), 0);
	}
	CHECK_RC(put_str(map, "key:3", "three"), 0);	/* overwrite */
	CHECK_RC(snapmap_delete(map, "key:7", 5), 0);
	CHECK_RC(snapmap_delete(map, "key:7", 5), -ENOENT);
	CHECK_RC(snapmap_put(map, NULL, 1, "x", 1), -EINVAL);
	handed++;	/* refused, and destroyed all the same */

	rcu_read_lock();
	snap = snapmap_snapshot(map);
	CHECK(snapmap_version(snap) == 12);	/* 10 puts, 1 overwrite, 1 delete */
	CHECK(snapmap_count(snap) == 9);
	CHECK(has(snap, "key:0", "value 0"));
	CHECK(has(snap, "key:3", "three"));
	CHECK(has(snap, "key:9", "value 9"));
	CHECK_RC(snapmap_find(snap, "key:7", 5, &val, NULL), -ENOENT);
	CHECK_RC(snapmap_find(snap, "nope", 4, NULL, NULL), -ENOENT);
	rcu_read_unlock();
}

static void test_iterate(struct snapmap *map)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	char prev[16] = "";
	size_t n = 0;
	int rc;

	rcu_read_lock();
	snap = snapmap_snapshot(map);
	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv)) {
		char cur[16];

		CHECK(kv.klen < sizeof(cur));
		if (kv.klen >= sizeof(cur))
			break;
		memcpy(cur, kv.key, kv.klen);
		cur[kv.klen] = '\0';
		CHECK(n == 0 || strcmp(prev, cur) < 0);	/* sorted, unique */
		memcpy(prev, cur, sizeof(prev));
		n++;
	}
	CHECK_RC(rc, -ENOENT);
	CHECK_RC(snapmap_iter_next(&it, &kv), -ENOENT);	/* and again */
	CHECK(n == snapmap_count(snap));

	/* seek: the first key >= "key:7" is "key:8" (key:7 was deleted) */
	CHECK_RC(snapmap_iter_seek(snap, &it, "key:7", 5, &kv), 0);
	CHECK(kv.klen == 5 && memcmp(kv.key, "key:8", 5) == 0);
	CHECK_RC(snapmap_iter_seek(snap, &it, "zzz", 3, &kv), -ENOENT);
	rcu_read_unlock();
}

static void test_copy_and_compound(struct snapmap *map)
{
	char buf[32], small[2];
	size_t len = 0;
	int64_t counter = 0;

	CHECK_RC(snapmap_get(map, "key:3", 5, buf, sizeof(buf), &len), 0);
	CHECK(len == 5 && memcmp(buf, "three", 5) == 0);
	CHECK_RC(snapmap_get(map, "key:3", 5, small, sizeof(small), &len),
		 -ERANGE);
	CHECK(len == 5);
	CHECK_RC(snapmap_get(map, "key:7", 5, buf, sizeof(buf), NULL),
		 -ENOENT);

	CHECK_RC(snapmap_put_if_absent(map, "key:1", 5, "x", 1, buf,
				       sizeof(buf), &len), -EEXIST);
	handed++;
	CHECK(len == 7 && memcmp(buf, "value 1", 7) == 0);
	CHECK_RC(snapmap_compare_and_swap(map, "key:1", 5, "wrong", 5,
					  "y", 1), -EAGAIN);
	handed++;
	CHECK_RC(snapmap_compare_and_swap(map, "key:1", 5, "value 1", 7,
					  "one", 3), 0);
	handed++;
	for (int i = 0; i < 3; i++) {
		CHECK_RC(snapmap_add_i64(map, "hits", 4, 2, &counter), 0);
		handed++;
	}
	CHECK(counter == 6);
}

static void test_batches(struct snapmap *map)
{
	struct snapmap_batch *batch = snapmap_batch_new(map);
	uint64_t before, version = 0;
	size_t failed_op = 0;

	CHECK(batch != NULL);
	if (!batch)
		return;
	rcu_read_lock();
	before = snapmap_version(snapmap_snapshot(map));
	rcu_read_unlock();

	/* A batch that exists keeps the map from being destroyed. */
	CHECK_RC(snapmap_destroy(map), -EBUSY);

	CHECK_RC(snapmap_batch_require_version(batch, before), 0);
	CHECK_RC(snapmap_batch_put(batch, "batch:a", 7, "A", 1), 0);
	CHECK_RC(snapmap_batch_put(batch, "batch:b", 7, "B", 1), 0);
	CHECK_RC(snapmap_batch_put_if_absent(batch, "batch:c", 7, "C", 1), 0);
	CHECK_RC(snapmap_batch_delete(batch, "key:0", 5), 0);
	CHECK(snapmap_batch_count(batch) == 4);
	CHECK_RC(snapmap_batch_commit(batch, &version, &failed_op), 0);
	handed += 3;
	CHECK(version == before + 1);	/* the whole batch: one publish */
	CHECK(snapmap_batch_count(batch) == 0);

	rcu_read_lock();
	{
		const struct snapmap_snapshot *snap = snapmap_snapshot(map);

		CHECK(snapmap_version(snap) == before + 1);
		CHECK(has(snap, "batch:a", "A"));
		CHECK(has(snap, "batch:b", "B"));
		CHECK(has(snap, "batch:c", "C"));
		CHECK_RC(snapmap_find(snap, "key:0", 5, NULL, NULL), -ENOENT);
	}
	rcu_read_unlock();

	/* The version we required is gone now: nothing changes. */
	CHECK_RC(snapmap_batch_require_version(batch, before), 0);
	CHECK_RC(snapmap_batch_put(batch, "batch:d", 7, "D", 1), 0);
	CHECK_RC(snapmap_batch_commit(batch, NULL, &failed_op), -ESTALE);
	CHECK(failed_op == SNAPMAP_BATCH_VERSION_OP);
	CHECK_RC(snapmap_batch_abort(batch), 0);
	handed++;	/* "D": destroyed by the abort */

	/* A failed condition names the op and changes nothing. */
	CHECK_RC(snapmap_batch_put(batch, "batch:e", 7, "E", 1), 0);
	CHECK_RC(snapmap_batch_replace(batch, "absent", 6, "Z", 1), 0);
	CHECK_RC(snapmap_batch_commit(batch, NULL, &failed_op), -ENOENT);
	CHECK(failed_op == 1);
	CHECK_RC(snapmap_batch_abort(batch), 0);
	handed += 2;	/* "E" and "Z" */
	rcu_read_lock();
	CHECK(snapmap_version(snapmap_snapshot(map)) == before + 1);
	rcu_read_unlock();

	snapmap_batch_free(batch);
}

/* Pin, save the pinned snapshot, load it into a second map. */
static void test_pin_save_load(struct snapmap *map, const char *dir)
{
	const struct snapmap_snapshot *pin;
	struct snapmap_config cfg = { .value_destroy = count_destroy };
	struct snapmap_file_stat st;
	struct snapmap_error err;
	struct snapmap *copy;
	char path[4096];
	uint64_t version = 0;
	size_t n;

	pin = snapmap_pin(map);
	CHECK(pin != NULL);
	if (!pin)
		return;
	n = snapmap_count(pin);	/* outside any critical section: pinned */
	CHECK_RC(put_str(map, "after-pin", "x"), 0);
	CHECK(snapmap_count(pin) == n);	/* a pin is one version */
	CHECK(has(pin, "batch:a", "A"));
	CHECK_RC(snapmap_destroy(map), -EBUSY);

	snprintf(path, sizeof(path), "%s/consumer.snap", dir);
	CHECK_RC(snapmap_save(pin, path, &err), 0);
	if (err.code)
		fprintf(stderr, "consumer: save %s: %s\n", path, err.message);
	CHECK_RC(snapmap_file_stat(path, &st, &err), 0);
	CHECK(st.entries == n);
	snapmap_unpin(pin);

	copy = snapmap_new(&cfg);
	CHECK(copy != NULL);
	if (!copy)
		return;
	CHECK_RC(snapmap_load(copy, path, &version, &err), 0);
	if (err.code)
		fprintf(stderr, "consumer: load %s: %s\n", path, err.message);
	handed += n;
	CHECK(version == SNAPMAP_INITIAL_VERSION + 1);
	rcu_read_lock();
	CHECK(snapmap_count(snapmap_snapshot(copy)) == n);
	CHECK(has(snapmap_snapshot(copy), "key:3", "three"));
	rcu_read_unlock();
	CHECK_RC(snapmap_destroy(copy), 0);
	remove(path);
}

int main(int argc, char **argv)
{
	struct snapmap_config cfg = { .value_destroy = count_destroy };
	struct snapmap *map;

	if (argc != 2) {
		fprintf(stderr, "usage: consumer DIR\n");
		return 2;
	}
	rcu_register_thread();

	map = snapmap_new(&cfg);
	if (!map) {
		perror("consumer: snapmap_new");
		rcu_unregister_thread();
		return 1;
	}
	test_put_find(map);
	test_iterate(map);
	test_copy_and_compound(map);
	test_batches(map);
	test_pin_save_load(map, argv[1]);

	CHECK_RC(snapmap_destroy(map), 0);
	/* destroy waited for every pending reclamation: all values gone */
	CHECK(atomic_load(&destroyed) == handed);
	if (atomic_load(&destroyed) != handed)
		fprintf(stderr, "consumer: %lu values handed, %lu destroyed\n",
			handed, atomic_load(&destroyed));
	CHECK_RC(snapmap_destroy(NULL), -EINVAL);

	rcu_unregister_thread();
	printf("consumer: %d checks, %d failed\n", checks, failed);
	return failed ? 1 : 0;
}
