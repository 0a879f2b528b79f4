/*
 * probe.c - bench/snapprobe: one libsnapmap operation in a loop, for
 * callgrind's instruction and cache-miss counts and for quick A/B timings
 * of two builds of the library (the figures of README's "Read path,
 * round 2").  snapbench compares designs; this looks inside one.
 *
 *   snapprobe look  N COUNT   COUNT random hits, one read-side section
 *   snapprobe put   N COUNT   COUNT single puts of random keys
 *   snapprobe scan  N COUNT   COUNT scans of 1,000 keys from random starts,
 *                             blocks of 64, each value read
 *   snapprobe batch N COUNT   COUNT batches of 1,000 random puts
 *   snapprobe build N         one batch of N puts in random order
 *   snapprobe mem   N         heap bytes per entry after a batch build
 *
 * The map holds N keys "key:%010u" (every 7th number) with 8-byte values,
 * built from one batch; keys and random numbers come from a fixed seed.
 * Each mode prints one line: the median time per operation over 7 rounds
 * (look, scan), per batch (batch), or once (put, build, mem), and how
 * many operations it made: look and scan make 7 x COUNT, so divide
 * callgrind's total by that.  Under callgrind, collect the operation
 * alone, e.g.
 *
 *   valgrind --tool=callgrind --toggle-collect=snapmap_find \
 *       ./bench/snapprobe look 1000000 20000
 *   SNAPMAP_SIMD=scalar valgrind --tool=callgrind \
 *       --toggle-collect=snapmap_find ./bench/snapprobe look 1000 20000
 *   valgrind --tool=callgrind --toggle-collect=snapmap_put \
 *       ./bench/snapprobe put 100000 2000
 */
#include "config.h"

#include <urcu.h>
#include <snapmap.h>

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYLEN	14		/* "key:%010u" */
#define ROUNDS	7
#define SCAN	1000
#define BLOCK	64
#define BATCH	1000

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "snapprobe: %s: %s\n", what, snapmap_strerror(rc));
	exit(1);
}

static void key_of(char *buf, uint64_t num)
{
	char tmp[KEYLEN + 1];

	snprintf(tmp, sizeof(tmp), "key:%010u", (unsigned)num);
	memcpy(buf, tmp, KEYLEN);
}

/* Key number @i of a map of @n: every 7th, so that misses fall between. */
static void map_key(char *buf, unsigned n, uint64_t i)
{
	key_of(buf, (i % n) * 7u);
}

static struct snapmap *map_of(unsigned n, bool shuffled)
{
	struct snapmap *map = snapmap_new(NULL);
	unsigned *order = malloc(sizeof(*order) * n);
	struct snapmap_batch *b;
	char key[KEYLEN];
	int rc;

	if (!map || !order)
		die("snapmap_new", -ENOMEM);
	b = snapmap_batch_new(map);
	if (!b)
		die("snapmap_batch_new", -errno);
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (unsigned i = n - 1; shuffled && i > 0; i--) {
		unsigned j = (unsigned)(rng() % (i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = order[i];

		map_key(key, n, order[i]);
		rc = snapmap_batch_put(b, key, KEYLEN, &v, sizeof(v));
		if (rc)
			die("snapmap_batch_put", rc);
	}
	free(order);
	rc = snapmap_batch_commit(b, NULL, NULL);
	if (rc)
		die("snapmap_batch_commit", rc);
	snapmap_batch_free(b);
	return map;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), by_value);
	return v[n / 2];
}

static void look(struct snapmap *map, unsigned n, unsigned count)
{
	char *keys = malloc((size_t)count * KEYLEN);
	double t[ROUNDS];
	unsigned found = 0;

	if (!keys)
		die("malloc", -ENOMEM);
	for (unsigned i = 0; i < count; i++)
		map_key(keys + (size_t)i * KEYLEN, n, rng());
	for (int r = 0; r < ROUNDS; r++) {
		const struct snapmap_snapshot *snap;
		double t0 = now_ns();

		rcu_read_lock();
		snap = snapmap_snapshot(map);
		for (unsigned i = 0; i < count; i++)
			found += snapmap_find(snap, keys + (size_t)i * KEYLEN,
					      KEYLEN, NULL, NULL) == 0;
		rcu_read_unlock();
		t[r] = (now_ns() - t0) / count;
	}
	if (found != ROUNDS * count)
		die("look", -ENOENT);
	printf("look N=%u: %.1f ns per look-up (%u look-ups)\n", n,
	       median(t, ROUNDS), ROUNDS * count);
	free(keys);
}

static void scan(struct snapmap *map, unsigned n, unsigned count)
{
	double t[ROUNDS];
	uint64_t sum = 0;

	if (n <= SCAN)
		die("scan: N must exceed 1000", -EINVAL);
	for (int r = 0; r < ROUNDS; r++) {
		const struct snapmap_snapshot *snap;
		double t0 = now_ns();

		rcu_read_lock();
		snap = snapmap_snapshot(map);
		for (unsigned i = 0; i < count; i++) {
			struct snapmap_kv kv[BLOCK];
			struct snapmap_iter it;
			char key[KEYLEN];
			size_t total = 1, got;
			uint64_t v;

			key_of(key, rng() % (7ull * (n - SCAN)));
			if (snapmap_iter_seek(snap, &it, key, KEYLEN, &kv[0]))
				die("seek", -ENOENT);
			memcpy(&v, kv[0].val, sizeof(v));
			sum += v;
			while (total < SCAN &&
			       snapmap_iter_next_n(&it, kv, total + BLOCK <= SCAN ?
						   BLOCK : SCAN - total,
						   &got) == 0) {
				for (size_t j = 0; j < got; j++) {
					memcpy(&v, kv[j].val, sizeof(v));
					sum += v;
				}
				total += got;
			}
			if (total != SCAN)
				die("scan", -ENOENT);
		}
		rcu_read_unlock();
		t[r] = (now_ns() - t0) / count;
	}
	printf("scan N=%u: %.0f ns per scan of %d (%u scans, checksum %"
	       PRIu64 ")\n", n, median(t, ROUNDS), SCAN, ROUNDS * count, sum);
}

static void puts_(struct snapmap *map, unsigned n, unsigned count)
{
	double t0 = now_ns();

	for (unsigned i = 0; i < count; i++) {
		char key[KEYLEN];
		uint64_t v = i;
		int rc;

		key_of(key, rng() % (7ull * n));
		rc = snapmap_put(map, key, KEYLEN, &v, sizeof(v));
		if (rc)
			die("snapmap_put", rc);
	}
	printf("put N=%u: %.2f us per put\n", n,
	       (now_ns() - t0) / 1e3 / count);
}

static void batches(struct snapmap *map, unsigned n, unsigned count)
{
	struct snapmap_batch *b = snapmap_batch_new(map);
	double *t = malloc(sizeof(*t) * (count ? count : 1));

	if (!b || !t)
		die("batch", -ENOMEM);
	for (unsigned r = 0; r < count; r++) {
		double t0;
		int rc;

		for (unsigned i = 0; i < BATCH; i++) {
			char key[KEYLEN];
			uint64_t v = i;

			key_of(key, rng() % (7ull * n));
			rc = snapmap_batch_put(b, key, KEYLEN, &v, sizeof(v));
			if (rc)
				die("snapmap_batch_put", rc);
		}
		t0 = now_ns();
		rc = snapmap_batch_commit(b, NULL, NULL);
		if (rc)
			die("snapmap_batch_commit", rc);
		t[r] = now_ns() - t0;
	}
	if (count)
		printf("batch N=%u: %.0f us per commit of %d random puts\n",
		       n, median(t, count) / 1e3, BATCH);
	free(t);
	snapmap_batch_free(b);
}

static size_t heap_bytes(void)
{
#ifdef HAVE_MALLINFO2
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#else
	return 0;
#endif
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[1] : "";
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
	unsigned count = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 0;
	struct snapmap *map = NULL;
	double t0;
	size_t h0;

	if (n == 0 || (strcmp(mode, "build") && strcmp(mode, "mem") &&
		       count == 0)) {
		fprintf(stderr, "usage: snapprobe look|put|scan|batch N COUNT"
			" | build|mem N (see bench/probe.c)\n");
		return 2;
	}
	rcu_register_thread();
	h0 = heap_bytes();
	t0 = now_ns();
	map = map_of(n, !strcmp(mode, "build"));
	if (!strcmp(mode, "build")) {
		printf("build N=%u: %.0f ms, one batch in random order\n", n,
		       (now_ns() - t0) / 1e6);
	} else if (!strcmp(mode, "mem")) {
		rcu_barrier();	/* the empty first version is freed */
		printf("mem N=%u: %.1f heap bytes per entry\n", n,
		       (double)(heap_bytes() - h0) / n);
	} else if (!strcmp(mode, "look")) {
		look(map, n, count);
	} else if (!strcmp(mode, "scan")) {
		scan(map, n, count);
	} else if (!strcmp(mode, "put")) {
		puts_(map, n, count);
	} else if (!strcmp(mode, "batch")) {
		batches(map, n, count);
	} else {
		fprintf(stderr, "snapprobe: unknown mode %s\n", mode);
		return 2;
	}
	rcu_unregister_thread();
	return snapmap_destroy(map) ? 1 : 0;
}
