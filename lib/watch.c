/*
 * watch.c - reloading a map whenever its file is replaced or rewritten.
 *
 * One background thread per watch sleeps in poll(2) on an inotify
 * descriptor and an eventfd.  It watches DIRECTORIES, not the file: a
 * watch on the file would follow the old inode after a replace-by-rename
 * and die with a delete, whereas the directory sees all three ways of
 * changing a file under a name:
 *
 *   replace by rename      IN_MOVED_TO with the name
 *   rewrite in place       IN_CLOSE_WRITE with the name
 *   delete and recreate    IN_CLOSE_WRITE with the name, once written
 *
 * The path may lead to the file through symbolic links, and those are
 * what deployments swap: a Kubernetes ConfigMap renames a new "..data"
 * link over the old one, a release switches "current -> releases/N".
 * So the watcher resolves the path itself, link by link (resolve()), and
 * watches the directory of every link on the way as well as the file's
 * own directory: the "points", a (directory watch, name) pair each.  Any
 * event on a point makes it resolve the path again and move its watches;
 * the file is reloaded when it was replaced or rewritten, or when the
 * chain of links now leads elsewhere.  When a directory on the way is
 * missing, the watcher reports -ENOENT and watches the directory above
 * it for the missing name, so that it goes on once the directory is
 * back.
 *
 * A change of attributes (IN_ATTRIB: chmod, chown) reloads only when the
 * last reload failed: a chmod that makes an unreadable file readable is
 * what the file was waiting for, while a touch of a good file would only
 * publish the same content again.
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
#include <sys/stat.h>
#include <unistd.h>

/* What the directory watches report. */
#define WATCH_MASK	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | \
			 IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | \
			 IN_MOVE_SELF | IN_ONLYDIR)
/* Events after which a directory watch is gone, or names another
 * directory than the path does. */
#define WATCH_GONE	(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | \
			 IN_UNMOUNT)
/* The links followed at most, as the kernel does (MAXSYMLINKS). */
#define MAX_LINKS	40

/* A name in a watched directory whose changes concern the file. */
struct watch_point {
	int wd;				/* the directory's inotify watch */
	char name[NAME_MAX + 1];
};

struct snapmap_watch {
	struct snapmap *map;
	char *path;		/* as given: for the callback */
	char *abspath;		/* made absolute: for loading */
	sm_size_fn size;
	sm_load_mem_fn load;
	snapmap_watch_fn fn;
	void *ctx;
	int inotify_fd;
	int stop_fd;		/* eventfd: nonzero means stop */
	bool dead;		/* nothing is watched any more */
	bool failing;		/* the last reload failed */
	/* The links of the path, then the file. */
	struct watch_point points[MAX_LINKS + 2];
	size_t npoints;
	pthread_t thread;
	pid_t owner;		/* the process the thread runs in */

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

	rc = sm_load_file(w->map, w->abspath, -1, w->size, w->load, &version,
			  &err);
	w->failing = rc != 0;
	report(w, rc, rc ? 0 : version, &err);
}

/* Adds the point (@dir, @name) to @pts, watching @dir. */
static int add_point(int ifd, struct watch_point *pts, size_t *n,
		     const char *dir, const char *name)
{
	int wd = inotify_add_watch(ifd, *dir ? dir : "/", WATCH_MASK);

	if (wd < 0)
		return -errno;
	pts[*n].wd = wd;
	strcpy(pts[*n].name, name);
	(*n)++;
	return 0;
}

/*
 * Walks the absolute @path component by component as the kernel would,
 * following symbolic links, and fills @pts with a point for every link
 * met and one for the file (whose directory must exist; the file need
 * not), watching their directories.  Where a directory on the way is
 * missing it returns -ENOENT, with a point for the missing name in the
 * directory above it, the last point.  Returns 0 or a negative errno.
 */
static int resolve(int ifd, const char *path, struct watch_point *pts,
		   size_t *n)
{
	char dir[PATH_MAX] = "", rest[PATH_MAX], link[PATH_MAX];
	char comp[NAME_MAX + 1], sub[PATH_MAX];
	size_t links = 0;
	struct stat st;

	*n = 0;
	if (strlen(path) >= sizeof(rest))
		return -ENAMETOOLONG;
	strcpy(rest, path);
	for (;;) {
		char *p = rest + strspn(rest, "/");
		size_t len = strcspn(p, "/"), dlen = strlen(dir);
		ssize_t tlen;
		bool last;
		int rc;

		if (!len)
			return -EISDIR;		/* ends with "/", "." or ".." */
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		p += strspn(p, "/");
		memmove(rest, p, strlen(p) + 1);
		last = !*rest;
		if (!strcmp(comp, ".") || !strcmp(comp, "..")) {
			/* dir holds no link: its ".." is its parent. */
			if (comp[1] && dlen)
				*strrchr(dir, '/') = '\0';
			if (last)
				return -EISDIR;
			continue;
		}
		if (dlen + 1 + len >= sizeof(sub))
			return -ENAMETOOLONG;
		memcpy(sub, dir, dlen);
		sub[dlen] = '/';
		memcpy(sub + dlen + 1, comp, len + 1);
		rc = lstat(sub, &st) ? -errno : 0;
		if (rc == 0 && S_ISLNK(st.st_mode)) {
			if (++links > MAX_LINKS)
				return -ELOOP;
			rc = add_point(ifd, pts, n, dir, comp);
			if (rc)
				return rc;
			tlen = readlink(sub, link, sizeof(link));
			if (tlen < 0)
				return -errno;
			if ((size_t)tlen + 1 + strlen(rest) >= sizeof(rest))
				return -ENAMETOOLONG;
			/* rest = the link's target, then what followed. */
			memmove(rest + tlen + 1, rest, strlen(rest) + 1);
			memcpy(rest, link, (size_t)tlen);
			rest[tlen] = last ? '\0' : '/';
			if (link[0] == '/')
				dir[0] = '\0';
			continue;
		}
		if (last)
			return add_point(ifd, pts, n, dir, comp);
		if (rc == -ENOENT) {
			rc = add_point(ifd, pts, n, dir, comp);
			return rc ? rc : -ENOENT;
		}
		if (rc)
			return rc;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		strcpy(dir, sub);
	}
}

static bool has_wd(const struct watch_point *pts, size_t n, int wd)
{
	for (size_t i = 0; i < n; i++)
		if (pts[i].wd == wd)
			return true;
	return false;
}

/*
 * Resolves the path again and moves the watches to the new points.
 * Returns 0 or the error of resolve(), with @err filled and the watch
 * left on whatever points resolve() reached; *@changed tells whether the
 * path now leads elsewhere.  With no point left the watch is dead.
 */
static int rewatch(struct snapmap_watch *w, bool *changed,
		   struct snapmap_error *err)
{
	struct watch_point pts[MAX_LINKS + 2];
	size_t n;
	int rc = resolve(w->inotify_fd, w->abspath, pts, &n);

	*changed = n != w->npoints;
	for (size_t i = 0; i < n && !*changed; i++)
		*changed = pts[i].wd != w->points[i].wd ||
			   strcmp(pts[i].name, w->points[i].name) != 0;
	/* Watches of directories no longer on the way: removing one queues
	 * an IN_IGNORED that drain() ignores, its wd being unknown. */
	for (size_t i = 0; i < w->npoints; i++)
		if (!has_wd(pts, n, w->points[i].wd) &&
		    !has_wd(w->points, i, w->points[i].wd))
			inotify_rm_watch(w->inotify_fd, w->points[i].wd);
	memcpy(w->points, pts, n * sizeof(*pts));
	w->npoints = n;
	w->dead = n == 0;
	if (!rc)
		return 0;
	return sm_error(err, rc, 0, 0, "%s%s", rc == -ENOENT ?
			"a directory on the path is missing" :
			snapmap_strerror(rc), w->dead ?
			": no longer watching" : ": waiting for it");
}

/* What drain() found. */
enum {
	EV_RELOAD = 1,		/* the file was replaced or rewritten */
	EV_REWATCH = 2,		/* something on the path changed */
};

/* Which of our points @ev names, or NULL. */
static const struct watch_point *point_of(const struct snapmap_watch *w,
					  const struct inotify_event *ev)
{
	for (size_t i = 0; i < w->npoints; i++)
		if (w->points[i].wd == ev->wd && ev->len &&
		    strcmp(ev->name, w->points[i].name) == 0)
			return &w->points[i];
	return NULL;
}

/* Reads every pending event; returns what they call for (EV_*). */
static unsigned drain(struct snapmap_watch *w)
{
	/* Aligned for struct inotify_event, as inotify(7) asks. */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	unsigned what = 0;

	for (;;) {
		ssize_t n = read(w->inotify_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return what;	/* EAGAIN: drained */
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW)
				what |= EV_RELOAD | EV_REWATCH;
			else if (ev->mask & WATCH_GONE)
				what |= has_wd(w->points, w->npoints, ev->wd) ?
					EV_REWATCH : 0;
			else if (point_of(w, ev))
				what |= EV_REWATCH |
					(ev->mask & (IN_CLOSE_WRITE |
						     IN_MOVED_TO) ||
					 (ev->mask & IN_ATTRIB && w->failing) ?
					 EV_RELOAD : 0);
		}
	}
}

static void *watch_thread(void *arg)
{
	struct snapmap_watch *w = arg;
	const struct rcu_flavor_struct *flavor = w->map->flavor;
	struct snapmap_error err;

	flavor->register_thread();
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = w->stop_fd, .events = POLLIN },
			{ .fd = w->inotify_fd, .events = POLLIN },
		};
		unsigned what = 0;
		bool changed;
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
		if (fds[1].revents & POLLIN)
			what = drain(w);
		if (what & EV_REWATCH) {
			int rc = rewatch(w, &changed, &err);

			if (rc) {
				/* Nothing to load: the path leads nowhere. */
				w->failing = true;
				report(w, rc, 0, &err);
				continue;
			}
			if (changed)
				what |= EV_RELOAD;
		}
		if (what & EV_RELOAD)
			reload(w);
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
 * Sets up inotify on the points of w->abspath (a failure to resolve it
 * is an error here: the caller learns of a wrong path at once) and the
 * eventfd.  No descriptor of a directory is kept: one would hold its
 * dentry, and the kernel would not report its removal (IN_DELETE_SELF)
 * until that descriptor was closed.
 */
static int watch_start(struct snapmap_watch *w)
{
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->inotify_fd < 0)
		return -errno;
	int rc = resolve(w->inotify_fd, w->abspath, w->points, &w->npoints);

	if (rc)
		return rc;
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
	w->owner = getpid();
	if (pthread_mutex_init(&w->lock, NULL)) {
		sm_free(w);
		return -ENOMEM;
	}
	/* One allocation: the path as given and the absolute path. */
	abssize = PATH_MAX + len + 2;
	w->path = sm_alloc(len + 1 + abssize);
	if (!w->path) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(w->path, path, len + 1);
	w->abspath = w->path + len + 1;
	rc = make_absolute(path, w->abspath, abssize);
	if (rc)
		goto fail;
	w->map = map;
	w->size = (flags & SNAPMAP_WATCH_TEXT) ? NULL : sm_binary_size;
	w->load = (flags & SNAPMAP_WATCH_TEXT) ? sm_load_text_mem
					       : sm_load_binary_mem;
	w->fn = fn;
	w->ctx = ctx;
	rc = watch_start(w);
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

/* Frees a watch whose thread is gone, and lets its map be destroyed. */
static void release(struct snapmap_watch *w)
{
	struct snapmap *map = w->map;

	watch_free(w);
	/* Pairs with the barrier in snapmap_destroy(). */
	cmm_smp_mb__before_uatomic_dec();
	uatomic_dec(&map->watches);
}

int snapmap_unwatch(struct snapmap_watch *w)
{
	uint64_t one = 1;

	if (!w)
		return -EINVAL;
	if (w->owner != getpid()) {
		/* A forked child's copy: its watcher thread stayed in the
		 * parent, so there is nothing to stop or wait for. */
		release(w);
		return 0;
	}
	if (running_watch == w)
		return -EDEADLK;
	/* An eventfd write of 1 cannot fail short of a counter overflow,
	 * and poll sees it however the thread is scheduled. */
	struct snapmap *map = w->map;
	struct sm_waiting waiting;

	/*
	 * The watcher may be publishing, and a publish may wait for a grace
	 * period (the reclaim limit): waiting for the watcher inside a
	 * read-side critical section could wait for ourselves, and a qsbr
	 * caller must be offline while it waits.
	 */
	if (sm_wait_enter(map->flavor, &waiting))
		return -EDEADLK;
	while (write(w->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(w->thread, NULL);
	sm_wait_leave(map->flavor, &waiting);
	release(w);
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
