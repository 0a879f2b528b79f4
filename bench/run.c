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

struct worker {
	alignas(64) struct shared *sh;
	pthread_t tid;
	size_t start;		/* reader: first index in the sequence */
	uint64_t ops;		/* in the measured window */
	uint64_t acc, eacc;	/* checksum read, checksum expected */
	struct lat lat;
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

static void *reader_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	const struct cell *c = sh->c;
	const struct subject *s = c->s;
	const struct keyset *ks = c->ks;
	const struct op *ops = c->seq->ops;
	const size_t mask = c->seq->len - 1;
	size_t i = w->start;
	uint64_t acc = 0, eacc = 0, n = 0, n0 = 0;
	int phase = PH_WARM;

	worker_start(sh);
	while (phase != PH_STOP) {
		for (unsigned k = 0; k < QS_EVERY; k++, n++) {
			const struct op *o = &ops[i++ & mask];
			const void *key = ks_key(ks, o->idx);
			uint64_t v = 0;
			int f;

			if ((n & SAMPLE_MASK) == 0 && phase == PH_MEASURE) {
				uint64_t t0 = now_ns(), t1;

				f = s->find(c->map, key, ks->klen, &v);
				t1 = now_ns() - sh->timer_cost;
				lat_add(&w->lat, t1 > t0 ? t1 - t0 : 0);
			} else {
				f = s->find(c->map, key, ks->klen, &v);
			}
			acc += f ? (uint32_t)v : MISS_CHECK;
			eacc += o->expect;
		}
		phase = block_done(w, phase, n, &n0);
	}
	w->acc = acc;
	w->eacc = eacc;
	subj_leave(s);
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
				uint64_t t0 = now_ns(), t1;

				got = s->scan(c->map, key, ks->klen, SCAN_LEN, &acc);
				t1 = now_ns() - sh->timer_cost;
				lat_add(&w->lat, t1 > t0 ? t1 - t0 : 0);
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
		int r = s->put(c->map, ks_key(ks, idx), ks->klen,
			       val_make(idx, gen++));

		t1 = now_ns();
		if (r)
			die("%s: put failed: %s", s->name, strerror(-r));
		if (phase == PH_MEASURE) {
			w->ops++;
			lat_add(&w->lat, t1 - t0);
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

/* Percentiles of every thread's samples, merged. */
static void merge_pct(struct worker *w, int n, double *p50, double *p99,
		      double *p999)
{
	size_t total = 0, k = 0;
	uint32_t *all;

	for (int i = 0; i < n; i++)
		total += lat_count(&w[i].lat);
	if (!total) {
		*p50 = *p99 = NAN;
		if (p999)
			*p999 = NAN;
		return;
	}
	all = xmalloc(total * sizeof(*all));
	for (int i = 0; i < n; i++) {
		memcpy(all + k, w[i].lat.v, lat_count(&w[i].lat) * sizeof(*all));
		k += lat_count(&w[i].lat);
	}
	*p50 = pct_u32(all, total, 50);
	*p99 = pct_u32(all, total, 99);
	if (p999)
		*p999 = pct_u32(all, total, 99.9);
	free(all);
}

int run_cell(const struct cell *c, struct cell_result *res)
{
	struct shared sh = { .c = c, .phase = PH_WARM };
	int nw = c->readers + (c->rate != WRITER_NONE);
	size_t seqlen = c->scans ? c->scans->len : c->seq->len;
	void *(*reader)(void *) = c->scans ? scanner_main : reader_main;
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
		w[i].lat.v = xmalloc(LAT_CAP * sizeof(uint32_t));
		if (pthread_create(&w[i].tid, NULL,
				   i < c->readers ? reader : writer_main, &w[i]))
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
	merge_pct(w, c->readers, &res->p50, &res->p99, &res->p999);
	res->wp50 = res->wp99 = NAN;
	res->writes_s = NAN;
	if (c->rate != WRITER_NONE) {
		struct worker *wr = &w[c->readers];

		res->writes = wr->ops;
		res->writes_s = (double)wr->ops / secs;
		merge_pct(wr, 1, &res->wp50, &res->wp99, NULL);
	}
	for (int i = 0; i < nw; i++)
		free(w[i].lat.v);
	free(w);
	return res->verified ? 0 : -EIO;
}

/* ------------------------------------------------------------------ */
/* Write latency, no readers                                           */
/* ------------------------------------------------------------------ */

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
