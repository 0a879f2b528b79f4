/*
 * test_defects.c - every defect class of a binary file gives its own
 * error and leaves the map exactly as it was (same version, same
 * content): bad magic, newer format version, unknown flags, truncation
 * at every offset, a flipped bit anywhere, trailing data, keys out of
 * order or twice (with correct checksums), entries that do not tile the
 * body, lengths beyond the map's limits, and the file system's errors
 * (missing, a directory, not a directory, no permission, a symlink
 * loop).  Also: the fuzz seed corpus loads without a crash.
 */
#include "util.h"

#include <dirent.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(defects, .init = pt_setup, .fini = pt_teardown,
	  .timeout = PT_TIMEOUT);

/* A small valid file: three entries. */
static unsigned char *small_file(size_t *len)
{
	static const struct pt_kv kvs[] = {
		PT_KV("alpha", "1"), PT_KV("beta", "22"), PT_KV("gamma", ""),
	};

	return pt_forge(kvs, 3, len);
}

/* The map every test loads into: it holds something to keep. */
static struct snapmap *victim(const struct snapmap_config *cfg)
{
	struct snapmap *map = pt_map_new(cfg);

	pt_put_str(map, "keep", "me");
	pt_put_str(map, "and", "me");
	return map;
}

/*
 * Writes @buf as the file, loads it into @map and checks the error, the
 * details, and that the map did not move.  Returns the details.
 */
static struct snapmap_error expect_load(struct snapmap *map, const void *buf,
					size_t len, int code)
{
	const struct snapmap_snapshot *before = snapmap_pin(map);
	struct snapmap_error err;
	uint64_t version = 12345;
	int rc;

	pt_write(pt_path("bad.snap"), buf, len);
	rc = snapmap_load(map, pt_path("bad.snap"), &version, &err);
	cr_assert_eq(rc, code, "got %d (%s), expected %d", rc, err.message,
		     code);
	cr_assert_eq(err.code, code);
	cr_assert_eq(err.line, 0);
	cr_assert_str_not_empty(err.message);
	cr_assert_eq(version, 12345, "*version is set on success only");
	pt_assert_unchanged(map, before);
	return err;
}

Test(defects, valid_small_file_loads)
{
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	buf = small_file(&len);
	pt_write(pt_path("ok.snap"), buf, len);
	cr_assert_eq(snapmap_load(map, pt_path("ok.snap"), NULL, NULL), 0);
	cr_assert_eq(pt_count(map), 3);
	pt_assert_str(map, "beta", "22");
	free(buf);
	pt_map_destroy(map);
}

Test(defects, wrong_magic)
{
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	buf = small_file(&len);
	buf[1] = 's';
	expect_load(map, buf, len, -EMEDIUMTYPE);
	/* A text file is not a snapshot either. */
	expect_load(map, "key\tvalue\n", 10, -EMEDIUMTYPE);
	free(buf);
	pt_map_destroy(map);
}

Test(defects, newer_format_version)
{
	struct snapmap *map = victim(NULL);
	struct snapmap_error err;
	unsigned char *buf;
	size_t len;

	buf = small_file(&len);
	buf[PT_OFF_VERSION] = 2;
	pt_fix_crcs(buf, len);
	err = expect_load(map, buf, len, -EPROTONOSUPPORT);
	cr_assert(strstr(err.message, "format version 2 is newer"),
		  "%s", err.message);
	cr_assert_eq(err.offset, PT_OFF_VERSION);
	/* Version 0 never existed. */
	buf[PT_OFF_VERSION] = 0;
	pt_fix_crcs(buf, len);
	expect_load(map, buf, len, -EPROTONOSUPPORT);
	free(buf);
	pt_map_destroy(map);
}

Test(defects, unknown_flags)
{
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	buf = small_file(&len);
	buf[PT_OFF_FLAGS] = 0x10;
	pt_fix_crcs(buf, len);
	expect_load(map, buf, len, -EPROTONOSUPPORT);
	free(buf);
	pt_map_destroy(map);
}

/* Every proper prefix of a valid file, the empty one included. */
Test(defects, truncated_at_every_offset)
{
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	buf = small_file(&len);
	for (size_t cut = 0; cut < len; cut++)
		expect_load(map, buf, cut, -ENODATA);
	free(buf);
	pt_map_destroy(map);
}

/*
 * Every bit of a valid file flipped in turn.  A flip in the magic makes
 * it a stranger; in the format version, a version we do not know (both
 * are checked before any checksum, see lib/persist.c); anywhere else a
 * checksum catches it.
 */
Test(defects, flipped_bit_anywhere)
{
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	buf = small_file(&len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int code = i < 8 ? -EMEDIUMTYPE :
				   i < 12 ? -EPROTONOSUPPORT : -EBADMSG;

			buf[i] ^= (unsigned char)(1u << bit);
			expect_load(map, buf, len, code);
			buf[i] ^= (unsigned char)(1u << bit);
		}
	}
	free(buf);
	pt_map_destroy(map);
}

Test(defects, checksum_mismatch_details)
{
	struct snapmap *map = victim(NULL);
	struct snapmap_error err;
	unsigned char *buf;
	size_t len;

	buf = small_file(&len);
	buf[PT_HDR_LEN + 9] ^= 1;
	err = expect_load(map, buf, len, -EBADMSG);
	cr_assert(strstr(err.message, "checksum mismatch"), "%s", err.message);
	cr_assert_eq(err.offset, len - 4);
	free(buf);
	pt_map_destroy(map);
}

Test(defects, trailing_data)
{
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	buf = small_file(&len);
	buf = realloc(buf, len + 1);
	buf[len] = 0;
	expect_load(map, buf, len + 1, -EBADMSG);
	free(buf);
	pt_map_destroy(map);
}

Test(defects, unsorted_keys_with_correct_checksum)
{
	static const struct pt_kv kvs[] = {
		PT_KV("a", "1"), PT_KV("c", "2"), PT_KV("b", "3"),
	};
	struct snapmap *map = victim(NULL);
	struct snapmap_error err;
	unsigned char *buf;
	size_t len;

	buf = pt_forge(kvs, 3, &len);
	err = expect_load(map, buf, len, -EILSEQ);
	cr_assert(strstr(err.message, "entry 2"), "%s", err.message);
	/* Offset of the third entry: header, then two 10-byte entries. */
	cr_assert_eq(err.offset, PT_HDR_LEN + 20);
	free(buf);
	pt_map_destroy(map);
}

/* "a" before "a\0": a prefix sorts first, so this order is right... */
Test(defects, prefix_order_is_valid)
{
	static const struct pt_kv kvs[] = {
		{ "a", 1, "", 0 }, { "a\0", 2, "", 0 }, { "ab", 2, "", 0 },
	};
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	buf = pt_forge(kvs, 3, &len);
	pt_write(pt_path("ok.snap"), buf, len);
	cr_assert_eq(snapmap_load(map, pt_path("ok.snap"), NULL, NULL), 0);
	free(buf);
	pt_map_destroy(map);
}

/* ...and the reverse is not. */
Test(defects, prefix_after_longer_key)
{
	static const struct pt_kv kvs[] = {
		{ "ab", 2, "", 0 }, { "a", 1, "", 0 },
	};
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	buf = pt_forge(kvs, 2, &len);
	expect_load(map, buf, len, -EILSEQ);
	free(buf);
	pt_map_destroy(map);
}

Test(defects, duplicate_keys_with_correct_checksum)
{
	static const struct pt_kv kvs[] = {
		PT_KV("a", "1"), PT_KV("b", "2"), PT_KV("b", "3"),
	};
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	buf = pt_forge(kvs, 3, &len);
	expect_load(map, buf, len, -ENOTUNIQ);
	free(buf);
	pt_map_destroy(map);
}

/* Entries that disagree with the header, checksums made right. */
Test(defects, entries_do_not_tile_the_body)
{
	struct snapmap *map = victim(NULL);
	unsigned char *buf;
	size_t len;

	/* One entry fewer than the entries hold: bytes after the last. */
	buf = small_file(&len);
	buf[PT_OFF_COUNT] = 2;
	pt_fix_crcs(buf, len);
	expect_load(map, buf, len, -EBADMSG);
	/* One more than they hold: the last overruns. */
	buf[PT_OFF_COUNT] = 4;
	pt_fix_crcs(buf, len);
	expect_load(map, buf, len, -EBADMSG);
	/* More than could ever fit. */
	memset(buf + PT_OFF_COUNT, 0xff, 8);
	pt_fix_crcs(buf, len);
	expect_load(map, buf, len, -EBADMSG);
	free(buf);
	/* A key length running past the end. */
	buf = small_file(&len);
	buf[PT_HDR_LEN] = 200;
	pt_fix_crcs(buf, len);
	expect_load(map, buf, len, -EBADMSG);
	free(buf);
	pt_map_destroy(map);
}

Test(defects, sizes_beyond_the_maps_limits)
{
	static const struct pt_kv at_limit[] = { PT_KV("12345678", "12345678") };
	static const struct pt_kv long_key[] = { PT_KV("123456789", "1") };
	static const struct pt_kv long_val[] = { PT_KV("1", "123456789") };
	struct snapmap_config cfg = { .max_key_len = 8, .max_value_len = 8 };
	struct snapmap *map = victim(&cfg);
	struct snapmap_error err;
	unsigned char *buf;
	size_t len;

	buf = pt_forge(long_key, 1, &len);
	err = expect_load(map, buf, len, -E2BIG);
	cr_assert(strstr(err.message, "9-byte key"), "%s", err.message);
	free(buf);
	buf = pt_forge(long_val, 1, &len);
	err = expect_load(map, buf, len, -E2BIG);
	cr_assert(strstr(err.message, "9-byte value"), "%s", err.message);
	free(buf);
	buf = pt_forge(at_limit, 1, &len);
	pt_write(pt_path("ok.snap"), buf, len);
	cr_assert_eq(snapmap_load(map, pt_path("ok.snap"), NULL, NULL), 0);
	free(buf);
	pt_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* The file system's errors                                            */
/* ------------------------------------------------------------------ */

static void expect_path_error(struct snapmap *map, const char *path, int code)
{
	const struct snapmap_snapshot *before = snapmap_pin(map);
	struct snapmap_error err;
	int rc = snapmap_load(map, path, NULL, &err);

	cr_assert_eq(rc, code, "%s: got %d (%s), expected %d", path, rc,
		     err.message, code);
	cr_assert_eq(err.code, code);
	cr_assert_str_not_empty(err.message);
	pt_assert_unchanged(map, before);
}

Test(defects, path_does_not_exist)
{
	struct snapmap *map = victim(NULL);

	expect_path_error(map, pt_path("missing.snap"), -ENOENT);
	pt_map_destroy(map);
}

Test(defects, path_is_a_directory)
{
	struct snapmap *map = victim(NULL);

	expect_path_error(map, pt_dir, -EISDIR);
	pt_map_destroy(map);
}

/* A parent that is a regular file. */
Test(defects, parent_is_not_a_directory)
{
	struct snapmap *map = victim(NULL);

	pt_write(pt_path("file"), "x", 1);
	expect_path_error(map, pt_path("file/x.snap"), -ENOTDIR);
	pt_map_destroy(map);
}

Test(defects, symlink_loop)
{
	struct snapmap *map = victim(NULL);

	cr_assert_eq(symlink("loop", pt_path("loop")), 0);
	expect_path_error(map, pt_path("loop"), -ELOOP);
	pt_map_destroy(map);
}

/*
 * No permission.  CI runs the tests as root, whom file modes do not
 * stop, so the load runs in a forked child that first drops to the
 * unprivileged uid/gid 65534 ("nobody"); as another user, the test
 * process itself is the unprivileged one.  The child reports its
 * result in its exit status; it makes no RCU write (a failed load
 * publishes nothing) and leaves with _exit.
 */
Test(defects, no_permission)
{
	struct snapmap *map = victim(NULL);
	const char *path = pt_path("secret.snap");
	unsigned char *buf;
	size_t len;
	int status;
	pid_t pid;

	buf = small_file(&len);
	pt_write(path, buf, len);
	free(buf);
	cr_assert_eq(chmod(path, 0600), 0);
	/* Only the file's mode may stop the child, not the directory's. */
	cr_assert_eq(chmod(pt_dir, 0755), 0);
	if (geteuid() != 0) {
		cr_assert_eq(chmod(path, 0), 0);
		expect_path_error(map, path, -EACCES);
		pt_map_destroy(map);
		return;
	}
	fflush(NULL);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		uint64_t v = pt_version(map);
		size_t n = pt_count(map);
		int rc;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(100);
		rc = snapmap_load(map, path, NULL, NULL);
		if (pt_version(map) != v || pt_count(map) != n)
			_exit(101);
		_exit(rc == -EACCES ? 0 : 102);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status 0x%x (100: setuid, 101: map moved, 102: not "
		  "EACCES)", status);
	/* And root itself still may. */
	cr_assert_eq(snapmap_load(map, path, NULL, NULL), 0);
	pt_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* The fuzz seed corpus                                                */
/* ------------------------------------------------------------------ */

/* Every seed loads or fails with a documented error, without a crash. */
static void load_corpus(const char *sub, bool text)
{
	static const int documented[] = {
		0, -EMEDIUMTYPE, -EPROTONOSUPPORT, -ENODATA, -EBADMSG,
		-EILSEQ, -ENOTUNIQ, -E2BIG,
	};
	char dir[4096], path[4096 + 256];
	struct dirent *de;
	size_t files = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", SNAPMAP_CORPUS, sub);
	d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		struct snapmap_config cfg = { .max_key_len = 64,
					      .max_value_len = 1024 };
		struct snapmap *map;
		bool known = false;
		int rc;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		map = pt_map_new(&cfg);
		rc = text ? snapmap_load_text(map, path, NULL, NULL)
			  : snapmap_load(map, path, NULL, NULL);
		for (size_t i = 0; i < sizeof(documented) / sizeof(int); i++)
			known |= rc == documented[i];
		cr_assert(known, "%s: undocumented error %d", path, rc);
		pt_map_destroy(map);
		files++;
	}
	closedir(d);
	cr_assert_gt(files, 0, "no seed in %s", dir);
}

Test(defects, fuzz_corpus_binary)
{
	load_corpus("binary", false);
}

Test(defects, fuzz_corpus_text)
{
	load_corpus("text", true);
}
