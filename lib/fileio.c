/*
 * fileio.c - what both file formats need from the file system: reading a
 * whole file, buffered writing, replacing a file crash-safely, and
 * publishing what a loader found.
 *
 * Crash safety rests on rename(2) being atomic: the new content goes to a
 * temporary file in the target's directory (same file system, so rename
 * can replace the target in one step), is fsync'ed so that the rename
 * cannot reach the disk before the data, and the directory is fsync'ed
 * so that the rename itself is durable when the save returns.  A crash
 * at any point leaves the target as it was or as it is meant to be.  A
 * temporary file left by a kill is removed by a later save of the same
 * name once its writer is provably gone (see writer_is_gone()).
 */
#include "persist.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/*
 * Opens @path for reading if it names a regular file (after symbolic
 * links).  Anything else is refused before it is read, and a FIFO,
 * device or socket is refused before it is even opened where possible:
 * opening a FIFO blocks until a writer comes, and /dev/zero or a
 * terminal never ends.  The open itself is non-blocking, and fstat(2)
 * checks the type again, because the name may have been replaced between
 * the two.  Returns the descriptor (with the file's size in *@size) or a
 * negative errno with @err filled.
 */
static int open_regular(const char *path, uint64_t *size,
			struct snapmap_error *err)
{
	struct stat st;
	int fd, rc;

	if (stat(path, &st))
		return sm_error(err, -errno, 0, 0, "cannot open: %s",
				snapmap_strerror(errno));
	rc = sm_check_regular(&st, err);
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return sm_error(err, -errno, 0, 0, "cannot open: %s",
				snapmap_strerror(errno));
	if (fstat(fd, &st))
		rc = sm_error(err, -errno, 0, 0, "cannot stat: %s",
			      snapmap_strerror(errno));
	else
		rc = sm_check_regular(&st, err);
	if (rc) {
		close(fd);
		return rc;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int sm_check_regular(const struct stat *st, struct snapmap_error *err)
{
	if (S_ISREG(st->st_mode))
		return 0;
	if (S_ISDIR(st->st_mode))
		return sm_error(err, -EISDIR, 0, 0, "is a directory");
	return sm_error(err, -EINVAL, 0, 0, "not a regular file (%s)",
			S_ISFIFO(st->st_mode) ? "a FIFO" :
			S_ISCHR(st->st_mode) ? "a character device" :
			S_ISBLK(st->st_mode) ? "a block device" :
			S_ISSOCK(st->st_mode) ? "a socket" : "unknown type");
}

/* Reads up to @len bytes into @buf; *@got is less only at end of file. */
static int read_full(int fd, unsigned char *buf, size_t len, size_t *got,
		     unsigned long long at, struct snapmap_error *err)
{
	*got = 0;
	while (*got < len) {
		ssize_t n = read(fd, buf + *got, len - *got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sm_error(err, -errno, 0, at + *got,
					"read failed: %s",
					snapmap_strerror(errno));
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

int sm_read_file(const char *path, const struct snapmap *map,
		 sm_size_fn size, unsigned char **bufp, size_t *lenp,
		 struct snapmap_error *err)
{
	unsigned char head[SM_FILE_HEADER_LEN], *buf = NULL, extra;
	uint64_t file_size = 0, want;
	size_t got = 0, more;
	int fd, rc;

	fd = open_regular(path, &file_size, err);
	if (fd < 0)
		return fd;
	/*
	 * The format's header, when it has one, says how much there is to
	 * read: a file that is not a snapshot, or whose header is corrupt,
	 * costs one small read however large it is.
	 */
	want = file_size;
	if (size) {
		rc = read_full(fd, head, sizeof(head), &got, 0, err);
		if (!rc)
			rc = size(map, head, got, file_size, &want, err);
		if (rc)
			goto out;
	}
	if (want >= SIZE_MAX) {
		rc = sm_error(err, -ENOMEM, 0, 0, "out of memory");
		goto out;
	}
	buf = sm_alloc(want ? (size_t)want : 1);
	if (!buf) {
		rc = sm_error(err, -ENOMEM, 0, 0, "out of memory");
		goto out;
	}
	memcpy(buf, head, got);
	rc = read_full(fd, buf + got, (size_t)want - got, &more, got, err);
	if (rc)
		goto out;
	got += more;
	/* The size was taken before reading: a file that changed since is
	 * not the file that was checked. */
	if (got == want)
		rc = read_full(fd, &extra, 1, &more, want, err);
	if (!rc && got < want)
		rc = sm_error(err, -ENODATA, 0, got, "the file shrank while "
			      "it was read: %zu bytes of %llu", got,
			      (unsigned long long)want);
	else if (!rc && more)
		rc = sm_error(err, -EBADMSG, 0, got, "the file grew while it "
			      "was read, past %llu bytes",
			      (unsigned long long)want);
	if (rc)
		goto out;
	*bufp = buf;
	*lenp = got;
	buf = NULL;
out:
	sm_free(buf);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Buffered writing                                                    */
/* ------------------------------------------------------------------ */

#define SM_OUT_BUFSIZE	65536

void sm_out_init(struct sm_out *out, int fd)
{
	out->fd = fd;
	out->len = 0;
	out->crc = 0;
	out->error = 0;
	out->buf = sm_alloc(SM_OUT_BUFSIZE);
	out->cap = out->buf ? SM_OUT_BUFSIZE : 0;
	if (!out->buf)
		out->error = -ENOMEM;
}

static void out_drain(struct sm_out *out, const unsigned char *p, size_t n)
{
	while (n && !out->error) {
		ssize_t w = write(out->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			out->error = -errno;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
}

void sm_out_write(struct sm_out *out, const void *p, size_t n)
{
	if (out->error || !n)
		return;
	out->crc = sm_crc32c(out->crc, p, n);
	if (n > out->cap - out->len) {
		out_drain(out, out->buf, out->len);
		out->len = 0;
		/* Large values go straight to the file, not through the
		 * buffer. */
		if (n >= out->cap) {
			out_drain(out, p, n);
			return;
		}
	}
	memcpy(out->buf + out->len, p, n);
	out->len += n;
}

int sm_out_finish(struct sm_out *out)
{
	out_drain(out, out->buf, out->len);
	out->len = 0;
	sm_free(out->buf);
	out->buf = NULL;
	out->cap = 0;
	return out->error;
}

/* ------------------------------------------------------------------ */
/* Crash-safe replacement                                              */
/* ------------------------------------------------------------------ */

/* Makes the directory entry changes (the rename) durable. */
static int sync_dir(int dirfd, struct snapmap_error *err)
{
	/* Some file systems cannot fsync a directory (EINVAL); there is
	 * nothing more we can do on them. */
	if (fsync(dirfd) && errno != EINVAL)
		return sm_error(err, -errno, 0, 0,
				"renamed, but syncing the directory failed: %s",
				snapmap_strerror(errno));
	return 0;
}

/*
 * The temporary names: ".BASE.PID.RANDOM.tmp", BASE the target's name
 * cut to 200 bytes (so that the whole stays within NAME_MAX), PID the
 * writer's, RANDOM 16 hex digits from getrandom(2) (falling back to the
 * clock, the address of a local and a counter), so that nobody can
 * occupy the names a save is going to use.
 */
#define TMP_BASE_MAX	200

static void tmp_name(char *name, size_t size, const char *base)
{
	static unsigned long counter;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = ((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec ^
		     (uint64_t)(uintptr_t)&ts) * 0x9e3779b97f4a7c15u +
		    uatomic_add_return(&counter, 1);
	}
	snprintf(name, size, ".%.*s.%ld.%016llx.tmp", TMP_BASE_MAX, base,
		 (long)getpid(), (unsigned long long)r);
}

/*
 * Whether @name is a temporary file of a save of @base: the pattern
 * above, with any hex digits as RANDOM (earlier versions of the library
 * used a decimal counter there).  Gives the writer's PID.
 */
static bool is_tmp_of(const char *name, const char *base, pid_t *pid)
{
	size_t blen = strnlen(base, TMP_BASE_MAX);
	const char *p = name;
	char *end;
	long v;

	if (*p++ != '.' || strncmp(p, base, blen) || p[blen] != '.')
		return false;
	p += blen + 1;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno || v <= 0 || v != (pid_t)v || *end != '.')
		return false;
	p = end + 1;
	if (!isxdigit((unsigned char)*p))
		return false;
	while (isxdigit((unsigned char)*p))
		p++;
	*pid = (pid_t)v;
	return strcmp(p, ".tmp") == 0;
}

/*
 * A save holds an exclusive flock(2) on its temporary file from its
 * creation until the file is closed, just before the rename.  A lock
 * dies with its process, whatever PID namespace that process lives in.
 */
static bool writer_is_gone(int dirfd, const char *name, pid_t pid)
{
	struct stat a, b;
	bool gone = false;
	int fd;

	/* In our PID namespace, a live writer is seen alive. */
	if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
		return false;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return false;
	/* The name still names the file we locked: unlinking it cannot
	 * remove a file someone put there since. */
	if (fstat(fd, &a) == 0 && S_ISREG(a.st_mode) &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0 &&
	    fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		gone = true;
	close(fd);
	return gone;
}

/*
 * Removes the temporary files that saves of @base killed mid-way left
 * in the directory @dirfd: those matching the pattern whose writer is
 * provably gone (writer_is_gone()).  Best effort: a save that succeeded
 * does not fail because of leftovers of others.
 */
static void remove_stale_tmp(int dirfd, const char *base)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;
	pid_t pid;

	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	while ((de = readdir(dir)))
		if (is_tmp_of(de->d_name, base, &pid) &&
		    writer_is_gone(dirfd, de->d_name, pid))
			unlinkat(dirfd, de->d_name, 0);
	closedir(dir);
}

/*
 * Creates the temporary file in the directory @dirfd, locked (see
 * writer_is_gone()).  An O_TMPFILE has no name until it is complete, so
 * a save killed while writing leaves nothing behind; it is used where
 * the file system supports it and /proc lets us link it later (*@named
 * false).  Elsewhere the file gets its temporary name at once (*@named
 * true).  Returns the descriptor or -errno.
 */
static int create_tmp(int dirfd, char *name, size_t size, const char *base,
		      bool *named)
{
	int fd = -1;

	if (access("/proc/self/fd", X_OK) == 0) {
		fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
			    0666);
		if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR &&
		    errno != EINVAL)
			return -errno;
	}
	*named = fd < 0;
	for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
		tmp_name(name, size, base);
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
			    O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	/* Cannot fail on a file we just created, short of ENOLCK. */
	flock(fd, LOCK_EX | LOCK_NB);
	return fd;
}

/* Gives the O_TMPFILE @fd a temporary name in @dirfd, for the rename. */
static int link_tmp(int fd, int dirfd, char *name, size_t size,
		    const char *base)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int attempt = 0; attempt < 100; attempt++) {
		tmp_name(name, size, base);
		if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/*
 * A replaced file keeps its owner and group where we may set them (as
 * root, or the group when we belong to it), as `sed -i` does: a service's
 * private file that root saves over stays the service's.  Then its
 * permission bits, but never set-user-ID or set-group-ID: a file of
 * data must not become privileged by being rewritten.
 */
static int keep_owner_and_mode(int fd, const struct stat *old,
			       struct snapmap_error *err)
{
	if (fchown(fd, old->st_uid, old->st_gid) && errno == EPERM)
		(void)!fchown(fd, (uid_t)-1, old->st_gid);
	if (fchmod(fd, old->st_mode & 0777))
		return sm_error(err, -errno, 0, 0, "cannot set the mode: %s",
				snapmap_strerror(errno));
	return 0;
}

/* Writes @emit's content to @fd and makes it durable. */
static int write_tmp(int fd, sm_emit_fn emit, const void *ctx,
		     struct snapmap_error *err)
{
	struct sm_out out;
	int rc;

	sm_out_init(&out, fd);
	rc = emit(&out, ctx);
	if (rc) {
		sm_out_finish(&out);
		return sm_error(err, rc, 0, 0, "%s", snapmap_strerror(rc));
	}
	rc = sm_out_finish(&out);
	if (rc)
		return sm_error(err, rc, 0, 0, "write failed: %s",
				snapmap_strerror(rc));
	/* Without it the rename could reach the disk before the data, and
	 * a crash would leave an empty or torn target. */
	if (fsync(fd))
		return sm_error(err, -errno, 0, 0, "fsync failed: %s",
				snapmap_strerror(errno));
	return 0;
}

/*
 * Opens the directory @path names its file in (@slash: the last '/' of
 * @path, or NULL): a descriptor, or a negative errno recorded in @err.
 */
static int open_dir_of(const char *path, const char *slash,
		       struct snapmap_error *err)
{
	char *dir;
	int dirfd;

	dir = slash ? sm_alloc((size_t)(slash - path) + 2) : NULL;
	if (slash && !dir)
		return sm_error(err, -ENOMEM, 0, 0, "out of memory");
	if (dir) {
		/* "/name" lives in "/". */
		size_t dlen = slash == path ? 1 : (size_t)(slash - path);

		memcpy(dir, path, dlen);
		dir[dlen] = '\0';
	}
	dirfd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	sm_free(dir);
	if (dirfd < 0)
		return sm_error(err, -errno, 0, 0,
				"cannot open the directory: %s",
				snapmap_strerror(errno));
	return dirfd;
}

int sm_write_file_atomic(const char *path, sm_emit_fn emit, const void *ctx,
			 struct snapmap_error *err)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char name[TMP_BASE_MAX + 64];
	int fd = -1, dirfd = -1, rc;
	bool named = false;
	struct stat st;

	if (!*base)
		return sm_error(err, -EISDIR, 0, 0,
				"needs a file name, not a directory");
	/*
	 * The target, after symbolic links, must be a regular file if it
	 * exists: the rename would put a file in the place of a device or
	 * a FIFO (as root, of /dev/null).  A link to a regular file is
	 * replaced by the new file, not followed.
	 */
	if (stat(path, &st) == 0) {
		rc = sm_check_regular(&st, err);
		if (rc)
			return rc;
	} else {
		st.st_mode = 0;
	}
	dirfd = open_dir_of(path, slash, err);
	if (dirfd < 0)
		return dirfd;

	fd = create_tmp(dirfd, name, sizeof(name), base, &named);
	if (fd < 0) {
		rc = sm_error(err, fd, 0, 0,
			      "cannot create a temporary file: %s",
			      snapmap_strerror(fd));
		fd = -1;
		goto out;
	}
	rc = S_ISREG(st.st_mode) ? keep_owner_and_mode(fd, &st, err) : 0;
	if (!rc)
		rc = write_tmp(fd, emit, ctx, err);
	if (!rc && !named) {
		rc = link_tmp(fd, dirfd, name, sizeof(name), base);
		if (rc)
			sm_error(err, rc, 0, 0, "cannot link the temporary "
				 "file: %s", snapmap_strerror(rc));
		named = !rc;
	}
	if (close(fd) && !rc)
		rc = sm_error(err, -errno, 0, 0, "close failed: %s",
			      snapmap_strerror(errno));
	fd = -1;
	if (!rc && renameat(dirfd, name, dirfd, base))
		rc = sm_error(err, -errno, 0, 0, "cannot rename over it: %s",
			      snapmap_strerror(errno));
	if (rc)
		goto out;
	named = false;
	rc = sync_dir(dirfd, err);
	remove_stale_tmp(dirfd, base);
out:
	if (fd >= 0)
		close(fd);
	if (named)
		unlinkat(dirfd, name, 0);
	close(dirfd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

int sm_publish_loaded(struct snapmap *map, size_t n, sm_next_fn next,
		      void *cursor, uint64_t *version,
		      struct snapmap_error *err)
{
	struct sm_entry **entries;
	struct sm_loaded item;
	size_t built;
	int rc = 0;

	entries = sm_calloc(n ? n : 1, sizeof(*entries));
	if (!entries)
		return sm_count_failure(map, sm_error(err, -ENOMEM, 0, 0,
						      "out of memory"));
	for (built = 0; built < n; built++) {
		next(cursor, &item);
		entries[built] = sm_entry_new(item.key, item.klen, item.val,
					      item.vlen);
		if (!entries[built]) {
			rc = sm_error(err, -ENOMEM, 0, 0, "out of memory");
			goto release;
		}
	}

	rc = sm_writer_lock(map);
	if (rc) {
		sm_error(err, rc, 0, 0, "%s", snapmap_strerror(rc));
		goto release;
	}
	rc = sm_replace_all_locked(map, entries, n, version);
	sm_writer_unlock(map);
	if (rc)
		sm_error(err, rc, 0, 0, "out of memory");

release:
	/* The file was accepted: from here on a failure is the map's. */
	sm_count_failure(map, rc);
	/* On success the new snapshot holds its own copies. */
	for (size_t i = 0; i < built; i++)
		sm_entry_free(entries[i]);
	sm_free(entries);
	return rc;
}

int sm_read_fd(int fd, unsigned char **bufp, size_t *lenp,
	       struct snapmap_error *err)
{
	unsigned char *buf = NULL, *bigger;
	size_t len = 0, cap = 0, got;
	int rc;

	do {
		if (cap > SIZE_MAX / 2 ||
		    !(bigger = sm_alloc(cap ? cap * 2 : 65536))) {
			sm_free(buf);
			return sm_error(err, -ENOMEM, 0, len, "out of memory");
		}
		if (len)
			memcpy(bigger, buf, len);
		sm_free(buf);
		buf = bigger;
		cap = cap ? cap * 2 : 65536;
		rc = read_full(fd, buf + len, cap - len, &got, len, err);
		if (rc) {
			sm_free(buf);
			return rc;
		}
		len += got;
	} while (len == cap);
	*bufp = buf;
	*lenp = len;
	return 0;
}

int sm_load_file(struct snapmap *map, const char *path, int fd,
		 sm_size_fn size, sm_load_mem_fn load, uint64_t *version,
		 struct snapmap_error *err)
{
	unsigned char *buf;
	size_t len;
	int rc;

	sm_error_clear(err);
	if (!map || (!path && fd < 0))
		return sm_count_failure(map, sm_error(err, -EINVAL, 0, 0,
				path || fd >= 0 ? "NULL map" :
				"NULL map or path, or bad fd"));
	rc = path ? sm_read_file(path, map, size, &buf, &len, err)
		  : sm_read_fd(fd, &buf, &len, err);
	if (rc)
		return rc;
	rc = load(map, buf, len, version, err);
	sm_free(buf);
	return rc;
}
