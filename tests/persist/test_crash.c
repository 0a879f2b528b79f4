/*
 * test_crash.c - crash safety of saving: a child process saves two
 * versions in turn to one path in an endless loop and is killed with
 * SIGKILL at random moments; after every kill the file under the path
 * verifies and holds one whole version, and the next save leaves no
 * temporary file behind.  Binary (50 kills) and text (20 kills), which
 * share the crash-safe write.
 *
 * The random delay only chooses where the kill lands; nothing waits for
 * time.  The child tells the parent through a pipe once its first save
 * is through, so every kill lands in the save loop.  The child saves
 * snapshots the parent pinned before forking: it needs no RCU thread of
 * its own.
 */
#include "util.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(crash, .init = pt_setup, .fini = pt_teardown, .timeout = PT_TIMEOUT);

/* Saves a and b in turn, forever; writes one byte to @ready after the
 * first save. */
static void child_loop(const struct snapmap_snapshot *a,
		       const struct snapmap_snapshot *b, const char *path,
		       bool text, int ready)
{
	for (unsigned long i = 0;; i++) {
		const struct snapmap_snapshot *s = i % 2 ? b : a;
		int rc = text ? snapmap_save_text(s, path, NULL)
			      : snapmap_save(s, path, NULL);

		if (rc)
			_exit(1);
		if (i == 0 && write(ready, "r", 1) != 1)
			_exit(2);
	}
}

/* Loads @path and asserts it holds all of @a or all of @b. */
static void assert_whole(const char *path, bool text,
			 const struct snapmap_snapshot *a,
			 const struct snapmap_snapshot *b, unsigned kill)
{
	struct snapmap *check = pt_map_new(NULL);
	const struct snapmap_snapshot *got, *want;
	struct snapmap_error err;
	int rc;

	rc = text ? snapmap_load_text(check, path, NULL, &err)
		  : snapmap_load(check, path, NULL, &err);
	cr_assert_eq(rc, 0, "after kill %u: %d %s", kill, rc, err.message);
	got = snapmap_pin(check);
	want = snapmap_count(got) == snapmap_count(a) ? a : b;
	pt_assert_same_snap(got, want);
	snapmap_unpin(got);
	pt_map_destroy(check);
}

static void kill_while_saving(bool text, unsigned kills)
{
	const char *path = pt_path(text ? "target.txt" : "target.snap");
	struct snapmap *ma = pt_map_new(NULL), *mb = pt_map_new(NULL);
	const struct snapmap_snapshot *a, *b;
	unsigned stale = 0;

	/* Two versions of different sizes, big enough that a save takes a
	 * while; a torn file could not pass for either. */
	pt_fill(ma, 3000, 1);
	pt_fill(mb, 5000, 2);
	a = snapmap_pin(ma);
	b = snapmap_pin(mb);
	cr_assert_eq(text ? snapmap_save_text(a, path, NULL)
			  : snapmap_save(a, path, NULL), 0);
	srand((unsigned)time(NULL));

	for (unsigned k = 0; k < kills; k++) {
		struct timespec delay = { 0, (rand() % 4000) * 1000L };
		int ready[2], status;
		char c;
		pid_t pid;

		cr_assert_eq(pipe(ready), 0);
		fflush(NULL);
		pid = fork();
		cr_assert_neq(pid, -1);
		if (pid == 0) {
			close(ready[0]);
			child_loop(a, b, path, text, ready[1]);
		}
		close(ready[1]);
		cr_assert_eq(read(ready[0], &c, 1), 1,
			     "the child died before its first save");
		close(ready[0]);
		nanosleep(&delay, NULL);
		cr_assert_eq(kill(pid, SIGKILL), 0);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			  "the child failed on its own: status 0x%x", status);
		assert_whole(path, text, a, b, k);
		/* What a kill left, the next save removes: the writer is
		 * dead and its lock gone with it. */
		stale += pt_tmp_files();
		cr_assert_eq(text ? snapmap_save_text(a, path, NULL)
				  : snapmap_save(a, path, NULL), 0);
		cr_assert_eq(pt_tmp_files(), 0, "after kill %u: a stale "
			     "temporary file stayed", k);
	}
	cr_log_info("%u kills, %u stale temporary files", kills, stale);
	snapmap_unpin(a);
	snapmap_unpin(b);
	pt_map_destroy(ma);
	pt_map_destroy(mb);
}

Test(crash, binary_save_killed_at_random_moments)
{
	kill_while_saving(false, 50);
}

Test(crash, text_save_killed_at_random_moments)
{
	kill_while_saving(true, 20);
}
