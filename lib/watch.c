/*
 * watch.c - reloading a map whenever its file is replaced or rewritten.
 *
 * One background thread per watch sleeps in poll(2) on an inotify
 * descriptor and an eventfd.  It watches the file's DIRECTORY, not the
 * file: a watch on the file would follow the old inode after a
 * replace-by-rename and die with a delete, whereas the directory sees all
 * three ways of changing a file under a name:
 *
 *   replace by rename      IN_MOVED_TO with the name
 *   rewrite in place       IN_CLOSE_WRITE with the name
 *   delete and recreate    IN_CLOSE_WRITE with the name, once written
 *
 * Reloading on IN_CLOSE_WRITE rather than on every IN_MODIFY means a
 * writer's half-written file is read at most once it closed it; a binary
 * file caught half-written anyway fails its checksum and is reported, and
 * the next event loads the finished one.  Events that arrive together are
 * handled by one reload.
 *
 * A failed reload keeps the map as it is (the loaders publish nothing
 * unless the whole file is valid), is counted and reported through the
 * callback.  The eventfd makes stopping prompt: snapmap_unwatch() signals
 * it and joins the thread, which leaves poll at once.
 *
 * The thread registers with the map's flavor because a reload publishes,
 * and publishing hands the old snapshot to call_rcu.  Under qsbr a
 * registered thread that blocks would stall every grace period, so it is
 * offline while it sleeps in poll and online only while it reloads.
 */
#include "persist.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

/* What the directory watch reports. */
#define WATCH_MASK	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | \
			 IN_MOVE_SELF | IN_ONLYDIR)
/* Events after which the directory watch is gone (or names another
 * directory than the path does). */
#define WATCH_GONE	(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | \
			 IN_UNMOUNT)

struct snapmap_watch {
	struct snapmap *map;
	char *path;		/* as given: for the callback */
	char *abspath;		/* made absolute: for loading */
	const char *name;	/* the file's name in its directory */
	sm_size_fn size;
	sm_load_mem_fn load;
	snapmap_watch_fn fn;
	void *ctx;
	int inotify_fd;
	int stop_fd;		/* eventfd: nonzero means stop */
	bool dead;		/* the directory watch is gone */
	pthread_t thread;

	pthread_mutex_t lock;	/* the counters below */
	uint64_t reloads;
	uint64_t failures;
	int last_error;
};

/* The watcher thread, while it runs the callback: unwatch from there
 * would join itself. */
static __thread struct snapmap_watch *running_watch;

static void report(struct snapmap_watch *w, int rc, uint64_t version,
		   const struct snapmap_error *err)
{
	pthread_mutex_lock(&w->lock);
	if (rc) {
		w->failures++;
		w->last_error = rc;
	} else {
		w->reloads++;
	}
	pthread_mutex_unlock(&w->lock);
	if (w->fn) {
		running_watch = w;
		w->fn(w->path, rc, version, err, w->ctx);
		running_watch = NULL;
	}
}

static void reload(struct snapmap_watch *w)
{
	struct snapmap_error err;
	uint64_t version = 0;
	int rc;

	rc = sm_load_file(w->map, w->abspath, -1, w->size, w->load, &version, &err);
	report(w, rc, rc ? 0 : version, &err);
}

/*
 * Reads every pending event; returns whether one of them concerns our
 * file (or events were lost, so that one might have).
 */
static bool drain(struct snapmap_watch *w)
{
	/* Aligned for struct inotify_event, as inotify(7) asks. */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool relevant = false;

	for (;;) {
		ssize_t n = read(w->inotify_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return relevant;	/* EAGAIN: drained */
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW)
				relevant = true;
			else if (ev->mask & WATCH_GONE)
				w->dead = true;
			else if (ev->len && strcmp(ev->name, w->name) == 0)
				relevant = true;
		}
	}
}

static void *watch_thread(void *arg)
{
	struct snapmap_watch *w = arg;
	const struct rcu_flavor_struct *flavor = w->map->flavor;
	struct snapmap_error err;
	bool reported_gone = false;

	flavor->register_thread();
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = w->stop_fd, .events = POLLIN },
			{ .fd = w->inotify_fd, .events = POLLIN },
		};
		int n;

		/* qsbr: offline while blocked, so grace periods go on
		 * without us; a no-op for the other flavors. */
		flavor->thread_offline();
		n = poll(fds, w->dead ? 1 : 2, -1);
		flavor->thread_online();
		if (n < 0)
			continue;	/* EINTR */
		if (fds[0].revents)
			break;
		if ((fds[1].revents & POLLIN) && drain(w))
			reload(w);
		if (w->dead && !reported_gone) {
			reported_gone = true;
			report(w, sm_error(&err, -ENOENT, 0, 0,
					   "the directory was removed or "
					   "moved: no longer watching"),
			       0, &err);
		}
	}
	flavor->unregister_thread();
	return NULL;
}

static void watch_free(struct snapmap_watch *w)
{
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	pthread_mutex_destroy(&w->lock);
	sm_free(w->path);
	sm_free(w);
}

/*
 * Makes @path absolute into @abs (of @size bytes): the process may
 * change its working directory while the watch runs, and the directory
 * watch goes on naming the directory it started with.
 */
static int make_absolute(const char *path, char *abs, size_t size)
{
	size_t cwdlen;

	if (path[0] == '/') {
		if (strlen(path) >= size)
			return -ENAMETOOLONG;
		strcpy(abs, path);
		return 0;
	}
	if (!getcwd(abs, size))
		return errno == ERANGE ? -ENAMETOOLONG : -errno;
	cwdlen = strlen(abs);
	if (cwdlen + 1 + strlen(path) >= size)
		return -ENAMETOOLONG;
	if (abs[cwdlen - 1] != '/')
		abs[cwdlen++] = '/';
	strcpy(abs + cwdlen, path);
	return 0;
}

/*
 * Sets up the inotify watch on the directory of w->abspath, whose copy
 * @dirbuf this cuts at the last slash.  No descriptor of the directory
 * is kept: one would hold its dentry, and the kernel would not report
 * its removal (IN_DELETE_SELF) until that descriptor was closed.
 */
static int watch_dir(struct snapmap_watch *w, char *dirbuf)
{
	char *slash = strrchr(dirbuf, '/');

	/* Absolute, so there is a slash; "/name" watches "/". */
	if (slash == dirbuf)
		slash[1] = '\0';
	else
		*slash = '\0';
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->inotify_fd < 0)
		return -errno;
	if (inotify_add_watch(w->inotify_fd, dirbuf, WATCH_MASK) < 0)
		return -errno;
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->stop_fd < 0)
		return -errno;
	return 0;
}

int snapmap_watch_file(struct snapmap *map, const char *path, unsigned flags,
		       snapmap_watch_fn fn, void *ctx,
		       struct snapmap_watch **watchp)
{
	struct snapmap_watch *w;
	size_t len, abssize;
	sigset_t all, old;
	char *dirbuf;
	int rc;

	if (!map || !path || !watchp || (flags & ~SNAPMAP_WATCH_TEXT))
		return -EINVAL;
	len = strlen(path);
	if (!len || path[len - 1] == '/')
		return -EISDIR;
	w = sm_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->inotify_fd = w->stop_fd = -1;
	if (pthread_mutex_init(&w->lock, NULL)) {
		sm_free(w);
		return -ENOMEM;
	}
	/* One allocation: the path as given, the absolute path, and a copy
	 * of that cut into the directory. */
	abssize = PATH_MAX + len + 2;
	w->path = sm_alloc(len + 1 + 2 * abssize);
	if (!w->path) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(w->path, path, len + 1);
	w->abspath = w->path + len + 1;
	dirbuf = w->abspath + abssize;
	rc = make_absolute(path, w->abspath, abssize);
	if (rc)
		goto fail;
	strcpy(dirbuf, w->abspath);
	w->name = strrchr(w->abspath, '/') + 1;
	w->map = map;
	w->size = (flags & SNAPMAP_WATCH_TEXT) ? NULL : sm_binary_size;
	w->load = (flags & SNAPMAP_WATCH_TEXT) ? sm_load_text_mem
					       : sm_load_binary_mem;
	w->fn = fn;
	w->ctx = ctx;
	rc = watch_dir(w, dirbuf);
	if (rc)
		goto fail;

	/* The thread takes no signals: they belong to the application's
	 * threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&w->thread, NULL, watch_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		goto fail;
	/* Until unwatched, the map refuses snapmap_destroy (-EBUSY). */
	uatomic_inc(&map->watches);
	*watchp = w;
	return 0;

fail:
	watch_free(w);
	return rc;
}

int snapmap_unwatch(struct snapmap_watch *w)
{
	uint64_t one = 1;

	if (!w)
		return -EINVAL;
	if (running_watch == w)
		return -EDEADLK;
	/* An eventfd write of 1 cannot fail short of a counter overflow,
	 * and poll sees it however the thread is scheduled. */
	struct snapmap *map = w->map;
	bool offline;

	/*
	 * The watcher may be publishing, and a publish may wait for a grace
	 * period (the reclaim limit): waiting for the watcher inside a
	 * read-side critical section could wait for ourselves, and a qsbr
	 * caller must be offline while it waits.
	 */
	if (sm_in_update_of(map) ||
	    sm_offline_for_wait(map->flavor, &offline))
		return -EDEADLK;
	while (write(w->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(w->thread, NULL);
	if (offline)
		map->flavor->thread_online();
	watch_free(w);
	/* Pairs with the barrier in snapmap_destroy(). */
	cmm_smp_mb__before_uatomic_dec();
	uatomic_dec(&map->watches);
	return 0;
}

int snapmap_watch_stats(struct snapmap_watch *w, uint64_t *reloads,
			uint64_t *failures, int *last_error)
{
	if (!w)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	if (reloads)
		*reloads = w->reloads;
	if (failures)
		*failures = w->failures;
	if (last_error)
		*last_error = w->last_error;
	pthread_mutex_unlock(&w->lock);
	return 0;
}
