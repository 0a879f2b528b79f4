/*
 * test_tool.c - the snapmap command-line tool: each command's output and
 * exit status, --help, and errors on stderr with a nonzero status.
 * Runs the built tool (SNAPMAP_TOOL) in a child process.
 */
#include "util.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(tool, .init = pt_setup, .fini = pt_teardown, .timeout = PT_TIMEOUT);

#define TOOL(r, in, ...) \
	pt_tool((r), (in), (const char *const[]){ __VA_ARGS__, NULL })

/* Unsorted, with escapes and a comment. */
static const char sample_tsv[] =
	"# app settings\n"
	"port\t5432\n"
	"db.host\tdb1.example\n"
	"motd\tline one\\nline two\\ttabbed\n";

static const char sample_export[] =
	"# snapmap text format 1: 3 entries, map version 1\n"
	"db.host\tdb1.example\n"
	"motd\tline one\\nline two\\ttabbed\n"
	"port\t5432\n";

static void import_sample(void)
{
	struct pt_run r;

	pt_write(pt_path("app.tsv"), sample_tsv, sizeof(sample_tsv) - 1);
	TOOL(&r, NULL, "import", pt_path("app.tsv"), pt_path("app.snap"));
	cr_assert_eq(r.status, 0, "import: %s", r.err);
	cr_assert_str_empty(r.out);
	cr_assert_str_empty(r.err);
	pt_run_free(&r);
}

Test(tool, import_export_round_trip)
{
	struct pt_run r;

	import_sample();
	TOOL(&r, NULL, "export", pt_path("app.snap"));
	cr_assert_eq(r.status, 0, "export: %s", r.err);
	cr_assert_str_eq(r.out, sample_export);
	pt_run_free(&r);
}

/* The tool's file is the library's: load it and compare with the text. */
Test(tool, import_matches_the_library)
{
	struct snapmap *a = pt_map_new(NULL), *b = pt_map_new(NULL);

	import_sample();
	cr_assert_eq(snapmap_load(a, pt_path("app.snap"), NULL, NULL), 0);
	cr_assert_eq(snapmap_load_text(b, pt_path("app.tsv"), NULL, NULL), 0);
	pt_assert_same(a, b);
	pt_map_destroy(a);
	pt_map_destroy(b);
}

Test(tool, import_from_stdin)
{
	struct pt_run r;

	pt_write(pt_path("in.tsv"), sample_tsv, sizeof(sample_tsv) - 1);
	TOOL(&r, pt_path("in.tsv"), "import", "-", pt_path("s.snap"));
	cr_assert_eq(r.status, 0, "import -: %s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "export", pt_path("s.snap"));
	cr_assert_str_eq(r.out, sample_export);
	pt_run_free(&r);
}

Test(tool, import_bad_text_names_the_line)
{
	struct pt_run r;

	pt_write(pt_path("bad.tsv"), "a\t1\nb\\q\t2\n", 10);
	TOOL(&r, NULL, "import", pt_path("bad.tsv"), pt_path("bad.snap"));
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "line 2, column 2: unknown escape"), "%s",
		  r.err);
	cr_assert_str_empty(r.out);
	cr_assert_eq(access(pt_path("bad.snap"), F_OK), -1, "nothing written");
	pt_run_free(&r);
}

Test(tool, verify)
{
	unsigned char *buf;
	struct pt_run r;
	size_t len;

	import_sample();
	TOOL(&r, NULL, "verify", pt_path("app.snap"));
	cr_assert_eq(r.status, 0, "verify: %s", r.err);
	cr_assert(strstr(r.out, "app.snap: OK, 3 entries, version 1\n"), "%s",
		  r.out);
	pt_run_free(&r);

	/* A flipped bit: exit 1, the reason on stderr. */
	buf = pt_read(pt_path("app.snap"), &len);
	buf[len - 10] ^= 4;
	pt_write(pt_path("bad.snap"), buf, len);
	free(buf);
	TOOL(&r, NULL, "verify", pt_path("bad.snap"));
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "snapmap: verify: "), "%s", r.err);
	cr_assert(strstr(r.err, "checksum mismatch"), "%s", r.err);
	cr_assert_str_empty(r.out);
	pt_run_free(&r);

	/* Not a snapshot at all. */
	TOOL(&r, NULL, "verify", pt_path("app.tsv"));
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "bad magic"), "%s", r.err);
	pt_run_free(&r);

	/* Missing. */
	TOOL(&r, NULL, "verify", pt_path("none.snap"));
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "cannot open"), "%s", r.err);
	pt_run_free(&r);
}

Test(tool, verify_against_limits)
{
	struct pt_run r;

	import_sample();
	TOOL(&r, NULL, "verify", "--max-key-len", "4", pt_path("app.snap"));
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "7-byte key, the map allows 4"), "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "verify", "--max-value-len=100", pt_path("app.snap"));
	cr_assert_eq(r.status, 0, "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "verify", "--max-key-len", "lots", pt_path("app.snap"));
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "bad length"), "%s", r.err);
	pt_run_free(&r);
	/* get takes no limits. */
	TOOL(&r, NULL, "get", "--max-key-len", "4", pt_path("app.snap"), "a");
	cr_assert_eq(r.status, 2);
	pt_run_free(&r);
}

Test(tool, stat)
{
	struct pt_run r;

	import_sample();
	TOOL(&r, NULL, "stat", pt_path("app.snap"));
	cr_assert_eq(r.status, 0, "stat: %s", r.err);
	cr_assert(strstr(r.out, "format:         snapmap binary, version 1\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "entries:        3\n"), "%s", r.out);
	cr_assert(strstr(r.out, "version:        1\n"), "%s", r.out);
	/* 44 + 3 * 8 + keys (7 + 4 + 4) + values (11 + 24 + 4) + 4. */
	cr_assert(strstr(r.out, "file bytes:     126\n"), "%s", r.out);
	cr_assert(strstr(r.out, "key bytes:      15\n"), "%s", r.out);
	cr_assert(strstr(r.out, "value bytes:    39\n"), "%s", r.out);
	cr_assert(strstr(r.out, "longest key:    7\n"), "%s", r.out);
	cr_assert(strstr(r.out, "longest value:  24\n"), "%s", r.out);
	pt_run_free(&r);
	TOOL(&r, NULL, "stat", pt_path("app.tsv"));
	cr_assert_eq(r.status, 1);
	pt_run_free(&r);
}

Test(tool, get)
{
	struct pt_run r;

	import_sample();
	TOOL(&r, NULL, "get", pt_path("app.snap"), "port");
	cr_assert_eq(r.status, 0, "get: %s", r.err);
	cr_assert_str_eq(r.out, "5432\n");
	pt_run_free(&r);
	/* Raw bytes, escapes decoded; -n drops the newline. */
	TOOL(&r, NULL, "get", "-n", pt_path("app.snap"), "motd");
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "line one\nline two\ttabbed");
	pt_run_free(&r);
	TOOL(&r, NULL, "get", pt_path("app.snap"), "nope");
	cr_assert_eq(r.status, 3, "absent: exit 3");
	cr_assert_str_empty(r.out);
	cr_assert(strstr(r.err, "no key \"nope\""), "%s", r.err);
	pt_run_free(&r);
}

Test(tool, help_and_usage_errors)
{
	static const char *const cmds[] = {
		"import", "export", "verify", "stat", "get",
	};
	char want[64];
	struct pt_run r;

	TOOL(&r, NULL, "--help");
	cr_assert_eq(r.status, 0);
	for (size_t i = 0; i < 5; i++)
		cr_assert(strstr(r.out, cmds[i]), "%s", r.out);
	pt_run_free(&r);
	for (size_t i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "usage: snapmap %s", cmds[i]);
		TOOL(&r, NULL, cmds[i], "--help");
		cr_assert_eq(r.status, 0);
		cr_assert(strstr(r.out, want), "%s", r.out);
		pt_run_free(&r);
		TOOL(&r, NULL, "help", cmds[i]);
		cr_assert(strstr(r.out, want), "%s", r.out);
		pt_run_free(&r);
	}
	TOOL(&r, NULL, "get", "x.snap");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "expects 2 arguments"), "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "frobnicate");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "unknown command"), "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "stat", "--bogus", "x");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "unknown option"), "%s", r.err);
	pt_run_free(&r);
	/* No command at all: usage on stderr. */
	pt_tool(&r, NULL, (const char *const[]){ NULL });
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "usage: snapmap"), "%s", r.err);
	pt_run_free(&r);
}

/* issue 11, item 18: options, lengths, "-", limits, exit codes, escapes. */

Test(tool, option_without_value_says_so)
{
	static const char *const cmds[] = { "import", "verify" };
	struct pt_run r;

	for (size_t i = 0; i < 2; i++) {
		TOOL(&r, NULL, cmds[i], "--max-key-len");
		cr_assert_eq(r.status, 2);
		cr_assert(strstr(r.err, "option \"--max-key-len\" needs a "
				 "value"), "%s", r.err);
		cr_assert_null(strstr(r.err, "unknown option"), "%s", r.err);
		pt_run_free(&r);
	}
}

/* An option the command does not take is named, not its value. */
Test(tool, misplaced_option_is_named)
{
	struct pt_run r;

	import_sample();
	TOOL(&r, NULL, "get", "--max-key-len", "5", pt_path("app.snap"),
	     "port");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "\"--max-key-len\""), "%s", r.err);
	cr_assert_null(strstr(r.err, "\"5\""), "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "stat", "--max-value-len=9", pt_path("app.snap"));
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "\"--max-value-len\""), "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "import", "-n", pt_path("app.tsv"), pt_path("x.snap"));
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "\"-n\""), "%s", r.err);
	pt_run_free(&r);
}

Test(tool, lengths_are_plain_digits)
{
	static const char *const bad[] = { " 5", "+5", "-5", "5 ", "0x5",
					   "0", "4294967296" };
	struct pt_run r;

	import_sample();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TOOL(&r, NULL, "verify", "--max-key-len", bad[i],
		     pt_path("app.snap"));
		cr_assert_eq(r.status, 2, "\"%s\" accepted", bad[i]);
		cr_assert(strstr(r.err, "bad length"), "%s", r.err);
		pt_run_free(&r);
	}
	TOOL(&r, NULL, "verify", "--max-key-len", "4294967295",
	     pt_path("app.snap"));
	cr_assert_eq(r.status, 0, "%s", r.err);
	pt_run_free(&r);
}

/*
 * Runs the tool with standard output on @out, or closed when @out is
 * NULL, and standard error to a file; returns the exit status.
 */
static int tool_stdout_on(const char *out, const char *const *args)
{
	const char *argv[8] = { SNAPMAP_TOOL };
	posix_spawn_file_actions_t fa;
	int status;
	pid_t pid;

	for (size_t i = 0; args[i]; i++)
		argv[i + 1] = args[i];
	cr_assert_eq(posix_spawn_file_actions_init(&fa), 0);
	if (out)
		posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY, 0);
	else
		posix_spawn_file_actions_addclose(&fa, 1);
	posix_spawn_file_actions_addopen(&fa, 2, pt_path("spawn.stderr"),
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fflush(NULL);
	cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL,
				 (char *const *)argv, NULL), 0);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Output that cannot be written is an error, help and get included. */
Test(tool, stdout_full_or_closed_fails)
{
	static const char *const help[] = { "help", NULL };
	static const char *const cmd_help[] = { "get", "--help", NULL };
	char *snap = strdup(pt_path("app.snap"));	/* pt_path() recycles */
	const char *get[] = { "get", snap, "port", NULL };
	const char *const *runs[] = { help, cmd_help, get };
	size_t len;
	char *err;

	import_sample();
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(tool_stdout_on("/dev/full", runs[i]), 1,
			     "%s: /dev/full", runs[i][0]);
		err = (char *)pt_read(pt_path("spawn.stderr"), &len);
		cr_assert(strstr(err, "standard output"), "%s", err);
		free(err);
		cr_assert_eq(tool_stdout_on(NULL, runs[i]), 1,
			     "%s: closed", runs[i][0]);
	}
	/* Nothing to write: a closed standard output is no error. */
	cr_assert_eq(tool_stdout_on(NULL, (const char *const[]){ "import",
		     pt_path("app.tsv"), pt_path("b.snap"), NULL }), 0);
	free(snap);
}

/* "-" is standard input for every input and standard output for
 * import's output: never a file named "-". */
Test(tool, dash_is_stdin_and_stdout)
{
	unsigned char *file;
	struct pt_run r;
	size_t len;

	import_sample();
	TOOL(&r, pt_path("app.tsv"), "import", "-", "-");
	cr_assert_eq(r.status, 0, "import - -: %s", r.err);
	/* The snapshot itself on standard output, as import to a file. */
	file = pt_read(pt_path("app.snap"), &len);
	cr_assert(r.out_len == len && memcmp(r.out, file, len) == 0,
		  "%zu bytes on standard output, not the snapshot", r.out_len);
	free(file);
	pt_write(pt_path("piped.snap"), r.out, r.out_len);
	pt_run_free(&r);
	TOOL(&r, pt_path("piped.snap"), "export", "-");
	cr_assert_eq(r.status, 0, "export -: %s", r.err);
	cr_assert_str_eq(r.out, sample_export);
	pt_run_free(&r);
	TOOL(&r, pt_path("app.snap"), "verify", "-");
	cr_assert_eq(r.status, 0, "verify -: %s", r.err);
	cr_assert_str_eq(r.out, "standard input: OK, 3 entries, version 1\n");
	pt_run_free(&r);
	TOOL(&r, pt_path("app.snap"), "stat", "-");
	cr_assert_eq(r.status, 0, "stat -: %s", r.err);
	cr_assert(strstr(r.out, "entries:        3\n"), "%s", r.out);
	pt_run_free(&r);
	TOOL(&r, pt_path("app.snap"), "get", "-", "port");
	cr_assert_eq(r.status, 0, "get -: %s", r.err);
	cr_assert_str_eq(r.out, "5432\n");
	pt_run_free(&r);
	TOOL(&r, pt_path("app.tsv"), "verify", "-");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "verify: standard input: "), "%s", r.err);
	pt_run_free(&r);
}

/*
 * import and verify answer for a map with the library's default limits,
 * as snapmap_load() with a default config does; the flags raise them.
 * export and get read any valid file.
 */
Test(tool, default_limits_are_the_librarys)
{
	const struct snapmap_config big = {
		.max_key_len = SNAPMAP_DEFAULT_MAX_KEY_LEN + 1,
	};
	struct snapmap *map = pt_map_new(&big), *dflt = pt_map_new(NULL);
	char key[SNAPMAP_DEFAULT_MAX_KEY_LEN + 2], line[sizeof(key) + 8];
	struct pt_run r;

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	pt_put_str(map, key, "v");
	pt_save(map, pt_path("long.snap"));
	cr_assert_eq(snapmap_load(dflt, pt_path("long.snap"), NULL, NULL),
		     -E2BIG, "the library's default rejects it");
	TOOL(&r, NULL, "verify", pt_path("long.snap"));
	cr_assert_eq(r.status, 1, "verify says OK: %s", r.out);
	cr_assert(strstr(r.err, "the map allows 4096"), "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "verify", "--max-key-len", "4097",
	     pt_path("long.snap"));
	cr_assert_eq(r.status, 0, "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "get", pt_path("long.snap"), key);
	cr_assert_eq(r.status, 0, "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "export", pt_path("long.snap"));
	cr_assert_eq(r.status, 0, "%s", r.err);
	pt_run_free(&r);

	snprintf(line, sizeof(line), "%s\tv\n", key);
	pt_write(pt_path("long.tsv"), line, strlen(line));
	TOOL(&r, NULL, "import", pt_path("long.tsv"), pt_path("l2.snap"));
	cr_assert_eq(r.status, 1);
	pt_run_free(&r);
	TOOL(&r, NULL, "import", "--max-key-len=4097", pt_path("long.tsv"),
	     pt_path("l2.snap"));
	cr_assert_eq(r.status, 0, "%s", r.err);
	pt_run_free(&r);
	pt_map_destroy(map);
	pt_map_destroy(dflt);
}

/* get: 0 found, 3 absent, 1 a bad or missing file: scripts can tell. */
Test(tool, get_absent_and_corrupt_differ)
{
	unsigned char *buf;
	struct pt_run r;
	size_t len;

	import_sample();
	TOOL(&r, NULL, "get", pt_path("app.snap"), "nope");
	cr_assert_eq(r.status, 3);
	pt_run_free(&r);
	buf = pt_read(pt_path("app.snap"), &len);
	buf[len - 10] ^= 4;
	pt_write(pt_path("bad.snap"), buf, len);
	free(buf);
	TOOL(&r, NULL, "get", pt_path("bad.snap"), "port");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "checksum mismatch"), "%s", r.err);
	pt_run_free(&r);
	TOOL(&r, NULL, "get", pt_path("none.snap"), "port");
	cr_assert_eq(r.status, 1);
	pt_run_free(&r);
}

/* get -e: the key in the text format's escapes, as export prints it. */
Test(tool, get_escaped_key)
{
	struct snapmap *map = pt_map_new(NULL);
	struct pt_run r;

	pt_put(map, "a\tb\0c\n\\", 7, "tabbed", 6);
	pt_put(map, "#x", 2, "hash", 4);
	pt_save(map, pt_path("esc.snap"));
	TOOL(&r, NULL, "get", "-e", pt_path("esc.snap"), "a\\tb\\x00c\\n\\\\");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "tabbed\n");
	pt_run_free(&r);
	TOOL(&r, NULL, "get", "--escapes", pt_path("esc.snap"), "\\x23x");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "hash\n");
	pt_run_free(&r);
	/* Without -e the argument is the key, byte for byte. */
	TOOL(&r, NULL, "get", pt_path("esc.snap"), "\\x23x");
	cr_assert_eq(r.status, 3);
	pt_run_free(&r);
	TOOL(&r, NULL, "get", "-e", pt_path("esc.snap"), "a\\qb");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "unknown escape"), "%s", r.err);
	pt_run_free(&r);
	pt_map_destroy(map);
}
