/*
 * test_search.c - every search path against the scalar one and a model.
 *
 * The library picks a node search for the CPU when a map is made (the
 * portable scalar path, SSE4.2, AVX2: lib/layout.h); SNAPMAP_SIMD lowers
 * the choice.  These tests make one map per path that this CPU runs (a
 * path it lacks is skipped, not faked), load each with the same keys, and
 * check every look-up and seek against a sorted array.  The key sets are
 * built for the search's edges, and the tests check that the chunks the
 * library made really show those edges: keys whose suffix after their
 * chunk's shared bytes is 0, 8 and 9 bytes long, binary keys with zero
 * bytes and bytes >= 0x80 (the sign bit the x86 compares flip), and
 * chunks whose first keys share more than their page's shared bytes and
 * 8-byte prefix (a tie across a chunk boundary), and shared bytes kept in
 * a chunk's or page's header line and after it (too long for the line).
 *
 * Links lib/libsnapmap-test.la, the library's test build, to see which
 * path a snapshot carries and how its chunks were cut.
 */
#include <urcu.h>
#include <snapmap.h>
#include "layout.h"
#include "../contract.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXKEY 40

struct key {
	unsigned char b[MAXKEY];
	size_t len;
};

static int key_cmp(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;

	return contract_bytewise_cmp(a->b, a->len, b->b, b->len);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ------------------------------------------------------------------ */
/* Key sets                                                            */
/* ------------------------------------------------------------------ */

struct keyset {
	struct key *k;
	size_t n, cap;
};

static void add(struct keyset *s, const void *bytes, size_t len)
{
	cr_assert_leq(len, MAXKEY);
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->k = realloc(s->k, s->cap * sizeof(*s->k));
		cr_assert_not_null(s->k);
	}
	memset(&s->k[s->n], 0, sizeof(s->k[s->n]));
	memcpy(s->k[s->n].b, bytes, len);
	s->k[s->n++].len = len;
}

/* Sorted, each key once: the model. */
static void settle(struct keyset *s)
{
	size_t out = 0;

	qsort(s->k, s->n, sizeof(*s->k), key_cmp);
	for (size_t i = 0; i < s->n; i++)
		if (out == 0 || key_cmp(&s->k[out - 1], &s->k[i]) != 0)
			s->k[out++] = s->k[i];
	s->n = out;
}

enum family {
	SUFFIX_LENGTHS,	/* suffixes of 0, 8 and 9 bytes after a prefix */
	BINARY,		/* random bytes, a third of them zero */
	ACROSS_CHUNKS,	/* a long shared prefix over many chunks */
	PAGES,		/* enough keys for an indexed top level */
	LONG_SHARED,	/* chunks and a page sharing more bytes than
			 * their headers hold */
	NFAMILIES
};

static const char *const family_name[] = {
	"suffix lengths", "binary", "across chunks", "pages", "long shared",
};

static void make_keys(enum family f, struct keyset *s)
{
	static const char pre[] = "edge/prefix/";
	const size_t np = sizeof(pre) - 1;
	unsigned char k[MAXKEY];

	switch (f) {
	case SUFFIX_LENGTHS:
		/* The prefix alone and with zero bytes: all take the prefix
		 * 0 after the shared bytes, and only the length orders them. */
		memcpy(k, pre, np);
		memset(k + np, 0, 9);
		add(s, k, np);
		add(s, k, np + 1);
		add(s, k, np + 8);
		add(s, k, np + 9);
		/* The first suffix byte sweeps 0..255 so that chunks share
		 * exactly the prefix; each 8-byte suffix also comes with one
		 * more byte (a tie on the 8-byte prefix). */
		for (unsigned i = 0; i < 3000; i++) {
			uint64_t r = rng();

			memcpy(k + np, &r, 8);
			k[np] = (unsigned char)(i * 37);
			add(s, k, np + 8);
			k[np + 8] = (unsigned char)(i % 3 ? r >> 56 : 0);
			add(s, k, np + 9);
		}
		break;
	case BINARY:
		for (unsigned i = 0; i < 4000; i++) {
			size_t len = 1 + rng() % 20;

			for (size_t j = 0; j < len; j++) {
				uint64_t r = rng();

				k[j] = r % 3 == 0 ? 0 : (unsigned char)(r >> 8);
			}
			add(s, k, len);
		}
		break;
	case ACROSS_CHUNKS:
		/* "b" and 24 shared bytes over some 600 keys, between
		 * neighbours that share nothing with them. */
		for (unsigned i = 0; i < 200; i++) {
			add(s, k, (size_t)snprintf((char *)k, MAXKEY, "a%05u",
						   i));
			add(s, k, (size_t)snprintf((char *)k, MAXKEY, "c%05u",
						   i));
		}
		for (unsigned i = 0; i < 600; i++)
			add(s, k, (size_t)snprintf((char *)k, MAXKEY,
						   "b/shared/across/chunks/%05u",
						   i));
		break;
	case PAGES:
		/* More than FANOUT pages: the top level has an index. */
		for (unsigned i = 0; i < 100000; i++) {
			uint32_t r = (uint32_t)rng();

			add(s, k, (size_t)snprintf((char *)k, MAXKEY,
						   "key:%010u", r));
			/* a key with the top bit in its prefix */
			k[4] = (unsigned char)(0x80 | (r & 0x7f));
			add(s, k, 14);
		}
		break;
	case LONG_SHARED:
		for (unsigned i = 0; i < 3000; i++)
			add(s, k, (size_t)snprintf((char *)k, MAXKEY,
				"long/shared/prefix/of/keys/%05u",
				3 * i));
		break;
	default:
		cr_assert_fail();
	}
	settle(s);
}

/* ------------------------------------------------------------------ */
/* Maps on a given path                                                */
/* ------------------------------------------------------------------ */

static void setup(void)
{
	rcu_register_thread();
}

static void teardown(void)
{
	rcu_unregister_thread();
}

/* Whether this CPU runs the path @name (sm_search_pick never faults). */
static bool path_runs(const char *name)
{
	return strcmp(sm_search_pick(name)->name, name) == 0;
}

/* A map on path @name holding @s (values: the key's index). */
static struct snapmap *map_on(const char *name, const struct keyset *s)
{
	struct snapmap_batch *b;
	struct snapmap *map;

	cr_assert_eq(setenv("SNAPMAP_SIMD", name, 1), 0);
	map = snapmap_new(NULL);
	unsetenv("SNAPMAP_SIMD");
	cr_assert_not_null(map);
	b = snapmap_batch_new(map);
	cr_assert_not_null(b);
	for (size_t i = 0; i < s->n; i++) {
		uint64_t v = i;

		cr_assert_eq(snapmap_batch_put(b, s->k[i].b, s->k[i].len, &v,
					       sizeof(v)), 0);
	}
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	snapmap_batch_free(b);
	rcu_read_lock();
	cr_assert_str_eq(snapmap_snapshot(map)->search->name, name,
			 "the map is on the path it was made for");
	rcu_read_unlock();
	return map;
}

/* ------------------------------------------------------------------ */
/* What the chunks show                                                */
/* ------------------------------------------------------------------ */

struct shape {
	bool suffix[10];	/* a key with that many bytes after its
				 * chunk's shared bytes */
	bool zero_byte;		/* a key with a zero byte */
	bool top_bit;		/* a prefix with the top bit set */
	bool tie_across;	/* neighbour chunks whose first keys tie on
				 * the page's 8-byte prefix */
	size_t pages;
	bool top_indexed;	/* the top level has index levels */
	bool page_indexed;	/* a page has */
	/* Shared bytes kept in the header's line, and after the header. */
	bool chunk_shared_inline, chunk_shared_after;
	bool page_shared_inline, page_shared_after;
};

static struct shape shape_of(const struct snapmap_snapshot *snap)
{
	struct shape sh = { .pages = snap->npages,
			    .top_indexed = snap->dir_tree.nup > 0 };

	for (size_t p = 0; p < snap->npages; p++) {
		const struct sm_page *pg = snap->pages[p];

		if (pg->count > 1 && pg->skip > 0) {
			bool in = pg->shared_off ==
				  offsetof(struct sm_page, shared_inline);

			sh.page_shared_inline |= in;
			sh.page_shared_after |= !in;
		}
		for (size_t s = 0; s < pg->count; s++) {
			const struct sm_chunk *c = pg->chunks[s];

			if (c->skip > 0) {
				bool in = c->shared_off ==
					  offsetof(struct sm_chunk,
						   shared_inline);

				sh.chunk_shared_inline |= in;
				sh.chunk_shared_after |= !in;
			}

			if (pg->tree.nup > 0)
				sh.page_indexed = true;

			if (s > 0 && page_prefix(pg)[s] == page_prefix(pg)[s - 1])
				sh.tie_across = true;
			for (size_t i = 0; i < c->count; i++) {
				const struct sm_entry *e = chunk_entry_at(c, i);
				size_t rest = e->klen - c->skip;

				if (rest < 10)
					sh.suffix[rest] = true;
				if (memchr(sm_entry_key(e), 0, e->klen))
					sh.zero_byte = true;
				if ((chunk_prefix_at(c, i) ^ PREFIX_BIAS) >> 63)
					sh.top_bit = true;
			}
		}
	}
	return sh;
}

static void check_shape(enum family f, const struct snapmap_snapshot *snap)
{
	struct shape sh = shape_of(snap);

	switch (f) {
	case SUFFIX_LENGTHS:
		cr_assert(sh.suffix[0] && sh.suffix[8] && sh.suffix[9],
			  "suffixes of 0, 8 and 9 bytes: %d %d %d",
			  sh.suffix[0], sh.suffix[8], sh.suffix[9]);
		cr_assert(sh.chunk_shared_inline);
		break;
	case BINARY:
		cr_assert(sh.zero_byte && sh.top_bit);
		break;
	case ACROSS_CHUNKS:
		cr_assert(sh.tie_across);
		break;
	case PAGES:
		cr_assert_gt(sh.pages, FANOUT);
		cr_assert(sh.top_indexed && sh.page_indexed);
		cr_assert(sh.top_bit);
		cr_assert(sh.page_shared_inline);
		break;
	case LONG_SHARED:
		cr_assert(sh.chunk_shared_after && sh.page_shared_after);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Look-ups and seeks against the model                                */
/* ------------------------------------------------------------------ */

/* Index of the first model key >= @k. */
static size_t model_bound(const struct keyset *s, const struct key *k)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(&s->k[mid], k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* @map (on path @name) agrees with the model on probe @k. */
static void check_probe(const char *name, const struct snapmap_snapshot *snap,
			const struct keyset *s, const struct key *k)
{
	size_t at = model_bound(s, k), vlen;
	bool present = at < s->n && key_cmp(&s->k[at], k) == 0;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	const void *val;
	uint64_t v;
	int rc;

	rc = snapmap_find(snap, k->b, k->len, &val, &vlen);
	cr_assert_eq(rc, present ? 0 : -ENOENT, "%s: find of key %zu", name,
		     at);
	if (present) {
		memcpy(&v, val, sizeof(v));
		cr_assert_eq(v, at, "%s: the value of key %zu", name, at);
	}
	rc = snapmap_iter_seek(snap, &it, k->b, k->len, &kv);
	cr_assert_eq(rc, at < s->n ? 0 : -ENOENT, "%s: seek", name);
	if (at < s->n) {
		memcpy(&v, kv.val, sizeof(v));
		cr_assert_eq(v, at, "%s: seek lands on key %zu", name, at);
	}
}

/* Each key, and neighbours of it that may or may not be keys. */
static void check_all(const char *name, const struct snapmap_snapshot *snap,
		      const struct keyset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct key k = s->k[i], p;

		check_probe(name, snap, s, &k);
		p = k;		/* one byte shorter */
		if (p.len) {
			p.len--;
			check_probe(name, snap, s, &p);
		}
		p = k;		/* a zero byte, or 0xff, more */
		if (p.len < MAXKEY) {
			p.b[p.len++] = i % 2 ? 0xff : 0;
			check_probe(name, snap, s, &p);
		}
		p = k;		/* the last byte one higher */
		if (p.len && p.b[p.len - 1] < 0xff) {
			p.b[p.len - 1]++;
			check_probe(name, snap, s, &p);
		}
		p = k;		/* the middle byte one higher: a key that
				 * leaves shared bytes early */
		if (p.len && p.b[p.len / 2] < 0xff) {
			p.b[p.len / 2]++;
			check_probe(name, snap, s, &p);
		}
	}
}

/* The paths, for the parameterized tests: each runs once per path.  By
 * value: Criterion hands a test the bytes of its parameter, not a
 * pointer into its parent. */
struct path_param {
	char name[8];
};

static struct criterion_test_params path_params(void)
{
	static struct path_param all[] = {
		{ "scalar" }, { "sse42" }, { "avx2" },
	};

	return cr_make_param_array(struct path_param, all,
				   sizeof(all) / sizeof(all[0]));
}

ParameterizedTestParameters(search, paths_agree)
{
	return path_params();
}

ParameterizedTest(struct path_param *p, search, paths_agree, .init = setup,
		  .fini = teardown)
{
	if (!path_runs(p->name))
		cr_skip_test("this CPU has no %s", p->name);
	for (int f = 0; f < NFAMILIES; f++) {
		struct keyset s = { 0 };
		struct snapmap *on_path, *on_scalar;

		make_keys((enum family)f, &s);
		on_path = map_on(p->name, &s);
		on_scalar = map_on("scalar", &s);
		rcu_read_lock();
		check_shape((enum family)f, snapmap_snapshot(on_path));
		check_all(p->name, snapmap_snapshot(on_path), &s);
		check_all("scalar", snapmap_snapshot(on_scalar), &s);
		rcu_read_unlock();
		cr_log_info("%s: %s, %zu keys", p->name, family_name[f], s.n);
		cr_assert_eq(snapmap_destroy(on_path), 0);
		cr_assert_eq(snapmap_destroy(on_scalar), 0);
		free(s.k);
	}
}

/* A write keeps the map on its path: snapshots inherit it. */
Test(search, path_inherited, .init = setup, .fini = teardown)
{
	struct keyset s = { 0 };
	struct snapmap *map;
	uint64_t v = 7;

	make_keys(ACROSS_CHUNKS, &s);
	map = map_on("scalar", &s);
	cr_assert_eq(snapmap_put(map, "b/", 2, &v, sizeof(v)), 0);
	rcu_read_lock();
	cr_assert_str_eq(snapmap_snapshot(map)->search->name, "scalar");
	rcu_read_unlock();
	cr_assert_eq(snapmap_destroy(map), 0);
	free(s.k);
}

/* An unknown name sets no limit; "scalar" runs everywhere. */
Test(search, pick)
{
	cr_assert_eq(sm_search_pick("no-such-path"), sm_search_pick(NULL));
	cr_assert_str_eq(sm_search_pick("scalar")->name, "scalar");
}

/* ------------------------------------------------------------------ */
/* The node kernels alone                                              */
/* ------------------------------------------------------------------ */

/* Prefixes as kept are ordered as signed integers (layout.h). */
static size_t count_model(const uint64_t *node, uint64_t x)
{
	size_t n = 0;

	for (int i = 0; i < FANOUT; i++)
		n += (int64_t)node[i] < (int64_t)x;
	return n;
}

/* Every path counts like the model on sorted nodes padded with
 * PREFIX_END, for keys on, next to and between the node's values and
 * either side of the sign bit. */
static int prefix_cmp(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return (a > b) - (a < b);
}

ParameterizedTestParameters(search, kernels)
{
	return path_params();
}

ParameterizedTest(struct path_param *p, search, kernels)
{
	static const uint64_t edges[] = {
		0, 1, INT64_MAX - 1, INT64_MAX, (uint64_t)INT64_MAX + 1,
		(uint64_t)INT64_MAX + 2, UINT64_MAX - 1, UINT64_MAX,
	};
	const struct sm_search *path = sm_search_pick(p->name);
	_Alignas(LINE) uint64_t node[FANOUT];

	if (!path_runs(p->name))
		cr_skip_test("this CPU has no %s", p->name);
	for (int round = 0; round < 20000; round++) {
		size_t used = 1 + (size_t)round % FANOUT;

		for (size_t i = 0; i < FANOUT; i++) {
			uint64_t r = rng();

			node[i] = i >= used ? PREFIX_END :
				  round % 3 == 0 ? edges[r % 8] :
				  round % 3 == 1 ? r >> (r % 64) : r;
		}
		qsort(node, used, sizeof(node[0]), prefix_cmp);
		for (size_t j = 0; j < FANOUT + 8; j++) {
			uint64_t x = j < 8 ? edges[j] :
				     node[j - 8] + rng() % 3 - 1;

			cr_assert_eq(path->count(node, x), count_model(node, x),
				     "%s: node %d, key %#" PRIx64, p->name,
				     round, x);
		}
	}
}
