/*
 * etcd_bench.c - what the etcd mirror costs, against a real etcd that
 * the bench starts on 127.0.0.1 (tests/etcd/server.c):
 *
 *   - initial sync throughput: keys per second from snapmap_etcd_
 *     mirror_start() to the map holding all KEYS keys (default 100000);
 *   - put-to-visible lag: from sending a put through the gateway to
 *     snapmap_etcd_wait_revision() returning for its revision, i.e. the
 *     put's revision published in the map; p50 and p99 over PUTS puts
 *     (default 500).  It includes the put's own round trip.
 *
 *   bench/etcd-bench [--keys N] [--puts N]
 *
 * Run by `make bench-etcd` (and so `make bench` when etcd is installed);
 * never by `make check`.
 */
#include <urcu.h>
#include <snapmap-etcd.h>

#include "../tests/etcd/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PER_TXN	1000

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Loads @keys keys under /bench/ with etcdctl transactions. */
static void load(struct etcd_server *s, int keys)
{
	size_t cap = PER_TXN * 64;
	char *ops = malloc(cap + 4);

	for (int t = 0; t < keys; t += PER_TXN) {
		size_t len = 1;

		ops[0] = '\n';	/* no compares */
		for (int i = t; i < keys && i < t + PER_TXN; i++)
			len += (size_t)snprintf(ops + len, cap - len,
				"put /bench/k%08d value-of-key-%d\n", i, i);
		ops[len++] = '\n';
		ops[len++] = '\n';
		ops[len] = '\0';
		free(etcdctl(s, ops, "txn", NULL));
	}
	free(ops);
}

int main(int argc, char **argv)
{
	int keys = 100000, puts = 500;
	struct etcd_server srv;
	struct snapmap *map;
	struct snapmap_etcd_mirror *mirror;
	struct snapmap_etcd_config cfg = { .prefix = "/bench/",
					   .prefix_len = 7 };
	double t0, sync_s, *lag;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--keys"))
			keys = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--puts"))
			puts = atoi(argv[i + 1]);
	}
	if (keys < 1 || puts < 1) {
		fprintf(stderr, "usage: %s [--keys N] [--puts N]\n", argv[0]);
		return 2;
	}
	lag = calloc((size_t)puts, sizeof(*lag));
	rcu_register_thread();
	map = snapmap_new(NULL);
	if (!map || !lag)
		return 1;
	etcd_start(&srv);
	fprintf(stderr, "etcd-bench: loading %d keys\n", keys);
	load(&srv, keys);

	cfg.endpoints = srv.endpoint;
	t0 = now_s();
	if (snapmap_etcd_mirror_start(map, &cfg, &mirror) ||
	    snapmap_etcd_wait_revision(mirror, 1, 120000)) {
		fprintf(stderr, "etcd-bench: no initial sync\n");
		etcd_stop(&srv);
		return 1;
	}
	sync_s = now_s() - t0;

	for (int i = 0; i < puts; i++) {
		char key[32];
		int64_t rev;
		int n = snprintf(key, sizeof(key), "/bench/lag%d", i);

		t0 = now_s();
		rev = etcd_put_raw(&srv, key, (size_t)n, "v", 1);
		if (snapmap_etcd_wait_revision(mirror, rev, 10000)) {
			fprintf(stderr, "etcd-bench: revision %lld not "
				"applied\n", (long long)rev);
			break;
		}
		lag[i] = now_s() - t0;
	}
	qsort(lag, (size_t)puts, sizeof(*lag), cmp_double);
	printf("etcd-bench: initial sync of %d keys: %.3f s, %.0f keys/s\n",
	       keys, sync_s, keys / sync_s);
	printf("etcd-bench: put-to-visible lag over %d puts: p50 %.0f us, "
	       "p99 %.0f us\n", puts, lag[puts / 2] * 1e6,
	       lag[puts * 99 / 100] * 1e6);
	snapmap_etcd_mirror_stop(mirror);
	snapmap_destroy(map);
	etcd_stop(&srv);
	free(lag);
	rcu_unregister_thread();
	return 0;
}
