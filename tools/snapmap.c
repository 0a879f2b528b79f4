/*
 * snapmap.c - the snapmap command-line tool: convert, check, describe
 * and query snapshot files.
 *
 *   snapmap import FILE.tsv OUT.snap    text -> binary (crash-safe)
 *   snapmap export IN.snap              binary -> text on stdout
 *   snapmap verify FILE.snap            full check; exit 0 or 1
 *   snapmap stat FILE.snap              entries, bytes, version, format
 *   snapmap get FILE.snap KEY           the value of KEY on stdout
 *
 * Every command loads files through the library, into a map with the
 * default (bytewise) key order, so it checks exactly what snapmap_load()
 * checks.  import and verify answer for a map with the library's default
 * length limits unless --max-key-len / --max-value-len raise them; export
 * and get read any valid file (the largest limits).  A file argument "-"
 * is standard input, or standard output for import's OUT.  Exit status:
 * 0 success, 1 a bad file or an I/O error (the reason on stderr), 2 a
 * usage error, 3 get's key is absent.  See tools/snapmap.1.
 */
#include <urcu.h>		/* memb flavor: snapmap_new() binds to it */
#include <snapmap.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_BAD	1
#define EXIT_USAGE	2
#define EXIT_ABSENT	3	/* get: the file is good, the key is not in it */

/* Options shared by the commands that take them. */
struct opts {
	const char *cmd;
	size_t max_key_len;	/* 0: the library's default */
	size_t max_value_len;
	bool no_newline;
	bool escapes;
};

struct command {
	const char *name;
	const char *synopsis;
	const char *help;
	int nargs;
	const char *optstring;	/* short options beyond -h */
	bool limits;		/* takes --max-key-len, --max-value-len */
	bool read_any;		/* loads with the largest limits */
	int (*run)(const struct opts *o, char **args);
};

static const char *prog = "snapmap";

/* "snapmap: CMD: FILE: message" on stderr; returns EXIT_BAD. */
static int fail(const struct opts *o, const char *file,
		const struct snapmap_error *err)
{
	fprintf(stderr, "%s: %s: %s: %s", prog, o->cmd, file,
		err->message[0] ? err->message : snapmap_strerror(err->code));
	/* Text errors name their line; binary ones get the byte offset. */
	if (!err->line && err->offset)
		fprintf(stderr, " (at byte %llu)", err->offset);
	fputc('\n', stderr);
	return EXIT_BAD;
}

/* "snapmap: CMD: FILE: what: strerror(e)" on stderr; returns EXIT_BAD. */
static int fail_errno(const struct opts *o, const char *file,
		      const char *what, int e)
{
	fprintf(stderr, "%s: %s: %s: %s: %s\n", prog, o->cmd, file, what,
		strerror(e));
	return EXIT_BAD;
}

/*
 * A file argument.  "-" is standard input, spooled to a temporary file
 * (the library opens paths, and verify reads its file twice), or, for
 * import's output, standard output, which gets a copy of the temporary
 * file the snapshot was saved to.
 */
struct file {
	const char *name;	/* for messages */
	const char *path;	/* what the library opens */
	char tmp[PATH_MAX];	/* the temporary file, or "" */
};

/* Creates @f's temporary file; its descriptor, or -1 after reporting. */
static int make_temp(const struct opts *o, struct file *f)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(f->tmp, sizeof(f->tmp), "%s/snapmap-XXXXXX", dir);
	fd = mkstemp(f->tmp);
	if (fd < 0) {
		fail_errno(o, dir, "cannot create a temporary file", errno);
		f->tmp[0] = '\0';
	}
	f->path = f->tmp;
	return fd;
}

static void file_done(struct file *f)
{
	if (f->tmp[0])
		unlink(f->tmp);
	f->tmp[0] = '\0';
}

/* Copies all of @in to @out, naming the failing side; 0 or EXIT_BAD. */
static int copy_fd(const struct opts *o, int in, const char *in_name,
		   int out, const char *out_name)
{
	char buf[1 << 16];
	ssize_t n, w;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail_errno(o, in_name, "read", errno);
		}
		for (char *p = buf; n > 0; p += w, n -= w) {
			w = write(out, p, (size_t)n);
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				return fail_errno(o, out_name, "write", errno);
		}
	}
	return 0;
}

/*
 * Sets @f up for the argument @arg.  For "-", named @dash in messages,
 * creates the temporary file and leaves its descriptor in *@fd, else -1.
 */
static int file_arg(const struct opts *o, const char *arg, const char *dash,
		    struct file *f, int *fd)
{
	*fd = -1;
	f->tmp[0] = '\0';
	f->name = f->path = arg;
	if (strcmp(arg, "-"))
		return 0;
	f->name = dash;
	*fd = make_temp(o, f);
	return *fd < 0 ? EXIT_BAD : 0;
}

static int input_file(const struct opts *o, const char *arg, struct file *f)
{
	int fd, rc = file_arg(o, arg, "standard input", f, &fd);

	if (rc || fd < 0)
		return rc;
	rc = copy_fd(o, STDIN_FILENO, f->name, fd, f->tmp);
	if (close(fd) && !rc)
		rc = fail_errno(o, f->tmp, "close", errno);
	if (rc)
		file_done(f);
	return rc;
}

static int output_file(const struct opts *o, const char *arg, struct file *f)
{
	int fd, rc = file_arg(o, arg, "standard output", f, &fd);

	if (fd >= 0)
		close(fd);
	return rc;
}

/* Completes an output_file(): "-" gets the temporary file's bytes. */
static int output_done(const struct opts *o, struct file *f, int rc)
{
	int fd;

	if (!rc && f->tmp[0]) {
		fd = open(f->tmp, O_RDONLY);
		if (fd < 0)
			rc = fail_errno(o, f->tmp, "open", errno);
		else {
			rc = copy_fd(o, fd, f->tmp, STDOUT_FILENO, f->name);
			close(fd);
		}
	}
	file_done(f);
	return rc;
}

static struct snapmap *new_map(const struct opts *o)
{
	struct snapmap_config cfg = {
		.max_key_len = o->max_key_len,
		.max_value_len = o->max_value_len,
	};
	struct snapmap *map = snapmap_new(&cfg);

	if (!map)
		fprintf(stderr, "%s: %s: %s\n", prog, o->cmd,
			snapmap_strerror(errno));
	return map;
}

/* Loads a binary file into a new map; NULL after reporting. */
static struct snapmap *load(const struct opts *o, const struct file *f)
{
	struct snapmap_error err;
	struct snapmap *map = new_map(o);

	if (map && snapmap_load(map, f->path, NULL, &err)) {
		fail(o, f->name, &err);
		snapmap_destroy(map);
		return NULL;
	}
	return map;
}

/*
 * Opens the input argument @arg and loads it into a new map; NULL after
 * reporting.  The caller calls file_done(@in) when it no longer needs
 * the file.
 */
static struct snapmap *load_input(const struct opts *o, const char *arg,
				  struct file *in)
{
	if (input_file(o, arg, in))
		return NULL;
	return load(o, in);
}

static int cmd_import(const struct opts *o, char **args)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_error err;
	struct file in, out;
	struct snapmap *map;
	int rc;

	rc = input_file(o, args[0], &in);
	if (rc)
		return rc;
	map = new_map(o);
	if (!map)
		rc = EXIT_BAD;
	else if (snapmap_load_text(map, in.path, NULL, &err))
		rc = fail(o, in.name, &err);
	file_done(&in);
	if (!rc)
		rc = output_file(o, args[1], &out);
	if (!rc) {
		snap = snapmap_pin(map);
		if (snapmap_save(snap, out.path, &err))
			rc = fail(o, out.name, &err);
		snapmap_unpin(snap);
		rc = output_done(o, &out, rc);
	}
	if (map)
		snapmap_destroy(map);
	return rc;
}

static int cmd_export(const struct opts *o, char **args)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_error err;
	struct file in;
	struct snapmap *map = load_input(o, args[0], &in);
	int rc = 0;

	file_done(&in);
	if (!map)
		return EXIT_BAD;
	snap = snapmap_pin(map);
	if (snapmap_write_text(snap, STDOUT_FILENO, &err))
		rc = fail(o, "standard output", &err);
	snapmap_unpin(snap);
	snapmap_destroy(map);
	return rc;
}

static int cmd_verify(const struct opts *o, char **args)
{
	struct snapmap_file_stat st;
	struct snapmap_error err;
	struct file in;
	struct snapmap *map = load_input(o, args[0], &in);
	int rc = 0;

	if (!map) {
		rc = EXIT_BAD;
	} else {
		snapmap_destroy(map);
		/* The load checked everything; stat reads the header. */
		if (snapmap_file_stat(in.path, &st, &err))
			rc = fail(o, in.name, &err);
		else
			printf("%s: OK, %" PRIu64 " entr%s, version %" PRIu64
			       "\n", in.name, st.entries,
			       st.entries == 1 ? "y" : "ies", st.version);
	}
	file_done(&in);
	return rc;
}

static int cmd_stat(const struct opts *o, char **args)
{
	struct snapmap_file_stat st;
	struct snapmap_error err;
	struct file in;
	int rc;

	rc = input_file(o, args[0], &in);
	if (rc)
		return rc;
	if (snapmap_file_stat(in.path, &st, &err))
		rc = fail(o, in.name, &err);
	else
		printf("file:           %s\n"
		       "format:         snapmap binary, version %" PRIu32 "\n"
		       "flags:          0x%" PRIx32 "\n"
		       "entries:        %" PRIu64 "\n"
		       "version:        %" PRIu64 "\n"
		       "file bytes:     %" PRIu64 "\n"
		       "key bytes:      %" PRIu64 "\n"
		       "value bytes:    %" PRIu64 "\n"
		       "longest key:    %" PRIu64 "\n"
		       "longest value:  %" PRIu64 "\n",
		       in.name, st.format_version, st.flags, st.entries,
		       st.version, st.file_bytes, st.key_bytes, st.value_bytes,
		       st.longest_key, st.longest_value);
	file_done(&in);
	return rc;
}

/*
 * get -e: KEY is written as a key of the text format (\t \n \\ \xHH).
 * The library's text loader decodes it, from a one-line file "KEY TAB",
 * so the tool takes exactly the escapes a text file takes.  Stores a
 * malloc'ed copy of the key in *@key; 0, or after reporting EXIT_USAGE
 * (a malformed KEY) or EXIT_BAD.
 */
static int decode_key(const struct opts *o, const char *text, void **key,
		      size_t *klen)
{
	const struct opts any = { .cmd = o->cmd,
				  .max_key_len = SNAPMAP_LEN_LIMIT };
	const struct snapmap_snapshot *snap;
	struct snapmap_error err;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	struct snapmap *map;
	struct file f;
	FILE *line;
	int fd, rc = 0;

	fd = make_temp(o, &f);
	if (fd < 0)
		return EXIT_BAD;
	line = fdopen(fd, "w");
	if (!line) {
		close(fd);
		rc = fail_errno(o, f.tmp, "write", errno);
	} else if ((fprintf(line, "%s\t\n", text) < 0) | fclose(line)) {
		rc = fail_errno(o, f.tmp, "write", errno);
	}
	map = rc ? NULL : new_map(&any);
	if (!rc && !map)
		rc = EXIT_BAD;
	if (!rc && snapmap_load_text(map, f.path, NULL, &err)) {
		fail(o, "KEY", &err);
		/* A syntax error: the argument is malformed. */
		rc = err.code == -EBADMSG ? EXIT_USAGE : EXIT_BAD;
	}
	if (!rc) {
		snap = snapmap_pin(map);
		if (snapmap_iter_first(snap, &it, &kv)) {
			fprintf(stderr, "%s: %s: KEY: a key starting with # "
				"is a comment in the text format (write "
				"\\x23)\n", prog, o->cmd);
			rc = EXIT_USAGE;
		} else if (!(*key = malloc(kv.klen ? kv.klen : 1))) {
			rc = fail_errno(o, "KEY", "decoding", ENOMEM);
		} else {
			memcpy(*key, kv.key, kv.klen);
			*klen = kv.klen;
		}
		snapmap_unpin(snap);
	}
	if (map)
		snapmap_destroy(map);
	file_done(&f);
	return rc;
}

static int cmd_get(const struct opts *o, char **args)
{
	const struct snapmap_snapshot *snap;
	const void *key = args[1], *val;
	size_t klen = strlen(args[1]), vlen;
	void *decoded = NULL;
	struct snapmap *map;
	struct file in;
	int rc = 0;

	if (o->escapes) {
		rc = decode_key(o, args[1], &decoded, &klen);
		if (rc)
			return rc;
		key = decoded;
	}
	map = load_input(o, args[0], &in);
	file_done(&in);
	if (!map) {
		free(decoded);
		return EXIT_BAD;
	}
	snap = snapmap_pin(map);
	if (snapmap_find(snap, key, klen, &val, &vlen) == 0) {
		fwrite(val, 1, vlen, stdout);
		if (!o->no_newline)
			putchar('\n');
	} else {
		fprintf(stderr, "%s: get: %s: no key \"%s\"\n", prog, in.name,
			args[1]);
		rc = EXIT_ABSENT;
	}
	snapmap_unpin(snap);
	snapmap_destroy(map);
	free(decoded);
	return rc;
}

#define LIMIT_HELP							\
	"  --max-key-len N    reject keys longer than N bytes\n"		\
	"                     (default: the library's, %lu)\n"		\
	"  --max-value-len N  reject values longer than N bytes\n"	\
	"                     (default: the library's, %lu)\n"

static const struct command commands[] = {
	{ "import", "import [OPTIONS] FILE.tsv OUT.snap",
	  "Convert a text file (key TAB value per line, \\t \\n \\\\ \\xHH\n"
	  "escapes) to a snapshot file, replacing OUT.snap crash-safely.\n"
	  "FILE.tsv \"-\" is standard input, OUT.snap \"-\" standard output.\n",
	  2, "", true, false, cmd_import },
	{ "export", "export IN.snap",
	  "Print a snapshot file in the text format on standard output.\n"
	  "IN.snap \"-\" is standard input.\n",
	  1, "", false, true, cmd_export },
	{ "verify", "verify [OPTIONS] FILE.snap",
	  "Check everything: magic, format version, checksums, length, key\n"
	  "order and uniqueness, lengths (against the limits a map has by\n"
	  "default).  Prints FILE: OK and exits 0, or prints the reason on\n"
	  "standard error and exits 1.  FILE.snap \"-\" is standard input.\n",
	  1, "", true, false, cmd_verify },
	{ "stat", "stat FILE.snap",
	  "Check a snapshot file's frame and checksums and describe it:\n"
	  "format, entries, the saved map version, sizes.  FILE.snap \"-\"\n"
	  "is standard input.\n",
	  1, "", false, true, cmd_stat },
	{ "get", "get [-n] [-e] FILE.snap KEY",
	  "Print the value of KEY, then a newline.  Exits 3 when the key is\n"
	  "absent, 1 when the file is bad.  FILE.snap \"-\" is standard\n"
	  "input.\n\n"
	  "  -n, --no-newline  do not print the newline\n"
	  "  -e, --escapes     KEY uses the text format's escapes (\\t \\n\n"
	  "                    \\\\ \\xHH); without -e it is taken byte for "
	  "byte\n",
	  2, "ne", false, true, cmd_get },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: %s COMMAND [ARGS]\n\ncommands:\n", prog);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s %s\n", prog, commands[i].synopsis);
	fprintf(f, "\n'%s COMMAND --help' describes a command; "
		"see also snapmap(1).\n", prog);
}

static void command_help(const struct command *c, FILE *f)
{
	fprintf(f, "usage: %s %s\n\n%s", prog, c->synopsis, c->help);
	if (c->limits)
		fprintf(f, "\n" LIMIT_HELP,
			(unsigned long)SNAPMAP_DEFAULT_MAX_KEY_LEN,
			(unsigned long)SNAPMAP_DEFAULT_MAX_VALUE_LEN);
}

/* A length: decimal digits only (no sign, no space), 1 to the limit. */
static int parse_len(const struct opts *o, const char *s, size_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || errno || *end || v == 0 ||
	    v > SNAPMAP_LEN_LIMIT) {
		fprintf(stderr, "%s: %s: bad length \"%s\" (1 to %lu)\n",
			prog, o->cmd, s, (unsigned long)SNAPMAP_LEN_LIMIT);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

static const struct option longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "no-newline", no_argument, NULL, 'n' },
	{ "escapes", no_argument, NULL, 'e' },
	{ "max-key-len", required_argument, NULL, 'K' },
	{ "max-value-len", required_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/*
 * The option getopt_long() just returned or rejected, as the user wrote
 * it: a long option by its name (its value, if any, is not the option),
 * a short one by its letter, an unknown long one as typed.
 */
static const char *option_word(char **argv, int longindex, int opt,
			       char *buf, size_t size)
{
	const char *word = argv[optind - 1];

	if (longindex >= 0)
		snprintf(buf, size, "--%s", longopts[longindex].name);
	else if (opt && strncmp(word, "--", 2))
		snprintf(buf, size, "-%c", opt);
	else
		snprintf(buf, size, "%.*s", (int)strcspn(word, "="), word);
	return buf;
}

static bool takes_option(const struct command *c, int opt)
{
	if (opt == 'K' || opt == 'V')
		return c->limits;
	return opt == 'h' || strchr(c->optstring, opt);
}

static int run(const struct command *c, int argc, char **argv)
{
	struct opts o = {
		.cmd = c->name,
		.max_key_len = c->read_any ? SNAPMAP_LEN_LIMIT : 0,
		.max_value_len = c->read_any ? SNAPMAP_LEN_LIMIT : 0,
	};
	int opt, rc, longindex;
	char word[64];

	/* '+': stop at the first argument; ':': report a missing value. */
	opterr = 0;
	while ((longindex = -1,
		opt = getopt_long(argc, argv, "+:hne", longopts,
				  &longindex)) != -1) {
		if (opt == ':') {
			fprintf(stderr, "%s: %s: option \"%s\" needs a value\n",
				prog, c->name, option_word(argv, -1, optopt,
							   word, sizeof(word)));
			goto usage_error;
		}
		if (opt == '?') {
			fprintf(stderr, "%s: %s: unknown option \"%s\"\n",
				prog, c->name, option_word(argv, -1, optopt,
							   word, sizeof(word)));
			goto usage_error;
		}
		if (!takes_option(c, opt)) {
			fprintf(stderr, "%s: %s: option \"%s\" does not apply "
				"to %s\n", prog, c->name,
				option_word(argv, longindex, opt, word,
					    sizeof(word)), c->name);
			goto usage_error;
		}
		switch (opt) {
		case 'h':
			command_help(c, stdout);
			return 0;
		case 'n':
			o.no_newline = true;
			break;
		case 'e':
			o.escapes = true;
			break;
		case 'K':
		case 'V':
			if (parse_len(&o, optarg, opt == 'K' ? &o.max_key_len
							   : &o.max_value_len))
				return EXIT_USAGE;
			break;
		}
	}
	if (argc - optind != c->nargs) {
		fprintf(stderr, "%s: %s: expects %d argument%s\n", prog,
			c->name, c->nargs, c->nargs > 1 ? "s" : "");
		command_help(c, stderr);
		return EXIT_USAGE;
	}

	rcu_register_thread();
	rc = c->run(&o, argv + optind);
	rcu_unregister_thread();
	return rc;

usage_error:
	command_help(c, stderr);
	return EXIT_USAGE;
}

/* Whatever was written to standard output must have reached it. */
static int finish(int rc)
{
	if ((fflush(stdout) || ferror(stdout)) && rc != EXIT_USAGE) {
		fprintf(stderr, "%s: standard output: %s\n", prog,
			strerror(errno));
		return rc ? rc : EXIT_BAD;
	}
	return rc;
}

static int dispatch(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2)
			for (size_t i = 0; i < NCOMMANDS; i++)
				if (!strcmp(argv[2], commands[i].name)) {
					command_help(&commands[i], stdout);
					return 0;
				}
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return run(&commands[i], argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command \"%s\"\n", prog, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	return finish(dispatch(argc, argv));
}
