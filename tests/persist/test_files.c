/*
 * test_files.c - what the loaders and savers do with the file system
 * beyond well-formed regular files: they read no more than a file's
 * header lets them (a huge stranger costs one small read), refuse FIFOs
 * and devices without blocking, and reserve memory for the entries they
 * find, not for every line.
 *
 * Bounds are checked without clocks: bytes read come from /proc/self/io
 * (rchar), memory from an address-space limit (RLIMIT_AS) set in the
 * test's own process.  A loader that blocks on a FIFO is caught by the
 * suite's short timeout.
 */
#include "util.h"

#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Nothing here waits for anything: a test that blocks is a failure. */
TestSuite(files, .init = pt_setup, .fini = pt_teardown, .timeout = 20);

/* Bytes this process has read so far (read(2) and friends). */
static unsigned long long bytes_read(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	unsigned long long rchar = 0;
	char line[128];

	cr_assert_not_null(f, "/proc/self/io: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "rchar: %llu", &rchar) == 1)
			break;
	fclose(f);
	return rchar;
}

/* A sparse file of @size bytes starting with @head. */
static void sparse_file(const char *path, const void *head, size_t len,
			off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, head, len), (ssize_t)len);
	cr_assert_eq(ftruncate(fd, size), 0);
	cr_assert_eq(close(fd), 0);
}

/* The three ways to read a file, as one signature. */
typedef int (*loader_fn)(struct snapmap *map, const char *path,
			 struct snapmap_error *err);

static int via_load(struct snapmap *map, const char *path,
		    struct snapmap_error *err)
{
	return snapmap_load(map, path, NULL, err);
}

static int via_load_text(struct snapmap *map, const char *path,
			 struct snapmap_error *err)
{
	return snapmap_load_text(map, path, NULL, err);
}

static int via_file_stat(struct snapmap *map, const char *path,
			 struct snapmap_error *err)
{
	struct snapmap_file_stat st;

	(void)map;
	return snapmap_file_stat(path, &st, err);
}

/* Loads @path expecting @code; the map must not move. */
static struct snapmap_error expect(loader_fn fn, struct snapmap *map,
				   const char *path, int code)
{
	const struct snapmap_snapshot *before = snapmap_pin(map);
	struct snapmap_error err;
	int rc = fn(map, path, &err);

	cr_assert_eq(rc, code, "%s: got %d (%s), expected %d", path, rc,
		     err.message, code);
	cr_assert_eq(err.code, code);
	cr_assert_str_not_empty(err.message);
	pt_assert_unchanged(map, before);
	return err;
}

/* A 1 GiB file that is not a snapshot is judged by its first bytes. */
Test(files, huge_stranger_costs_one_small_read)
{
	static const loader_fn binary[] = { via_load, via_file_stat };
	struct snapmap *map = pt_map_new(NULL);

	pt_put_str(map, "keep", "me");
	sparse_file(pt_path("huge.snap"), "NOTASNAP", 8, (off_t)1 << 30);
	for (size_t i = 0; i < sizeof(binary) / sizeof(*binary); i++) {
		unsigned long long before = bytes_read();

		expect(binary[i], map, pt_path("huge.snap"), -EMEDIUMTYPE);
		cr_assert_lt(bytes_read() - before, 65536,
			     "read %llu bytes to find a bad magic",
			     bytes_read() - before);
	}
	pt_map_destroy(map);
}

/*
 * A valid header declaring a body as large as the (sparse) file, but
 * more than its entry count can hold within the map's limits: refused
 * before the body is read.
 */
Test(files, body_beyond_the_maps_limits_is_not_read)
{
	struct snapmap_config cfg = { .max_key_len = 16, .max_value_len = 16 };
	struct snapmap *map = pt_map_new(&cfg);
	unsigned char hdr[PT_HDR_LEN] = { 0x89, 'S', 'N', 'A', 'P', 'M', 'A',
					  'P', 1 };
	uint64_t body = ((uint64_t)1 << 30) - PT_HDR_LEN - 4;
	unsigned long long before;
	struct snapmap_error err;

	hdr[PT_OFF_COUNT] = 2;
	for (int i = 0; i < 8; i++)
		hdr[PT_OFF_BODY_LEN + i] = (unsigned char)(body >> (8 * i));
	{
		uint32_t crc = sm_crc32c(0, hdr, PT_HDR_CRC);

		for (int i = 0; i < 4; i++)
			hdr[PT_HDR_CRC + i] = (unsigned char)(crc >> (8 * i));
	}
	sparse_file(pt_path("big.snap"), hdr, sizeof(hdr), (off_t)1 << 30);
	before = bytes_read();
	err = expect(via_load, map, pt_path("big.snap"), -E2BIG);
	cr_assert_lt(bytes_read() - before, 65536);
	cr_assert(strstr(err.message, "map's limits"), "%s", err.message);
	pt_map_destroy(map);
}

static const loader_fn loaders[] = { via_load, via_load_text, via_file_stat };

/*
 * A FIFO, devices, and a symbolic link to one: refused at once.  The
 * parameter is an index: Criterion may run the test in a new process
 * image, where a function pointer of the parent means nothing.
 */
ParameterizedTestParameters(files, not_a_regular_file)
{
	static size_t which[] = { 0, 1, 2 };

	return cr_make_param_array(size_t, which,
				   sizeof(which) / sizeof(*which));
}

ParameterizedTest(size_t *which, files, not_a_regular_file)
{
	const loader_fn *fn = &loaders[*which];
	struct snapmap *map = pt_map_new(NULL);
	struct snapmap_error err;

	pt_put_str(map, "keep", "me");
	cr_assert_eq(mkfifo(pt_path("fifo"), 0644), 0);
	cr_assert_eq(symlink("/dev/zero", pt_path("zero")), 0);
	err = expect(*fn, map, pt_path("fifo"), -EINVAL);
	cr_assert(strstr(err.message, "not a regular file (a FIFO)"), "%s",
		  err.message);
	err = expect(*fn, map, pt_path("zero"), -EINVAL);
	cr_assert(strstr(err.message, "character device"), "%s", err.message);
	expect(*fn, map, "/dev/zero", -EINVAL);
	expect(*fn, map, "/dev/null", -EINVAL);
	pt_map_destroy(map);
}

/* VmSize of this process, in bytes. */
static rlim_t address_space(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long kb = 0;
	char line[128];

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	cr_assert_gt(kb, 0);
	return (rlim_t)kb * 1024;
}

/*
 * 16 Mi blank and comment lines around one entry: the loader may take
 * the file's size and a little more, not an entry's worth per line.
 */
Test(files, text_blank_lines_reserve_nothing)
{
	const size_t lines = (size_t)16 << 20;
	struct snapmap *map = pt_map_new(NULL);
	struct snapmap_error err;
	struct rlimit old, lim;
	char *text = malloc(lines + 16);
	int rc;

	cr_assert_not_null(text);
	memset(text, '\n', lines);
	for (size_t i = 0; i < lines; i += 4096)
		text[i] = '#';
	memcpy(text + lines, "key\tvalue\n", 10);
	pt_write(pt_path("sparse.txt"), text, lines + 10);
	free(text);

	cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
	lim = old;
	lim.rlim_cur = address_space() + ((rlim_t)256 << 20);
	cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
	rc = snapmap_load_text(map, pt_path("sparse.txt"), NULL, &err);
	cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
	cr_assert_eq(rc, 0, "%d: %s", rc, err.message);
	cr_assert_eq(pt_count(map), 1);
	pt_assert_str(map, "key", "value");
	pt_map_destroy(map);
}
