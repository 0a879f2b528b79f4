/*
 * run.c - the thread harness.
 *
 * A read cell: R reader threads (and optionally one writer) start
 * together, run a warm-up, then a measured window, then stop.  Readers
 * walk the shared op sequence from different offsets, verify every value
 * they read (a checksum compared with the sequence's expected one), time
 * one lookup in 64 during the window, and call the subject's quiescent
 * hook every 1024 ops (qsbr).  The writer overwrites random present keys
 * at a fixed rate (or as fast as it can, for a storm), keeping the check
 * word of each value, so readers' checksums stay exact.
 *
 * A scan cell is a read cell whose readers do ordered range scans of
 * SCAN_LEN keys from the starts of a scan sequence instead of look-ups,
 * adding the values' check words and the count read to their checksum,
 * and timing one scan in 8.
 *
 * A mix cell has no writer: each thread walks a mixed sequence, doing
 * its look-ups as a reader does and its overwrites as the writer does,
 * timing one op in 64 (into the read or the write samples).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { PH_WARM, PH_MEASURE, PH_STOP };

#define LAT_CAP		(1u << 16)	/* latency samples kept per thread */
#define QS_EVERY	1024		/* ops between quiescent states */
#define SAMPLE_MASK	63		/* time one op in 64 */
#define SCAN_BLOCK	16		/* scans between quiescent states */
#define SCAN_SAMPLE_MASK 7		/* time one scan in 8 (microseconds) */

void subj_enter(const struct subject *s)
{
	if (s->enter)
		s->enter();
}

void subj_leave(const struct subject *s)
{
	if (s->leave)
		s->leave();
}

struct shared {
	const struct cell *c;
	pthread_barrier_t start;
	int phase;
	uint64_t timer_cost;
};

/* Latency samples: a ring of the last LAT_CAP values. */
struct lat {
	uint32_t *v;
	uint64_t total;
};

static void lat_add(struct lat *l, uint64_t ns)
{
	l->v[l->total++ % LAT_CAP] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static size_t lat_count(const struct lat *l)
{
	return l->total < LAT_CAP ? (size_t)l->total : LAT_CAP;
}

/* Add the time since @t0, less the timer's own cost, to @l. */
static void lat_since(struct lat *l, uint64_t t0, uint64_t timer_cost)
{
	uint64_t t1 = now_ns() - timer_cost;

	lat_add(l, t1 > t0 ? t1 - t0 : 0);
}

enum { LAT_READ, LAT_WRITE };	/* a worker's two sample rings */

struct worker {
	alignas(64) struct shared *sh;
	pthread_t tid;
	size_t start;		/* reader: first index in the sequence */
	uint64_t ops;		/* reads (a mix: reads and writes) in the window */
	uint64_t writes;	/* writes in the window */
	uint64_t acc, eacc;	/* checksum read, checksum expected */
	struct lat lat[2];	/* LAT_READ (look-ups or scans), LAT_WRITE */
};

static int phase_of(struct shared *sh)
{
	return __atomic_load_n(&sh->phase, __ATOMIC_ACQUIRE);
}

/* Register, then wait (offline under qsbr) for the others. */
static void worker_start(struct shared *sh)
{
	const struct subject *s = sh->c->s;

	subj_enter(s);
	if (s->offline)
		s->offline();
	pthread_barrier_wait(&sh->start);
	if (s->online)
		s->online();
}

/*
 * After a block of reads: announce a quiescent state (qsbr), and note the
 * read count @n where the measured window starts (*@n0) and ends.
 * Returns the phase now.
 */
static int block_done(struct worker *w, int phase, uint64_t n, uint64_t *n0)
{
	const struct subject *s = w->sh->c->s;
	int p;

	if (s->quiescent)
		s->quiescent();
	p = phase_of(w->sh);
	if (p == PH_MEASURE && phase == PH_WARM)
		*n0 = n;
	else if (p == PH_STOP && phase == PH_MEASURE)
		w->ops = n - *n0;
	return p;
}

/*
 * Look up key @idx, timed into @w's read samples when @timed.  Returns
 * what the reader adds to its checksum: the value's check word, or
 * MISS_CHECK.
 */
static inline uint32_t lookup(struct worker *w, const struct cell *c,
			      uint32_t idx, bool timed)
{
	const struct keyset *ks = c->ks;
	uint64_t v = 0, t0 = timed ? now_ns() : 0;
	int f = c->s->find(c->map, ks_key(ks, idx), ks->klen, &v);

	if (timed)
		lat_since(&w->lat[LAT_READ], t0, w->sh->timer_cost);
	return f ? (uint32_t)v : MISS_CHECK;
}

/*
 * Overwrite present key @idx with generation @gen: the check word stays
 * the key's, so every reader's checksum stays exact.
 */
static void overwrite(const struct cell *c, size_t idx, uint32_t gen)
{
	const struct keyset *ks = c->ks;
	int r = c->s->put(c->map, ks_key(ks, idx), ks->klen,
			  val_make(idx, gen));

	if (r)
		die("%s: put failed: %s", c->s->name, strerror(-r));
}

static void *reader_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	const struct cell *c = sh->c;
	const struct op *ops = c->seq->ops;
	const size_t mask = c->seq->len - 1;
	size_t i = w->start;
	uint64_t acc = 0, eacc = 0, n = 0, n0 = 0;
	int phase = PH_WARM;

	worker_start(sh);
	while (phase != PH_STOP) {
		for (unsigned k = 0; k < QS_EVERY; k++, n++) {
			const struct op *o = &ops[i++ & mask];

			acc += lookup(w, c, o->idx, (n & SAMPLE_MASK) == 0 &&
						    phase == PH_MEASURE);
			eacc += o->expect;
		}
		phase = block_done(w, phase, n, &n0);
	}
	w->acc = acc;
	w->eacc = eacc;
	subj_leave(c->s);
	return NULL;
}

/*
 * A mixed thread: the look-ups of a mixed sequence, verified as a
 * reader's, and its overwrites, each with a new generation as the
 * writer's, from the same blocks and window accounting as a reader.  A
 * block also ends at the first write that sees the phase change: one
 * write can take milliseconds (cow copies the whole table), and
 * QS_EVERY ops of them would run far past the window.
 */
static void *mixer_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	const struct cell *c = sh->c;
	const struct op *ops = c->seq->ops;
	const size_t mask = c->seq->len - 1;
	size_t i = w->start;
	uint64_t acc = 0, eacc = 0, n = 0, n0 = 0, writes = 0;
	uint32_t gen = c->gen;
	int phase = PH_WARM;

	worker_start(sh);
	while (phase != PH_STOP) {
		for (unsigned k = 0; k < QS_EVERY; k++) {
			const struct op *o = &ops[i++ & mask];
			bool timed = (n++ & SAMPLE_MASK) == 0 &&
				     phase == PH_MEASURE;
			uint64_t t0;

			if (!(o->idx & OP_WRITE)) {
				acc += lookup(w, c, o->idx, timed);
				eacc += o->expect;
				continue;
			}
			t0 = timed ? now_ns() : 0;
			overwrite(c, o->idx & ~OP_WRITE, gen++);
			if (timed)
				lat_since(&w->lat[LAT_WRITE], t0, sh->timer_cost);
			writes += phase == PH_MEASURE;	/* as block_done counts ops */
			if (phase_of(sh) != phase)
				break;
		}
		phase = block_done(w, phase, n, &n0);
	}
	w->writes = writes;
	w->acc = acc;
	w->eacc = eacc;
	subj_leave(c->s);
	return NULL;
}

static void *scanner_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	const struct cell *c = sh->c;
	const struct subject *s = c->s;
	const struct keyset *ks = c->ks;
	const struct scanop *ops = c->scans->ops;
	const size_t mask = c->scans->len - 1;
	size_t i = w->start;
	uint64_t acc = 0, eacc = 0, n = 0, n0 = 0;
	int phase = PH_WARM;

	worker_start(sh);
	while (phase != PH_STOP) {
		for (unsigned k = 0; k < SCAN_BLOCK; k++, n++) {
			const struct scanop *o = &ops[i++ & mask];
			const void *key = ks_key(ks, o->idx);
			size_t got;

			if ((n & SCAN_SAMPLE_MASK) == 0 && phase == PH_MEASURE) {
				uint64_t t0 = now_ns();

				got = s->scan(c->map, key, ks->klen, SCAN_LEN, &acc);
				lat_since(&w->lat[LAT_READ], t0, sh->timer_cost);
			} else {
				got = s->scan(c->map, key, ks->klen, SCAN_LEN, &acc);
			}
			acc += got;	/* a short scan fails even if its sum fits */
			eacc += o->expect + SCAN_LEN;
		}
		phase = block_done(w, phase, n, &n0);
	}
	w->acc = acc;
	w->eacc = eacc;
	subj_leave(s);
	return NULL;
}

static void *writer_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	const struct cell *c = sh->c;
	const struct subject *s = c->s;
	const struct keyset *ks = c->ks;
	const uint64_t period = c->rate > 0 ? 1000000000u / (unsigned)c->rate : 0;
	const uint64_t max_backlog = 10000000;	/* 10 ms of catch-up at most */
	uint64_t rng = 0xc0ffee ^ c->gen, next = 0;
	uint32_t gen = c->gen;
	int phase;

	worker_start(sh);
	next = now_ns();
	while ((phase = phase_of(sh)) != PH_STOP) {
		size_t idx = rng_next(&rng) % ks->n;
		uint64_t t0 = now_ns(), t1;

		overwrite(c, idx, gen++);
		t1 = now_ns();
		if (phase == PH_MEASURE) {
			w->writes++;
			lat_add(&w->lat[LAT_WRITE], t1 - t0);
		}
		if (s->quiescent)
			s->quiescent();
		if (!period)
			continue;
		next += period;
		if (t1 < next) {
			if (s->offline)
				s->offline();
			sleep_until_ns(next);
			if (s->online)
				s->online();
		} else if (t1 - next > max_backlog) {
			next = t1;
		}
	}
	subj_leave(s);
	return NULL;
}

/* Percentiles of every thread's samples of ring @ring, merged. */
static void merge_pct(struct worker *w, int n, int ring, double *p50,
		      double *p99, double *p999)
{
	size_t total = 0, k = 0;
	uint32_t *all;

	for (int i = 0; i < n; i++)
		total += lat_count(&w[i].lat[ring]);
	if (!total) {
		*p50 = *p99 = NAN;
		if (p999)
			*p999 = NAN;
		return;
	}
	all = xmalloc(total * sizeof(*all));
	for (int i = 0; i < n; i++) {
		const struct lat *l = &w[i].lat[ring];

		memcpy(all + k, l->v, lat_count(l) * sizeof(*all));
		k += lat_count(l);
	}
	*p50 = pct_u32(all, total, 50);
	*p99 = pct_u32(all, total, 99);
	if (p999)
		*p999 = pct_u32(all, total, 99.9);
	free(all);
}

typedef void *thread_fn(void *);

/* What thread @i of cell @c runs: threads 0..readers-1, then a writer. */
static thread_fn *thread_main(const struct cell *c, int i)
{
	if (i >= c->readers)
		return writer_main;
	if (c->scans)
		return scanner_main;
	return c->mix ? mixer_main : reader_main;
}

/* The write figures of a cell that writes (a writer, or mixed threads). */
static void write_figures(struct worker *w, int nw, double secs,
			  struct cell_result *res)
{
	for (int i = 0; i < nw; i++)
		res->writes += w[i].writes;
	res->writes_s = (double)res->writes / secs;
	merge_pct(w, nw, LAT_WRITE, &res->wp50, &res->wp99, NULL);
}

int run_cell(const struct cell *c, struct cell_result *res)
{
	struct shared sh = { .c = c, .phase = PH_WARM };
	int nw = c->readers + (c->rate != WRITER_NONE);
	size_t seqlen = c->scans ? c->scans->len : c->seq->len;
	struct worker *w;
	uint64_t t0, t1;
	double secs;

	sh.timer_cost = timer_overhead_ns();
	if (posix_memalign((void **)&w, 64, (size_t)nw * sizeof(*w)))
		die("out of memory");
	memset(w, 0, (size_t)nw * sizeof(*w));
	pthread_barrier_init(&sh.start, NULL, (unsigned)nw + 1);
	for (int i = 0; i < nw; i++) {
		w[i].sh = &sh;
		w[i].start = seqlen / (size_t)c->readers * (size_t)i;
		w[i].lat[LAT_READ].v = xmalloc(LAT_CAP * sizeof(uint32_t));
		w[i].lat[LAT_WRITE].v = xmalloc(LAT_CAP * sizeof(uint32_t));
		if (pthread_create(&w[i].tid, NULL, thread_main(c, i), &w[i]))
			die("pthread_create failed");
	}
	pthread_barrier_wait(&sh.start);
	sleep_ns((uint64_t)(c->warm * 1e9));
	t0 = now_ns();
	__atomic_store_n(&sh.phase, PH_MEASURE, __ATOMIC_RELEASE);
	sleep_ns((uint64_t)(c->secs * 1e9));
	__atomic_store_n(&sh.phase, PH_STOP, __ATOMIC_RELEASE);
	t1 = now_ns();
	for (int i = 0; i < nw; i++)
		pthread_join(w[i].tid, NULL);
	pthread_barrier_destroy(&sh.start);

	secs = (double)(t1 - t0) / 1e9;
	memset(res, 0, sizeof(*res));
	res->secs = secs;
	res->verified = true;
	for (int i = 0; i < c->readers; i++) {
		res->ops += w[i].ops;
		if (w[i].acc != w[i].eacc)
			res->verified = false;
	}
	res->ops_s = (double)res->ops / secs;
	res->ns_op = res->ops ? secs * 1e9 * c->readers / (double)res->ops : NAN;
	res->ns_entry = c->scans ? res->ns_op / SCAN_LEN : NAN;
	merge_pct(w, c->readers, LAT_READ, &res->p50, &res->p99, &res->p999);
	res->wp50 = res->wp99 = NAN;
	res->writes_s = NAN;
	if (c->rate != WRITER_NONE || c->mix)
		write_figures(w, nw, secs, res);
	for (int i = 0; i < nw; i++) {
		free(w[i].lat[LAT_READ].v);
		free(w[i].lat[LAT_WRITE].v);
	}
	free(w);
	return res->verified ? 0 : -EIO;
}

/* ------------------------------------------------------------------ */
/* Write latency, no readers                                           */
/* ------------------------------------------------------------------ */

/*
 * Untimed puts first, for a tenth of the budget (at most WARM_PUTS): the
 * first writes after a build grow the heap while retired versions wait
 * for their grace period, and whichever subject ran first would pay for
 * that in its figures.
 */
enum { WARM_PUTS = 2000 };

void run_write_latency(const struct subject *s, void *map,
		       const struct keyset *ks, double budget,
		       struct wlat_result *r)
{
	enum { MAX_PUTS = 2000, MAX_BATCHES = 50 };
	static uint32_t gen = 1u << 30;
	uint32_t *lat = xmalloc(MAX_PUTS * sizeof(*lat));
	struct kvref *kv = xmalloc(BATCH_SIZE * sizeof(*kv));
	uint64_t rng = 0xba7c4 ^ ks->n, deadline;
	size_t n = 0;
	int e;

	memset(r, 0, sizeof(*r));
	r->native_batch = s->batch != NULL;
	subj_enter(s);

	deadline = now_ns() + (uint64_t)(budget / 10 * 1e9);
	for (; n < WARM_PUTS && now_ns() < deadline; n++) {
		size_t idx = rng_next(&rng) % ks->n;

		e = s->put(map, ks_key(ks, idx), ks->klen, val_make(idx, gen++));
		if (e)
			die("%s: put failed: %s", s->name, strerror(-e));
		if (s->quiescent)
			s->quiescent();
	}
	n = 0;

	/* Single puts: at least 3, at most MAX_PUTS, about budget/2. */
	deadline = now_ns() + (uint64_t)(budget / 2 * 1e9);
	for (; n < MAX_PUTS && (n < 3 || now_ns() < deadline); n++) {
		size_t idx = rng_next(&rng) % ks->n;
		uint64_t t0 = now_ns();

		e = s->put(map, ks_key(ks, idx), ks->klen, val_make(idx, gen++));
		lat[n] = (uint32_t)(now_ns() - t0);
		if (e)
			die("%s: put failed: %s", s->name, strerror(-e));
		if (s->quiescent)
			s->quiescent();
	}
	r->puts = n;
	r->put_p99 = pct_u32(lat, n, 99);
	r->put_p50 = pct_u32(lat, n, 50);

	/* Batches of BATCH_SIZE puts: at least 2, about budget/2. */
	deadline = now_ns() + (uint64_t)(budget / 2 * 1e9);
	for (n = 0; n < MAX_BATCHES && (n < 2 || now_ns() < deadline); n++) {
		uint64_t t0;

		for (size_t i = 0; i < BATCH_SIZE; i++) {
			size_t idx = rng_next(&rng) % ks->n;

			kv[i] = (struct kvref){ ks_key(ks, idx), ks->klen,
						val_make(idx, gen++) };
		}
		t0 = now_ns();
		if (s->batch) {
			e = s->batch(map, kv, BATCH_SIZE);
		} else {
			e = 0;
			for (size_t i = 0; i < BATCH_SIZE && !e; i++)
				e = s->put(map, kv[i].key, kv[i].klen, kv[i].val);
		}
		lat[n] = (uint32_t)(now_ns() - t0);
		if (e)
			die("%s: batch failed: %s", s->name, strerror(-e));
		if (s->quiescent)
			s->quiescent();
	}
	r->batches = n;
	r->batch_p50 = pct_u32(lat, n, 50);

	if (s->barrier)
		s->barrier();
	subj_leave(s);
	free(kv);
	free(lat);
}
