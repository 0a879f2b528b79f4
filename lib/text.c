/*
 * text.c - the text interchange format, for people and for diff.
 *
 * One entry per line: the key, one TAB, the value, a newline.  In keys
 * and values a backslash starts an escape:
 *
 *   \t  TAB      \n  newline      \\  backslash      \xHH  the byte 0xHH
 *
 * (HH: two hex digits, either case).  Every other byte stands for itself,
 * except raw control bytes (0x00-0x1f but TAB, and 0x7f), which are an
 * error: a stray carriage return almost always means a CRLF file, and
 * would otherwise end up silently at the end of every value.  Bytes
 * 0x80-0xff are taken as they are, so UTF-8 may be written as it is.
 * Empty lines and lines starting with '#' are skipped, so a key starting
 * with '#' is written \x23.  The last newline is optional.  Keys may come
 * in any order; a key given twice is an error naming both lines.
 *
 * Saving writes printable ASCII only: the named escapes, \xHH for every
 * other byte outside 0x20-0x7e, and a first "# snapmap text ..." comment
 * line, so that any bytes round-trip and the file is safe on a terminal.
 *
 * The text has no checksum: load it only from files replaced by rename
 * (snapmap_save_text() does), never while something rewrites it.
 */
#include "persist.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

/* Writes @p with escapes, copying runs of plain bytes in one write. */
static void write_escaped(struct sm_out *out, const unsigned char *p,
			  size_t n, bool is_key)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		char esc[5];

		if (c >= 0x20 && c < 0x7f && c != '\\' &&
		    !(is_key && i == 0 && c == '#'))
			continue;
		sm_out_write(out, p + run, i - run);
		run = i + 1;
		if (c == '\t')
			sm_out_write(out, "\\t", 2);
		else if (c == '\n')
			sm_out_write(out, "\\n", 2);
		else if (c == '\\')
			sm_out_write(out, "\\\\", 2);
		else
			sm_out_write(out, esc,
				     (size_t)snprintf(esc, sizeof(esc),
						      "\\x%02x", c));
	}
	sm_out_write(out, p + run, n - run);
}

static int emit_text(struct sm_out *out, const void *ctx)
{
	const struct snapmap_snapshot *snap = ctx;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	char head[128];
	int rc;

	sm_out_write(out, head,
		     (size_t)snprintf(head, sizeof(head),
				      "# snapmap text format 1: %zu entries, "
				      "map version %llu\n",
				      snapmap_count(snap),
				      (unsigned long long)snapmap_version(snap)));
	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv)) {
		write_escaped(out, kv.key, kv.klen, true);
		sm_out_write(out, "\t", 1);
		write_escaped(out, kv.val, kv.vlen, false);
		sm_out_write(out, "\n", 1);
	}
	return 0;
}

int snapmap_save_text(const struct snapmap_snapshot *snap, const char *path,
		      struct snapmap_error *err)
{
	sm_error_clear(err);
	if (!snap || !path)
		return sm_error(err, -EINVAL, 0, 0, "NULL snapshot or path");
	return sm_write_file_atomic(path, emit_text, snap, err);
}

/*
 * A write to a pipe or socket whose reader is gone raises SIGPIPE, whose
 * default action kills the process, while the caller was promised
 * -EPIPE.  The signal mask is per thread and a write's SIGPIPE goes to
 * the writing thread, so blocking it here for the duration of the call
 * changes nothing for the other threads; a SIGPIPE the call raised is
 * then taken back before the mask is restored.  One that was pending
 * before the call is left pending, as it was.
 */
static int write_text_nosigpipe(const struct snapmap_snapshot *snap, int fd)
{
	const struct timespec now = { 0, 0 };
	sigset_t pipe_set, old, pending;
	bool was_pending;
	struct sm_out out;
	int rc;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	was_pending = sigpending(&pending) == 0 &&
		      sigismember(&pending, SIGPIPE) == 1;
	sm_out_init(&out, fd);
	emit_text(&out, snap);
	rc = sm_out_finish(&out);
	if (rc == -EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &now) < 0 &&
		       errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int snapmap_write_text(const struct snapmap_snapshot *snap, int fd,
		       struct snapmap_error *err)
{
	int rc;

	sm_error_clear(err);
	if (!snap || fd < 0)
		return sm_error(err, -EINVAL, 0, 0, "NULL snapshot or bad fd");
	rc = write_text_nosigpipe(snap, fd);
	if (rc)
		sm_error(err, rc, 0, 0, "write failed: %s",
			 snapmap_strerror(rc));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

struct parser {
	const unsigned char *file;
	const unsigned char *line_start;
	unsigned long line;		/* 1-based */
	struct snapmap_error *err;
};

/* A syntax error at @at: -EBADMSG with line and column. */
__attribute__((format(printf, 3, 4)))
static int syntax(const struct parser *ps, const unsigned char *at,
		  const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return sm_error(ps->err, -EBADMSG, ps->line,
			(unsigned long long)(at - ps->file),
			"line %lu, column %zu: %s", ps->line,
			(size_t)(at - ps->line_start) + 1, what);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes one field, from *@pp up to @end or, for a key, up to the first
 * raw TAB (*@pp is left there).  Decodes in place: an escape is never
 * shorter than the byte it stands for, so the output never overtakes the
 * input, and the file buffer needs no copy.
 */
static int decode(const struct parser *ps, unsigned char **pp,
		  unsigned char *end, bool is_key, const void **field,
		  size_t *flen)
{
	unsigned char *p = *pp, *dst = p;

	*field = p;
	while (p < end) {
		unsigned char c = *p;
		int hi, lo;

		if (c == '\t') {
			if (is_key)
				break;
			return syntax(ps, p, "a second TAB (write \\t in a "
				      "value)");
		}
		if (c < 0x20 || c == 0x7f)
			return syntax(ps, p, "a raw control byte 0x%02x (write "
				      "\\x%02x)%s", c, c, c == '\r' ?
				      "; is this a CRLF file?" : "");
		if (c != '\\') {
			*dst++ = *p++;
			continue;
		}
		if (end - p < 2)
			return syntax(ps, p, "a backslash ends the line");
		switch (p[1]) {
		case 't':
			*dst++ = '\t';
			break;
		case 'n':
			*dst++ = '\n';
			break;
		case '\\':
			*dst++ = '\\';
			break;
		case 'x':
			hi = end - p >= 4 ? hexval(p[2]) : -1;
			lo = end - p >= 4 ? hexval(p[3]) : -1;
			if (hi < 0 || lo < 0)
				return syntax(ps, p, "\\x needs two hex digits");
			*dst++ = (unsigned char)(hi << 4 | lo);
			p += 2;
			break;
		default:
			return syntax(ps, p, "unknown escape \\%c (use \\t, "
				      "\\n, \\\\ or \\xHH)",
				      p[1] > 0x20 && p[1] < 0x7f ? p[1] : '?');
		}
		p += 2;
	}
	*flen = (size_t)(dst - (unsigned char *)*field);
	*pp = p;
	return 0;
}

/* Parses the line [@p, @eol) holding an entry into @item. */
static int parse_entry(const struct parser *ps, const struct snapmap *map,
		       unsigned char *p, unsigned char *eol,
		       struct sm_loaded *item)
{
	int rc;

	item->line = ps->line;
	item->offset = (unsigned long long)(p - ps->file);
	rc = decode(ps, &p, eol, true, &item->key, &item->klen);
	if (rc)
		return rc;
	if (p == eol)
		return syntax(ps, p, "no TAB between key and value");
	p++;
	rc = decode(ps, &p, eol, false, &item->val, &item->vlen);
	if (rc)
		return rc;
	if (item->klen > map->max_key_len)
		return sm_error(ps->err, -E2BIG, ps->line, item->offset,
				"line %lu: a %zu-byte key, the map allows %zu",
				ps->line, item->klen, map->max_key_len);
	if (item->vlen > map->max_value_len)
		return sm_error(ps->err, -E2BIG, ps->line, item->offset,
				"line %lu: a %zu-byte value, the map allows "
				"%zu", ps->line, item->vlen,
				map->max_value_len);
	return 0;
}

/* Key order of the map, then line order, so that duplicates sit
 * together with the first one first. */
static int item_order(const void *a, const void *b, void *arg)
{
	const struct sm_loaded *x = a, *y = b;
	int c = sm_compare(arg, x->key, x->klen, y->key, y->klen);

	if (c)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

/* Reports the duplicate whose second occurrence comes first in the file. */
static int check_unique(const struct snapmap *map,
			const struct sm_loaded *items, size_t n,
			struct snapmap_error *err)
{
	const struct sm_loaded *dup = NULL;

	for (size_t i = 1; i < n; i++)
		if (sm_compare(map, items[i - 1].key, items[i - 1].klen,
			       items[i].key, items[i].klen) == 0 &&
		    (!dup || items[i].line < dup[1].line))
			dup = &items[i - 1];
	if (!dup)
		return 0;
	return sm_error(err, -ENOTUNIQ, dup[1].line, dup[1].offset,
			"line %lu: duplicate key (first on line %lu)",
			dup[1].line, dup[0].line);
}

struct item_cursor {
	const struct sm_loaded *items;
	size_t next;
};

static void item_next(void *cursor, struct sm_loaded *item)
{
	struct item_cursor *c = cursor;

	*item = c->items[c->next++];
}

/*
 * Makes room for one more item in *@items.  The array grows as entries
 * are found, by doubling: sizing it by the file's line count up front
 * would reserve an item for every blank or comment line as well.
 */
static int room_for_one(struct sm_loaded **items, size_t n, size_t *cap)
{
	struct sm_loaded *bigger;
	size_t more = *cap ? *cap * 2 : 64;

	if (n < *cap)
		return 0;
	if (more > SIZE_MAX / sizeof(**items))
		return -ENOMEM;
	bigger = sm_alloc(more * sizeof(**items));
	if (!bigger)
		return -ENOMEM;
	if (n)
		memcpy(bigger, *items, n * sizeof(**items));
	sm_free(*items);
	*items = bigger;
	*cap = more;
	return 0;
}

int sm_load_text_mem(struct snapmap *map, unsigned char *buf, size_t len,
		     uint64_t *version, struct snapmap_error *err)
{
	struct parser ps = { .file = buf, .line = 1, .err = err };
	unsigned char *p = buf, *end = buf + len;
	struct sm_loaded *items = NULL;
	struct item_cursor cursor;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (; p < end; ps.line++) {
		unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		unsigned char *eol = nl ? nl : end;

		ps.line_start = p;
		if (eol != p && *p != '#') {
			if (room_for_one(&items, n, &cap)) {
				rc = sm_error(err, -ENOMEM, ps.line,
					      (unsigned long long)(p - buf),
					      "out of memory");
				goto out;
			}
			rc = parse_entry(&ps, map, p, eol, &items[n++]);
			if (rc)
				goto out;
		}
		p = nl ? nl + 1 : end;
	}

	if (n)	/* qsort_r()'s array may not be NULL, even empty */
		qsort_r(items, n, sizeof(*items), item_order, map);
	rc = check_unique(map, items, n, err);
	if (rc)
		goto out;
	cursor.items = items;
	cursor.next = 0;
	rc = sm_publish_loaded(map, n, item_next, &cursor, version, err);
out:
	sm_free(items);
	return rc;
}

int snapmap_load_text(struct snapmap *map, const char *path,
		      uint64_t *version, struct snapmap_error *err)
{
	return sm_load_file(map, path, -1, NULL, sm_load_text_mem, version,
			    err);
}

int snapmap_load_text_fd(struct snapmap *map, int fd, uint64_t *version,
			 struct snapmap_error *err)
{
	return sm_load_file(map, NULL, fd, NULL, sm_load_text_mem, version,
			    err);
}
