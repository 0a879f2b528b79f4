/*
 * bench.h - what the files of bench/ share.
 *
 * File map:
 *   main.c         options, the workload matrix, orchestration, progress
 *   run.c          the thread harness: read cells, scan cells, write
 *                  latency, storms
 *   report.c       the printed table and the CSV files
 *   util.c         clock, RNG, Zipf, key sets, op and scan sequences, stats,
 *                  hash, memory probes, machine description
 *   uttable.[ch]   a uthash table of (key, u64) entries, shared by the
 *                  lock-based subjects, the COW map and the uthash floor
 *   locked.[ch]    uthash behind a rwlock or a mutex, in 1..64 shards
 *   lostupdate.c   the lost-update demonstration
 *   subj_*.c       one adapter per file (snapmap_adapter.h is the body
 *                  shared by the two snapmap flavors)
 *   flavor_*.c     thread hooks of the memb and qsbr flavors
 *   plot.sh        draws PNGs from bench-summary.csv with gnuplot
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Subjects: the adapter interface                                     */
/* ------------------------------------------------------------------ */

/*
 * struct kvref - one write of a batch.  Values are always 8 bytes.
 */
struct kvref {
	const void *key;
	size_t klen;
	uint64_t val;
};

struct keyset;

#define SUBJ_CONCURRENT	1u	/* safe with concurrent readers + a writer */
#define SUBJ_SCAN_ONLY	2u	/* runs the ordered-scan workloads only */

/*
 * struct subject - one map implementation under test.
 * @create:  a map holding keys [0, ks->n) of @ks with val_make(i, 0).
 * @find:    1 and *val when found, 0 when absent.
 * @put:     insert or overwrite; 0 or a negative errno.
 * @del:     0, -ENOENT, or a negative errno.
 * @batch:   apply @n puts, atomically for readers; NULL when the subject
 *           has no batch (the harness then loops over @put).
 * @scan:    ordered range scan: from the first key >= @key, read the
 *           values of up to @len consecutive keys in key order, adding
 *           the low 32 bits (the check word) of each to *@sum; returns how
 *           many it read.  NULL when the subject has no key order (the
 *           hash tables): the scan workload leaves it out.
 * @bytes:   bytes the subject itself accounts for, 0 when it cannot say
 *           (the tables use mallinfo2() deltas for every subject anyway).
 * Thread hooks, NULL when the subject needs none: @enter/@leave register
 * a thread with the subject's RCU flavor; @quiescent, @offline, @online
 * are the qsbr duties; @barrier waits for deferred frees (rcu_barrier).
 */
struct subject {
	const char *name;
	const char *flavor;
	const char *what;
	unsigned flags;
	void *(*create)(const struct keyset *ks);
	int (*find)(void *m, const void *key, size_t klen, uint64_t *val);
	int (*put)(void *m, const void *key, size_t klen, uint64_t val);
	int (*del)(void *m, const void *key, size_t klen);
	int (*batch)(void *m, const struct kvref *kv, size_t n);
	size_t (*scan)(void *m, const void *key, size_t klen, size_t len,
		       uint64_t *sum);
	void (*destroy)(void *m);
	size_t (*bytes)(void *m);
	void (*enter)(void);
	void (*leave)(void);
	void (*quiescent)(void);
	void (*offline)(void);
	void (*online)(void);
	void (*barrier)(void);
};

extern const struct subject subj_snapmap_memb;
extern const struct subject subj_snapmap_qsbr;
extern const struct subject subj_snapmap_nolimit;
extern const struct subject subj_snapmap_norcu;
extern const struct subject subj_snapmap_step;
extern const struct subject subj_rwlock;
extern const struct subject subj_rwlock64;
extern const struct subject subj_mutex;
extern const struct subject subj_lfht;
extern const struct subject subj_cow;
extern const struct subject subj_sorted;
extern const struct subject subj_uthash;

/* Thread hooks of the two flavors (flavor_memb.c, flavor_qsbr.c). */
void memb_enter(void);
void memb_leave(void);
void memb_barrier(void);
void qsbr_enter(void);
void qsbr_leave(void);
void qsbr_barrier(void);
void qsbr_quiescent(void);
void qsbr_offline(void);
void qsbr_online(void);

/* Register the calling thread with @s's flavor, and leave it. */
void subj_enter(const struct subject *s);
void subj_leave(const struct subject *s);

/* ------------------------------------------------------------------ */
/* Keys, values and op sequences (util.c)                              */
/* ------------------------------------------------------------------ */

enum keytype { KEY_STR, KEY_INT };
enum dist { DIST_UNIFORM, DIST_ZIPF };

/*
 * struct keyset - keys [0, n) are in every map; keys [n, nall) are
 * never inserted and serve as misses.  String keys are "key:%010u" of a
 * seeded permutation of 0..nall-1 (so misses interleave with hits in key
 * order); integer keys are 8 bytes, splitmix64 of the index.
 */
struct keyset {
	enum keytype type;
	size_t n;
	size_t nall;
	size_t klen;
	size_t stride;
	unsigned char *bytes;
};

static inline const void *ks_key(const struct keyset *ks, size_t i)
{
	return ks->bytes + i * ks->stride;
}

static inline uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * Values: generation in the high half, a check word of the key index in
 * the low half.  Writers change the generation only, so a reader can
 * verify every value it reads whatever the writer does.
 */
static inline uint32_t val_check(size_t i)
{
	return (uint32_t)splitmix64(i ^ 0x5eed5eedull);
}

static inline uint64_t val_make(size_t i, uint32_t gen)
{
	return (uint64_t)gen << 32 | val_check(i);
}

/* What a reader adds to its checksum for a miss. */
#define MISS_CHECK	0x9e3779b9u

/*
 * struct op - one lookup of a sequence: the key index and what the
 * reader must add to its checksum (val_check(idx), or MISS_CHECK).  In a
 * mixed sequence, OP_WRITE in @idx makes it an overwrite of the present
 * key idx & ~OP_WRITE (@expect unused): key indexes stay far below it.
 */
struct op {
	uint32_t idx;
	uint32_t expect;
};

#define OP_WRITE	0x80000000u

/* The mixed workload (CSV kind "mix50"): the share of ops that write. */
#define MIX_WRITE_PCT	50

/* A sequence of lookups (and overwrites); @len is a power of two. */
struct opseq {
	struct op *ops;
	size_t len;
};

/* Keys in one range scan: the goal compares it with an array walk. */
#define SCAN_LEN	1000

/*
 * struct scanop - one range scan: its first key (a present key, with at
 * least SCAN_LEN - 1 present keys after it in key order) and the sum of
 * the check words of the SCAN_LEN values it must read.
 */
struct scanop {
	uint32_t idx;
	uint64_t expect;
};

/* A sequence of range scans; @len is a power of two. */
struct scanseq {
	struct scanop *ops;
	size_t len;
};

struct keyset *keyset_new(enum keytype type, size_t n, uint64_t seed);
void keyset_free(struct keyset *ks);
/*
 * 5% misses; uniform or Zipf(0.99) over hits (hot keys scattered).  With
 * @write_pct > 0, that share of the ops are overwrites (OP_WRITE) of
 * present keys of the same distribution, and 5% of the rest miss.
 */
struct opseq *opseq_new(size_t n, size_t nmiss, enum dist d, size_t len,
			unsigned write_pct, uint64_t seed);
void opseq_free(struct opseq *q);
/* Scans from uniformly random starts, in the maps' key order (memcmp). */
struct scanseq *scanseq_new(const struct keyset *ks, size_t len,
			    uint64_t seed);
void scanseq_free(struct scanseq *q);
size_t keyset_nmiss(size_t n);

const char *keytype_name(enum keytype t);
const char *dist_name(enum dist d);

/* ------------------------------------------------------------------ */
/* Utilities (util.c)                                                  */
/* ------------------------------------------------------------------ */

uint64_t now_ns(void);
void sleep_until_ns(uint64_t t);
void sleep_ns(uint64_t ns);
/* Median cost of one now_ns() pair, subtracted from sampled latencies. */
uint64_t timer_overhead_ns(void);

static inline uint64_t rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return splitmix64(*s);
}

/* MurmurHash64A (Austin Appleby, public domain), fixed seed. */
uint64_t hash64(const void *key, size_t len);

/* Percentile @p (0..100) of @n samples; sorts @v. */
double pct_u32(uint32_t *v, size_t n, double p);
double median_d(double *v, size_t n);

/* Bytes in use by malloc: mallinfo2() uordblks + hblkhd, all arenas. */
size_t heap_in_use(void);
/* Give free heap pages back to the system (malloc_trim) where possible. */
void heap_trim(void);
/* VmRSS / VmHWM in bytes; reset_peak_rss() zeroes VmHWM (clear_refs 5). */
size_t rss_bytes(void);
size_t peak_rss_bytes(void);
bool reset_peak_rss(void);

struct machine {
	char cpu[128];
	int cores;
	char urcu[32];
	char cc[160];
	char cflags[200];
	char kernel[160];
	char date[32];
};
void machine_describe(struct machine *m);
/* The 1-minute load average, recorded with every CSV row. */
double load_average(void);

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);

/* ------------------------------------------------------------------ */
/* The harness (run.c)                                                 */
/* ------------------------------------------------------------------ */

#define WRITER_NONE	(-1)
#define WRITER_MAX	0	/* a storm: as fast as possible */

struct cell {
	const struct subject *s;
	void *map;
	const struct keyset *ks;
	const struct opseq *seq;
	const struct scanseq *scans;	/* set: range scans, not look-ups */
	bool mix;		/* readers also do the sequence's writes */
	int readers;		/* threads: readers, or mixed threads */
	int rate;		/* writes/s, WRITER_NONE or WRITER_MAX */
	double secs;		/* measured window */
	double warm;		/* warm-up before it */
	uint32_t gen;		/* first generation each writer writes */
};

struct cell_result {
	double secs;
	uint64_t ops;		/* a mix cell: reads and writes */
	double ops_s;
	double ns_op;		/* per thread; a scan cell: ns per scan */
	double ns_entry;	/* a scan cell: ns per entry scanned */
	double p50, p99, p999;	/* sampled read (or scan) latency, ns */
	uint64_t writes;	/* the writer's, or a mix's share */
	double writes_s;
	double wp50, wp99;	/* sampled write latency, ns */
	bool verified;
};

int run_cell(const struct cell *c, struct cell_result *r);

struct wlat_result {
	double put_p50, put_p99;	/* ns */
	size_t puts;
	double batch_p50;		/* ns per batch */
	size_t batches;
	bool native_batch;
};

#define BATCH_SIZE	1000

void run_write_latency(const struct subject *s, void *map,
		       const struct keyset *ks, double budget,
		       struct wlat_result *r);

/* Lost updates (lostupdate.c): increments each of 2 threads does. */
struct lost_result {
	uint64_t plain_expected;
	uint64_t plain;		/* plain uthash, unsynchronized */
	uint64_t snapmap_expected;
	uint64_t snapmap;	/* snapmap_add_i64 */
	double plain_secs, snapmap_secs;
};
void run_lost_update(uint64_t per_thread, uint64_t per_thread_snapmap,
		     struct lost_result *r);

/* persist.c: save and load throughput of a map of @n string keys. */
void run_persist(size_t n, int reps, uint64_t seed);

/* ------------------------------------------------------------------ */
/* Reporting (report.c)                                                */
/* ------------------------------------------------------------------ */

/*
 * struct rec - one measured figure set, a CSV row.  @rep is the
 * repetition (raw file) or -1 (a median, summary file).  @kind says
 * which fields mean something: "read" and "storm" fill @r (a storm also
 * the RSS figures), "scan" fills @r (ops are scans) and @x_walk, "mix50"
 * fills @r (ops are reads and writes, @readers the threads, p50.. the
 * reads', wp50.. the writes'), "put" fills @w, "memory" fills the bytes
 * per entry and puts the build time in @r.secs, "lost_update" the lost_*
 * counts.
 */
struct rec {
	const char *kind;	/* read, scan, mix50, put, memory, storm,
				 * lost_update */
	const char *subject;
	const char *flavor;
	size_t n;
	const char *keytype;
	const char *dist;
	int readers;
	int rate;
	int rep;
	struct cell_result r;
	double x_rwlock, x_lfht;	/* throughput ratios (summary) */
	double x_walk;			/* scan: cost ratio to "sorted" */
	double spread;			/* (max-min)/median of ops_s */
	struct wlat_result w;
	double bytes_entry, self_bytes_entry;
	double rss_peak_mb, rss_delta_mb;
	uint64_t lost_expected, lost_got;
};

void report_open(const char *raw_path, const char *summary_path,
		 const struct machine *m, const char *mode, uint64_t seed);
void report_raw(const struct rec *r);
void report_summary(const struct rec *r);
void report_close(void);
/* Medians of @n repetitions of one figure set (rep = -1). */
void rec_median(struct rec *out, const struct rec *reps, size_t n);
/* Print one table of summary records of one kind and workload. */
void report_group(const struct rec *rows, size_t n, const struct rec *extra);
const char *rate_name(int rate, char *buf, size_t sz);

#endif /* BENCH_H */
