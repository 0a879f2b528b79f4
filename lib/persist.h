/*
 * persist.h - what the persistence files of lib/ share.  Not installed.
 *
 * Module map:
 *   checksum.c  CRC32C (Castagnoli), the checksum of snapshot files
 *   error.c     snapmap_strerror() and filling struct snapmap_error
 *   fileio.c    reading a regular file (no more than its header
 *               declares) or a descriptor; the crash-safe write
 *               (temporary file, fsync, rename, fsync of the directory,
 *               removal of dead writers' leftovers); buffered output;
 *               publishing a loaded content
 *   persist.c   the binary snapshot format: save, load, stat
 *   text.c      the text interchange format: save, write, load
 *   watch.c     the inotify watcher that reloads a file, following the
 *               symbolic links on its path
 *
 * Everything here sits on top of the core through internal.h: loaders
 * build entries and publish them with sm_replace_all_locked(); savers
 * read a pinned (or read-locked) snapshot through the public iterators,
 * so they never touch the writer mutex.
 */
#ifndef SNAPMAP_PERSIST_H
#define SNAPMAP_PERSIST_H

#include "internal.h"

#include <stdarg.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ */
/* checksum.c                                                          */
/* ------------------------------------------------------------------ */

/*
 * CRC32C of @len bytes at @buf, continuing from @crc (0 to start):
 * sm_crc32c(sm_crc32c(0, a, n), b, m) is the CRC of a followed by b.
 */
uint32_t sm_crc32c(uint32_t crc, const void *buf, size_t len);

/* ------------------------------------------------------------------ */
/* error.c                                                             */
/* ------------------------------------------------------------------ */

/*
 * Records an error in @err (which may be NULL) and returns @code, a
 * negative errno, so that callers can write "return sm_error(...)".
 * @line is the 1-based text line (0 when none), @offset the byte offset
 * of the defect in the file.
 */
int sm_error(struct snapmap_error *err, int code, unsigned long line,
	     unsigned long long offset, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Marks @err (which may be NULL) as "no error". */
void sm_error_clear(struct snapmap_error *err);

/* ------------------------------------------------------------------ */
/* fileio.c                                                            */
/* ------------------------------------------------------------------ */

/*
 * How much of a file a loader wants to read, decided from its first @len
 * bytes @head (all of them, or SM_FILE_HEADER_LEN, whichever is less)
 * and its size on disk: 0 with *@want set, or the format's error with
 * @err filled when the header alone condemns the file.  @map is the map
 * being loaded (NULL for snapmap_file_stat), whose limits bound @want.
 */
typedef int (*sm_size_fn)(const struct snapmap *map,
			  const unsigned char *head, size_t len,
			  uint64_t file_size, uint64_t *want,
			  struct snapmap_error *err);

/*
 * Reads the regular file @path into a buffer from sm_alloc() that the
 * caller frees with sm_free(): its first bytes, then as many as @size
 * says (the whole file when @size is NULL).  Never blocks on a FIFO nor
 * reads a device: anything but a regular file is refused (-EISDIR for a
 * directory, -EINVAL otherwise).  Returns 0 or the negative errno of
 * stat(2), open(2) or read(2), -ENOMEM, the error of @size, or -ENODATA
 * / -EBADMSG when the file changed size while it was read; @err filled.
 */
int sm_read_file(const char *path, const struct snapmap *map,
		 sm_size_fn size, unsigned char **buf, size_t *len,
		 struct snapmap_error *err);

/* 0 when @st is a regular file; -EISDIR or -EINVAL with @err filled. */
int sm_check_regular(const struct stat *st, struct snapmap_error *err);

/*
 * Buffered output to a file descriptor.  Errors are sticky: after the
 * first failed write(2) every later write is dropped, and sm_out_flush()
 * returns that error.  @crc is the CRC32C of every byte written so far,
 * which is what the binary format's checksums need.
 */
struct sm_out {
	int fd;
	unsigned char *buf;
	size_t len;
	size_t cap;
	uint32_t crc;
	int error;	/* 0 or the first negative errno */
};

void sm_out_init(struct sm_out *out, int fd);
void sm_out_write(struct sm_out *out, const void *p, size_t n);
/* Writes what is buffered and frees the buffer; 0 or the first error. */
int sm_out_finish(struct sm_out *out);

/* Produces a file's content; returns 0 or a negative errno. */
typedef int (*sm_emit_fn)(struct sm_out *out, const void *ctx);

/*
 * Crash-safe replacement of @path by what @emit writes: a temporary file
 * in the same directory, written, fsync'ed, renamed over @path, then the
 * directory fsync'ed.  At every moment @path is the old file or the new
 * one.  An existing target must be a regular file, or a symbolic link
 * to one (-EINVAL otherwise); the new file gets its owner and group
 * where permitted and its permission bits but set-user-ID and
 * set-group-ID.  Stale temporary files of dead writers of the same name
 * are removed after a successful save.  Returns 0 or a negative errno
 * with @err filled; on failure the temporary file is removed.
 */
int sm_write_file_atomic(const char *path, sm_emit_fn emit, const void *ctx,
			 struct snapmap_error *err);

/* Little-endian encoding of the binary format's integers. */
static inline void sm_put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void sm_put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t sm_get_le32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t sm_get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * One entry a loader found, pointing into its file buffer, with where it
 * came from for error messages.
 */
struct sm_loaded {
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
	unsigned long line;		/* text only; 0 for binary */
	unsigned long long offset;
};

/* Yields a loader's next (already validated) entry into @item. */
typedef void (*sm_next_fn)(void *cursor, struct sm_loaded *item);

/*
 * Builds entries for the @n items @next yields (sorted by key under
 * @map's order, unique, within the map's limits: the loader checked) and
 * publishes them as the map's whole content in one publish.  Returns 0
 * or -ENOMEM / -EDEADLK with @err filled; on failure the map is
 * unchanged.
 */
int sm_publish_loaded(struct snapmap *map, size_t n, sm_next_fn next,
		      void *cursor, uint64_t *version,
		      struct snapmap_error *err);

/*
 * A loader of one format working on a file's bytes in memory (it may
 * modify them: the text loader decodes escapes in place).  Validates
 * everything, then publishes; on any error the map is unchanged.
 */
typedef int (*sm_load_mem_fn)(struct snapmap *map, unsigned char *buf,
			      size_t len, uint64_t *version,
			      struct snapmap_error *err);

/*
 * Reads @fd from its position to its end, whatever it is (the caller
 * chose it: it may be a pipe, and reading it may block), into a buffer
 * from sm_alloc().  Returns 0, -ENOMEM or the errno of read(2).
 */
int sm_read_fd(int fd, unsigned char **buf, size_t *len,
	       struct snapmap_error *err);

/*
 * Reads @path (as much as @size says) or, when @path is NULL, @fd to
 * its end, and hands the bytes to @load.
 */
int sm_load_file(struct snapmap *map, const char *path, int fd,
		 sm_size_fn size, sm_load_mem_fn load, uint64_t *version,
		 struct snapmap_error *err);

/* ------------------------------------------------------------------ */
/* persist.c and text.c: the loaders, on memory (the fuzz targets call  */
/* them directly).                                                      */
/* ------------------------------------------------------------------ */

int sm_load_binary_mem(struct snapmap *map, unsigned char *buf, size_t len,
		       uint64_t *version, struct snapmap_error *err);
/* The binary format's sm_size_fn: checks the header before the body is
 * read. */
int sm_binary_size(const struct snapmap *map, const unsigned char *head,
		   size_t len, uint64_t file_size, uint64_t *want,
		   struct snapmap_error *err);
int sm_load_text_mem(struct snapmap *map, unsigned char *buf, size_t len,
		     uint64_t *version, struct snapmap_error *err);

/* The binary format's fixed sizes (persist.c documents the layout). */
#define SM_FILE_MAGIC_LEN	8
#define SM_FILE_HEADER_LEN	44	/* up to the end of the header CRC */
#define SM_FILE_CRC_OFFSET	40	/* the header CRC */
#define SM_FILE_TRAILER_LEN	4	/* the whole-file CRC */
#define SM_FILE_FORMAT_VERSION	1u

#endif /* SNAPMAP_PERSIST_H */
