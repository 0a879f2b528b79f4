/*
 * main.c - snapbench: options, the workload matrix, orchestration.
 *
 * For each (N, key type) group: build every subject from the same key
 * set (measuring heap bytes per entry), run every workload of the group
 * with all subjects interleaved within each repetition (so machine noise
 * hits them alike; the order rotates between repetitions), print the
 * medians, measure write latency without readers, optionally run a
 * write storm, and destroy the maps.  The op sequences (look-ups per
 * distribution, and the 50/50 mix) are generated once per N from a fixed
 * seed and shared by every subject; so is the scan sequence of a group
 * with ordered scans, once per key set.
 */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static const struct subject *const subjects[] = {
	&subj_snapmap_memb, &subj_snapmap_qsbr, &subj_snapmap_nolimit,
	&subj_rwlock, &subj_rwlock64, &subj_mutex, &subj_lfht, &subj_cow,
	&subj_snapmap_norcu, &subj_snapmap_step, &subj_sorted, &subj_uthash,
};
#define NSUBJ	(sizeof(subjects) / sizeof(subjects[0]))

struct opts {
	bool full;
	double secs, warm, wbudget, storm_secs;
	int reps;
	uint64_t seed;
	const char *csv, *summary;
	bool use[NSUBJ];
	size_t seqlen;
	uint64_t lost_k, lost_k_snapmap;
	bool storm, lost, persist;
};

/*
 * A workload: look-ups, ordered range scans of SCAN_LEN keys, or a mix
 * of look-ups and overwrites on every thread (@readers threads, no
 * writer).
 */
struct wl {
	enum dist dist;
	int readers;
	int rate;
	bool scan;
	bool mix;
};

/* The full plan up to 8 cores: look-ups, mixes, and the scan. */
#define MAX_WL	(2 * 8 * 4 + 8 + 1)

struct group {
	size_t n;
	enum keytype kt;
	struct wl wl[MAX_WL];
	size_t nwl;
	bool storm;
};

#define MAX_GROUPS	8
#define SCANSEQ_LEN	((size_t)1 << 14)	/* scan starts, cycled */

/* Op sequences of one N: the look-ups by enum dist, then the mix. */
#define SEQ_MIX		2
#define NSEQ		3

static int ncores;
static uint64_t t_start;
static size_t cells_total, cells_done;
static bool any_failed;

/* ------------------------------------------------------------------ */
/* The plan                                                            */
/* ------------------------------------------------------------------ */

static bool same_wl(const struct wl *a, const struct wl *b)
{
	return a->dist == b->dist && a->readers == b->readers &&
	       a->rate == b->rate && a->scan == b->scan && a->mix == b->mix;
}

static void push_wl(struct group *g, struct wl w)
{
	if (w.readers < 1)
		return;
	for (size_t i = 0; i < g->nwl; i++)	/* 1 == ncores on 1 core */
		if (same_wl(&g->wl[i], &w))
			return;
	if (g->nwl == MAX_WL)
		die("too many workloads");
	g->wl[g->nwl++] = w;
}

static void add_wl(struct group *g, enum dist d, int readers, int rate)
{
	push_wl(g, (struct wl){ d, readers, rate, false, false });
}

/*
 * MIX_WRITE_PCT overwrites and the rest look-ups on each of @threads
 * threads, uniform keys: the write-heavy end of the goal's workloads.
 */
static void add_mix(struct group *g, int threads)
{
	push_wl(g, (struct wl){ DIST_UNIFORM, threads, WRITER_NONE, false,
				true });
}

/*
 * Ordered scans from uniform random starts, one thread, no writer: the
 * goal's figure is the cost of the scan itself.  A group's last workload.
 */
static void add_scan(struct group *g)
{
	if (g->n < SCAN_LEN)
		return;
	push_wl(g, (struct wl){ DIST_UNIFORM, 1, WRITER_NONE, true, false });
}

static bool has_scan(const struct group *g)
{
	return g->nwl > 0 && g->wl[g->nwl - 1].scan;
}

/*
 * Quick: 1k and 100k keys (string keys: read-only 1 reader uniform and
 * Zipf, ncores readers, ncores readers with a writer at 100, 1k, 10k
 * writes/s, and the 50/50 mix on ncores threads; integer keys: a
 * subset), plus single-thread lookups at 1M; ordered scans at 100k and
 * 1M string keys.  Full: every combination of N, key type, distribution,
 * 1..ncores readers and writer rate, the mix on 1..ncores threads, and
 * ordered scans for every N and key type.
 */
static size_t make_plan(const struct opts *o, struct group *gs)
{
	static const size_t sizes[] = { 1000, 100000, 1000000 };
	static const int rates[] = { WRITER_NONE, 100, 1000, 10000 };
	size_t ng = 0;

	for (size_t si = 0; si < 3; si++) {
		for (int kt = KEY_STR; kt <= KEY_INT; kt++) {
			struct group *g = &gs[ng];
			size_t n = sizes[si];

			memset(g, 0, sizeof(*g));
			g->n = n;
			g->kt = (enum keytype)kt;
			if (o->full) {
				for (int d = DIST_UNIFORM; d <= DIST_ZIPF; d++)
					for (int r = 1; r <= ncores; r++)
						for (size_t ri = 0; ri < 4; ri++)
							add_wl(g, (enum dist)d, r,
							       rates[ri]);
				for (int t = 1; t <= ncores; t++)
					add_mix(g, t);
				g->storm = kt == KEY_STR;
				add_scan(g);
			} else if (n == 1000000) {
				if (kt == KEY_INT)
					continue;
				add_wl(g, DIST_UNIFORM, 1, WRITER_NONE);
				add_wl(g, DIST_ZIPF, 1, WRITER_NONE);
				add_scan(g);
			} else if (kt == KEY_STR) {
				add_wl(g, DIST_UNIFORM, 1, WRITER_NONE);
				add_wl(g, DIST_ZIPF, 1, WRITER_NONE);
				add_wl(g, DIST_UNIFORM, ncores, WRITER_NONE);
				for (size_t ri = 1; ri < 4; ri++)
					add_wl(g, DIST_UNIFORM, ncores, rates[ri]);
				add_mix(g, ncores);
				g->storm = n == 100000;
				if (n == 100000)
					add_scan(g);
			} else {
				add_wl(g, DIST_UNIFORM, 1, WRITER_NONE);
				add_wl(g, DIST_UNIFORM, ncores, WRITER_NONE);
				add_wl(g, DIST_UNIFORM, ncores, 1000);
			}
			ng++;
		}
	}
	return ng;
}

static bool eligible(const struct opts *o, size_t j, const struct wl *w)
{
	if (!o->use[j])
		return false;
	if (w->scan && !subjects[j]->scan)	/* a hash table: no order */
		return false;
	if ((subjects[j]->flags & SUBJ_SCAN_ONLY) && !w->scan)
		return false;
	if (subjects[j]->flags & SUBJ_CONCURRENT)
		return true;
	/* floors: one thread and no write while it reads */
	return w->readers == 1 && w->rate == WRITER_NONE && !w->mix;
}

/* ------------------------------------------------------------------ */
/* Progress, on stderr                                                 */
/* ------------------------------------------------------------------ */

static void progress(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void progress(const char *fmt, ...)
{
	double el = (double)(now_ns() - t_start) / 1e9;
	va_list ap;

	fprintf(stderr, "[%4zu/%zu cells, %5.0f s", cells_done, cells_total, el);
	if (cells_done > 0 && cells_done < cells_total)
		fprintf(stderr, ", ~%.0f s left",
			el / (double)cells_done * (double)(cells_total - cells_done));
	fputs("] ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------------ */
/* One group                                                           */
/* ------------------------------------------------------------------ */

struct run_state {
	const struct opts *o;
	const struct group *g;
	const struct keyset *ks;
	void *maps[NSUBJ];
	struct opseq *seq[NSEQ];	/* per distribution, and SEQ_MIX */
	struct scanseq *scans;		/* for this key set, when it scans */
	uint32_t gen;
};

/* A record with every figure absent. */
static void blank_rec(struct rec *r, const struct subject *s, const char *kind)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->subject = s->name;
	r->flavor = s->flavor;
	r->keytype = "";
	r->dist = "";
	r->readers = 0;
	r->rate = WRITER_NONE;
	r->x_rwlock = r->x_lfht = r->x_walk = r->spread = NAN;
	r->r.p50 = r->r.p99 = r->r.p999 = NAN;
	r->r.ops_s = r->r.ns_op = r->r.ns_entry = NAN;
	r->r.writes_s = r->r.wp50 = r->r.wp99 = NAN;
	r->w.put_p50 = r->w.put_p99 = r->w.batch_p50 = NAN;
	r->bytes_entry = r->self_bytes_entry = NAN;
	r->rss_peak_mb = r->rss_delta_mb = NAN;
	r->r.verified = true;
}

static void base_rec(struct rec *r, const struct run_state *st, size_t j,
		     const char *kind)
{
	blank_rec(r, subjects[j], kind);
	r->n = st->g->n;
	r->keytype = keytype_name(st->g->kt);
}

static void build_all(struct run_state *st, struct rec *mem)
{
	const struct group *g = st->g;
	size_t nmem = 0;

	for (size_t j = 0; j < NSUBJ; j++) {
		const struct subject *s = subjects[j];
		size_t h0, h1;
		uint64_t t0;
		struct rec *r;

		if (!st->o->use[j])
			continue;
		progress("building N=%zu %s keys: %s", g->n,
			 keytype_name(g->kt), s->name);
		subj_enter(s);
		heap_trim();
		h0 = heap_in_use();
		t0 = now_ns();
		st->maps[j] = s->create(st->ks);
		if (s->flags & SUBJ_SCAN_ONLY) {	/* another's map */
			subj_leave(s);
			continue;
		}
		r = &mem[nmem++];
		base_rec(r, st, j, "memory");
		r->r.secs = (double)(now_ns() - t0) / 1e9;
		if (s->barrier)		/* deferred frees done before measuring */
			s->barrier();
		h1 = heap_in_use();
		if (h0)
			r->bytes_entry = ((double)h1 - (double)h0) / (double)g->n;
		r->self_bytes_entry = (double)s->bytes(st->maps[j]) / (double)g->n;
		subj_leave(s);
		report_raw(r);
		r->rep = -1;
		report_summary(r);
	}
}

static void set_cell(struct cell *c, const struct run_state *st, size_t j,
		     const struct wl *w)
{
	memset(c, 0, sizeof(*c));
	c->s = subjects[j];
	c->map = st->maps[j];
	c->ks = st->ks;
	c->seq = st->seq[w->mix ? SEQ_MIX : w->dist];
	c->scans = w->scan ? st->scans : NULL;
	c->mix = w->mix;
	c->readers = w->readers;
	c->rate = w->rate;
	c->secs = st->o->secs;
	c->warm = st->o->warm;
}

/* Repetition @rep of the @e-th eligible subject of a workload. */
static struct rec *raw_at(struct rec *raw, int reps, size_t e, int rep)
{
	return &raw[e * (size_t)reps + (size_t)rep];
}

/*
 * Every repetition's ratios to the reference subjects of the same
 * repetition (index SIZE_MAX: not run).  x_walk is a cost ratio, scans
 * only: the goal bounds it.
 */
static void set_ratios(struct rec *raw, int reps, size_t e, size_t irw,
		       size_t ilf, size_t isd, bool scan)
{
	for (int rep = 0; rep < reps; rep++) {
		struct rec *r = raw_at(raw, reps, e, rep);

		if (irw != SIZE_MAX)
			r->x_rwlock = r->r.ops_s / raw_at(raw, reps, irw, rep)->r.ops_s;
		if (ilf != SIZE_MAX)
			r->x_lfht = r->r.ops_s / raw_at(raw, reps, ilf, rep)->r.ops_s;
		if (isd != SIZE_MAX && scan)
			r->x_walk = r->r.ns_op / raw_at(raw, reps, isd, rep)->r.ns_op;
	}
}

/* The record kind (CSV "kind") of a workload. */
static const char *wl_kind(const struct wl *w)
{
	return w->scan ? "scan" : w->mix ? "mix50" : "read";
}

static void progress_wl(const struct run_state *st, const struct wl *w)
{
	char rate[32];

	if (w->mix)
		progress("N=%zu %s keys, %s, %d thread(s), %d%% reads / "
			 "%d%% writes", st->g->n, keytype_name(st->g->kt),
			 dist_name(w->dist), w->readers, 100 - MIX_WRITE_PCT,
			 MIX_WRITE_PCT);
	else
		progress("N=%zu %s keys, %s%s, %d reader(s), writer %s",
			 st->g->n, keytype_name(st->g->kt),
			 w->scan ? "ordered scans from " : "",
			 dist_name(w->dist), w->readers,
			 rate_name(w->rate, rate, sizeof(rate)));
}

/*
 * Wait for @s's deferred frees (rcu_barrier): a cell that wrote hard
 * would otherwise leave them to the call_rcu thread during the next
 * subject's cell.
 */
static void settle(const struct subject *s)
{
	if (!s->barrier)
		return;
	subj_enter(s);
	s->barrier();
	subj_leave(s);
}

static void run_workload(struct run_state *st, const struct wl *w)
{
	const struct opts *o = st->o;
	size_t elig[NSUBJ], ne = 0, irw = SIZE_MAX, ilf = SIZE_MAX;
	size_t isd = SIZE_MAX;
	struct rec *raw, rows[NSUBJ];

	for (size_t j = 0; j < NSUBJ; j++)
		if (eligible(o, j, w)) {
			if (subjects[j] == &subj_rwlock)
				irw = ne;
			if (subjects[j] == &subj_lfht)
				ilf = ne;
			if (subjects[j] == &subj_sorted)
				isd = ne;
			elig[ne++] = j;
		}
	if (!ne)
		return;
	progress_wl(st, w);
	raw = xcalloc(ne * (size_t)o->reps, sizeof(*raw));
	for (int rep = 0; rep < o->reps; rep++) {
		for (size_t k = 0; k < ne; k++) {
			size_t e = (k + (size_t)rep) % ne;	/* rotate order */
			struct rec *r = raw_at(raw, o->reps, e, rep);
			struct cell c;

			set_cell(&c, st, elig[e], w);
			c.gen = ++st->gen;
			base_rec(r, st, elig[e], wl_kind(w));
			r->dist = dist_name(w->dist);
			r->readers = w->readers;
			r->rate = w->rate;
			r->rep = rep;
			if (run_cell(&c, &r->r)) {
				any_failed = true;
				fprintf(stderr, "VERIFY FAILED: %s\n", c.s->name);
			}
			if (w->mix)
				settle(c.s);
			cells_done++;
		}
	}
	for (size_t e = 0; e < ne; e++) {
		set_ratios(raw, o->reps, e, irw, ilf, isd, w->scan);
		for (int rep = 0; rep < o->reps; rep++)
			report_raw(raw_at(raw, o->reps, e, rep));
		rec_median(&rows[e], raw_at(raw, o->reps, e, 0), (size_t)o->reps);
		report_summary(&rows[e]);
	}
	report_group(rows, ne, NULL);
	free(raw);
}

static void run_writes(struct run_state *st, const struct rec *mem)
{
	struct rec wr[NSUBJ];
	size_t nw = 0;

	for (size_t j = 0; j < NSUBJ; j++) {
		struct rec *r;

		if (!st->o->use[j] || (subjects[j]->flags & SUBJ_SCAN_ONLY))
			continue;
		progress("write latency N=%zu %s keys: %s", st->g->n,
			 keytype_name(st->g->kt), subjects[j]->name);
		r = &wr[nw++];
		base_rec(r, st, j, "put");
		run_write_latency(subjects[j], st->maps[j], st->ks,
				  st->o->wbudget, &r->w);
		report_raw(r);
		r->rep = -1;
		report_summary(r);
	}
	report_group(mem, nw, wr);
}

static void run_storm(struct run_state *st)
{
	struct rec rows[NSUBJ];
	size_t nr = 0;
	struct wl w = { DIST_UNIFORM, ncores, WRITER_MAX, false, false };

	for (size_t j = 0; j < NSUBJ; j++) {
		struct rec *r;
		struct cell c;
		size_t rss0;
		bool reset;

		if (!st->o->use[j] || !(subjects[j]->flags & SUBJ_CONCURRENT))
			continue;
		progress("write storm N=%zu %s keys: %s", st->g->n,
			 keytype_name(st->g->kt), subjects[j]->name);
		r = &rows[nr++];
		base_rec(r, st, j, "storm");
		r->dist = dist_name(w.dist);
		r->readers = w.readers;
		r->rate = WRITER_MAX;
		set_cell(&c, st, j, &w);
		c.secs = st->o->storm_secs;
		c.gen = ++st->gen;
		heap_trim();
		rss0 = rss_bytes();
		reset = reset_peak_rss();
		if (run_cell(&c, &r->r)) {
			any_failed = true;
			fprintf(stderr, "VERIFY FAILED: %s (storm)\n", c.s->name);
		}
		if (reset) {
			r->rss_peak_mb = (double)peak_rss_bytes() / 1048576.0;
			r->rss_delta_mb = ((double)peak_rss_bytes() - (double)rss0) /
					  1048576.0;
		}
		settle(c.s);
		report_raw(r);
		r->rep = -1;
		report_summary(r);
	}
	report_group(rows, nr, NULL);
}

static void destroy_all(struct run_state *st)
{
	for (size_t j = 0; j < NSUBJ; j++) {
		if (!st->maps[j])
			continue;
		subj_enter(subjects[j]);
		subjects[j]->destroy(st->maps[j]);
		subj_leave(subjects[j]);
		st->maps[j] = NULL;
	}
	heap_trim();
}

/*
 * The op sequences of N = @n: look-ups by distribution (seeds seed and
 * seed + 1) and the uniform mix (seed + 3; the scans use seed + 2).
 */
static void make_seqs(const struct opts *o, size_t n, struct opseq **seqs)
{
	for (int k = 0; k < NSEQ; k++) {
		bool mix = k == SEQ_MIX;

		opseq_free(seqs[k]);
		seqs[k] = opseq_new(n, keyset_nmiss(n),
				    mix ? DIST_UNIFORM : (enum dist)k, o->seqlen,
				    mix ? MIX_WRITE_PCT : 0,
				    o->seed + (uint64_t)(mix ? 3 : k));
	}
}

static void run_group(const struct opts *o, const struct group *g,
		      struct opseq **seq_cache, size_t *seq_n)
{
	struct run_state st = { .o = o, .g = g };
	struct rec mem[NSUBJ];
	struct keyset *ks;

	progress("generating N=%zu %s keys and op sequences", g->n,
		 keytype_name(g->kt));
	if (*seq_n != g->n) {
		make_seqs(o, g->n, seq_cache);
		*seq_n = g->n;
	}
	memcpy(st.seq, seq_cache, sizeof(st.seq));
	ks = keyset_new(g->kt, g->n, o->seed);
	st.ks = ks;
	if (has_scan(g))
		st.scans = scanseq_new(ks, SCANSEQ_LEN, o->seed + 2);
	build_all(&st, mem);
	for (size_t i = 0; i < g->nwl; i++)
		run_workload(&st, &g->wl[i]);
	run_writes(&st, mem);
	if (g->storm && o->storm)
		run_storm(&st);
	destroy_all(&st);
	scanseq_free(st.scans);
	keyset_free(ks);
}

/* ------------------------------------------------------------------ */
/* Options and main                                                    */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
"usage: snapbench [--quick|--full] [options]\n"
"  --quick          default: 1k and 100k keys, 1M for single-thread\n"
"                   lookups, 50/50 lookups/writes on ncores threads at\n"
"                   1k and 100k string keys, ordered scans of 1000 keys\n"
"                   at 100k and 1M string keys; 3 repetitions of 0.15 s\n"
"                   (about 2 minutes)\n"
"  --full           every N (1k, 100k, 1M), key type, distribution,\n"
"                   1..ncores readers and writer rate, the 50/50 mix on\n"
"                   1..ncores threads, and ordered scans;\n"
"                   5 x 1 s (hours on 2 cores: about 1.7 h)\n"
"  --secs S         measured window per cell\n"
"  --warm S         warm-up before each window\n"
"  --reps R         repetitions (medians are reported)\n"
"  --storm-secs S   write storm duration\n"
"  --only LIST      comma-separated subjects (default: all)\n"
"  --no-storm, --no-lost  skip the write storm / lost-update demo\n"
"  --no-persist     skip save/load throughput (1M entries)\n"
"  --seed N         key and op sequence seed\n"
"  --csv FILE       raw results (default bench-results.csv)\n"
"  --summary FILE   medians (default bench-summary.csv)\n"
"  --list           list the subjects\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	enum { O_SECS = 256, O_WARM, O_REPS, O_STORM, O_ONLY, O_NOSTORM,
	       O_NOLOST, O_NOPERSIST, O_SEED, O_CSV, O_SUM, O_LIST, O_QUICK, O_FULL };
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, O_QUICK },
		{ "full", no_argument, NULL, O_FULL },
		{ "secs", required_argument, NULL, O_SECS },
		{ "warm", required_argument, NULL, O_WARM },
		{ "reps", required_argument, NULL, O_REPS },
		{ "storm-secs", required_argument, NULL, O_STORM },
		{ "only", required_argument, NULL, O_ONLY },
		{ "no-storm", no_argument, NULL, O_NOSTORM },
		{ "no-lost", no_argument, NULL, O_NOLOST },
		{ "no-persist", no_argument, NULL, O_NOPERSIST },
		{ "seed", required_argument, NULL, O_SEED },
		{ "csv", required_argument, NULL, O_CSV },
		{ "summary", required_argument, NULL, O_SUM },
		{ "list", no_argument, NULL, O_LIST },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double secs = NAN, warm = NAN, storm = NAN;
	int reps = 0, c;
	char *only = NULL;

	memset(o, 0, sizeof(*o));
	o->seed = 20240601;
	o->csv = "bench-results.csv";
	o->summary = "bench-summary.csv";
	o->storm = o->lost = o->persist = true;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_QUICK: o->full = false; break;
		case O_FULL: o->full = true; break;
		case O_SECS: secs = atof(optarg); break;
		case O_WARM: warm = atof(optarg); break;
		case O_REPS: reps = atoi(optarg); break;
		case O_STORM: storm = atof(optarg); break;
		case O_ONLY: only = optarg; break;
		case O_NOSTORM: o->storm = false; break;
		case O_NOLOST: o->lost = false; break;
		case O_NOPERSIST: o->persist = false; break;
		case O_SEED: o->seed = strtoull(optarg, NULL, 0); break;
		case O_CSV: o->csv = optarg; break;
		case O_SUM: o->summary = optarg; break;
		case O_LIST:
			for (size_t j = 0; j < NSUBJ; j++)
				printf("%-13s %-5s %s\n", subjects[j]->name,
				       subjects[j]->flavor, subjects[j]->what);
			exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		usage(stderr);
		exit(2);
	}
	o->secs = !isnan(secs) ? secs : o->full ? 1.0 : 0.15;
	o->warm = !isnan(warm) ? warm : o->full ? 0.2 : 0.03;
	o->reps = reps > 0 ? reps : o->full ? 5 : 3;
	o->storm_secs = !isnan(storm) ? storm : o->full ? 3.0 : 1.0;
	o->wbudget = o->full ? 1.0 : 0.2;
	o->seqlen = (size_t)1 << 20;
	o->lost_k = o->full ? 20000000 : 5000000;
	o->lost_k_snapmap = o->full ? 500000 : 100000;
	for (size_t j = 0; j < NSUBJ; j++)
		o->use[j] = only == NULL;
	for (char *tok = only ? strtok(only, ",") : NULL; tok;
	     tok = strtok(NULL, ",")) {
		size_t j;

		for (j = 0; j < NSUBJ && strcmp(subjects[j]->name, tok); j++)
			;
		if (j == NSUBJ)
			die("unknown subject '%s' (see --list)", tok);
		o->use[j] = true;
	}
}

static void print_header(const struct opts *o, const struct machine *m)
{
	printf("snapbench - libsnapmap benchmark suite (%s run)\n",
	       o->full ? "full" : "quick");
	printf("machine:  %s, %d cores, %s\n", m->cpu, m->cores, m->kernel);
	printf("software: liburcu %s; %s; CFLAGS %s\n", m->urcu, m->cc,
	       m->cflags);
	printf("method:   %.2f s windows after %.2f s warm-up, %d repetitions, "
	       "medians shown;\n          subjects interleaved within each "
	       "repetition; same seeded keys and op\n          sequences "
	       "(seed %llu) for all; 5%% misses; every read verified.\n",
	       o->secs, o->warm, o->reps, (unsigned long long)o->seed);
	printf("columns:  Mops/s = all readers together; ns/op = per reader "
	       "thread; x_rwlock,\n          x_lfht = throughput ratio to "
	       "rwlock / lfht in the same repetition;\n          p50/p99/p99.9"
	       " = one lookup in 64 timed (timer cost %llu ns subtracted);\n"
	       "          spread = (max-min)/median over repetitions;\n"
	       "          B/entry = mallinfo2() heap delta over the build / N\n"
	       "          (payload: a 14 B str or 8 B int key + an 8 B value)."
	       "\n", (unsigned long long)timer_overhead_ns());
	printf("load:     1-minute load average %.2f at start%s\n",
	       load_average(), load_average() > 0.5 * m->cores ?
	       "\n          (the machine is busy: expect noisy numbers)" : "");
	printf("subjects:\n");
	for (size_t j = 0; j < NSUBJ; j++)
		if (o->use[j])
			printf("  %-13s %s\n", subjects[j]->name, subjects[j]->what);
}

static void print_lost(const struct lost_result *lr)
{
	printf("\n-- lost updates: 2 threads increment one counter\n");
	printf("plain uthash, unsynchronized find+put: expected %llu, got %llu "
	       "(%llu lost) in %.2f s\n",
	       (unsigned long long)lr->plain_expected,
	       (unsigned long long)lr->plain,
	       (unsigned long long)(lr->plain_expected - lr->plain),
	       lr->plain_secs);
	printf("snapmap_add_i64:                       expected %llu, got %llu "
	       "(%llu lost) in %.2f s\n",
	       (unsigned long long)lr->snapmap_expected,
	       (unsigned long long)lr->snapmap,
	       (unsigned long long)(lr->snapmap_expected - lr->snapmap),
	       lr->snapmap_secs);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct machine m;
	struct group groups[MAX_GROUPS];
	struct opseq *seq_cache[NSEQ] = { NULL };
	size_t ng, seq_n = 0;
	struct lost_result lr;

	ncores = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncores < 1)
		ncores = 1;
	parse(argc, argv, &o);
	machine_describe(&m);
	t_start = now_ns();
	setvbuf(stdout, NULL, _IOLBF, 0);
	ng = make_plan(&o, groups);
	for (size_t gi = 0; gi < ng; gi++)
		for (size_t i = 0; i < groups[gi].nwl; i++)
			for (size_t j = 0; j < NSUBJ; j++)
				if (eligible(&o, j, &groups[gi].wl[i]))
					cells_total += (size_t)o.reps;
	print_header(&o, &m);
	report_open(o.csv, o.summary, &m, o.full ? "full" : "quick", o.seed);
	for (size_t gi = 0; gi < ng; gi++)
		run_group(&o, &groups[gi], seq_cache, &seq_n);
	for (int k = 0; k < NSEQ; k++)
		opseq_free(seq_cache[k]);
	if (o.lost) {
		struct rec r;

		progress("lost-update demonstration");
		run_lost_update(o.lost_k, o.lost_k_snapmap, &lr);
		print_lost(&lr);
		blank_rec(&r, &subj_uthash, "lost_update");
		r.readers = 2;
		r.r.secs = lr.plain_secs;
		r.lost_expected = lr.plain_expected;
		r.lost_got = lr.plain;
		report_raw(&r);
		r.rep = -1;
		report_summary(&r);
		blank_rec(&r, &subj_snapmap_memb, "lost_update");
		r.readers = 2;
		r.r.secs = lr.snapmap_secs;
		r.lost_expected = lr.snapmap_expected;
		r.lost_got = lr.snapmap;
		report_raw(&r);
		r.rep = -1;
		report_summary(&r);
	}
	if (o.persist) {
		progress("save and load throughput");
		run_persist(1000000, o.reps, o.seed);
	}
	report_close();
	printf("\n%s; total %.0f s; load average at end %.2f\n"
	       "raw results: %s; medians: %s\n",
	       any_failed ? "SOME READS FAILED VERIFICATION" :
	       "every read verified", (double)(now_ns() - t_start) / 1e9,
	       load_average(), o.csv, o.summary);
	return any_failed ? 1 : 0;
}
