/*
 * test_watch.c - hot reload: replace-by-rename, rewrite in place,
 * delete and recreate, a corrupt file (reported, counted, skipped), the
 * text format, the qsbr flavor (the watcher must be offline while it
 * waits), stopping (prompt, no descriptor left), the directory going
 * away, a FIFO or device renamed over the file (reported, never
 * blocking), symbolic links on the path that deployments swap (a
 * ConfigMap's "..data", a "current" release directory), a chmod that
 * makes an unreadable file readable, and the argument errors.
 *
 * Nothing sleeps: a good reload is awaited with snapmap_wait_version, a
 * failed one through the callback's condition variable, each with a
 * generous timeout that only a broken watcher reaches.
 */
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern const struct rcu_flavor_struct urcu_qsbr_flavor;

TestSuite(watch, .init = pt_setup, .fini = pt_teardown, .timeout = PT_TIMEOUT);

/* What the callback saw. */
struct events {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long good, bad;
	int last_error;
	char last_message[SNAPMAP_ERROR_MESSAGE_LEN];
	uint64_t last_version;
	struct snapmap_watch *self;	/* for the unwatch-from-callback test */
	int unwatch_rc;
};

static void events_init(struct events *ev)
{
	memset(ev, 0, sizeof(*ev));
	pthread_mutex_init(&ev->lock, NULL);
	pthread_cond_init(&ev->cond, NULL);
}

static void on_reload(const char *path, int result, uint64_t version,
		      const struct snapmap_error *err, void *ctx)
{
	struct events *ev = ctx;

	(void)path;
	pthread_mutex_lock(&ev->lock);
	if (result) {
		ev->bad++;
		ev->last_error = result;
		snprintf(ev->last_message, sizeof(ev->last_message), "%s",
			 err->message);
	} else {
		ev->good++;
		ev->last_version = version;
	}
	if (ev->self)
		ev->unwatch_rc = snapmap_unwatch(ev->self);
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

/* Waits until the callback has seen @n reloads, good or bad. */
static void wait_events(struct events *ev, unsigned long *count,
			unsigned long n)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += PT_WAIT_MS / 1000;
	pthread_mutex_lock(&ev->lock);
	while (*count < n && rc == 0)
		rc = pthread_cond_timedwait(&ev->cond, &ev->lock, &deadline);
	pthread_mutex_unlock(&ev->lock);
	cr_assert_eq(rc, 0, "no callback in %d ms", PT_WAIT_MS);
}

static void wait_failures(struct events *ev, unsigned long n)
{
	wait_events(ev, &ev->bad, n);
}

/* The callback runs after the publish that wakes snapmap_wait_version:
 * tests that look at what it recorded wait for it. */
static void wait_callbacks(struct events *ev, unsigned long n)
{
	wait_events(ev, &ev->good, n);
}

/* Waits for the map to move past @after; returns the new version. */
static uint64_t wait_reload(struct snapmap *map, uint64_t after)
{
	uint64_t v = 0;
	int rc = snapmap_wait_version(map, after, PT_WAIT_MS, &v);

	cr_assert_eq(rc, 0, "no reload past version %llu in %d ms: %d",
		     (unsigned long long)after, PT_WAIT_MS, rc);
	return v;
}

/* The bytes of a valid file holding @src. */
static unsigned char *image_of(struct snapmap *src, size_t *len)
{
	pt_save(src, pt_path("image.tmp-src"));
	return pt_read(pt_path("image.tmp-src"), len);
}

/* Writes in place, through the existing inode (open O_TRUNC, write,
 * close), as an editor without rename does. */
static void rewrite_in_place(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	cr_assert_eq(close(fd), 0);
}

struct fixture {
	struct snapmap *map;	/* watched */
	struct snapmap *src;	/* what the files are made from */
	struct snapmap_watch *w;
	struct events ev;
	const char *path;
};

/* Starts watching @path with a fresh map of @flavor. */
static void start_at(struct fixture *f, const struct rcu_flavor_struct *flavor,
		     unsigned flags, const char *path)
{
	f->map = snapmap_new_flavor(NULL, flavor);
	cr_assert_not_null(f->map);
	f->src = pt_map_new(NULL);
	f->path = path;
	events_init(&f->ev);
	pt_fill(f->src, 10, 0);
	cr_assert_eq(snapmap_watch_file(f->map, f->path, flags, on_reload,
					&f->ev, &f->w), 0);
}

static void start(struct fixture *f, const struct rcu_flavor_struct *flavor,
		  unsigned flags)
{
	start_at(f, flavor, flags, pt_path(flags & SNAPMAP_WATCH_TEXT ?
					   "conf.txt" : "conf.snap"));
}

static void stop(struct fixture *f)
{
	cr_assert_eq(snapmap_unwatch(f->w), 0);
	cr_assert_eq(snapmap_destroy(f->map), 0);
	pt_map_destroy(f->src);
}

/* The watched map now equals the source map. */
static void assert_loaded(struct fixture *f, const struct rcu_flavor_struct *fl)
{
	const struct snapmap_snapshot *got;

	fl->read_lock();
	got = snapmap_snapshot(f->map);
	rcu_read_lock();
	pt_assert_same_snap(got, snapmap_snapshot(f->src));
	rcu_read_unlock();
	fl->read_unlock();
}

Test(watch, replace_by_rename)
{
	struct fixture f;
	uint64_t v;

	start(&f, &urcu_memb_flavor, 0);
	pt_save(f.src, f.path);
	v = wait_reload(f.map, 0);
	assert_loaded(&f, &urcu_memb_flavor);
	wait_callbacks(&f.ev, 1);
	cr_assert_eq(f.ev.last_version, v);
	/* Again, with other content. */
	pt_fill(f.src, 20, 1);
	pt_save(f.src, f.path);
	wait_reload(f.map, v);
	assert_loaded(&f, &urcu_memb_flavor);
	stop(&f);
}

Test(watch, rewrite_in_place)
{
	unsigned char *img;
	struct fixture f;
	size_t len;
	uint64_t v;

	start(&f, &urcu_memb_flavor, 0);
	pt_save(f.src, f.path);
	v = wait_reload(f.map, 0);
	pt_fill(f.src, 30, 2);
	img = image_of(f.src, &len);
	rewrite_in_place(f.path, img, len);
	wait_reload(f.map, v);
	assert_loaded(&f, &urcu_memb_flavor);
	free(img);
	stop(&f);
}

Test(watch, delete_and_recreate)
{
	unsigned char *img;
	struct fixture f;
	size_t len;
	uint64_t v;

	start(&f, &urcu_memb_flavor, 0);
	pt_save(f.src, f.path);
	v = wait_reload(f.map, 0);
	cr_assert_eq(unlink(f.path), 0);
	pt_fill(f.src, 40, 3);
	img = image_of(f.src, &len);
	pt_write(f.path, img, len);	/* creat, write, close */
	wait_reload(f.map, v);
	assert_loaded(&f, &urcu_memb_flavor);
	free(img);
	stop(&f);
}

/* A corrupt file keeps the old version, is reported and counted; the
 * next good file loads. */
Test(watch, corrupt_file_is_reported_and_skipped)
{
	const struct snapmap_snapshot *before;
	uint64_t v, reloads, failures;
	unsigned char *img;
	struct fixture f;
	int last;
	size_t len;

	start(&f, &urcu_memb_flavor, 0);
	pt_save(f.src, f.path);
	v = wait_reload(f.map, 0);
	before = snapmap_pin(f.map);

	pt_fill(f.src, 50, 4);
	img = image_of(f.src, &len);
	img[len / 2] ^= 0x40;
	pt_write(pt_path("corrupt"), img, len);
	cr_assert_eq(rename(pt_path("corrupt"), f.path), 0);
	wait_failures(&f.ev, 1);
	cr_assert_eq(f.ev.last_error, -EBADMSG);
	cr_assert(strstr(f.ev.last_message, "checksum"), "%s",
		  f.ev.last_message);
	pt_assert_unchanged(f.map, before);
	cr_assert_eq(snapmap_watch_stats(f.w, &reloads, &failures, &last), 0);
	cr_assert_eq(reloads, 1);
	cr_assert_eq(failures, 1);
	cr_assert_eq(last, -EBADMSG);

	pt_save(f.src, f.path);
	wait_reload(f.map, v);
	assert_loaded(&f, &urcu_memb_flavor);
	wait_callbacks(&f.ev, 2);
	cr_assert_eq(snapmap_watch_stats(f.w, &reloads, NULL, NULL), 0);
	cr_assert_eq(reloads, 2);
	free(img);
	stop(&f);
}

/* Several replacements in a row, each awaited. */
Test(watch, every_good_replacement_wakes_wait_version)
{
	struct fixture f;
	uint64_t v = 0;

	start(&f, &urcu_memb_flavor, 0);
	for (unsigned i = 1; i <= 8; i++) {
		pt_fill(f.src, 10 * i, i);
		pt_save(f.src, f.path);
		v = wait_reload(f.map, v);
		assert_loaded(&f, &urcu_memb_flavor);
	}
	stop(&f);
}

Test(watch, text_format)
{
	struct fixture f;
	uint64_t v;

	start(&f, &urcu_memb_flavor, SNAPMAP_WATCH_TEXT);
	pt_save_text(f.src, f.path);
	v = wait_reload(f.map, 0);
	assert_loaded(&f, &urcu_memb_flavor);
	/* A bad line: reported with its line number. */
	pt_write(pt_path("bad"), "a\t1\nno tab\n", 11);
	cr_assert_eq(rename(pt_path("bad"), f.path), 0);
	wait_failures(&f.ev, 1);
	cr_assert_eq(f.ev.last_error, -EBADMSG);
	cr_assert(strstr(f.ev.last_message, "line 2"), "%s", f.ev.last_message);
	cr_assert_eq(pt_version(f.map), 0 + v);
	stop(&f);
}

/*
 * qsbr: the watcher is a registered qsbr thread.  If it stayed online
 * while it waits in poll, synchronize_rcu would never return (and the
 * test would time out).
 */
Test(watch, qsbr_watcher_is_offline_while_waiting)
{
	const struct rcu_flavor_struct *q = &urcu_qsbr_flavor;
	struct fixture f;
	uint64_t v;

	q->register_thread();
	start(&f, q, 0);
	q->update_synchronize_rcu();
	pt_save(f.src, f.path);
	v = wait_reload(f.map, 0);
	assert_loaded(&f, q);
	q->update_synchronize_rcu();
	pt_fill(f.src, 20, 5);
	pt_save(f.src, f.path);
	wait_reload(f.map, v);
	assert_loaded(&f, q);
	q->update_synchronize_rcu();
	stop(&f);
	q->unregister_thread();
}

static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Stopping is prompt (the thread is woken, not polled) and releases
 * every descriptor; ASan checks the memory. */
Test(watch, start_stop_leaks_nothing)
{
	struct snapmap *map = pt_map_new(NULL);
	size_t fds = open_fds();

	for (int i = 0; i < 50; i++) {
		struct snapmap_watch *w;

		cr_assert_eq(snapmap_watch_file(map, pt_path("x.snap"), 0,
						NULL, NULL, &w), 0);
		cr_assert_eq(snapmap_unwatch(w), 0);
	}
	cr_assert_eq(open_fds(), fds);
	pt_map_destroy(map);
}

/*
 * The watched directory goes away: reported; when it comes back, a file
 * saved there loads (the watch never silently stops); unwatch works.
 */
Test(watch, directory_removed)
{
	struct snapmap *src = pt_map_new(NULL);
	struct snapmap *map = pt_map_new(NULL);
	struct snapmap_watch *w;
	struct events ev;

	events_init(&ev);
	pt_fill(src, 10, 0);
	cr_assert_eq(mkdir(pt_path("sub"), 0755), 0);
	cr_assert_eq(snapmap_watch_file(map, pt_path("sub/c.snap"), 0,
					on_reload, &ev, &w), 0);
	cr_assert_eq(rmdir(pt_path("sub")), 0);
	wait_failures(&ev, 1);
	cr_assert_eq(ev.last_error, -ENOENT);
	cr_assert(strstr(ev.last_message, "missing"), "%s", ev.last_message);
	cr_assert_eq(mkdir(pt_path("sub"), 0755), 0);
	pt_save(src, pt_path("sub/c.snap"));
	wait_reload(map, 0);
	pt_assert_same(map, src);
	cr_assert_eq(snapmap_unwatch(w), 0);
	pt_map_destroy(map);
	pt_map_destroy(src);
}

/* Runs snapmap_unwatch() in a thread and waits for it, bounded. */
struct unwatcher {
	struct snapmap_watch *w;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int rc;
};

static void *unwatch_thread(void *arg)
{
	struct unwatcher *u = arg;
	int rc = snapmap_unwatch(u->w);

	pthread_mutex_lock(&u->lock);
	u->rc = rc;
	u->done = true;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* Stops @w; fails (without hanging) if unwatch does not return. */
static void unwatch_bounded(struct snapmap_watch *w)
{
	struct unwatcher u = { .w = w, .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER };
	struct timespec deadline;
	pthread_t t;
	int rc = 0;

	cr_assert_eq(pthread_create(&t, NULL, unwatch_thread, &u), 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += PT_WAIT_MS / 1000;
	pthread_mutex_lock(&u.lock);
	while (!u.done && rc == 0)
		rc = pthread_cond_timedwait(&u.cond, &u.lock, &deadline);
	pthread_mutex_unlock(&u.lock);
	cr_assert_eq(rc, 0, "snapmap_unwatch did not return in %d ms",
		     PT_WAIT_MS);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(u.rc, 0);
}

/*
 * A FIFO, or a symbolic link to /dev/zero, renamed over the watched
 * file: reported (-EINVAL) without blocking the watcher, the last good
 * version kept, the next good file loaded, and unwatch prompt.  The
 * test opens no FIFO itself.
 */
Test(watch, fifo_or_device_renamed_over_is_reported)
{
	const struct snapmap_snapshot *before;
	struct fixture f;
	uint64_t v;

	start(&f, &urcu_memb_flavor, 0);
	pt_save(f.src, f.path);
	v = wait_reload(f.map, 0);
	before = snapmap_pin(f.map);

	cr_assert_eq(mkfifo(pt_path("fifo"), 0644), 0);
	cr_assert_eq(rename(pt_path("fifo"), f.path), 0);
	wait_failures(&f.ev, 1);
	cr_assert_eq(f.ev.last_error, -EINVAL);
	cr_assert(strstr(f.ev.last_message, "FIFO"), "%s", f.ev.last_message);

	cr_assert_eq(symlink("/dev/zero", pt_path("zero")), 0);
	cr_assert_eq(rename(pt_path("zero"), f.path), 0);
	wait_failures(&f.ev, 2);
	cr_assert_eq(f.ev.last_error, -EINVAL);
	pt_assert_unchanged(f.map, before);

	/* A save refuses to replace a device: make room first. */
	cr_assert_eq(unlink(f.path), 0);
	pt_fill(f.src, 20, 6);
	pt_save(f.src, f.path);
	wait_reload(f.map, v);
	assert_loaded(&f, &urcu_memb_flavor);

	/* And once more with a FIFO in place, then stop. */
	cr_assert_eq(mkfifo(pt_path("fifo"), 0644), 0);
	cr_assert_eq(rename(pt_path("fifo"), f.path), 0);
	wait_failures(&f.ev, 3);
	unwatch_bounded(f.w);
	cr_assert_eq(snapmap_destroy(f.map), 0);
	pt_map_destroy(f.src);
}

/* Replaces the symbolic link @path by one to @target, atomically. */
static void swap_link(const char *target, const char *path)
{
	cr_assert_eq(symlink(target, pt_path("link.tmp")), 0);
	cr_assert_eq(rename(pt_path("link.tmp"), path), 0);
}

/*
 * A Kubernetes ConfigMap volume: conf.snap -> ..data/conf.snap, and an
 * update renames a new "..data" link (to a new directory) over the old
 * one, then removes the old directory.  Each swap reloads.
 */
Test(watch, configmap_data_link_swap)
{
	char dir[32], target[32];
	struct fixture f;
	uint64_t v = 0;

	cr_assert_eq(mkdir(pt_path("cm"), 0755), 0);
	cr_assert_eq(symlink("..data/conf.snap", pt_path("cm/conf.snap")), 0);
	for (unsigned gen = 1; gen <= 3; gen++) {
		snprintf(dir, sizeof(dir), "cm/..%u", gen);
		snprintf(target, sizeof(target), "..%u", gen);
		cr_assert_eq(mkdir(pt_path(dir), 0755), 0);
		if (gen == 1) {
			cr_assert_eq(symlink(target, pt_path("cm/..data")), 0);
			start_at(&f, &urcu_memb_flavor, 0,
				 pt_path("cm/conf.snap"));
		}
		snprintf(dir, sizeof(dir), "cm/..%u/conf.snap", gen);
		pt_fill(f.src, 10 * gen, gen);
		pt_save(f.src, pt_path(dir));
		if (gen > 1) {
			swap_link(target, pt_path("cm/..data"));
			/* The old generation goes, as kubelet removes it. */
			snprintf(dir, sizeof(dir), "cm/..%u/conf.snap", gen - 1);
			cr_assert_eq(unlink(pt_path(dir)), 0);
			snprintf(dir, sizeof(dir), "cm/..%u", gen - 1);
			cr_assert_eq(rmdir(pt_path(dir)), 0);
		}
		v = wait_reload(f.map, v);
		assert_loaded(&f, &urcu_memb_flavor);
	}
	stop(&f);
}

/*
 * A directory reached through a link that a deployment swaps:
 * current -> releases/N.  The swap reloads, and so does a later save
 * into the new release, which only a watch moved there can see.
 */
Test(watch, directory_through_swapped_link)
{
	struct fixture f;
	uint64_t v;

	cr_assert_eq(mkdir(pt_path("releases"), 0755), 0);
	cr_assert_eq(mkdir(pt_path("releases/1"), 0755), 0);
	cr_assert_eq(mkdir(pt_path("releases/2"), 0755), 0);
	cr_assert_eq(symlink("releases/1", pt_path("current")), 0);
	start_at(&f, &urcu_memb_flavor, 0, pt_path("current/conf.snap"));
	pt_save(f.src, pt_path("releases/1/conf.snap"));
	v = wait_reload(f.map, 0);

	pt_fill(f.src, 20, 7);
	pt_save(f.src, pt_path("releases/2/conf.snap"));
	swap_link("releases/2", pt_path("current"));
	v = wait_reload(f.map, v);
	assert_loaded(&f, &urcu_memb_flavor);

	pt_fill(f.src, 30, 8);
	pt_save(f.src, pt_path("releases/2/conf.snap"));
	wait_reload(f.map, v);
	assert_loaded(&f, &urcu_memb_flavor);
	stop(&f);
}

/*
 * A file that cannot be read (mode 0) is reported; the chmod that makes
 * it readable reloads it.  Runs as an unprivileged effective user, for
 * whom the mode counts (the tests run as root).
 */
Test(watch, chmod_fixes_an_unreadable_file)
{
	const char *tmp = pt_path("new.snap");
	unsigned char *img;
	struct fixture f;
	size_t len;
	uint64_t v;

	cr_assert_eq(chmod(pt_dir, 0777), 0);
	cr_assert_eq(seteuid(65534), 0, "seteuid: %s", strerror(errno));
	start(&f, &urcu_memb_flavor, 0);
	pt_save(f.src, f.path);
	v = wait_reload(f.map, 0);

	pt_fill(f.src, 20, 9);
	img = image_of(f.src, &len);
	pt_write(tmp, img, len);
	cr_assert_eq(chmod(tmp, 0), 0);
	cr_assert_eq(rename(tmp, f.path), 0);
	wait_failures(&f.ev, 1);
	cr_assert_eq(f.ev.last_error, -EACCES, "%d: %s", f.ev.last_error,
		     f.ev.last_message);
	cr_assert_eq(chmod(f.path, 0644), 0);
	wait_reload(f.map, v);
	assert_loaded(&f, &urcu_memb_flavor);
	stop(&f);
	free(img);
	cr_assert_eq(seteuid(0), 0);
}

Test(watch, unwatch_from_own_callback_is_edeadlk)
{
	struct fixture f;

	start(&f, &urcu_memb_flavor, 0);
	pthread_mutex_lock(&f.ev.lock);
	f.ev.self = f.w;
	pthread_mutex_unlock(&f.ev.lock);
	pt_save(f.src, f.path);
	wait_reload(f.map, 0);
	wait_callbacks(&f.ev, 1);
	cr_assert_eq(f.ev.unwatch_rc, -EDEADLK);
	stop(&f);
}

/*
 * After fork() the child's copy of a watch has no thread: unwatch there
 * must return at once (it hung, joining a thread that is not there).
 * The child does not destroy its map: the parent's watcher thread was a
 * registered RCU reader, and liburcu cannot run grace periods in such a
 * child (see snapmap_atfork() in the header).  The parent's watch goes
 * on reloading.
 */
Test(watch, unwatch_in_a_forked_child)
{
	struct fixture f;
	int status = -1;
	uint64_t v;
	pid_t pid;

	start(&f, &urcu_memb_flavor, 0);
	/* A reload done: the watcher thread is registered and back in its
	 * poll, not inside liburcu (a lock liburcu holds at the fork would
	 * stay held in the child). */
	pt_save(f.src, f.path);
	v = wait_reload(f.map, 0);
	wait_callbacks(&f.ev, 1);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		_exit(snapmap_unwatch(f.w) == 0 ? 0 : 1);
	}
	rcu_thread_offline();
	for (int i = 0; i < 6000; i++) {	/* 60 s at most */
		struct timespec tick = { 0, 10 * 1000 * 1000 };

		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		status = -1;
		nanosleep(&tick, NULL);
	}
	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	rcu_thread_online();
	cr_assert(status != -1, "unwatch in the child hung");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x", status);

	/* The parent's watcher still reloads. */
	pt_fill(f.src, 20, 1);
	pt_save(f.src, f.path);
	wait_reload(f.map, v);
	assert_loaded(&f, &urcu_memb_flavor);
	stop(&f);
}

Test(watch, argument_errors)
{
	struct snapmap *map = pt_map_new(NULL);
	struct snapmap_watch *w = NULL;

	cr_assert_eq(snapmap_watch_file(NULL, pt_path("a"), 0, NULL, NULL, &w),
		     -EINVAL);
	cr_assert_eq(snapmap_watch_file(map, NULL, 0, NULL, NULL, &w), -EINVAL);
	cr_assert_eq(snapmap_watch_file(map, pt_path("a"), 0, NULL, NULL,
					NULL), -EINVAL);
	cr_assert_eq(snapmap_watch_file(map, pt_path("a"), 0x100, NULL, NULL,
					&w), -EINVAL);
	cr_assert_eq(snapmap_watch_file(map, pt_path("a/"), 0, NULL, NULL, &w),
		     -EISDIR);
	cr_assert_eq(snapmap_watch_file(map, pt_path("no/such"), 0, NULL,
					NULL, &w), -ENOENT);
	pt_write(pt_path("file"), "x", 1);
	cr_assert_eq(snapmap_watch_file(map, pt_path("file/x"), 0, NULL, NULL,
					&w), -ENOTDIR);
	cr_assert_eq(snapmap_unwatch(NULL), -EINVAL);
	cr_assert_eq(snapmap_watch_stats(NULL, NULL, NULL, NULL), -EINVAL);
	pt_map_destroy(map);
}
