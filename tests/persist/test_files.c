/*
 * test_files.c - what the loaders and savers do with the file system
 * beyond well-formed regular files: they read no more than a file's
 * header lets them (a huge stranger costs one small read), refuse FIFOs
 * and devices without blocking, and reserve memory for the entries they
 * find, not for every line.  Saves refuse to replace what is not a
 * regular file, cannot be blocked by squatted temporary names, clean up
 * the temporary files of dead writers, and keep the owner of the file
 * they replace.
 *
 * Bounds are checked without clocks: bytes read come from /proc/self/io
 * (rchar), memory from an address-space limit (RLIMIT_AS) set in the
 * test's own process.  A loader that blocks on a FIFO is caught by the
 * suite's short timeout.
 */
#include "util.h"

#include <criterion/parameterized.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
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

/*
 * The size is taken when the file is opened, and the read stops there:
 * a file longer than that changed since (or, like the files of /proc,
 * says nothing true about its size) and is refused, not read on.
 */
Test(files, file_longer_than_its_size_is_refused)
{
	struct snapmap *map = pt_map_new(NULL);
	struct snapmap_error err;

	pt_put_str(map, "keep", "me");
	err = expect(via_load_text, map, "/proc/self/status", -EBADMSG);
	cr_assert(strstr(err.message, "grew while it was read"), "%s",
		  err.message);
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

/* ------------------------------------------------------------------ */
/* Saving                                                              */
/* ------------------------------------------------------------------ */

static int save(const char *path, struct snapmap_error *err)
{
	struct snapmap *src = pt_map_new(NULL);
	const struct snapmap_snapshot *snap;
	int rc;

	pt_fill(src, 10, 1);
	snap = snapmap_pin(src);
	rc = snapmap_save(snap, path, err);
	snapmap_unpin(snap);
	pt_map_destroy(src);
	return rc;
}

/* A FIFO, a device node, and a symbolic link to one are left alone. */
Test(files, save_refuses_what_is_not_a_regular_file)
{
	static const struct {
		const char *name;
		mode_t type;
		const char *what;
	} targets[] = {
		{ "fifo", S_IFIFO, "FIFO" },
		{ "null", S_IFCHR, "character device" },
		{ "link-to-null", S_IFLNK, "character device" },
	};
	struct snapmap_error err;
	struct stat st;

	cr_assert_eq(mkfifo(pt_path("fifo"), 0644), 0);
	/* /dev/null's numbers: as root (the tests run as root), a copy. */
	cr_assert_eq(mknod(pt_path("null"), S_IFCHR | 0666, makedev(1, 3)), 0,
		     "mknod: %s", strerror(errno));
	cr_assert_eq(symlink(pt_path("null"), pt_path("link-to-null")), 0);
	for (size_t i = 0; i < sizeof(targets) / sizeof(*targets); i++) {
		const char *path = pt_path(targets[i].name);

		cr_assert_eq(save(path, &err), -EINVAL, "%s: %s",
			     targets[i].name, err.message);
		cr_assert(strstr(err.message, targets[i].what), "%s",
			  err.message);
		cr_assert_eq(lstat(path, &st), 0);
		cr_assert_eq(st.st_mode & S_IFMT, targets[i].type,
			     "%s was replaced", targets[i].name);
	}
	/* A link to a regular file is replaced by the new file. */
	pt_write(pt_path("real"), "old", 3);
	cr_assert_eq(symlink("real", pt_path("link-to-real")), 0);
	cr_assert_eq(save(pt_path("link-to-real"), &err), 0, "%s", err.message);
	cr_assert_eq(lstat(pt_path("link-to-real"), &st), 0);
	cr_assert(S_ISREG(st.st_mode));
}

/* Every name the old scheme (".NAME.PID.N.tmp") would try, taken. */
Test(files, save_survives_squatted_temporary_names)
{
	char name[64];

	for (unsigned n = 0; n <= 200; n++) {
		snprintf(name, sizeof(name), ".x.snap.%ld.%u.tmp",
			 (long)getpid(), n);
		pt_write(pt_path(name), "", 0);
	}
	cr_assert_eq(save(pt_path("x.snap"), NULL), 0);
	cr_assert_eq(pt_tmp_files(), 201, "the squatters are not ours to remove");
}

/* The PID of a process that has exited and been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	int status;

	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return pid;
}

static bool exists(const char *name)
{
	return access(pt_path(name), F_OK) == 0;
}

/*
 * A save removes the temporary files of saves of the same name whose
 * writer is provably gone (its PID does not exist and nobody holds the
 * file's lock), and nothing else.
 */
Test(files, save_removes_stale_temporary_files_of_dead_writers)
{
	char dead[64], dead_old[64], locked[64], alive[64], other[64];
	pid_t pid = dead_pid();
	int fd;

	snprintf(dead, sizeof(dead), ".x.snap.%ld.0123456789abcdef.tmp",
		 (long)pid);
	snprintf(dead_old, sizeof(dead_old), ".x.snap.%ld.17.tmp", (long)pid);
	snprintf(locked, sizeof(locked), ".x.snap.%ld.00000000000000aa.tmp",
		 (long)pid);
	snprintf(alive, sizeof(alive), ".x.snap.%ld.00000000000000bb.tmp",
		 (long)getppid());
	snprintf(other, sizeof(other), ".y.snap.%ld.00000000000000cc.tmp",
		 (long)pid);
	pt_write(pt_path(dead), "junk", 4);
	pt_write(pt_path(dead_old), "junk", 4);
	pt_write(pt_path(locked), "junk", 4);
	pt_write(pt_path(alive), "junk", 4);
	pt_write(pt_path(other), "junk", 4);
	pt_write(pt_path(".x.snap.notapid.tmp"), "junk", 4);
	/* A writer in another PID namespace: its PID means nothing here,
	 * its lock does. */
	fd = open(pt_path(locked), O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);

	cr_assert_eq(save(pt_path("x.snap"), NULL), 0);
	cr_assert_not(exists(dead), "a dead writer's file stayed");
	cr_assert_not(exists(dead_old), "a dead writer's file stayed");
	cr_assert(exists(locked), "a locked file was removed");
	cr_assert(exists(alive), "a live writer's file was removed");
	cr_assert(exists(other), "another target's file was removed");
	cr_assert(exists(".x.snap.notapid.tmp"));
	close(fd);
}

/*
 * Root saving over a service's private file: owner, group and mode stay
 * the service's; set-user-ID and set-group-ID bits are not copied.
 */
Test(files, save_keeps_owner_and_group)
{
	struct stat st;

	pt_write(pt_path("svc.snap"), "old", 3);
	cr_assert_eq(chown(pt_path("svc.snap"), 65534, 65534), 0);
	cr_assert_eq(chmod(pt_path("svc.snap"), 0600), 0);
	cr_assert_eq(save(pt_path("svc.snap"), NULL), 0);
	cr_assert_eq(stat(pt_path("svc.snap"), &st), 0);
	cr_assert_eq(st.st_uid, 65534);
	cr_assert_eq(st.st_gid, 65534);
	cr_assert_eq(st.st_mode & 07777, 0600);

	cr_assert_eq(chmod(pt_path("svc.snap"), 06755), 0);
	cr_assert_eq(save(pt_path("svc.snap"), NULL), 0);
	cr_assert_eq(stat(pt_path("svc.snap"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755, "mode 0%o",
		     (unsigned)(st.st_mode & 07777));
	cr_assert_eq(st.st_uid, 65534);
}

/* ------------------------------------------------------------------ */
/* Descriptors the caller chose                                        */
/* ------------------------------------------------------------------ */

/* What a path may not be, a descriptor may: a pipe, read to its end. */
Test(files, load_text_fd_reads_a_pipe)
{
	static const char text[] = "b\t2\na\t1\n";
	struct snapmap *map = pt_map_new(NULL);
	struct snapmap_error err;
	uint64_t version = 0;
	int fds[2];

	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(write(fds[1], text, sizeof(text) - 1),
		     (ssize_t)sizeof(text) - 1);
	close(fds[1]);
	cr_assert_eq(snapmap_load_text_fd(map, fds[0], &version, &err), 0,
		     "%s", err.message);
	cr_assert_eq(version, pt_version(map));
	cr_assert_eq(pt_count(map), 2);
	pt_assert_str(map, "a", "1");
	/* Not closed: the caller's. */
	cr_assert_neq(fcntl(fds[0], F_GETFD), -1);
	close(fds[0]);
	cr_assert_eq(snapmap_load_text_fd(NULL, 0, NULL, &err), -EINVAL);
	cr_assert_eq(snapmap_load_text_fd(map, -1, NULL, &err), -EINVAL);
	cr_assert_str_not_empty(err.message);
	pt_map_destroy(map);
}

/* `snapmap import - OUT` with standard input a pipe, as in a shell. */
Test(files, tool_imports_from_a_pipe)
{
	static const char text[] = "k\tv\n";
	const char *const args[] = { "import", "-", pt_path("out.snap"),
				     NULL };
	struct snapmap *map = pt_map_new(NULL);
	struct pt_run r;
	int status;
	pid_t pid;

	cr_assert_eq(mkfifo(pt_path("fifo"), 0600), 0);
	fflush(NULL);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* Bounded: a reader that never comes ends the writer. */
		int fd;

		alarm(20);
		fd = open(pt_path("fifo"), O_WRONLY);
		_exit(fd >= 0 && write(fd, text, sizeof(text) - 1) ==
		      (ssize_t)sizeof(text) - 1 ? 0 : 1);
	}
	pt_tool(&r, pt_path("fifo"), args);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(r.status, 0, "import -: %s", r.err);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pt_run_free(&r);
	cr_assert_eq(snapmap_load(map, pt_path("out.snap"), NULL, NULL), 0);
	pt_assert_str(map, "k", "v");
	pt_map_destroy(map);
}

/*
 * Where O_TMPFILE cannot be linked (no /proc), saves use a named random
 * temporary file from the start.  /proc is hidden by a tmpfs mounted
 * over it in a mount namespace of this test's own process (root), and
 * unmounted before the end, since the sanitizers read /proc at exit.
 */
Test(files, save_without_o_tmpfile)
{
	struct snapmap *map = pt_map_new(NULL);
	char name[64];
	struct stat st;

	/* Root in a container may lack CAP_SYS_ADMIN: nothing to test.
	 * Never mount anything outside a namespace of our own. */
	if (unshare(CLONE_NEWNS)) {
		int e = errno;

		pt_map_destroy(map);
		if (e == EPERM)
			cr_skip_test("unshare(CLONE_NEWNS): %s", strerror(e));
		cr_assert_fail("unshare(CLONE_NEWNS): %s", strerror(e));
		return;
	}
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	cr_assert_eq(mount("none", "/proc", "tmpfs", 0, NULL), 0);
	cr_assert_neq(access("/proc/self/fd", F_OK), 0);

	for (unsigned n = 0; n <= 100; n++) {
		snprintf(name, sizeof(name), ".x.snap.%ld.%u.tmp",
			 (long)getpid(), n);
		pt_write(pt_path(name), "", 0);
	}
	pt_write(pt_path("x.snap"), "old", 3);
	cr_assert_eq(chown(pt_path("x.snap"), 65534, 65534), 0);
	cr_assert_eq(save(pt_path("x.snap"), NULL), 0);
	cr_assert_eq(pt_tmp_files(), 101, "a temporary file stayed");
	cr_assert_eq(stat(pt_path("x.snap"), &st), 0);
	cr_assert_eq(st.st_uid, 65534);
	cr_assert_eq(umount("/proc"), 0);

	cr_assert_eq(snapmap_load(map, pt_path("x.snap"), NULL, NULL), 0);
	cr_assert_eq(pt_count(map), 10);
	pt_map_destroy(map);
}
