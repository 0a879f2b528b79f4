/*
 * test_mirror.c - libsnapmap-etcd against a real etcd (server.c): each
 * test starts its own single member on 127.0.0.1 and stops it.
 * Invariants, not timings: what the map holds, how many publishes made
 * it, and that readers never see part of an etcd transaction.
 */
#include <urcu.h>
#include <snapmap-etcd.h>

#include "server.h"
#include "../../etcd/base64.h"

#include <criterion/criterion.h>
#include <json-c/json.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS		20000

static struct etcd_server srv;
static struct snapmap *map;
static struct snapmap_etcd_mirror *mirror;

/* Events seen by the callback, by type. */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int ev_count[SNAPMAP_ETCD_STALE + 1];
static int ev_last_code;

static void on_event(struct snapmap_etcd_mirror *m,
		     const struct snapmap_etcd_event *ev, void *ctx)
{
	(void)m; (void)ctx;
	pthread_mutex_lock(&ev_lock);
	ev_count[ev->type]++;
	if (ev->type == SNAPMAP_ETCD_ERROR)
		ev_last_code = ev->code;
	pthread_mutex_unlock(&ev_lock);
}

static int events(enum snapmap_etcd_event_type t)
{
	int n;

	pthread_mutex_lock(&ev_lock);
	n = ev_count[t];
	pthread_mutex_unlock(&ev_lock);
	return n;
}

static void setup_map(void)
{
	rcu_register_thread();
	map = snapmap_new(NULL);
	cr_assert(map);
}

static void setup(void)
{
	setup_map();
	etcd_start(&srv);
}

static void teardown(void)
{
	if (mirror)
		cr_assert_eq(snapmap_etcd_mirror_stop(mirror), 0);
	mirror = NULL;
	if (map)
		cr_assert_eq(snapmap_destroy(map), 0);
	map = NULL;
	etcd_stop(&srv);
	rcu_unregister_thread();
}

static struct snapmap_etcd_config config(const char *prefix)
{
	return (struct snapmap_etcd_config){
		.endpoints = srv.endpoint,
		.prefix = prefix,
		.prefix_len = prefix ? strlen(prefix) : 0,
		.backoff_min_ms = 50,
		.backoff_max_ms = 200,
		.event = on_event,
	};
}

static void start(const struct snapmap_etcd_config *cfg)
{
	cr_assert_eq(snapmap_etcd_mirror_start(map, cfg, &mirror), 0);
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, 1, WAIT_MS), 0,
		     "no initial sync");
}

/* The watch is established (bounded wait). */
static void wait_watching(void)
{
	struct snapmap_etcd_stats st = { .watching = false };

	for (int i = 0; i < WAIT_MS / 10 && !st.watching; i++) {
		cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
		if (!st.watching)
			usleep(10000);
	}
	cr_assert(st.watching, "no watch");
}

static uint64_t map_version(void)
{
	uint64_t v;

	rcu_read_lock();
	v = snapmap_version(snapmap_snapshot(map));
	rcu_read_unlock();
	return v;
}

/* The map equals `etcdctl get --prefix PREFIX` with the prefix stripped. */
static void expect_equal_to_etcdctl(const char *prefix)
{
	char *out = etcdctl(&srv, NULL, "get", "--prefix", prefix, "-w",
			    "json", NULL);
	struct json_object *o = json_tokener_parse(out), *kvs = NULL;
	size_t n = 0, plen = strlen(prefix);
	const struct snapmap_snapshot *snap;
	struct snapmap_iter it;
	struct snapmap_kv kv;

	cr_assert(o);
	if (json_object_object_get_ex(o, "kvs", &kvs))
		n = json_object_array_length(kvs);
	snap = snapmap_pin(map);
	cr_assert_eq(snapmap_count(snap), n, "map has %zu keys, etcd %zu",
		     snapmap_count(snap), n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(kvs, i), *f;
		unsigned char *k, *v = NULL;
		size_t klen, vlen = 0;
		const char *s;

		cr_assert(json_object_object_get_ex(e, "key", &f));
		s = json_object_get_string(f);
		cr_assert_eq(etcd_b64_decode(s, strlen(s), &k, &klen), 0);
		if (json_object_object_get_ex(e, "value", &f)) {
			s = json_object_get_string(f);
			cr_assert_eq(etcd_b64_decode(s, strlen(s), &v, &vlen),
				     0);
		}
		cr_assert_eq(i ? snapmap_iter_next(&it, &kv) :
			     snapmap_iter_first(snap, &it, &kv), 0);
		cr_assert(kv.klen == klen - plen &&
			  !memcmp(kv.key, k + plen, kv.klen),
			  "key %zu differs", i);
		cr_assert(kv.vlen == vlen && !memcmp(kv.val, v, vlen),
			  "value of key %zu differs", i);
		free(k);
		free(v);
	}
	snapmap_unpin(snap);
	json_object_put(o);
	free(out);
}

/* A transaction of puts "put KEY VALUE" lines through etcdctl txn. */
static int64_t txn(const char *ops)
{
	size_t len = strlen(ops) + 8;
	char *in = malloc(len), *out;
	int64_t rev;

	/* No compares, the ops on success, nothing on failure. */
	snprintf(in, len, "\n%s\n\n", ops);
	out = etcdctl(&srv, in, "txn", "-w", "json", NULL);
	rev = etcdctl_revision(out);
	free(in);
	return rev;
}

TestSuite(etcd, .init = setup, .fini = teardown, .timeout = 120);

Test(etcd, initial_sync_20k_keys_equals_etcdctl_in_one_publish)
{
	enum { KEYS = 20000, PER_TXN = 1000 };
	size_t cap = PER_TXN * 64;
	char *ops = malloc(cap);
	int64_t rev = 0;

	for (int t = 0; t < KEYS / PER_TXN; t++) {
		size_t len = 0;

		for (int i = 0; i < PER_TXN; i++)
			len += (size_t)snprintf(ops + len, cap - len,
				"put /big/k%06d v%d\n", t * PER_TXN + i, i);
		rev = txn(ops);
	}
	free(ops);
	free(etcdctl(&srv, NULL, "put", "/bif", "outside", NULL));
	free(etcdctl(&srv, NULL, "put", "/bih", "outside", NULL));

	struct snapmap_etcd_config cfg = config("/big/");
	start(&cfg);
	cr_assert_geq(snapmap_etcd_revision(mirror), rev);
	cr_assert_eq(map_version(), 1, "the sync took more than one publish");
	expect_equal_to_etcdctl("/big/");
	for (int i = 0; i < 500 && !events(SNAPMAP_ETCD_SYNCED); i++)
		usleep(10000);
	cr_assert_eq(events(SNAPMAP_ETCD_SYNCED), 1);
}

/* Readers: every snapshot holds all 100 keys with one generation. */
enum { TXN_KEYS = 100, TXNS = 25, READERS = 2 };
static atomic_bool readers_stop;
static atomic_long torn, checked;

static void *reader(void *arg)
{
	(void)arg;
	rcu_register_thread();
	while (!atomic_load(&readers_stop)) {
		struct snapmap_iter it;
		struct snapmap_kv kv;
		char first[32] = "";
		size_t n = 0;

		rcu_read_lock();
		for (int r = snapmap_iter_first(snapmap_snapshot(map), &it, &kv);
		     !r; r = snapmap_iter_next(&it, &kv), n++) {
			if (!n)
				snprintf(first, sizeof(first), "%.*s",
					 (int)kv.vlen, (const char *)kv.val);
			else if (kv.vlen != strlen(first) ||
				 memcmp(kv.val, first, kv.vlen))
				atomic_fetch_add(&torn, 1);
		}
		rcu_read_unlock();
		if (n != 0 && n != TXN_KEYS)
			atomic_fetch_add(&torn, 1);
		atomic_fetch_add(&checked, 1);
	}
	rcu_unregister_thread();
	return NULL;
}

Test(etcd, transactions_of_100_keys_are_all_or_nothing)
{
	pthread_t th[READERS];
	size_t cap = TXN_KEYS * 48;
	char *ops = malloc(cap);
	int64_t rev = 0;

	struct snapmap_etcd_config cfg = config("/tx/");
	start(&cfg);
	uint64_t v0 = map_version();
	for (int i = 0; i < READERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, reader, NULL), 0);
	for (int g = 1; g <= TXNS; g++) {
		size_t len = 0;

		for (int k = 0; k < TXN_KEYS; k++)
			len += (size_t)snprintf(ops + len, cap - len,
						"put /tx/k%03d gen%d\n", k, g);
		rev = txn(ops);
	}
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, WAIT_MS), 0);
	atomic_store(&readers_stop, true);
	for (int i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	free(ops);
	cr_assert_eq(atomic_load(&torn), 0, "a reader saw part of a txn");
	cr_assert_gt(atomic_load(&checked), 0);
	/* One publish per etcd transaction. */
	cr_assert_eq(map_version() - v0, TXNS);
	struct snapmap_etcd_stats st;
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_eq(st.batches, TXNS);
	cr_assert_eq(st.events, TXNS * TXN_KEYS);
	expect_equal_to_etcdctl("/tx/");
}

Test(etcd, deletes_delete_and_wait_revision_after_put)
{
	struct snapmap_etcd_config cfg = config("/w/");
	start(&cfg);
	int64_t rev = etcdctl_revision(etcdctl(&srv, NULL, "put", "/w/a",
					      "1", "-w", "json", NULL));
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, WAIT_MS), 0);
	cr_assert_geq(snapmap_etcd_revision(mirror), rev);
	cr_assert_eq(snapmap_get(map, "a", 1, NULL, 0, NULL), -ERANGE,
		     "the put is not in the map at its revision");
	rev = etcdctl_revision(etcdctl(&srv, NULL, "del", "/w/a", "-w",
				       "json", NULL));
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, WAIT_MS), 0);
	cr_assert_eq(snapmap_get(map, "a", 1, NULL, 0, NULL), -ENOENT);
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev + 100, 0),
		     -ETIMEDOUT);
}

Test(etcd, sigkill_and_restart_keeps_the_map_and_catches_up)
{
	struct snapmap_etcd_config cfg = config("/r/");
	free(etcdctl(&srv, NULL, "put", "/r/a", "1", NULL));
	start(&cfg);
	wait_watching();
	uint64_t v = map_version();

	etcd_kill(&srv, SIGKILL);
	/* Failures are reported while etcd is away; the map stays. */
	for (int i = 0; i < 200 && !events(SNAPMAP_ETCD_ERROR); i++)
		usleep(50000);
	cr_assert_gt(events(SNAPMAP_ETCD_ERROR), 0);
	cr_assert_eq(map_version(), v);
	cr_assert_eq(snapmap_get(map, "a", 1, NULL, 0, NULL), -ERANGE);

	etcd_restart(&srv);
	free(etcdctl(&srv, NULL, "put", "/r/b", "2", NULL));
	int64_t rev = etcdctl_revision(etcdctl(&srv, NULL, "del", "/r/a",
					       "-w", "json", NULL));
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, WAIT_MS), 0);
	expect_equal_to_etcdctl("/r/");
	struct snapmap_etcd_stats st;
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_geq(st.reconnects, 1);
	cr_assert_eq(st.resyncs, 0, "resumed by a relist, not by the watch");
	cr_assert(st.watching || st.revision >= rev);
}

Test(etcd, compaction_while_disconnected_resyncs_in_one_publish)
{
	struct snapmap_etcd_config cfg = config("/c/");
	/* A backoff longer than a restart plus a compaction: the mirror is
	 * still away when etcd compacts what it would resume from. */
	cfg.backoff_min_ms = cfg.backoff_max_ms = 20000;
	free(etcdctl(&srv, NULL, "put", "/c/a", "1", NULL));
	free(etcdctl(&srv, NULL, "put", "/c/b", "1", NULL));
	start(&cfg);
	wait_watching();
	etcd_kill(&srv, SIGKILL);
	etcd_restart(&srv);
	free(etcdctl(&srv, NULL, "put", "/c/c", "1", NULL));
	free(etcdctl(&srv, NULL, "del", "/c/a", NULL));
	int64_t rev = etcdctl_revision(etcdctl(&srv, NULL, "put", "/c/b",
					       "2", "-w", "json", NULL));
	char revs[32];
	snprintf(revs, sizeof(revs), "%lld", (long long)rev);
	free(etcdctl(&srv, NULL, "compact", revs, NULL));
	free(etcdctl(&srv, NULL, "defrag", NULL));
	uint64_t v = map_version();
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, 60000), 0);
	struct snapmap_etcd_stats st;
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_eq(st.resyncs, 1);
	cr_assert_eq(map_version(), v + 1, "the resync took more publishes");
	/* The event follows the publish; wait for it, bounded. */
	for (int i = 0; i < 500 && !events(SNAPMAP_ETCD_RESYNCED); i++)
		usleep(10000);
	cr_assert_eq(events(SNAPMAP_ETCD_RESYNCED), 1);
	expect_equal_to_etcdctl("/c/");
}

/*
 * The delete is at R + 1 and etcd compacts exactly R + 1: a watch from
 * R + 1 is accepted but misses the delete (the compaction dropped its
 * tombstone).  The mirror must notice and resync instead.
 */
Test(etcd, compaction_at_the_resume_revision_does_not_lose_a_delete)
{
	struct snapmap_etcd_config cfg = config("/z/");
	cfg.backoff_min_ms = cfg.backoff_max_ms = 20000;
	free(etcdctl(&srv, NULL, "put", "/z/a", "1", NULL));
	start(&cfg);
	wait_watching();
	etcd_kill(&srv, SIGKILL);
	etcd_restart(&srv);
	int64_t rev = etcdctl_revision(etcdctl(&srv, NULL, "del", "/z/a",
					       "-w", "json", NULL));
	cr_assert_eq(rev, snapmap_etcd_revision(mirror) + 1);
	char revs[32];
	snprintf(revs, sizeof(revs), "%lld", (long long)rev);
	free(etcdctl(&srv, NULL, "compact", revs, NULL));
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, 60000), 0);
	cr_assert_eq(snapmap_get(map, "a", 1, NULL, 0, NULL), -ENOENT,
		     "the delete at the compaction revision was lost");
	struct snapmap_etcd_stats st;
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_eq(st.resyncs, 1);
}

Test(etcd, empty_prefix_syncs_to_an_empty_map)
{
	free(etcdctl(&srv, NULL, "put", "/other", "x", NULL));
	struct snapmap_etcd_config cfg = config("/nothing/here/");
	start(&cfg);
	/* Nothing to replace: the core publishes nothing or one version. */
	cr_assert_leq(map_version(), 1);
	cr_assert_gt(snapmap_etcd_revision(mirror), 1);
	rcu_read_lock();
	cr_assert_eq(snapmap_count(snapmap_snapshot(map)), 0);
	rcu_read_unlock();
}

Test(etcd, arbitrary_bytes_in_keys_values_and_prefix)
{
	/* The range of prefix "b\xff" ends at "c": keys "b\xff..." only. */
	static const char prefix[] = "b\xff";
	unsigned char val[256], key[4] = { 'b', 0xff, 0, 0 };
	int64_t rev = 0;

	for (int i = 0; i < 256; i++)
		val[i] = (unsigned char)i;
	etcd_put_raw(&srv, "b", 1, "below", 5);
	etcd_put_raw(&srv, "c", 1, "above", 5);
	etcd_put_raw(&srv, "b\xfe", 2, "below", 5);
	etcd_put_raw(&srv, "b\xff", 2, "", 0);	/* the prefix itself */
	struct snapmap_etcd_config cfg = config(NULL);
	cfg.prefix = prefix;
	cfg.prefix_len = 2;
	start(&cfg);
	for (int i = 0; i < 4; i++) {
		key[2] = (unsigned char)(i * 85);	/* 0, 85, 170, 255 */
		key[3] = (unsigned char)(255 - i);
		rev = etcd_put_raw(&srv, key, 4, val, sizeof(val) - (size_t)i);
	}
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, WAIT_MS), 0);
	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_count(snap), 5);
	const void *v;
	size_t vlen;
	cr_assert_eq(snapmap_find(snap, "", 0, &v, &vlen), 0);
	cr_assert_eq(vlen, 0);
	for (int i = 0; i < 4; i++) {
		key[2] = (unsigned char)(i * 85);
		key[3] = (unsigned char)(255 - i);
		cr_assert_eq(snapmap_find(snap, key + 2, 2, &v, &vlen), 0);
		cr_assert(vlen == sizeof(val) - (size_t)i &&
			  !memcmp(v, val, vlen));
	}
	rcu_read_unlock();
}

Test(etcd, values_over_the_limits_are_reported_not_applied)
{
	struct snapmap_config mc = { .max_value_len = 16 };
	cr_assert_eq(snapmap_destroy(map), 0);
	map = snapmap_new(&mc);
	cr_assert(map);
	free(etcdctl(&srv, NULL, "put", "/l/big", "fits", NULL));
	struct snapmap_etcd_config cfg = config("/l/");
	start(&cfg);
	cr_assert_eq(snapmap_get(map, "big", 3, NULL, 0, NULL), -ERANGE);
	int64_t rev = txn("put /l/a small\n"
			  "put /l/big 0123456789abcdef0123456789\n"
			  "put /l/b small\n");
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, WAIT_MS), 0);
	struct snapmap_etcd_stats st;
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_eq(st.rejected, 1);
	cr_assert_eq(st.last_error, -E2BIG);
	cr_assert_gt(events(SNAPMAP_ETCD_ERROR), 0);
	/* The rest of the transaction is applied; the old value is gone. */
	cr_assert_eq(snapmap_get(map, "a", 1, NULL, 0, NULL), -ERANGE);
	cr_assert_eq(snapmap_get(map, "b", 1, NULL, 0, NULL), -ERANGE);
	cr_assert_eq(snapmap_get(map, "big", 3, NULL, 0, NULL), -ENOENT);
}

Test(etcd, keep_prefix_and_failover_to_the_next_endpoint)
{
	char eps[160];
	snprintf(eps, sizeof(eps), "http://127.0.0.1:%d,%s",
		 etcd_free_port(), srv.endpoint);
	free(etcdctl(&srv, NULL, "put", "/f/a", "1", NULL));
	struct snapmap_etcd_config cfg = config("/f/");
	cfg.endpoints = eps;
	cfg.flags = SNAPMAP_ETCD_KEEP_PREFIX;
	start(&cfg);
	cr_assert_eq(snapmap_get(map, "/f/a", 4, NULL, 0, NULL), -ERANGE);
	struct snapmap_etcd_stats st;
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_eq(st.endpoint, 1);
	cr_assert_eq(ev_last_code, -ECONNREFUSED);
}

Test(etcd, auth_user_and_password)
{
	etcd_enable_auth(&srv, "s3cret");
	free(etcdctl(&srv, NULL, "put", "/a/k", "v", NULL));
	struct snapmap_etcd_config cfg = config("/a/");
	cfg.user = "root";
	cfg.password = "s3cret";
	start(&cfg);
	cr_assert_eq(snapmap_get(map, "k", 1, NULL, 0, NULL), -ERANGE);
	int64_t rev = etcdctl_revision(etcdctl(&srv, NULL, "put", "/a/k2",
					       "v2", "-w", "json", NULL));
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, WAIT_MS), 0);
	cr_assert_eq(snapmap_get(map, "k2", 2, NULL, 0, NULL), -ERANGE);
}

Test(etcd, auth_failure_is_reported_and_publishes_nothing)
{
	etcd_enable_auth(&srv, "s3cret");
	struct snapmap_etcd_config cfg = config("/a/");
	cfg.user = "root";
	cfg.password = "wrong";
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &mirror), 0);
	for (int i = 0; i < 1000 && !events(SNAPMAP_ETCD_ERROR); i++)
		usleep(10000);
	cr_assert_eq(ev_last_code, -EACCES);
	struct snapmap_etcd_stats st;
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_eq(st.last_error, -EACCES);
	cr_assert(strstr(st.last_message, "authentication failed"), "%s",
		  st.last_message);
	cr_assert_eq(snapmap_etcd_revision(mirror), 0);
	cr_assert_eq(map_version(), 0);
}

TestSuite(etcd_tls, .init = setup_map, .fini = teardown, .timeout = 120);

Test(etcd_tls, client_certificate_and_ca)
{
	etcd_start_tls(&srv);
	free(etcdctl(&srv, NULL, "put", "/t/k", "v", NULL));
	struct snapmap_etcd_config cfg = config("/t/");
	cfg.ca_file = srv.ca;
	cfg.cert_file = srv.cert;
	cfg.key_file = srv.key;
	start(&cfg);
	cr_assert_eq(snapmap_get(map, "k", 1, NULL, 0, NULL), -ERANGE);
	int64_t rev = etcdctl_revision(etcdctl(&srv, NULL, "put", "/t/k2",
					       "v2", "-w", "json", NULL));
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, WAIT_MS), 0);
}

Test(etcd_tls, without_client_certificate_is_refused_and_reported)
{
	etcd_start_tls(&srv);
	struct snapmap_etcd_config cfg = config("/t/");
	cfg.ca_file = srv.ca;
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &mirror), 0);
	for (int i = 0; i < 1000 && !events(SNAPMAP_ETCD_ERROR); i++)
		usleep(10000);
	cr_assert_gt(events(SNAPMAP_ETCD_ERROR), 0);
	cr_assert_eq(snapmap_etcd_revision(mirror), 0);
	cr_assert_eq(map_version(), 0);
}

Test(etcd_tls, bad_tls_files_fail_the_start)
{
	struct snapmap_etcd_config cfg = {
		.endpoints = "https://127.0.0.1:2379",
		.ca_file = "/nonexistent/ca.pem",
	};
	struct snapmap_etcd_mirror *m = NULL;

	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &m), -ENOENT);
	cfg.ca_file = NULL;
	cfg.cert_file = "/nonexistent/client.pem";
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &m), -ENOENT);
	cfg.cert_file = NULL;
	cfg.key_file = "/etc/hostname";
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &m), -EINVAL,
		     "a key without a certificate");
	cfg.key_file = NULL;
	cfg.password = "pw";
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &m), -EINVAL,
		     "a password without a user");
	cr_assert_null(m);
}

/*
 * Three members; the mirror talks to the first.  Kill it: the mirror
 * moves to another endpoint and resumes its watch there, without a
 * relist and without missing a revision (one batch per transaction).
 */
static struct etcd_server members[ETCD_CLUSTER_SIZE];

static void cluster_fini(void)
{
	if (mirror)
		cr_assert_eq(snapmap_etcd_mirror_stop(mirror), 0);
	mirror = NULL;
	cr_assert_eq(snapmap_destroy(map), 0);
	map = NULL;
	for (int i = 0; i < ETCD_CLUSTER_SIZE; i++)
		etcd_stop(&members[i]);
	rcu_unregister_thread();
}

Test(etcd_cluster, failover_to_another_member_loses_no_revision,
     .init = setup_map, .fini = cluster_fini, .timeout = 180)
{
	char eps[ETCD_CLUSTER_SIZE * sizeof(members[0].endpoint)];
	int64_t rev = 0;

	etcd_cluster_start(members);
	snprintf(eps, sizeof(eps), "%s,%s,%s", members[0].endpoint,
		 members[1].endpoint, members[2].endpoint);
	srv = members[1];	/* etcdctl talks to a member that stays */
	free(etcdctl(&srv, NULL, "put", "/m/before", "1", NULL));
	struct snapmap_etcd_config cfg = config("/m/");
	cfg.endpoints = eps;
	start(&cfg);
	wait_watching();
	struct snapmap_etcd_stats st;
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_eq(st.endpoint, 0);

	free(etcdctl(&srv, NULL, "put", "/m/a", "1", NULL));
	etcd_kill(&members[0], SIGKILL);
	etcd_wait_healthy(&members[1]);	/* a leader again, if it was one */
	for (int i = 0; i < 10; i++) {
		char k[16];

		snprintf(k, sizeof(k), "/m/k%d", i);
		rev = etcdctl_revision(etcdctl(&srv, NULL, "put", k, "v",
					       "-w", "json", NULL));
	}
	cr_assert_eq(snapmap_etcd_wait_revision(mirror, rev, 60000), 0);
	expect_equal_to_etcdctl("/m/");
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_neq(st.endpoint, 0);
	cr_assert_eq(st.resyncs, 0, "failed over by a relist");
	cr_assert_geq(st.reconnects, 1);
	cr_assert_eq(st.batches, 11, "a revision was lost or split");
	srv = (struct etcd_server){ .pid = 0 };
}

/* ---- without a working etcd ------------------------------------- */

TestSuite(etcd_nosrv, .init = setup_map, .fini = teardown, .timeout = 60);

Test(etcd_nosrv, bad_configurations_are_refused)
{
	struct snapmap_etcd_config cfg = { .endpoints = "127.0.0.1:2379" };
	struct snapmap_etcd_mirror *m = NULL;

	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &m), -EINVAL);
	cfg.endpoints = "http://127.0.0.1:2379,";
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &m), -EINVAL);
	cfg.endpoints = "";
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &m), -EINVAL);
	cfg.endpoints = NULL;
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &m), -EINVAL);
	cfg.endpoints = "http://127.0.0.1:2379";
	cfg.backoff_min_ms = 10;
	cfg.backoff_max_ms = 5;
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &m), -EINVAL);
	cr_assert_eq(snapmap_etcd_mirror_start(NULL, &cfg, &m), -EINVAL);
	cr_assert_null(m);
	cr_assert_eq(snapmap_etcd_mirror_stop(NULL), -EINVAL);
	cr_assert_eq(snapmap_etcd_revision(NULL), 0);
}

Test(etcd_nosrv, unreachable_endpoint_is_reported_and_goes_stale)
{
	char ep[64];
	struct snapmap_etcd_stats st;

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", etcd_free_port());
	struct snapmap_etcd_config cfg = {
		.endpoints = ep, .backoff_min_ms = 20, .backoff_max_ms = 50,
		.stale_after_ms = 100, .event = on_event,
	};
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &mirror), 0);
	for (int i = 0; i < 400 && !events(SNAPMAP_ETCD_STALE); i++)
		usleep(10000);
	cr_assert_eq(events(SNAPMAP_ETCD_STALE), 1);
	cr_assert_eq(ev_last_code, -ECONNREFUSED);
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_eq(st.last_error, -ECONNREFUSED);
	cr_assert(strstr(st.last_message, ep), "%s", st.last_message);
	cr_assert(!st.watching && st.stale_ms >= 100);
	cr_assert_eq(st.revision, 0);
	cr_assert_eq(map_version(), 0, "a failed sync published");
}

/*
 * Stop in every state returns well before any timeout of the mirror
 * would end the state by itself (all set to a minute).
 */
static double stop_seconds(void)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_assert_eq(snapmap_etcd_mirror_stop(mirror), 0);
	mirror = NULL;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

Test(etcd_nosrv, stop_while_backing_off)
{
	char ep[64];

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", etcd_free_port());
	struct snapmap_etcd_config cfg = {
		.endpoints = ep, .backoff_min_ms = 60000,
		.backoff_max_ms = 60000, .event = on_event,
	};
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &mirror), 0);
	for (int i = 0; i < 400 && !events(SNAPMAP_ETCD_ERROR); i++)
		usleep(10000);
	cr_assert_gt(events(SNAPMAP_ETCD_ERROR), 0);
	cr_assert_lt(stop_seconds(), 10.0);
}

/* A server that accepts connections and never answers. */
Test(etcd_nosrv, stop_while_connecting_or_syncing)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char ep[64];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	cr_assert(listen(fd, 8) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", ntohs(a.sin_port));
	struct snapmap_etcd_config cfg = {
		.endpoints = ep, .connect_timeout_ms = 60000,
		.request_timeout_ms = 60000,
	};
	cr_assert_eq(snapmap_etcd_mirror_start(map, &cfg, &mirror), 0);
	usleep(300000);
	struct snapmap_etcd_stats st;
	cr_assert_eq(snapmap_etcd_stats(mirror, &st), 0);
	cr_assert_eq(st.last_error, 0, "the request should still hang");
	cr_assert_lt(stop_seconds(), 10.0);
	close(fd);
}

Test(etcd, stop_while_watching)
{
	struct snapmap_etcd_config cfg = config("/s/");
	start(&cfg);
	cr_assert_lt(stop_seconds(), 10.0);
}

/* Each test runs its own etcd: one at a time, unless --jobs says else. */
int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;

	criterion_options.jobs = 1;
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return result;
}
