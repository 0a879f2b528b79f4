/*
 * util.h - helpers shared by the persistence tests (tests/persist/).
 *
 * Maps are created with the memb flavor (<urcu.h>); the suites' .init
 * fixture pt_setup() registers the test's thread and makes a fresh
 * temporary directory, pt_dir, which pt_teardown() removes.  Every test
 * runs in its own process (Criterion), so the globals are per test.
 *
 * Assertions inside helpers are Criterion's: they fail the calling test.
 * Only call the asserting helpers from the test's own thread.
 */
#ifndef SNAPMAP_TESTS_PERSIST_UTIL_H
#define SNAPMAP_TESTS_PERSIST_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <urcu.h>
#include <snapmap.h>

/* Generous: nothing waits for time, only for events, but sanitizer
 * builds on a loaded machine are slow. */
#define PT_TIMEOUT	120
/* How long a test waits for an event (a reload) before failing. */
#define PT_WAIT_MS	30000

/* CRC32C, from lib/checksum.c (compiled into the test binary). */
uint32_t sm_crc32c(uint32_t crc, const void *buf, size_t len);

/* The binary format's layout (see lib/persist.c). */
#define PT_HDR_LEN		44
#define PT_HDR_CRC		40
#define PT_OFF_VERSION		8
#define PT_OFF_FLAGS		12
#define PT_OFF_COUNT		16
#define PT_OFF_BODY_LEN		32

/* ------------------------------------------------------------------ */
/* Fixtures and files                                                  */
/* ------------------------------------------------------------------ */

extern char pt_dir[];

void pt_setup(void);
void pt_teardown(void);

/* @name inside pt_dir; the result stays valid for the next 7 calls. */
const char *pt_path(const char *name);

/* The whole file, from malloc (NUL-terminated beyond *len). */
unsigned char *pt_read(const char *path, size_t *len);
void pt_write(const char *path, const void *buf, size_t len);
/* Entries of pt_dir named ".*.tmp": temporary files of saves. */
unsigned pt_tmp_files(void);

/* ------------------------------------------------------------------ */
/* Maps                                                                */
/* ------------------------------------------------------------------ */

struct snapmap *pt_map_new(const struct snapmap_config *cfg);
void pt_map_destroy(struct snapmap *map);
uint64_t pt_version(struct snapmap *map);
size_t pt_count(struct snapmap *map);

/* Puts "key:%08zu" -> "v<seed>:<i>" for i in [0, n), in one batch. */
void pt_fill(struct snapmap *map, size_t n, unsigned seed);
void pt_put(struct snapmap *map, const void *key, size_t klen,
	    const void *val, size_t vlen);
void pt_put_str(struct snapmap *map, const char *key, const char *val);

/* Asserts that two snapshots hold the same keys and values, in order. */
void pt_assert_same_snap(const struct snapmap_snapshot *a,
			 const struct snapmap_snapshot *b);
/* The same between two maps' current snapshots. */
void pt_assert_same(struct snapmap *a, struct snapmap *b);
/*
 * Asserts that @map is exactly as @before (a pin taken earlier) left it:
 * same version and the same content.  Unpins @before.
 */
void pt_assert_unchanged(struct snapmap *map,
			 const struct snapmap_snapshot *before);
void pt_assert_str(struct snapmap *map, const char *key, const char *val);

/* Pins, saves (binary), unpins; asserts success. */
void pt_save(struct snapmap *map, const char *path);
void pt_save_text(struct snapmap *map, const char *path);

/*
 * Saves @src (as text when @text), loads the file into a map of config
 * @cfg that holds something else, and asserts that the loaded map equals
 * @src and moved by exactly one version, with no error reported.
 */
void pt_round_trip(struct snapmap *src, const struct snapmap_config *cfg,
		   bool text);

/* ------------------------------------------------------------------ */
/* Forging binary files                                                */
/* ------------------------------------------------------------------ */

struct pt_kv {
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
};

#define PT_KV(k, v)	{ (k), sizeof(k) - 1, (v), sizeof(v) - 1 }

/*
 * A binary file holding @kvs in the given order (sorted or not), with
 * correct checksums: the defect under test is the only one.  From
 * malloc.
 */
unsigned char *pt_forge(const struct pt_kv *kvs, size_t n, size_t *len);
/* Recomputes both checksums of a file whose header lengths are right. */
void pt_fix_crcs(unsigned char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Running the tool                                                    */
/* ------------------------------------------------------------------ */

struct pt_run {
	int status;		/* exit status, or 128 + signal */
	char *out;		/* standard output, NUL-terminated */
	size_t out_len;
	char *err;		/* standard error */
};

/*
 * Runs the snapmap tool with the NULL-terminated @args (without the
 * program name), standard input from @stdin_path (or /dev/null).
 */
void pt_tool(struct pt_run *r, const char *stdin_path, const char *const *args);
void pt_run_free(struct pt_run *r);

#endif /* SNAPMAP_TESTS_PERSIST_UTIL_H */
