/*
 * test_process.c - a map's life across process-wide events: no thread
 * can be created (liburcu would abort when it creates its call_rcu
 * worker), and fork() (issue 11, items 5 and 6).  Each scenario runs in
 * a child process, so that the limits and the fork stay out of the
 * test's own process, and the parent checks how the child ended, within
 * a bound.
 */
#include <urcu.h>

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

TestSuite(process, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);

enum {
	CHILD_OK = 0,
	CHILD_NOT_LIMITED = 3,	/* the map was created: the limit did not bite */
	CHILD_WRONG_ERRNO = 4,
	CHILD_WRITE_FAILED = 5,
	CHILD_WRONG_COUNT = 6,
};

/*
 * Waits at most @seconds for @pid; kills it past that.  Returns its wait
 * status, or -1 when it had to be killed.
 */
static int wait_bounded(pid_t pid, int seconds)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int status;

	for (int i = 0; i < seconds * 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		cr_assert_neq(r, -1, "waitpid: errno %d", errno);
		if (r == pid)
			return status;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void assert_child_ok(int status, const char *what)
{
	cr_assert_neq(status, -1, "%s: the child hung", what);
	cr_assert(WIFEXITED(status), "%s: the child died of signal %d",
		  what, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), CHILD_OK, "%s: child exit code %d",
		     what, WEXITSTATUS(status));
}

/*
 * Makes thread creation fail in this (child) process: RLIMIT_NPROC of 0
 * for its user.  Root ignores the limit, so root first becomes nobody.
 * Returns 0, or -1 when the limit cannot be set.
 */
static int forbid_threads(void)
{
	struct rlimit none = { 0, 0 };

	if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
		return -1;
	return setrlimit(RLIMIT_NPROC, &none);
}

/*
 * Where no thread can be created, the first map of the process cannot
 * get a call_rcu worker.  liburcu would abort
 * the process at the map's first write; snapmap_new() reports it.
 */
Test(process, no_thread_for_the_call_rcu_worker)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct snapmap *map;

		if (forbid_threads())
			_exit(CHILD_NOT_LIMITED);
		map = snapmap_new(NULL);
		if (map) {
			/* Before the fix: liburcu creates its worker here
			 * and aborts the process. */
			snapmap_put(map, "k", 1, "v", 1);
			_exit(CHILD_NOT_LIMITED);
		}
		_exit(errno == EAGAIN ? CHILD_OK : CHILD_WRONG_ERRNO);
	}
	assert_child_ok(wait_bounded(pid, 60), "snapmap_new without threads");
}

/*
 * A child that writes over the reclaim limit needs a call_rcu worker;
 * snapmap_atfork() gives it one.  Without it the child waits forever
 * for reclamation that nobody runs.
 */
Test(process, fork_child_writes_over_the_reclaim_limit)
{
	struct snapmap_config cfg = { .reclaim_limit = 1 };
	struct snapmap *map;
	enum { PUTS = 200 };
	pid_t pid;

	cr_assert_eq(snapmap_atfork(), 0);
	map = ut_map_new(&cfg);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(ut_put_str(map, "parent", "p"), 0);

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char key[16];

		for (int i = 0; i < PUTS; i++) {
			snprintf(key, sizeof(key), "child%d", i);
			if (ut_put_str(map, key, "c"))
				_exit(CHILD_WRITE_FAILED);
		}
		if (snapmap_destroy(map))
			_exit(CHILD_WRITE_FAILED);
		_exit(CHILD_OK);
	}
	rcu_thread_offline();
	assert_child_ok(wait_bounded(pid, 60), "writes in the child");
	rcu_thread_online();
	/* The parent's map is its own. */
	cr_assert_eq(ut_count(map), 1);
	cr_assert_eq(ut_put_str(map, "after", "fork"), 0);
	ut_map_destroy(map);
}
