/*
 * etcd_cache.c - a process-local cache of an etcd prefix.
 *
 *   etcd_cache http://127.0.0.1:2379 /config/ [seconds]
 *
 * Mirrors the prefix into a map, then, for the given time (default 10
 * seconds), prints the etcd revision the map holds and its keys each
 * time it changes.  Readers elsewhere in a real service would look keys
 * up with snapmap_find() inside rcu_read_lock(): a nanosecond read of a
 * snapshot that always holds whole etcd transactions.
 *
 * Without arguments it prints its usage and exits 0 (make check builds
 * it; it needs a running etcd to do anything).
 */
#include <urcu.h>
#include <snapmap-etcd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void on_event(struct snapmap_etcd_mirror *m,
		     const struct snapmap_etcd_event *ev, void *ctx)
{
	(void)m; (void)ctx;
	if (ev->type == SNAPMAP_ETCD_ERROR)
		fprintf(stderr, "etcd_cache: %s\n", ev->message);
	else if (ev->type == SNAPMAP_ETCD_STALE)
		fprintf(stderr, "etcd_cache: stale for %llu ms\n",
			(unsigned long long)ev->stale_ms);
}

static void print_map(struct snapmap *map, int64_t rev)
{
	struct snapmap_iter it;
	struct snapmap_kv kv;

	rcu_read_lock();
	printf("revision %lld:\n", (long long)rev);
	for (int r = snapmap_iter_first(snapmap_snapshot(map), &it, &kv);
	     !r; r = snapmap_iter_next(&it, &kv))
		printf("  %.*s = %.*s\n", (int)kv.klen, (const char *)kv.key,
		       (int)kv.vlen, (const char *)kv.val);
	rcu_read_unlock();
}

int main(int argc, char **argv)
{
	struct snapmap_etcd_config cfg = { .event = on_event };
	struct snapmap_etcd_mirror *mirror;
	struct snapmap *map;
	time_t end;
	int64_t rev = 0;
	int rc;

	if (argc < 3) {
		printf("usage: %s ENDPOINTS PREFIX [SECONDS]\n", argv[0]);
		return 0;
	}
	cfg.endpoints = argv[1];
	cfg.prefix = argv[2];
	cfg.prefix_len = strlen(argv[2]);
	end = time(NULL) + (argc > 3 ? atoi(argv[3]) : 10);

	rcu_register_thread();
	map = snapmap_new(NULL);
	if (!map)
		return 1;
	rc = snapmap_etcd_mirror_start(map, &cfg, &mirror);
	if (rc) {
		fprintf(stderr, "etcd_cache: %s\n", snapmap_strerror(rc));
		return 1;
	}
	while (time(NULL) < end) {
		/* Read-your-writes: wait for the next revision, bounded. */
		if (snapmap_etcd_wait_revision(mirror, rev + 1, 1000) == 0) {
			rev = snapmap_etcd_revision(mirror);
			print_map(map, rev);
		}
	}
	snapmap_etcd_mirror_stop(mirror);
	snapmap_destroy(map);
	rcu_unregister_thread();
	return 0;
}
