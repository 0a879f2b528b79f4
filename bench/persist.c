/*
 * persist.c - save and load throughput (issue 5): a map of N string keys
 * with 8-byte values saved to a snapshot file and loaded back into an
 * empty map, in the binary and in the text format.
 *
 * Saving includes what makes it crash-safe (fsync of the file and of
 * its directory), so the figures depend on the disk under /tmp as
 * much as on the library.  Each load is checked: the loaded map holds N
 * entries whose values add up to what was saved.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define _LGPL_SOURCE
#include <urcu.h>		/* memb flavor, with the rcu_* names */

#include "snapmap.h"
#include "bench.h"

enum { BINARY, TEXT };

/* The sum of a map's 8-byte values, and its count: what a load must
 * reproduce. */
static uint64_t value_sum(struct snapmap *map, size_t *count)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	uint64_t sum = 0;

	rcu_read_lock();
	snap = snapmap_snapshot(map);
	*count = snapmap_count(snap);
	for (int r = snapmap_iter_first(snap, &it, &kv); r == 0;
	     r = snapmap_iter_next(&it, &kv)) {
		uint64_t v;

		memcpy(&v, kv.val, sizeof(v));
		sum += v;
	}
	rcu_read_unlock();
	return sum;
}

static double save_once(struct snapmap *map, int format, const char *path)
{
	const struct snapmap_snapshot *pin = snapmap_pin(map);
	struct snapmap_error err;
	uint64_t t0 = now_ns();
	int r = format == BINARY ? snapmap_save(pin, path, &err)
				 : snapmap_save_text(pin, path, &err);
	double secs = (double)(now_ns() - t0) / 1e9;

	snapmap_unpin(pin);
	if (r)
		die("save %s: %s", path, err.message);
	return secs;
}

static double load_once(int format, const char *path, uint64_t want_sum,
			size_t want_count)
{
	struct snapmap *map = snapmap_new(NULL);
	struct snapmap_error err;
	uint64_t t0, sum;
	size_t count;
	double secs;
	int r;

	if (!map)
		die("snapmap_new: %s", strerror(errno));
	t0 = now_ns();
	r = format == BINARY ? snapmap_load(map, path, NULL, &err)
			     : snapmap_load_text(map, path, NULL, &err);
	secs = (double)(now_ns() - t0) / 1e9;
	if (r)
		die("load %s: %s", path, err.message);
	sum = value_sum(map, &count);
	if (sum != want_sum || count != want_count)
		die("load %s: %zu entries summing to %llu, saved %zu and %llu",
		    path, count, (unsigned long long)sum, want_count,
		    (unsigned long long)want_sum);
	if (snapmap_destroy(map))
		die("snapmap_destroy failed");
	return secs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void print_row(const char *format, const char *op, double secs,
		      size_t n, off_t bytes)
{
	printf("%-8s %-5s %9.1f %9.1f %12.2f %9.1f\n", format, op, secs * 1e3,
	       (double)bytes / 1048576.0 / secs, (double)n / 1e6 / secs,
	       (double)bytes / 1048576.0);
}

void run_persist(size_t n, int reps, uint64_t seed)
{
	static const char *const names[] = { "binary", "text" };
	struct keyset *ks = keyset_new(KEY_STR, n, seed);
	struct snapmap *map = snapmap_new(NULL);
	struct snapmap_batch *b;
	char dir[] = "/tmp/snapbench-persist.XXXXXX";
	uint64_t sum;
	size_t count;

	if (!map || !(b = snapmap_batch_new(map)) || !mkdtemp(dir))
		die("persist setup: %s", strerror(errno));
	for (size_t i = 0; i < n; i++) {
		uint64_t v = val_make(i, 0);

		if (snapmap_batch_put(b, ks_key(ks, i), ks->klen, &v, sizeof(v)))
			die("snapmap_batch_put failed");
	}
	if (snapmap_batch_commit(b, NULL, NULL))
		die("snapmap_batch_commit failed");
	snapmap_batch_free(b);
	sum = value_sum(map, &count);

	printf("\n-- save and load, N=%zu str keys, 8-byte values (one thread; "
	       "medians of %d;\n   save includes fsync of the file and its "
	       "directory; every load checked)\n", n, reps);
	printf("%-8s %-5s %9s %9s %12s %9s\n", "format", "op", "ms", "MB/s",
	       "Mentries/s", "file MB");
	for (int format = BINARY; format <= TEXT; format++) {
		double save[16], load[16];
		char path[sizeof(dir) + 16];
		struct stat st;

		snprintf(path, sizeof(path), "%s/map.%s", dir,
			 format == BINARY ? "snap" : "tsv");
		if (reps > 16)
			reps = 16;
		for (int r = 0; r < reps; r++) {
			save[r] = save_once(map, format, path);
			load[r] = load_once(format, path, sum, count);
		}
		if (stat(path, &st))
			die("stat %s: %s", path, strerror(errno));
		qsort(save, (size_t)reps, sizeof(double), cmp_double);
		qsort(load, (size_t)reps, sizeof(double), cmp_double);
		print_row(names[format], "save", save[reps / 2], n, st.st_size);
		print_row(names[format], "load", load[reps / 2], n, st.st_size);
		unlink(path);
	}
	rmdir(dir);
	if (snapmap_destroy(map))
		die("snapmap_destroy failed");
	keyset_free(ks);
}
