/*
 * test_tool.c - snapmap-etcd dump and watch against a real etcd.
 */
#include <urcu.h>
#include <snapmap.h>

#include "server.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct etcd_server srv;

static void setup(void)
{
	rcu_register_thread();
	etcd_start(&srv);
}

static void teardown(void)
{
	etcd_stop(&srv);
	rcu_unregister_thread();
}

TestSuite(etcd_tool, .init = setup, .fini = teardown, .timeout = 60);

Test(etcd_tool, dump_saves_the_prefix_at_one_revision)
{
	char out[300], *log;
	int status;

	free(etcdctl(&srv, NULL, "put", "/d/a", "1", NULL));
	free(etcdctl(&srv, NULL, "put", "/d/b", "2", NULL));
	free(etcdctl(&srv, NULL, "put", "/e", "outside", NULL));
	snprintf(out, sizeof(out), "%s/dump.snap", srv.dir);
	const char *argv[] = { "snapmap-etcd", "dump", "--endpoints",
			       srv.endpoint, "--prefix", "/d/", out, NULL };
	log = run_capture(SNAPMAP_ETCD_TOOL, NULL, argv, &status);
	cr_assert_eq(status, 0);
	free(log);

	struct snapmap *map = snapmap_new(NULL);
	char val[8];
	size_t vlen;

	cr_assert_eq(snapmap_load(map, out, NULL, NULL), 0);
	cr_assert_eq(snapmap_get(map, "a", 1, val, sizeof(val), &vlen), 0);
	cr_assert(vlen == 1 && val[0] == '1');
	cr_assert_eq(snapmap_get(map, "b", 1, val, sizeof(val), &vlen), 0);
	rcu_read_lock();
	cr_assert_eq(snapmap_count(snapmap_snapshot(map)), 2);
	rcu_read_unlock();
	cr_assert_eq(snapmap_destroy(map), 0);
}

Test(etcd_tool, dump_from_a_dead_endpoint_fails_with_the_reason)
{
	char ep[64], out[300], *log;
	int status;

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", etcd_free_port());
	snprintf(out, sizeof(out), "%s/dump.snap", srv.dir);
	const char *argv[] = { "snapmap-etcd", "dump", "--endpoints", ep,
			       "--timeout-ms", "500", out, NULL };
	log = run_capture(SNAPMAP_ETCD_TOOL, NULL, argv, &status);
	cr_assert_eq(status, 1);
	cr_assert_eq(access(out, F_OK), -1, "a file was written");
	free(log);
}

Test(etcd_tool, watch_prints_each_applied_revision)
{
	const char *argv[] = { "snapmap-etcd", "watch", "--endpoints",
			       srv.endpoint, "--prefix", "/w/", "--seconds",
			       "3", NULL };
	int64_t rev;
	char want[64], *log;
	int status;
	pid_t pid;
	int fds[2];

	/* Writes while the tool runs: a child of ours writes after 1 s. */
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		sleep(1);
		rev = etcdctl_revision(etcdctl(&srv, NULL, "put", "/w/k", "v",
					       "-w", "json", NULL));
		cr_assert(write(fds[1], &rev, sizeof(rev)) == sizeof(rev));
		_exit(0);
	}
	log = run_capture(SNAPMAP_ETCD_TOOL, NULL, argv, &status);
	cr_assert_eq(status, 0);
	cr_assert(read(fds[0], &rev, sizeof(rev)) == sizeof(rev));
	waitpid(pid, NULL, 0);
	snprintf(want, sizeof(want), "revision %lld: 1 keys", (long long)rev);
	cr_assert(strstr(log, want), "no line \"%s\" in:\n%s", want, log);
	free(log);
}
