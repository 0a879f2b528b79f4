/*
 * report.c - the printed tables (stdout) and the CSV files.
 *
 * bench-results.csv holds every repetition (rep >= 0); bench-summary.csv
 * holds the medians (rep = -1) that the tables print and plot.sh draws.
 * Every row carries the machine, the liburcu version, the compiler and
 * its flags, so a CSV file stands on its own.  Scan rows (kind "scan")
 * count scans in reader_ops, ops_per_s and ns_per_op (ns per scan of
 * SCAN_LEN keys); ns_per_entry and x_walk are theirs alone.  Mix rows
 * (kind "mix50", write_rate "none": no separate writer) count "readers"
 * threads that each look up and overwrite: reader_ops, ops_per_s and
 * ns_per_op count both kinds of op, p50_ns.. are the look-ups', writes
 * and write_p50_ns.. the overwrites'.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static FILE *raw_f, *sum_f;
static const struct machine *mach;
static const char *run_mode;
static uint64_t run_seed;

static const char csv_header[] =
	"run_mode,seed,date,cpu,cores,kernel,urcu,cc,cflags,"
	"kind,subject,flavor,n,keytype,dist,readers,write_rate,rep,"
	"secs,reader_ops,ops_per_s,ns_per_op,ns_per_entry,"
	"x_rwlock,x_lfht,x_walk,spread,"
	"p50_ns,p99_ns,p999_ns,writes,writes_per_s,write_p50_ns,write_p99_ns,"
	"put_p50_ns,put_p99_ns,batch1000_ns,native_batch,"
	"bytes_per_entry,self_bytes_per_entry,rss_peak_mb,rss_delta_mb,"
	"lost_expected,lost_got,verified,load1\n";

static void csv_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputs("\",", f);
}

static void csv_num(FILE *f, double v, const char *sep)
{
	if (isnan(v))
		fputs(sep, f);
	else
		fprintf(f, "%.6g%s", v, sep);
}

static void csv_row(FILE *f, const struct rec *r)
{
	char rate[32];

	if (!f)
		return;
	fprintf(f, "%s,%llu,%s,", run_mode, (unsigned long long)run_seed,
		mach->date);
	csv_str(f, mach->cpu);
	fprintf(f, "%d,", mach->cores);
	csv_str(f, mach->kernel);
	csv_str(f, mach->urcu);
	csv_str(f, mach->cc);
	csv_str(f, mach->cflags);
	fprintf(f, "%s,%s,%s,%zu,%s,%s,%d,%s,%d,", r->kind, r->subject,
		r->flavor, r->n, r->keytype ? r->keytype : "",
		r->dist ? r->dist : "", r->readers,
		rate_name(r->rate, rate, sizeof(rate)), r->rep);
	csv_num(f, r->r.secs, ",");
	fprintf(f, "%llu,", (unsigned long long)r->r.ops);
	csv_num(f, r->r.ops_s, ",");
	csv_num(f, r->r.ns_op, ",");
	csv_num(f, r->r.ns_entry, ",");
	csv_num(f, r->x_rwlock, ",");
	csv_num(f, r->x_lfht, ",");
	csv_num(f, r->x_walk, ",");
	csv_num(f, r->spread, ",");
	csv_num(f, r->r.p50, ",");
	csv_num(f, r->r.p99, ",");
	csv_num(f, r->r.p999, ",");
	fprintf(f, "%llu,", (unsigned long long)r->r.writes);
	csv_num(f, r->r.writes_s, ",");
	csv_num(f, r->r.wp50, ",");
	csv_num(f, r->r.wp99, ",");
	csv_num(f, r->w.put_p50, ",");
	csv_num(f, r->w.put_p99, ",");
	csv_num(f, r->w.batch_p50, ",");
	fprintf(f, "%d,", r->w.native_batch);
	csv_num(f, r->bytes_entry, ",");
	csv_num(f, r->self_bytes_entry, ",");
	csv_num(f, r->rss_peak_mb, ",");
	csv_num(f, r->rss_delta_mb, ",");
	fprintf(f, "%llu,%llu,%d,%.2f\n", (unsigned long long)r->lost_expected,
		(unsigned long long)r->lost_got, r->r.verified, load_average());
	fflush(f);
}

const char *rate_name(int rate, char *buf, size_t sz)
{
	if (rate == WRITER_NONE)
		snprintf(buf, sz, "none");
	else if (rate == WRITER_MAX)
		snprintf(buf, sz, "max");
	else
		snprintf(buf, sz, "%d", rate);
	return buf;
}

void report_open(const char *raw_path, const char *summary_path,
		 const struct machine *m, const char *mode, uint64_t seed)
{
	mach = m;
	run_mode = mode;
	run_seed = seed;
	raw_f = raw_path ? fopen(raw_path, "w") : NULL;
	sum_f = summary_path ? fopen(summary_path, "w") : NULL;
	if ((raw_path && !raw_f) || (summary_path && !sum_f))
		die("cannot write %s / %s", raw_path, summary_path);
	if (raw_f)
		fputs(csv_header, raw_f);
	if (sum_f)
		fputs(csv_header, sum_f);
}

void report_raw(const struct rec *r)
{
	csv_row(raw_f, r);
}

void report_summary(const struct rec *r)
{
	csv_row(sum_f, r);
}

void report_close(void)
{
	if (raw_f)
		fclose(raw_f);
	if (sum_f)
		fclose(sum_f);
	raw_f = sum_f = NULL;
}

/* ------------------------------------------------------------------ */
/* Medians of repetitions                                              */
/* ------------------------------------------------------------------ */

#define MEDIAN_OF(field) do {						\
		for (size_t i_ = 0; i_ < n; i_++)			\
			v[i_] = (double)reps[i_].field;			\
		out->field = median_d(v, n);				\
	} while (0)

void rec_median(struct rec *out, const struct rec *reps, size_t n)
{
	double *v = xmalloc(n * sizeof(*v));
	double lo = INFINITY, hi = 0;

	*out = reps[0];
	out->rep = -1;
	MEDIAN_OF(r.secs);
	MEDIAN_OF(r.ops);
	MEDIAN_OF(r.ops_s);
	MEDIAN_OF(r.ns_op);
	MEDIAN_OF(r.ns_entry);
	MEDIAN_OF(r.p50);
	MEDIAN_OF(r.p99);
	MEDIAN_OF(r.p999);
	MEDIAN_OF(r.writes);
	MEDIAN_OF(r.writes_s);
	MEDIAN_OF(r.wp50);
	MEDIAN_OF(r.wp99);
	MEDIAN_OF(x_rwlock);
	MEDIAN_OF(x_lfht);
	MEDIAN_OF(x_walk);
	for (size_t i = 0; i < n; i++) {
		out->r.verified = out->r.verified && reps[i].r.verified;
		lo = fmin(lo, reps[i].r.ops_s);
		hi = fmax(hi, reps[i].r.ops_s);
	}
	out->spread = out->r.ops_s > 0 ? (hi - lo) / out->r.ops_s : NAN;
	free(v);
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

/* A number in a fixed width; "-" when absent. */
static void cell(double v, int width, int prec)
{
	if (isnan(v) || isinf(v))
		printf(" %*s", width, "-");
	else
		printf(" %*.*f", width, prec, v);
}

static void print_title(const struct rec *r)
{
	char rate[32];

	printf("\n-- N=%zu %s keys | %s | %d reader%s | writer %s%s\n",
	       r->n, r->keytype, r->dist, r->readers, r->readers > 1 ? "s" : "",
	       rate_name(r->rate, rate, sizeof(rate)),
	       r->rate > 0 ? "/s" : "");
	printf("%-13s %8s %8s %8s %7s %7s %7s %8s %9s %7s %4s\n", "subject",
	       "Mops/s", "ns/op", "x_rwlock", "x_lfht", "p50ns", "p99ns",
	       "p99.9ns", "writes/s", "spread", "ok");
}

static void print_read(const struct rec *r)
{
	printf("%-13s", r->subject);
	cell(r->r.ops_s / 1e6, 8, 2);
	cell(r->r.ns_op, 8, 1);
	cell(r->x_rwlock, 8, 2);
	cell(r->x_lfht, 7, 2);
	cell(r->r.p50, 7, 0);
	cell(r->r.p99, 7, 0);
	cell(r->r.p999, 8, 0);
	cell(r->r.writes_s, 9, 0);
	cell(r->spread * 100, 6, 0);
	printf("%% %4s\n", r->r.verified ? "yes" : "NO");
}

static void print_scan_title(const struct rec *r)
{
	printf("\n-- N=%zu %s keys | ordered scan of %d keys | from %s random "
	       "keys | 1 reader | no writer\n", r->n, r->keytype, SCAN_LEN,
	       r->dist);
	printf("   (seek + %d next, each 8-byte value read and verified; "
	       "libsnapmap reads\n   blocks of 64 with snapmap_iter_next_n, "
	       "snapmap-step one snapmap_iter_next\n   per key; baseline: "
	       "\"sorted\" = binary search + plain array walk of %d\n   "
	       "entries; x_walk = ns/scan over sorted's in the same "
	       "repetition, the goal\n   is <= 2; p50/p99 = one scan in 8)\n",
	       SCAN_LEN - 1, SCAN_LEN);
	printf("%-13s %9s %8s %8s %9s %9s %7s %4s\n", "subject", "ns/scan",
	       "ns/entry", "x_walk", "p50ns", "p99ns", "spread", "ok");
}

static void print_scan(const struct rec *r)
{
	printf("%-13s", r->subject);
	cell(r->r.ns_op, 9, 0);
	cell(r->r.ns_entry, 8, 2);
	cell(r->x_walk, 8, 2);
	cell(r->r.p50, 9, 0);
	cell(r->r.p99, 9, 0);
	cell(r->spread * 100, 6, 0);
	printf("%% %4s\n", r->r.verified ? "yes" : "NO");
}

static void print_mix_title(const struct rec *r)
{
	printf("\n-- N=%zu %s keys | %s | %d thread%s | %d%% reads / %d%% "
	       "writes\n", r->n, r->keytype, r->dist, r->readers,
	       r->readers > 1 ? "s" : "", 100 - MIX_WRITE_PCT, MIX_WRITE_PCT);
	printf("   (every thread: look-ups, 5%% misses, and overwrites of "
	       "present keys, one\n   seeded sequence; Mops/s = all ops of "
	       "all threads, ns/op = per thread;\n   rd/wr p50/p99 = one "
	       "look-up / one put, one op in 64 timed)\n");
	printf("%-13s %8s %8s %8s %7s %8s %8s %8s %8s %7s %4s\n", "subject",
	       "Mops/s", "ns/op", "x_rwlock", "x_lfht", "rd p50ns", "rd p99ns",
	       "wr p50ns", "wr p99ns", "spread", "ok");
}

static void print_mix(const struct rec *r)
{
	printf("%-13s", r->subject);
	cell(r->r.ops_s / 1e6, 8, 2);
	cell(r->r.ns_op, 8, 1);
	cell(r->x_rwlock, 8, 2);
	cell(r->x_lfht, 7, 2);
	cell(r->r.p50, 8, 0);
	cell(r->r.p99, 8, 0);
	cell(r->r.wp50, 8, 0);
	cell(r->r.wp99, 8, 0);
	cell(r->spread * 100, 6, 0);
	printf("%% %4s\n", r->r.verified ? "yes" : "NO");
}

static void print_build_title(const struct rec *r)
{
	printf("\n-- N=%zu %s keys | memory after build (mallinfo2 delta) "
	       "and write latency, no readers\n", r->n, r->keytype);
	printf("%-13s %9s %9s %9s %9s %9s %11s %6s\n", "subject", "B/entry",
	       "self B/e", "build ms", "put p50us", "put p99us",
	       "batch1k ms", "native");
}

static void print_build(const struct rec *mem, const struct rec *w)
{
	printf("%-13s", mem->subject);
	cell(mem->bytes_entry, 9, 1);
	cell(mem->self_bytes_entry > 0 ? mem->self_bytes_entry : NAN, 9, 1);
	cell(mem->r.secs * 1e3, 9, 1);
	cell(w ? w->w.put_p50 / 1e3 : NAN, 9, 2);
	cell(w ? w->w.put_p99 / 1e3 : NAN, 9, 2);
	cell(w ? w->w.batch_p50 / 1e6 : NAN, 11, 3);
	printf(" %6s\n", w ? (w->w.native_batch ? "yes" : "loop") : "-");
}

static void print_storm_title(const struct rec *r)
{
	printf("\n-- N=%zu %s keys | write storm: writer as fast as possible "
	       "+ %d readers, %.1f s\n", r->n, r->keytype, r->readers,
	       r->r.secs);
	printf("%-13s %9s %9s %9s %11s %11s %4s\n", "subject", "writes/s",
	       "wr p50us", "rd Mops/s", "peakRSS MB", "+RSS MB", "ok");
}

static void print_storm(const struct rec *r)
{
	printf("%-13s", r->subject);
	cell(r->r.writes_s, 9, 0);
	cell(r->r.wp50 / 1e3, 9, 1);
	cell(r->r.ops_s / 1e6, 9, 2);
	cell(r->rss_peak_mb, 11, 1);
	cell(r->rss_delta_mb, 11, 1);
	printf(" %4s\n", r->r.verified ? "yes" : "NO");
}

/*
 * report_group - print one table: @rows are summary records of one kind
 * and one workload.  For "memory", @extra holds the matching "put"
 * records (same order, may be NULL).
 */
void report_group(const struct rec *rows, size_t n, const struct rec *extra)
{
	if (n == 0)
		return;
	if (strcmp(rows[0].kind, "read") == 0) {
		print_title(&rows[0]);
		for (size_t i = 0; i < n; i++)
			print_read(&rows[i]);
	} else if (strcmp(rows[0].kind, "scan") == 0) {
		print_scan_title(&rows[0]);
		for (size_t i = 0; i < n; i++)
			print_scan(&rows[i]);
	} else if (strcmp(rows[0].kind, "mix50") == 0) {
		print_mix_title(&rows[0]);
		for (size_t i = 0; i < n; i++)
			print_mix(&rows[i]);
	} else if (strcmp(rows[0].kind, "memory") == 0) {
		print_build_title(&rows[0]);
		for (size_t i = 0; i < n; i++)
			print_build(&rows[i], extra ? &extra[i] : NULL);
	} else if (strcmp(rows[0].kind, "storm") == 0) {
		print_storm_title(&rows[0]);
		for (size_t i = 0; i < n; i++)
			print_storm(&rows[i]);
	}
	fflush(stdout);
}
