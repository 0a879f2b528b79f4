/*
 * persist.c - the binary snapshot file: save, load, stat.
 *
 * Layout, format version 1.  Integers are little-endian, whatever the
 * machine, so that files move between machines.
 *
 *   offset  size  field
 *        0     8  magic: 0x89 'S' 'N' 'A' 'P' 'M' 'A' 'P'
 *        8     4  format version (1)
 *       12     4  flags (none defined yet: 0)
 *       16     8  entry count
 *       24     8  the map version of the saved snapshot
 *       32     8  B: length of the entries, in bytes
 *       40     4  header checksum: CRC32C of bytes 0..39
 *       44     B  the entries, in key order, each one
 *                   4 key length, 4 value length, the key, the value
 *   44 + B     4  file checksum: CRC32C of everything before it
 *
 * The magic and the format version are checked first and on their own,
 * so that a file that is not a snapshot, or that a newer library wrote
 * (whose checksums may sit elsewhere), gets its own error.  The header
 * checksum makes the lengths trustworthy before they are used: a file cut
 * short is then reported as truncated, because its size disagrees with a
 * header we trust, and a flipped bit in a length as corruption.  Then the
 * file checksum, then the entries: their lengths must tile the body
 * exactly, and, against the map, fit its limits and be strictly
 * increasing in its key order.  Only a file that passes everything is
 * published, in one publish; the map is untouched otherwise.
 *
 * Saving reads the snapshot through the public iterators, so it takes no
 * lock: it works on a pinned snapshot, or inside the caller's read-side
 * critical section.
 */
#include "persist.h"

#include <errno.h>
#include <string.h>

static const unsigned char magic[SM_FILE_MAGIC_LEN] = {
	0x89, 'S', 'N', 'A', 'P', 'M', 'A', 'P'
};

/* Per-entry header: key length, value length. */
#define ENTRY_HEADER_LEN	8

struct header {
	uint32_t format_version;
	uint32_t flags;
	uint64_t count;
	uint64_t version;
	uint64_t body_len;
};

/* ------------------------------------------------------------------ */
/* Saving                                                              */
/* ------------------------------------------------------------------ */

static int emit_binary(struct sm_out *out, const void *ctx)
{
	const struct snapmap_snapshot *snap = ctx;
	unsigned char hdr[SM_FILE_HEADER_LEN], rec[ENTRY_HEADER_LEN];
	unsigned char crc[SM_FILE_TRAILER_LEN];
	struct snapmap_iter it;
	struct snapmap_kv kv;
	uint64_t body = 0;
	int rc;

	/* The header comes first and holds the body's length: one pass to
	 * measure, one to write.  Both see the same immutable snapshot. */
	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv))
		body += ENTRY_HEADER_LEN + (uint64_t)kv.klen + kv.vlen;

	memcpy(hdr, magic, SM_FILE_MAGIC_LEN);
	sm_put_le32(hdr + 8, SM_FILE_FORMAT_VERSION);
	sm_put_le32(hdr + 12, 0);
	sm_put_le64(hdr + 16, snapmap_count(snap));
	sm_put_le64(hdr + 24, snapmap_version(snap));
	sm_put_le64(hdr + 32, body);
	sm_put_le32(hdr + SM_FILE_CRC_OFFSET,
		    sm_crc32c(0, hdr, SM_FILE_CRC_OFFSET));
	sm_out_write(out, hdr, sizeof(hdr));

	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv)) {
		/* The map's limits keep both lengths within 32 bits. */
		sm_put_le32(rec, (uint32_t)kv.klen);
		sm_put_le32(rec + 4, (uint32_t)kv.vlen);
		sm_out_write(out, rec, sizeof(rec));
		sm_out_write(out, kv.key, kv.klen);
		sm_out_write(out, kv.val, kv.vlen);
	}

	/* out->crc covers every byte written so far: the whole file. */
	sm_put_le32(crc, out->crc);
	sm_out_write(out, crc, sizeof(crc));
	return 0;
}

int snapmap_save(const struct snapmap_snapshot *snap, const char *path,
		 struct snapmap_error *err)
{
	sm_error_clear(err);
	if (!snap || !path)
		return sm_error(err, -EINVAL, 0, 0, "NULL snapshot or path");
	return sm_write_file_atomic(path, emit_binary, snap, err);
}

/* ------------------------------------------------------------------ */
/* Checking                                                            */
/* ------------------------------------------------------------------ */

/*
 * Checks what the header alone can tell, from the first @len bytes of
 * the file (@buf) and its size @file_len: magic, format version, header
 * checksum, flags, that the file is as long as the header says, that the
 * count can fit the body and, with @map, that the body is no longer than
 * @count entries within the map's limits can be.  A loader reading a
 * file calls it before reading the rest, so that a stranger or a corrupt
 * header costs one small read.
 */
static int check_header(const struct snapmap *map, const unsigned char *buf,
			size_t len, uint64_t file_len, struct header *h,
			struct snapmap_error *err)
{
	uint64_t frame = SM_FILE_HEADER_LEN + SM_FILE_TRAILER_LEN, most;
	unsigned long long flen = (unsigned long long)file_len;

	/* A prefix of the magic is a truncated snapshot, not a stranger. */
	if (memcmp(buf, magic, len < sizeof(magic) ? len : sizeof(magic)))
		return sm_error(err, -EMEDIUMTYPE, 0, 0,
				"not a snapmap file (bad magic)");
	if (len < SM_FILE_MAGIC_LEN + 4)
		return sm_error(err, -ENODATA, 0, len,
				"truncated: %llu bytes, shorter than the "
				"header", flen);
	h->format_version = sm_get_le32(buf + 8);
	if (h->format_version > SM_FILE_FORMAT_VERSION)
		return sm_error(err, -EPROTONOSUPPORT, 0, 8,
				"format version %u is newer than this "
				"library's (%u)", h->format_version,
				SM_FILE_FORMAT_VERSION);
	if (h->format_version != SM_FILE_FORMAT_VERSION)
		return sm_error(err, -EPROTONOSUPPORT, 0, 8,
				"unknown format version %u", h->format_version);
	if (len < SM_FILE_HEADER_LEN)
		return sm_error(err, -ENODATA, 0, len,
				"truncated: %llu bytes, shorter than the "
				"header", flen);
	if (sm_get_le32(buf + SM_FILE_CRC_OFFSET) !=
	    sm_crc32c(0, buf, SM_FILE_CRC_OFFSET))
		return sm_error(err, -EBADMSG, 0, SM_FILE_CRC_OFFSET,
				"header checksum mismatch");
	h->flags = sm_get_le32(buf + 12);
	if (h->flags)
		return sm_error(err, -EPROTONOSUPPORT, 0, 12,
				"unknown flags 0x%x", h->flags);
	h->count = sm_get_le64(buf + 16);
	h->version = sm_get_le64(buf + 24);
	h->body_len = sm_get_le64(buf + 32);

	if (file_len < frame || h->body_len > file_len - frame)
		return sm_error(err, -ENODATA, 0, flen,
				"truncated: %llu bytes of %llu", flen,
				h->body_len > UINT64_MAX - frame ?
				(unsigned long long)UINT64_MAX :
				(unsigned long long)(h->body_len + frame));
	if (file_len > h->body_len + frame)
		return sm_error(err, -EBADMSG, 0, h->body_len + frame,
				"%llu bytes of trailing data after the checksum",
				(unsigned long long)(file_len - h->body_len -
						     frame));
	if (h->count > h->body_len / ENTRY_HEADER_LEN)
		return sm_error(err, -EBADMSG, 0, 16,
				"%llu entries cannot fit in %llu bytes",
				(unsigned long long)h->count,
				(unsigned long long)h->body_len);
	if (map && !__builtin_mul_overflow(h->count, ENTRY_HEADER_LEN +
					   (uint64_t)map->max_key_len +
					   map->max_value_len, &most) &&
	    h->body_len > most)
		return sm_error(err, -E2BIG, 0, 32,
				"%llu bytes of entries: more than %llu entries "
				"within the map's limits can hold",
				(unsigned long long)h->body_len,
				(unsigned long long)h->count);
	return 0;
}

/* The file checksum, over a whole file whose header was checked. */
static int check_body(const unsigned char *buf, const struct header *h,
		      struct snapmap_error *err)
{
	size_t end = SM_FILE_HEADER_LEN + (size_t)h->body_len;
	uint32_t stored = sm_get_le32(buf + end);
	uint32_t computed = sm_crc32c(0, buf, end);

	if (stored != computed)
		return sm_error(err, -EBADMSG, 0, end,
				"checksum mismatch: stored 0x%08x, computed "
				"0x%08x", stored, computed);
	return 0;
}

int sm_binary_size(const struct snapmap *map, const unsigned char *head,
		   size_t len, uint64_t file_size, uint64_t *want,
		   struct snapmap_error *err)
{
	struct header h;
	int rc = check_header(map, head, len, file_size, &h, err);

	/* check_header() made sure the file is exactly that long. */
	*want = file_size;
	return rc;
}

/* Walks the entries of a file whose frame was checked. */
struct walker {
	const unsigned char *file;
	const unsigned char *p;
	const unsigned char *end;	/* of the entries */
	uint64_t index;
};

static void walker_init(struct walker *w, const unsigned char *buf,
			const struct header *h)
{
	w->file = buf;
	w->p = buf + SM_FILE_HEADER_LEN;
	w->end = w->p + h->body_len;
	w->index = 0;
}

/* The next entry; -EBADMSG when it overruns the entries. */
static int walk(struct walker *w, struct sm_loaded *e,
		struct snapmap_error *err)
{
	size_t left = (size_t)(w->end - w->p);
	unsigned long long off = (unsigned long long)(w->p - w->file);
	uint32_t klen, vlen;

	if (left < ENTRY_HEADER_LEN)
		return sm_error(err, -EBADMSG, 0, off,
				"entry %llu: its lengths overrun the entries",
				(unsigned long long)w->index);
	klen = sm_get_le32(w->p);
	vlen = sm_get_le32(w->p + 4);
	if ((uint64_t)klen + vlen > left - ENTRY_HEADER_LEN)
		return sm_error(err, -EBADMSG, 0, off,
				"entry %llu: %u + %u bytes overrun the entries",
				(unsigned long long)w->index, klen, vlen);
	e->key = w->p + ENTRY_HEADER_LEN;
	e->klen = klen;
	e->val = w->p + ENTRY_HEADER_LEN + klen;
	e->vlen = vlen;
	e->line = 0;
	e->offset = off;
	w->p += ENTRY_HEADER_LEN + (size_t)klen + vlen;
	w->index++;
	return 0;
}

/* The publisher's cursor: the entries were checked, walk cannot fail. */
static void walk_next(void *cursor, struct sm_loaded *item)
{
	walk(cursor, item, NULL);
}

/*
 * Checks that the entries tile the body and, with @map, that they fit
 * its limits and are strictly increasing in its order.  Adds the sizes
 * up into @st when it is not NULL.
 */
static int check_entries(const struct snapmap *map, const unsigned char *buf,
			 const struct header *h, struct snapmap_file_stat *st,
			 struct snapmap_error *err)
{
	struct sm_loaded prev = { 0 }, cur;
	struct walker w;
	int rc;

	walker_init(&w, buf, h);
	for (uint64_t i = 0; i < h->count; i++, prev = cur) {
		rc = walk(&w, &cur, err);
		if (rc)
			return rc;
		if (st) {
			st->key_bytes += cur.klen;
			st->value_bytes += cur.vlen;
			if (cur.klen > st->longest_key)
				st->longest_key = cur.klen;
			if (cur.vlen > st->longest_value)
				st->longest_value = cur.vlen;
		}
		if (!map)
			continue;
		if (cur.klen > map->max_key_len)
			return sm_error(err, -E2BIG, 0, cur.offset,
					"entry %llu: a %zu-byte key, the map "
					"allows %zu", (unsigned long long)i,
					cur.klen, map->max_key_len);
		if (cur.vlen > map->max_value_len)
			return sm_error(err, -E2BIG, 0, cur.offset,
					"entry %llu: a %zu-byte value, the map "
					"allows %zu", (unsigned long long)i,
					cur.vlen, map->max_value_len);
		if (i == 0)
			continue;
		rc = sm_compare(map, prev.key, prev.klen, cur.key, cur.klen);
		if (rc > 0)
			return sm_error(err, -EILSEQ, 0, cur.offset,
					"entry %llu: key out of order",
					(unsigned long long)i);
		if (rc == 0)
			return sm_error(err, -ENOTUNIQ, 0, cur.offset,
					"entry %llu: duplicate key",
					(unsigned long long)i);
	}
	if (w.p != w.end)
		return sm_error(err, -EBADMSG, 0,
				(unsigned long long)(w.p - buf),
				"%zu bytes after the last entry",
				(size_t)(w.end - w.p));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

int sm_load_binary_mem(struct snapmap *map, unsigned char *buf, size_t len,
		       uint64_t *version, struct snapmap_error *err)
{
	struct header h;
	struct walker w;
	int rc;

	rc = check_header(map, buf, len, len, &h, err);
	if (!rc)
		rc = check_body(buf, &h, err);
	if (!rc)
		rc = check_entries(map, buf, &h, NULL, err);
	if (rc)
		return rc;
	walker_init(&w, buf, &h);
	return sm_publish_loaded(map, (size_t)h.count, walk_next, &w, version,
				 err);
}

int snapmap_load(struct snapmap *map, const char *path, uint64_t *version,
		 struct snapmap_error *err)
{
	return sm_load_file(map, path, -1, sm_binary_size, sm_load_binary_mem,
			    version, err);
}

int snapmap_file_stat(const char *path, struct snapmap_file_stat *st,
		      struct snapmap_error *err)
{
	unsigned char *buf;
	struct snapmap_file_stat found = { 0 };
	struct header h;
	size_t len;
	int rc;

	sm_error_clear(err);
	if (!path || !st)
		return sm_error(err, -EINVAL, 0, 0, "NULL path or stat");
	rc = sm_read_file(path, NULL, sm_binary_size, &buf, &len, err);
	if (rc)
		return rc;
	rc = check_header(NULL, buf, len, len, &h, err);
	if (!rc)
		rc = check_body(buf, &h, err);
	if (!rc)
		rc = check_entries(NULL, buf, &h, &found, err);
	if (!rc) {
		/* Filled only on success, as documented. */
		found.format_version = h.format_version;
		found.flags = h.flags;
		found.entries = h.count;
		found.version = h.version;
		found.file_bytes = len;
		*st = found;
	}
	sm_free(buf);
	return rc;
}
