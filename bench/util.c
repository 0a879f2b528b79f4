/*
 * util.c - clock, RNG, Zipf, key sets, op and scan sequences, statistics, hash,
 * memory probes and the machine description.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef BENCH_CC
#define BENCH_CC "cc"
#endif
#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "?"
#endif

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("snapbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		die("out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

/* ------------------------------------------------------------------ */
/* Clock                                                               */
/* ------------------------------------------------------------------ */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sleep_until_ns(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t / 1000000000u),
		.tv_nsec = (long)(t % 1000000000u),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void sleep_ns(uint64_t ns)
{
	sleep_until_ns(now_ns() + ns);
}

uint64_t timer_overhead_ns(void)
{
	enum { N = 1001 };
	static uint32_t d[N];
	static uint64_t cached = UINT64_MAX;

	if (cached != UINT64_MAX)
		return cached;
	for (int i = 0; i < N; i++) {
		uint64_t t0 = now_ns();
		uint64_t t1 = now_ns();

		d[i] = (uint32_t)(t1 - t0);
	}
	cached = (uint64_t)pct_u32(d, N, 50);
	return cached;
}

/* ------------------------------------------------------------------ */
/* Hash                                                                */
/* ------------------------------------------------------------------ */

uint64_t hash64(const void *key, size_t len)
{
	const uint64_t m = 0xc6a4a7935bd1e995ull;
	const int r = 47;
	const unsigned char *p = key;
	uint64_t h = 0x2545f4914f6cdd1dull ^ (len * m);

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t k;

		memcpy(&k, p, 8);
		k *= m;
		k ^= k >> r;
		k *= m;
		h ^= k;
		h *= m;
	}
	if (len) {
		for (size_t i = len; i-- > 0;)
			h ^= (uint64_t)p[i] << (8 * i);
		h *= m;
	}
	h ^= h >> r;
	h *= m;
	h ^= h >> r;
	return h;
}

/* ------------------------------------------------------------------ */
/* Key sets and op sequences                                           */
/* ------------------------------------------------------------------ */

const char *keytype_name(enum keytype t)
{
	return t == KEY_STR ? "str" : "int";
}

const char *dist_name(enum dist d)
{
	return d == DIST_UNIFORM ? "uniform" : "zipf";
}

size_t keyset_nmiss(size_t n)
{
	return n / 16 > 16 ? n / 16 : 16;
}

/* A seeded permutation of 0..n-1 (Fisher-Yates). */
static uint32_t *permutation(size_t n, uint64_t seed)
{
	uint32_t *p = xmalloc(n * sizeof(*p));

	for (size_t i = 0; i < n; i++)
		p[i] = (uint32_t)i;
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_next(&seed) % i;
		uint32_t t = p[i - 1];

		p[i - 1] = p[j];
		p[j] = t;
	}
	return p;
}

struct keyset *keyset_new(enum keytype type, size_t n, uint64_t seed)
{
	struct keyset *ks = xcalloc(1, sizeof(*ks));
	uint32_t *perm = NULL;

	ks->type = type;
	ks->n = n;
	ks->nall = n + keyset_nmiss(n);
	ks->klen = type == KEY_STR ? 14 : 8;
	ks->stride = type == KEY_STR ? 16 : 8;
	ks->bytes = xcalloc(ks->nall, ks->stride);
	if (type == KEY_STR)
		perm = permutation(ks->nall, seed);
	for (size_t i = 0; i < ks->nall; i++) {
		unsigned char *k = ks->bytes + i * ks->stride;

		if (type == KEY_STR) {
			snprintf((char *)k, ks->stride, "key:%010u", perm[i]);
		} else {
			uint64_t v = splitmix64(i ^ seed);

			memcpy(k, &v, 8);
		}
	}
	free(perm);
	return ks;
}

void keyset_free(struct keyset *ks)
{
	if (ks) {
		free(ks->bytes);
		free(ks);
	}
}

/*
 * Zipf(theta) over ranks 0..n-1, as in Gray et al., "Quickly generating
 * billion-record synthetic databases" (SIGMOD 1994), the generator YCSB
 * uses.
 */
struct zipf {
	size_t n;
	double theta, alpha, zetan, eta, half_pow;
};

static void zipf_init(struct zipf *z, size_t n, double theta)
{
	double zeta2 = 1.0 + pow(0.5, theta);

	z->n = n;
	z->theta = theta;
	z->zetan = 0;
	for (size_t i = 1; i <= n; i++)
		z->zetan += 1.0 / pow((double)i, theta);
	z->alpha = 1.0 / (1.0 - theta);
	z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) /
		 (1.0 - zeta2 / z->zetan);
	z->half_pow = 1.0 + pow(0.5, theta);
}

static size_t zipf_next(const struct zipf *z, uint64_t *rng)
{
	double u = (double)(rng_next(rng) >> 11) * 0x1.0p-53;
	double uz = u * z->zetan;
	size_t r;

	if (uz < 1.0)
		return 0;
	if (uz < z->half_pow)
		return 1;
	r = (size_t)((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
	return r < z->n ? r : z->n - 1;
}

/*
 * With @write_pct 0 no draw decides "write?": the look-up sequences stay
 * what they were before mixed sequences existed.
 */
struct opseq *opseq_new(size_t n, size_t nmiss, enum dist d, size_t len,
			unsigned write_pct, uint64_t seed)
{
	struct opseq *q = xcalloc(1, sizeof(*q));
	uint32_t *hot = NULL;
	struct zipf z = { 0 };	/* zeroed to quiet gcc: only Zipf uses it */
	uint64_t rng = seed;

	if (n + nmiss > OP_WRITE)
		die("too many keys for an op sequence");
	q->len = len;
	q->ops = xmalloc(len * sizeof(*q->ops));
	if (d == DIST_ZIPF) {
		zipf_init(&z, n, 0.99);
		hot = permutation(n, seed ^ 0x7a1f);	/* rank -> key index */
	}
	for (size_t i = 0; i < len; i++) {
		struct op *o = &q->ops[i];
		bool write = write_pct && rng_next(&rng) % 100 < write_pct;

		if (!write && rng_next(&rng) % 100 < 5) {	/* 5% misses */
			o->idx = (uint32_t)(n + rng_next(&rng) % nmiss);
			o->expect = MISS_CHECK;
			continue;
		}
		if (d == DIST_ZIPF)
			o->idx = hot[zipf_next(&z, &rng)];
		else
			o->idx = (uint32_t)(rng_next(&rng) % n);
		o->expect = write ? 0 : val_check(o->idx);
		if (write)
			o->idx |= OP_WRITE;
	}
	free(hot);
	return q;
}

void opseq_free(struct opseq *q)
{
	if (q) {
		free(q->ops);
		free(q);
	}
}

/* All keys of a key set have its klen: memcmp is the maps' order. */
static int key_idx_cmp(const void *x, const void *y, void *arg)
{
	const struct keyset *ks = arg;

	return memcmp(ks_key(ks, *(const uint32_t *)x),
		      ks_key(ks, *(const uint32_t *)y), ks->klen);
}

/*
 * The present keys in key order, then prefix sums of their check words
 * along that order: a scan's expected checksum is one difference.
 */
struct scanseq *scanseq_new(const struct keyset *ks, size_t len,
			    uint64_t seed)
{
	struct scanseq *q;
	uint32_t *order;
	uint64_t *prefix, rng = seed;
	size_t nstart;

	if (ks->n < SCAN_LEN)
		die("scans need at least %d keys", SCAN_LEN);
	nstart = ks->n - SCAN_LEN + 1;		/* starts with a full range */
	order = xmalloc(ks->n * sizeof(*order));
	prefix = xmalloc((ks->n + 1) * sizeof(*prefix));
	for (size_t i = 0; i < ks->n; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, ks->n, sizeof(*order), key_idx_cmp, (void *)ks);
	prefix[0] = 0;
	for (size_t r = 0; r < ks->n; r++)
		prefix[r + 1] = prefix[r] + val_check(order[r]);
	q = xcalloc(1, sizeof(*q));
	q->len = len;
	q->ops = xmalloc(len * sizeof(*q->ops));
	for (size_t i = 0; i < len; i++) {
		size_t r = rng_next(&rng) % nstart;

		q->ops[i].idx = order[r];
		q->ops[i].expect = prefix[r + SCAN_LEN] - prefix[r];
	}
	free(prefix);
	free(order);
	return q;
}

void scanseq_free(struct scanseq *q)
{
	if (q) {
		free(q->ops);
		free(q);
	}
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile. */
double pct_u32(uint32_t *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_u32);
	k = (size_t)ceil(p / 100.0 * (double)n);
	return v[k ? k - 1 : 0];
}

double median_d(double *v, size_t n)
{
	size_t m = 0;

	/* NaNs (figures a repetition did not produce) are left out. */
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[m++] = v[i];
	if (m == 0)
		return NAN;
	qsort(v, m, sizeof(*v), cmp_d);
	return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

/* ------------------------------------------------------------------ */
/* Memory                                                              */
/* ------------------------------------------------------------------ */

size_t heap_in_use(void)
{
#ifdef HAVE_MALLINFO2
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#else
	return 0;	/* no figure: the tables show "-" per entry */
#endif
}

void heap_trim(void)
{
#ifdef HAVE_MALLOC_TRIM
	malloc_trim(0);
#endif
}

static size_t status_kb(const char *field)
{
	char line[256];
	size_t kb = 0, flen = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, flen) == 0) {
			kb = strtoull(line + flen, NULL, 10);
			break;
		}
	fclose(f);
	return kb * 1024;
}

size_t rss_bytes(void)
{
	return status_kb("VmRSS:");
}

size_t peak_rss_bytes(void)
{
	return status_kb("VmHWM:");
}

bool reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	bool ok;

	if (!f)
		return false;
	ok = fputs("5", f) >= 0;
	return (fclose(f) == 0) && ok;
}

/* ------------------------------------------------------------------ */
/* Machine                                                             */
/* ------------------------------------------------------------------ */

double load_average(void)
{
	double l[1];

	return getloadavg(l, 1) == 1 ? l[0] : NAN;
}

void machine_describe(struct machine *m)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	struct utsname u;
	time_t t = time(NULL);

	memset(m, 0, sizeof(*m));
	snprintf(m->cpu, sizeof(m->cpu), "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			colon += strspn(colon + 1, " \t") + 1;
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(m->cpu, sizeof(m->cpu), "%s", colon);
			break;
		}
	}
	if (f)
		fclose(f);
	m->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(m->urcu, sizeof(m->urcu), "%s", SNAPMAP_URCU_VERSION);
	snprintf(m->cc, sizeof(m->cc), "%s (%s)", BENCH_CC, __VERSION__);
	snprintf(m->cflags, sizeof(m->cflags), "%s", BENCH_CFLAGS);
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%s %s", u.sysname,
			 u.release);
	strftime(m->date, sizeof(m->date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}
