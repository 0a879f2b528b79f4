/*
 * test_text.c - the text format: round trips, the exact output, what the
 * parser accepts, and every syntax error with its line number, each
 * leaving the map unchanged.
 */
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

TestSuite(text, .init = pt_setup, .fini = pt_teardown, .timeout = PT_TIMEOUT);

static void round_trip(struct snapmap *src, const struct snapmap_config *cfg)
{
	pt_round_trip(src, cfg, true);
}

Test(text, every_byte_value)
{
	struct snapmap *src = pt_map_new(NULL);
	unsigned char all[256];

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (int i = 0; i < 256; i++) {
		unsigned char key[2] = { (unsigned char)i, '#' };

		pt_put(src, key, 1, all + i, (size_t)(256 - i));
		pt_put(src, key + 1, 1, "", 0);		/* "#": not a comment */
		pt_put(src, key, 2, all, (size_t)i);
	}
	pt_put(src, "", 0, "", 0);
	pt_put(src, all, sizeof(all), all, sizeof(all));
	round_trip(src, NULL);
	pt_map_destroy(src);
}

Test(text, maximum_lengths)
{
	struct snapmap_config cfg = { .max_value_len = 1 << 20 };
	struct snapmap *src = pt_map_new(&cfg);
	char *key = malloc(SNAPMAP_DEFAULT_MAX_KEY_LEN);
	char *val = malloc(1 << 20);

	cr_assert(key && val);
	/* Every byte escaped: the line is four times as long. */
	memset(val, '\001', 1 << 20);
	for (int i = 0; i < 3; i++) {
		memset(key, '\t' + i, SNAPMAP_DEFAULT_MAX_KEY_LEN);
		pt_put(src, key, SNAPMAP_DEFAULT_MAX_KEY_LEN, val, 1 << 20);
	}
	round_trip(src, &cfg);
	free(key);
	free(val);
	pt_map_destroy(src);
}

/* The exact output: escapes, key order, the comment line. */
static const char expected_text[] =
	"# snapmap text format 1: 4 entries, map version 4\n"
	"\tempty key\n"
	"\\x23hash\tback\\\\slash\n"
	"a\\tb\tline\\nbreak\\x00\\x7f\\xff\n"
	"caf\\xc3\\xa9\t\n";

static struct snapmap *sample_map(void)
{
	struct snapmap *m = pt_map_new(NULL);

	pt_put(m, "caf\xc3\xa9", 5, "", 0);
	pt_put(m, "a\tb", 3, "line\nbreak\0\x7f\xff", 13);
	pt_put_str(m, "#hash", "back\\slash");
	pt_put(m, "", 0, "empty key", 9);
	return m;
}

Test(text, exact_output)
{
	struct snapmap *m = sample_map();
	unsigned char *got;
	size_t len;

	pt_save_text(m, pt_path("out.txt"));
	got = pt_read(pt_path("out.txt"), &len);
	cr_assert_eq(len, strlen(expected_text));
	cr_assert_str_eq((char *)got, expected_text);
	free(got);
	pt_map_destroy(m);
}

/* snapmap_write_text to a pipe gives the same bytes as the file. */
Test(text, write_text_to_a_pipe)
{
	struct snapmap *m = sample_map();
	const struct snapmap_snapshot *snap = snapmap_pin(m);
	char buf[4096];
	ssize_t n;
	int fds[2];

	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(snapmap_write_text(snap, fds[1], NULL), 0);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	cr_assert_eq(n, (ssize_t)strlen(expected_text));
	buf[n] = '\0';
	cr_assert_str_eq(buf, expected_text);
	close(fds[0]);
	cr_assert_eq(snapmap_write_text(NULL, 1, NULL), -EINVAL);
	cr_assert_eq(snapmap_write_text(snap, -1, NULL), -EINVAL);
	snapmap_unpin(snap);
	pt_map_destroy(m);
}

/*
 * A closed pipe gives -EPIPE as promised, with SIGPIPE left at its
 * default action (which would kill the process): the call neither dies
 * of it nor leaves it pending or blocked; a SIGPIPE that was already
 * pending stays pending.
 */
Test(text, write_text_to_a_closed_pipe_is_epipe_not_sigpipe)
{
	struct snapmap *m = sample_map();
	const struct snapmap_snapshot *snap = snapmap_pin(m);
	struct snapmap_error err;
	sigset_t set;
	int fds[2];

	cr_assert_neq(signal(SIGPIPE, SIG_DFL), SIG_ERR);
	for (int already_pending = 0; already_pending < 2; already_pending++) {
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		if (already_pending) {
			cr_assert_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
			cr_assert_eq(raise(SIGPIPE), 0);
		}
		cr_assert_eq(pipe(fds), 0);
		close(fds[0]);
		cr_assert_eq(snapmap_write_text(snap, fds[1], &err), -EPIPE);
		cr_assert_eq(err.code, -EPIPE);
		close(fds[1]);
		cr_assert_eq(pthread_sigmask(SIG_BLOCK, NULL, &set), 0);
		cr_assert_eq(sigismember(&set, SIGPIPE), already_pending,
			     "the signal mask changed");
		cr_assert_eq(sigpending(&set), 0);
		cr_assert_eq(sigismember(&set, SIGPIPE), already_pending,
			     "pending SIGPIPE: %d", sigismember(&set, SIGPIPE));
	}
	/* Take back the one we raised, so the test ends quietly. */
	{
		const struct timespec now = { 0, 0 };

		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		cr_assert_eq(sigtimedwait(&set, NULL, &now), SIGPIPE);
	}
	snapmap_unpin(snap);
	pt_map_destroy(m);
}

/* What people write: any order, comments, blank lines, mixed-case hex,
 * raw UTF-8, no final newline. */
Test(text, accepts_what_people_write)
{
	static const char in[] =
		"# routes\n"
		"\n"
		"zeta\tlast\n"
		"alpha\tfirst\n"
		"caf\xc3\xa9\t\\x41\\x4a\\x4A\n"
		"\\x23not-a-comment\tx\n"
		"\tno key\n"
		"no value\t";
	struct snapmap *m = pt_map_new(NULL);

	pt_write(pt_path("in.txt"), in, sizeof(in) - 1);
	cr_assert_eq(snapmap_load_text(m, pt_path("in.txt"), NULL, NULL), 0);
	cr_assert_eq(pt_count(m), 6);
	pt_assert_str(m, "alpha", "first");
	pt_assert_str(m, "zeta", "last");
	pt_assert_str(m, "caf\xc3\xa9", "AJJ");
	pt_assert_str(m, "#not-a-comment", "x");
	pt_assert_str(m, "", "no key");
	pt_assert_str(m, "no value", "");
	pt_map_destroy(m);
}

/*
 * Loads @text into a map holding something and checks the error, its
 * line, that the message says @words, and that the map is unchanged.
 */
static void expect_error(const char *text, size_t len, int code,
			 unsigned long line, const char *words)
{
	struct snapmap_config cfg = { .max_key_len = 8, .max_value_len = 8 };
	struct snapmap *m = pt_map_new(&cfg);
	const struct snapmap_snapshot *before;
	struct snapmap_error err;
	int rc;

	pt_put_str(m, "keep", "me");
	before = snapmap_pin(m);
	pt_write(pt_path("bad.txt"), text, len);
	rc = snapmap_load_text(m, pt_path("bad.txt"), NULL, &err);
	cr_assert_eq(rc, code, "got %d (%s), expected %d", rc, err.message,
		     code);
	cr_assert_eq(err.code, code);
	cr_assert_eq(err.line, line, "line %lu, expected %lu (%s)", err.line,
		     line, err.message);
	cr_assert(strstr(err.message, words), "\"%s\" does not say \"%s\"",
		  err.message, words);
	pt_assert_unchanged(m, before);
	pt_map_destroy(m);
}

#define EXPECT_ERROR(lit, code, line, words) \
	expect_error(lit, sizeof(lit) - 1, code, line, words)

Test(text, no_tab)
{
	EXPECT_ERROR("a\t1\nb\t2\nnotab\n", -EBADMSG, 3, "no TAB");
}

Test(text, second_tab)
{
	EXPECT_ERROR("a\t1\t2\n", -EBADMSG, 1, "line 1, column 4: a second TAB");
}

Test(text, unknown_escape)
{
	EXPECT_ERROR("a\t1\n\n# c\nk\\q\tv\n", -EBADMSG, 4, "unknown escape \\q");
}

Test(text, short_hex_escape)
{
	EXPECT_ERROR("a\t\\x4\n", -EBADMSG, 1, "two hex digits");
}

Test(text, bad_hex_escape)
{
	EXPECT_ERROR("a\t\\xzz1\n", -EBADMSG, 1, "two hex digits");
}

Test(text, backslash_at_end_of_line)
{
	EXPECT_ERROR("a\t1\nb\t2\\\nc\t3\n", -EBADMSG, 2, "backslash ends");
}

Test(text, crlf)
{
	EXPECT_ERROR("a\t1\r\nb\t2\r\n", -EBADMSG, 1, "CRLF");
}

Test(text, raw_nul_byte)
{
	EXPECT_ERROR("a\t1\nb\0\t2\n", -EBADMSG, 2, "raw control byte 0x00");
}

Test(text, duplicate_key)
{
	EXPECT_ERROR("a\t1\nb\t2\nc\t3\nb\t4\nb\t5\n", -ENOTUNIQ, 4,
		     "line 4: duplicate key (first on line 2)");
}

/* Escapes decode before the comparison: "b" and "\x62" are one key. */
Test(text, duplicate_key_through_escape)
{
	EXPECT_ERROR("b\t1\n\\x62\t2\n", -ENOTUNIQ, 2, "first on line 1");
}

Test(text, key_too_long)
{
	EXPECT_ERROR("a\t1\n123456789\t2\n", -E2BIG, 2, "9-byte key");
}

/* Escaped lengths count decoded: 8 bytes is fine, 9 is not. */
Test(text, value_too_long)
{
	EXPECT_ERROR("a\t\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\n"
		     "b\t123456789\n", -E2BIG, 2, "9-byte value");
}

Test(text, file_errors)
{
	struct snapmap *m = pt_map_new(NULL);
	struct snapmap_error err;

	cr_assert_eq(snapmap_load_text(m, pt_path("none"), NULL, &err),
		     -ENOENT);
	cr_assert_eq(snapmap_load_text(m, pt_dir, NULL, &err), -EISDIR);
	cr_assert_eq(snapmap_load_text(NULL, pt_dir, NULL, &err), -EINVAL);
	cr_assert_eq(snapmap_save_text(NULL, pt_path("x"), &err), -EINVAL);
	cr_assert_eq(pt_version(m), 0);
	pt_map_destroy(m);
}
