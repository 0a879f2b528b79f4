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
 * default (bytewise) key order and, unless told otherwise, the largest
 * length limits, so it checks exactly what snapmap_load() checks.  Exit
 * status: 0 success, 1 a bad file, a missing key or an I/O error (the
 * reason on stderr), 2 a usage error.  See tools/snapmap.1.
 */
#include <urcu.h>		/* memb flavor: snapmap_new() binds to it */
#include <snapmap.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_BAD	1
#define EXIT_USAGE	2

/* Options shared by the commands that take them. */
struct opts {
	const char *cmd;
	size_t max_key_len;
	size_t max_value_len;
	bool no_newline;
};

struct command {
	const char *name;
	const char *synopsis;
	const char *help;
	int nargs;
	const char *optstring;	/* short options beyond -h */
	bool limits;		/* takes --max-key-len, --max-value-len */
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
static struct snapmap *load(const struct opts *o, const char *file)
{
	struct snapmap_error err;
	struct snapmap *map = new_map(o);

	if (map && snapmap_load(map, file, NULL, &err)) {
		fail(o, file, &err);
		snapmap_destroy(map);
		return NULL;
	}
	return map;
}

static int cmd_import(const struct opts *o, char **args)
{
	bool from_stdin = strcmp(args[0], "-") == 0;
	const struct snapmap_snapshot *snap;
	struct snapmap_error err;
	struct snapmap *map = new_map(o);
	int rc = 0;

	if (!map)
		return EXIT_BAD;
	/* The library reads only regular files by path: standard input
	 * is often a pipe. */
	if (from_stdin ? snapmap_load_text_fd(map, STDIN_FILENO, NULL, &err)
		       : snapmap_load_text(map, args[0], NULL, &err))
		rc = fail(o, args[0], &err);
	if (!rc) {
		snap = snapmap_pin(map);
		if (snapmap_save(snap, args[1], &err))
			rc = fail(o, args[1], &err);
		snapmap_unpin(snap);
	}
	snapmap_destroy(map);
	return rc;
}

static int cmd_export(const struct opts *o, char **args)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_error err;
	struct snapmap *map = load(o, args[0]);
	int rc = 0;

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
	struct snapmap *map = load(o, args[0]);

	if (!map)
		return EXIT_BAD;
	snapmap_destroy(map);
	/* The load checked everything; stat reads the header's numbers. */
	if (snapmap_file_stat(args[0], &st, &err))
		return fail(o, args[0], &err);
	printf("%s: OK, %" PRIu64 " entr%s, version %" PRIu64 "\n", args[0],
	       st.entries, st.entries == 1 ? "y" : "ies", st.version);
	return 0;
}

static int cmd_stat(const struct opts *o, char **args)
{
	struct snapmap_file_stat st;
	struct snapmap_error err;

	if (snapmap_file_stat(args[0], &st, &err))
		return fail(o, args[0], &err);
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
	       args[0], st.format_version, st.flags, st.entries, st.version,
	       st.file_bytes, st.key_bytes, st.value_bytes, st.longest_key,
	       st.longest_value);
	return 0;
}

static int cmd_get(const struct opts *o, char **args)
{
	const struct snapmap_snapshot *snap;
	struct snapmap *map = load(o, args[0]);
	const void *val;
	size_t vlen;
	int rc;

	if (!map)
		return EXIT_BAD;
	snap = snapmap_pin(map);
	rc = snapmap_find(snap, args[1], strlen(args[1]), &val, &vlen);
	if (rc == 0) {
		fwrite(val, 1, vlen, stdout);
		if (!o->no_newline)
			putchar('\n');
	} else {
		fprintf(stderr, "%s: get: %s: no key \"%s\"\n", prog, args[0],
			args[1]);
	}
	snapmap_unpin(snap);
	snapmap_destroy(map);
	return rc ? EXIT_BAD : 0;
}

#define LIMIT_HELP \
	"  --max-key-len N    reject keys longer than N bytes\n" \
	"                     (default: no limit below 4 GiB)\n" \
	"  --max-value-len N  reject values longer than N bytes (same default)\n"

static const struct command commands[] = {
	{ "import", "import [OPTIONS] FILE.tsv OUT.snap",
	  "Convert a text file (key TAB value per line, \\t \\n \\\\ \\xHH\n"
	  "escapes; FILE.tsv \"-\" is standard input) to a snapshot file,\n"
	  "replacing OUT.snap crash-safely.\n\n" LIMIT_HELP,
	  2, "", true, cmd_import },
	{ "export", "export IN.snap",
	  "Print a snapshot file in the text format on standard output.\n",
	  1, "", false, cmd_export },
	{ "verify", "verify [OPTIONS] FILE.snap",
	  "Check everything: magic, format version, checksums, length, key\n"
	  "order and uniqueness, lengths.  Prints FILE: OK and exits 0, or\n"
	  "prints the reason on standard error and exits 1.\n\n" LIMIT_HELP,
	  1, "", true, cmd_verify },
	{ "stat", "stat FILE.snap",
	  "Check a snapshot file's frame and checksums and describe it:\n"
	  "format, entries, the saved map version, sizes.\n",
	  1, "", false, cmd_stat },
	{ "get", "get [-n] FILE.snap KEY",
	  "Print the value of KEY (taken byte for byte), then a newline.\n"
	  "Exits 1 when the key is absent.\n\n"
	  "  -n  do not print the newline\n",
	  2, "n", false, cmd_get },
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
}

static int parse_len(const struct opts *o, const char *s, size_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 ||
	    v > SNAPMAP_LEN_LIMIT) {
		fprintf(stderr, "%s: %s: bad length \"%s\" (1 to %lu)\n",
			prog, o->cmd, s, (unsigned long)SNAPMAP_LEN_LIMIT);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

static int run(const struct command *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "max-key-len", required_argument, NULL, 'K' },
		{ "max-value-len", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = {
		.cmd = c->name,
		.max_key_len = SNAPMAP_LEN_LIMIT,
		.max_value_len = SNAPMAP_LEN_LIMIT,
	};
	char optstring[8];
	int opt, rc;

	snprintf(optstring, sizeof(optstring), "+h%s", c->optstring);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'h':
			command_help(c, stdout);
			return 0;
		case 'n':
			o.no_newline = true;
			break;
		case 'K':
		case 'V':
			if (!c->limits)
				goto bad_option;
			if (parse_len(&o, optarg, opt == 'K' ? &o.max_key_len
							   : &o.max_value_len))
				return EXIT_USAGE;
			break;
		default:
			goto bad_option;
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
	if (fflush(stdout) && !rc) {
		fprintf(stderr, "%s: %s: standard output: %s\n", prog, c->name,
			strerror(errno));
		rc = EXIT_BAD;
	}
	return rc;

bad_option:
	fprintf(stderr, "%s: %s: unknown option \"%s\"\n", prog, c->name,
		argv[optind - 1]);
	command_help(c, stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
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
