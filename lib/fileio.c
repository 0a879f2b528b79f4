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
 * at any point leaves the target as it was or as it is meant to be; at
 * worst a stale temporary file ".NAME.PID.N.tmp" stays behind.
 */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/* Doubles @buf (holding @len bytes) through the allocation seam. */
static int grow(unsigned char **buf, size_t *cap, size_t len)
{
	unsigned char *bigger;

	if (*cap > SIZE_MAX / 2)
		return -ENOMEM;
	bigger = sm_alloc(*cap * 2);
	if (!bigger)
		return -ENOMEM;
	memcpy(bigger, *buf, len);
	sm_free(*buf);
	*buf = bigger;
	*cap *= 2;
	return 0;
}

int sm_read_file(const char *path, unsigned char **bufp,
		 size_t *lenp, struct snapmap_error *err)
{
	unsigned char *buf = NULL;
	size_t len = 0, cap = 65536;
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return sm_error(err, -errno, 0, 0, "cannot open: %s",
				snapmap_strerror(errno));
	if (fstat(fd, &st)) {
		rc = sm_error(err, -errno, 0, 0, "cannot stat: %s",
			      snapmap_strerror(errno));
		goto out;
	}
	/* open(2) accepts a directory for reading; read(2) would fail. */
	if (S_ISDIR(st.st_mode)) {
		rc = sm_error(err, -EISDIR, 0, 0, "is a directory");
		goto out;
	}
	/*
	 * A regular file's size is the first guess; one byte more lets the
	 * read that sees the end of the file happen without growing.  We
	 * read to the end whatever the size said: the file may be growing,
	 * or be a pipe.
	 */
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size < SIZE_MAX / 2)
		cap = (size_t)st.st_size + 1;
	buf = sm_alloc(cap);
	if (!buf) {
		rc = sm_error(err, -ENOMEM, 0, 0, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap && grow(&buf, &cap, len)) {
			rc = sm_error(err, -ENOMEM, 0, len, "out of memory");
			goto out;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = sm_error(err, -errno, 0, len, "read failed: %s",
				      snapmap_strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*bufp = buf;
	*lenp = len;
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

/* Makes temporary names unique among the threads of this process. */
static unsigned long tmp_counter;

/* Makes the directory entry changes (the rename) durable. */
static int sync_dir(const char *dir, struct snapmap_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return sm_error(err, -errno, 0, 0,
				"renamed, but cannot open the directory to "
				"sync it: %s", snapmap_strerror(errno));
	/* Some file systems cannot fsync a directory (EINVAL); there is
	 * nothing more we can do on them. */
	if (fsync(fd) && errno != EINVAL)
		rc = sm_error(err, -errno, 0, 0,
			      "renamed, but syncing the directory failed: %s",
			      snapmap_strerror(errno));
	close(fd);
	return rc;
}

/*
 * Creates a new, unique temporary file next to @path, whose name starts
 * at @base; its path goes to @tmp.  Returns the descriptor or -errno.
 */
static int create_tmp(char *tmp, size_t size, const char *path,
		      const char *base)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		int fd;

		/* The directory part of @path as it is, then a hidden name;
		 * the base name is cut so that it stays within NAME_MAX. */
		snprintf(tmp, size, "%.*s.%.200s.%ld.%lu.tmp",
			 (int)(base - path), path, base, (long)getpid(),
			 uatomic_add_return(&tmp_counter, 1));
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

int sm_write_file_atomic(const char *path, sm_emit_fn emit, const void *ctx,
			 struct snapmap_error *err)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t tmpsize = strlen(path) + 256;
	struct sm_out out;
	struct stat st;
	char *tmp;
	int fd, rc;

	if (!*base)
		return sm_error(err, -EISDIR, 0, 0,
				"needs a file name, not a directory");
	tmp = sm_alloc(tmpsize);
	if (!tmp)
		return sm_error(err, -ENOMEM, 0, 0, "out of memory");

	fd = create_tmp(tmp, tmpsize, path, base);
	if (fd < 0) {
		rc = sm_error(err, fd, 0, 0,
			      "cannot create a temporary file: %s",
			      snapmap_strerror(fd));
		goto out;
	}
	/* A replaced file keeps its permission bits: a file the owner made
	 * private stays private. */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    fchmod(fd, st.st_mode & 07777)) {
		rc = sm_error(err, -errno, 0, 0, "cannot set the mode: %s",
			      snapmap_strerror(errno));
		close(fd);
		goto unlink;
	}

	sm_out_init(&out, fd);
	rc = emit(&out, ctx);
	if (rc) {
		sm_out_finish(&out);
		sm_error(err, rc, 0, 0, "%s", snapmap_strerror(rc));
	} else if ((rc = sm_out_finish(&out))) {
		sm_error(err, rc, 0, 0, "write failed: %s",
			 snapmap_strerror(rc));
	} else if (fsync(fd)) {
		/* Without it the rename could reach the disk before the
		 * data, and a crash would leave an empty or torn target. */
		rc = sm_error(err, -errno, 0, 0, "fsync failed: %s",
			      snapmap_strerror(errno));
	}
	if (close(fd) && !rc)
		rc = sm_error(err, -errno, 0, 0, "close failed: %s",
			      snapmap_strerror(errno));
	if (rc)
		goto unlink;
	if (rename(tmp, path)) {
		rc = sm_error(err, -errno, 0, 0, "cannot rename over it: %s",
			      snapmap_strerror(errno));
		goto unlink;
	}
	/* The temporary name is spent: cut it down to its directory. */
	if (slash)
		tmp[slash == path ? 1 : slash - path] = '\0';
	rc = sync_dir(slash ? tmp : ".", err);
	goto out;

unlink:
	unlink(tmp);
out:
	sm_free(tmp);
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

int sm_load_file(struct snapmap *map, const char *path,
		 sm_load_mem_fn load, uint64_t *version,
		 struct snapmap_error *err)
{
	unsigned char *buf;
	size_t len;
	int rc;

	sm_error_clear(err);
	if (!map || !path)
		return sm_count_failure(map, sm_error(err, -EINVAL, 0, 0,
						      "NULL map or path"));
	rc = sm_read_file(path, &buf, &len, err);
	if (rc)
		return rc;
	rc = load(map, buf, len, version, err);
	sm_free(buf);
	return rc;
}
