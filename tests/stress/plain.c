/*
 * plain.c - runs the stress tests without Criterion (see plain.h), for
 * ThreadSanitizer builds.
 *
 * Like Criterion, each test (each parameter of a parameterized test) runs
 * in a process of its own, one at a time: a crash, a timeout or a
 * sanitizer report ends that test only.  A failed assertion exits the
 * test's process with PR_EXIT_FAIL ("Failing"); any other end but a clean
 * exit 0 (a signal, or TSan's exit code after a report) is "Crashing".
 * The last line is Criterion's summary, which .ci/run counts:
 *   [====] Synthesis: Tested: N | Passing: N | Failing: N | Crashing: N
 * and the exit status is 0 only if every test passed.
 *
 * Usage: stress-plain [--list] [--filter GLOB], GLOB matched (fnmatch)
 * against "suite/name", as Criterion's --filter does.
 */
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plain.h"

#define PR_EXIT_FAIL	3

/* Registered tests, sorted by suite then name: a stable order to run. */
static struct pr_test *pr_tests;

static int pr_cmp(const struct pr_test *a, const struct pr_test *b)
{
	int c = strcmp(a->suite, b->suite);

	return c ? c : strcmp(a->name, b->name);
}

void pr_register(struct pr_test *test)
{
	struct pr_test **p = &pr_tests;

	while (*p && pr_cmp(*p, test) < 0)
		p = &(*p)->next;
	test->next = *p;
	*p = test;
}

void pr_fail(const char *file, int line, const char *cond,
	     const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[----] %s:%d: Assertion failed: %s\n", file, line,
		cond);
	if (fmt[1]) {	/* plain.h's leading tab, then the message */
		fputs("[----] ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt + 1, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fflush(NULL);
	exit(PR_EXIT_FAIL);
}

void pr_log_info(const char *fmt, ...)
{
	va_list ap;

	fputs("[----] ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The test's own process: never returns. */
static void pr_child(const struct pr_test *t, void *param)
{
	unsigned timeout = (unsigned)t->timeout;

	if (timeout < t->timeout)
		timeout++;
	alarm(timeout);	/* 0: none; else SIGALRM kills the test */
	if (t->init)
		t->init();
	t->call(param);
	fflush(NULL);
	/* exit, not _exit: TSan turns a report into the exit status here. */
	exit(0);
}

enum pr_result { PR_PASS, PR_FAIL, PR_CRASH };

static enum pr_result pr_run(const struct pr_test *t, void *param,
			     size_t index)
{
	int status;
	pid_t pid;

	fprintf(stderr, "[RUN ] %s::%s [%zu]\n", t->suite, t->name, index);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return PR_CRASH;
	}
	if (pid == 0)
		pr_child(t, param);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			return PR_CRASH;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		fprintf(stderr, "[PASS] %s::%s [%zu]\n", t->suite, t->name,
			index);
		return PR_PASS;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == PR_EXIT_FAIL) {
		fprintf(stderr, "[FAIL] %s::%s [%zu]\n", t->suite, t->name,
			index);
		return PR_FAIL;
	}
	if (WIFSIGNALED(status))
		fprintf(stderr, "[FAIL] %s::%s [%zu]: crashed: %s%s\n",
			t->suite, t->name, index, strsignal(WTERMSIG(status)),
			WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
	else
		fprintf(stderr, "[FAIL] %s::%s [%zu]: exited with status %d "
			"(a sanitizer report?)\n", t->suite, t->name, index,
			WEXITSTATUS(status));
	return PR_CRASH;
}

static int pr_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--list] [--filter GLOB]\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	bool list = false;
	size_t tested = 0, counts[3] = { 0 };
	char id[256];
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list"))
			list = true;
		else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
			filter = argv[++i];
		else if (!strncmp(argv[i], "--filter=", 9))
			filter = argv[i] + 9;
		else
			return pr_usage(argv[0]);
	}

	for (const struct pr_test *t = pr_tests; t; t = t->next) {
		struct pr_params p = t->params();

		snprintf(id, sizeof(id), "%s/%s", t->suite, t->name);
		if (filter && fnmatch(filter, id, 0) != 0)
			continue;
		if (list) {
			printf("%s (%zu parameters)\n", id, p.length);
			continue;
		}
		for (size_t k = 0; k < p.length; k++) {
			counts[pr_run(t, (char *)p.params + k * p.size, k)]++;
			tested++;
		}
	}
	if (list)
		return 0;
	fprintf(stderr, "[====] Synthesis: Tested: %zu | Passing: %zu | "
		"Failing: %zu | Crashing: %zu\n", tested, counts[PR_PASS],
		counts[PR_FAIL], counts[PR_CRASH]);
	return counts[PR_PASS] == tested ? 0 : 1;
}
