/*
 * snapmap-etcd.c - the etcd mirror from the command line.
 *
 *   snapmap-etcd dump  [OPTIONS] OUT.snap  the prefix at one etcd
 *                      revision, saved as a snapshot file (crash-safe)
 *   snapmap-etcd watch [OPTIONS]           prints each revision the
 *                      mirror applies: a live view for operators
 *
 * Options: --endpoints URLS (required), --prefix P, --keep-prefix,
 * --timeout-ms N (dump: how long the first sync may take, default
 * 10000), --seconds N (watch: stop after N seconds; default: until
 * SIGINT or SIGTERM), --cacert F, --cert F, --key F, --user NAME (the
 * password is read from the SNAPMAP_ETCD_PASSWORD environment variable,
 * never from the command line, where ps(1) would show it).
 *
 * A separate program from snapmap(1) so that the core tool keeps
 * depending on liburcu alone.  Exit status: 0 success, 1 failure (the
 * reason on stderr), 2 usage.
 */
#include <urcu.h>		/* memb flavor: snapmap_new() binds to it */
#include <snapmap-etcd.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_BAD	1
#define EXIT_USAGE	2

static const char *prog = "snapmap-etcd";
static volatile sig_atomic_t interrupted;

/* The last error the mirror reported, for a dump that times out. */
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_error[256];

static void on_event(struct snapmap_etcd_mirror *m,
		     const struct snapmap_etcd_event *ev, void *ctx)
{
	(void)m; (void)ctx;
	if (ev->type != SNAPMAP_ETCD_ERROR)
		return;
	pthread_mutex_lock(&err_lock);
	snprintf(last_error, sizeof(last_error), "%s", ev->message);
	pthread_mutex_unlock(&err_lock);
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int usage(FILE *f, int status)
{
	fprintf(f,
		"usage: %s dump  --endpoints URLS [--prefix P] [--keep-prefix]\n"
		"                     [--timeout-ms N] [TLS/auth options] OUT.snap\n"
		"       %s watch --endpoints URLS [--prefix P] [--keep-prefix]\n"
		"                     [--seconds N] [TLS/auth options]\n"
		"TLS/auth options: --cacert F --cert F --key F --user NAME\n"
		"(password from SNAPMAP_ETCD_PASSWORD)\n", prog, prog);
	return status;
}

static int dump(struct snapmap *map, struct snapmap_etcd_mirror *mirror,
		const char *out, int timeout_ms)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_error err;
	int rc;

	rc = snapmap_etcd_wait_revision(mirror, 1, timeout_ms);
	if (rc) {
		pthread_mutex_lock(&err_lock);
		fprintf(stderr, "%s: dump: no sync within %d ms: %s\n", prog,
			timeout_ms, last_error[0] ? last_error : "no answer");
		pthread_mutex_unlock(&err_lock);
		return EXIT_BAD;
	}
	/* The first sync is one publish: the pinned snapshot is exactly
	 * the prefix at the sync's revision, whatever the watch does next. */
	snap = snapmap_pin(map);
	rc = snapmap_save(snap, out, &err);
	if (!rc)
		fprintf(stderr, "%s: dump: %zu keys at etcd revision %lld\n",
			prog, snapmap_count(snap),
			(long long)snapmap_etcd_revision(mirror));
	snapmap_unpin(snap);
	if (rc) {
		fprintf(stderr, "%s: dump: %s: %s\n", prog, out,
			err.message[0] ? err.message : snapmap_strerror(rc));
		return EXIT_BAD;
	}
	return 0;
}

static int watch(struct snapmap *map, struct snapmap_etcd_mirror *mirror,
		 int seconds)
{
	time_t end = seconds > 0 ? time(NULL) + seconds : 0;
	int64_t shown = 0;

	while (!interrupted && (!end || time(NULL) < end)) {
		int64_t rev;

		if (snapmap_etcd_wait_revision(mirror, shown + 1, 200))
			continue;
		rev = snapmap_etcd_revision(mirror);
		rcu_read_lock();
		printf("revision %lld: %zu keys (map version %llu)\n",
		       (long long)rev, snapmap_count(snapmap_snapshot(map)),
		       (unsigned long long)snapmap_version(
			       snapmap_snapshot(map)));
		rcu_read_unlock();
		fflush(stdout);
		shown = rev;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "endpoints", required_argument, NULL, 'e' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "keep-prefix", no_argument, NULL, 'k' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'K' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct snapmap_etcd_config cfg = { .event = on_event };
	struct snapmap_etcd_mirror *mirror;
	struct snapmap *map;
	int timeout_ms = 10000, seconds = 0, opt, rc, status;
	const char *cmd;

	if (argc < 2)
		return usage(stderr, EXIT_USAGE);
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help"))
		return usage(stdout, 0);
	if (strcmp(cmd, "dump") && strcmp(cmd, "watch"))
		return usage(stderr, EXIT_USAGE);
	optind = 2;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e': cfg.endpoints = optarg; break;
		case 'p': cfg.prefix = optarg;
			  cfg.prefix_len = strlen(optarg); break;
		case 'k': cfg.flags |= SNAPMAP_ETCD_KEEP_PREFIX; break;
		case 't': timeout_ms = atoi(optarg); break;
		case 's': seconds = atoi(optarg); break;
		case 'C': cfg.ca_file = optarg; break;
		case 'c': cfg.cert_file = optarg; break;
		case 'K': cfg.key_file = optarg; break;
		case 'u': cfg.user = optarg;
			  cfg.password = getenv("SNAPMAP_ETCD_PASSWORD");
			  break;
		case 'h': return usage(stdout, 0);
		default: return usage(stderr, EXIT_USAGE);
		}
	}
	if (!cfg.endpoints || timeout_ms <= 0 ||
	    argc - optind != (strcmp(cmd, "dump") ? 0 : 1))
		return usage(stderr, EXIT_USAGE);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rcu_register_thread();
	map = snapmap_new(NULL);
	if (!map) {
		fprintf(stderr, "%s: %s\n", prog, snapmap_strerror(-errno));
		return EXIT_BAD;
	}
	rc = snapmap_etcd_mirror_start(map, &cfg, &mirror);
	if (rc) {
		fprintf(stderr, "%s: %s: %s\n", prog, cmd,
			snapmap_strerror(rc));
		snapmap_destroy(map);
		return rc == -EINVAL ? EXIT_USAGE : EXIT_BAD;
	}
	status = strcmp(cmd, "dump") ? watch(map, mirror, seconds) :
		 dump(map, mirror, argv[optind], timeout_ms);
	snapmap_etcd_mirror_stop(mirror);
	snapmap_destroy(map);
	rcu_unregister_thread();
	return status;
}
