/*
 * test_tool.c - the snapmap command-line tool: each command's output and
 * exit status, --help, and errors on stderr with a nonzero status.
 * Runs the built tool (SNAPMAP_TOOL) in a child process.
 */
#include "util.h"

#include <stdlib.h>
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
	cr_assert_eq(r.status, 1);
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
