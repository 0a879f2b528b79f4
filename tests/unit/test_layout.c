/*
 * test_layout.c - the snapshot layout against a model.
 *
 * The layout (lib/layout.h) cuts a snapshot into chunks of about 128
 * entries, splits and absorbs chunks as writes land, and searches with
 * 8-byte key prefixes taken after the bytes a chunk's keys share.  These
 * tests drive it through sizes around the chunk boundaries and through
 * key sets built to defeat the prefixes (long shared prefixes, keys that
 * differ only after byte 8, zero bytes, keys that are prefixes of each
 * other), and compare every snapshot with a plain sorted array.
 */
#include <urcu.h>
#include <snapmap.h>
#include "util.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXKEY 48

/* ------------------------------------------------------------------ */
/* The model: a sorted array of keys, each with an integer value.      */
/* ------------------------------------------------------------------ */

struct mkey {
	unsigned char bytes[MAXKEY];
	size_t len;
	long value;
};

struct model {
	struct mkey *keys;
	size_t n, cap;
};

static int mkey_cmp(const void *pa, const void *pb)
{
	const struct mkey *a = pa, *b = pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->bytes, b->bytes, n);

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

static struct mkey *model_find(struct model *m, const struct mkey *k)
{
	return m->n ? bsearch(k, m->keys, m->n, sizeof(*k), mkey_cmp) : NULL;
}

static void model_put(struct model *m, const struct mkey *k)
{
	struct mkey *found = model_find(m, k);

	if (found) {
		found->value = k->value;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->keys = realloc(m->keys, m->cap * sizeof(*m->keys));
		cr_assert_not_null(m->keys);
	}
	m->keys[m->n++] = *k;
	qsort(m->keys, m->n, sizeof(*k), mkey_cmp);
}

static bool model_delete(struct model *m, const struct mkey *k)
{
	struct mkey *found = model_find(m, k);

	if (!found)
		return false;
	memmove(found, found + 1, (size_t)(m->keys + m->n - found - 1) *
		sizeof(*found));
	m->n--;
	return true;
}

/* ------------------------------------------------------------------ */
/* Key families                                                        */
/* ------------------------------------------------------------------ */

enum family {
	DECIMAL,	/* "key:%010u": the bench's keys, 9+ shared bytes */
	LONG_PREFIX,	/* 30 shared bytes, then a number */
	LATE_DIFF,	/* 16 fixed bytes, differing only after byte 8 */
	BINARY_ZEROS,	/* zero bytes everywhere, varying lengths */
	NESTED,		/* keys that are prefixes of other keys */
	SUBTREES,	/* long runs of keys sharing 8 bytes past the
			 * shared part: the search's tie runs */
};

static void make_key(enum family f, unsigned i, struct mkey *k)
{
	memset(k, 0, sizeof(*k));
	switch (f) {
	case DECIMAL:
		k->len = (size_t)snprintf((char *)k->bytes, MAXKEY, "key:%010u",
					  i);
		break;
	case LONG_PREFIX:
		k->len = (size_t)snprintf((char *)k->bytes, MAXKEY,
					  "tenant/acme/region/eu-west/%08u", i);
		break;
	case LATE_DIFF:
		memcpy(k->bytes, "ABCDEFGHIJ", 10);
		k->bytes[12] = (unsigned char)(i >> 8);
		k->bytes[13] = (unsigned char)i;
		k->bytes[15] = (unsigned char)(i >> 16);
		k->len = 16;
		break;
	case BINARY_ZEROS:
		k->bytes[1] = (unsigned char)(i % 7);
		k->bytes[3] = (unsigned char)(i >> 8);
		k->bytes[4] = (unsigned char)i;
		k->len = 2 + i % 9;	/* 2..10 bytes, trailing zeros */
		break;
	case SUBTREES:
		k->len = (size_t)snprintf((char *)k->bytes, MAXKEY,
					  "/srv/app%02u/config/section/%06u",
					  i % 3, i);
		break;
	case NESTED:
		/* "a", "aa", "aaa"... interleaved with numbered keys */
		if (i % 3 == 0) {
			k->len = 1 + (i / 3) % (MAXKEY - 1);
			memset(k->bytes, 'a', k->len);
		} else {
			k->len = (size_t)snprintf((char *)k->bytes, MAXKEY,
						  "a%u", i);
		}
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Checking a snapshot against the model                               */
/* ------------------------------------------------------------------ */

static void check_snapshot(struct snapmap *map, struct model *m)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t i = 0;
	int rc;

	rcu_read_lock();
	snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_count(snap), m->n);
	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv), i++) {
		cr_assert_lt(i, m->n, "iteration returns more than %zu", m->n);
		cr_assert_eq(kv.klen, m->keys[i].len, "key %zu length", i);
		cr_assert_eq(memcmp(kv.key, m->keys[i].bytes, kv.klen), 0,
			     "key %zu bytes", i);
		cr_assert_eq(kv.vlen, sizeof(long));
		cr_assert_eq(*(const long *)kv.val, m->keys[i].value);
	}
	cr_assert_eq(rc, -ENOENT);
	cr_assert_eq(i, m->n, "iterated %zu of %zu", i, m->n);

	/* The same walk in blocks (snapmap_iter_next_n), of sizes that end
	 * inside, at and across chunk boundaries. */
	for (size_t block = 1; block <= 700; block = block * 5 + 2) {
		struct snapmap_kv kvs[702];
		size_t got;

		i = 0;
		rc = snapmap_iter_first(snap, &it, &kv);
		if (rc == 0)
			i = 1;
		while (rc == 0) {
			rc = snapmap_iter_next_n(&it, kvs, block, &got);
			cr_assert(rc == 0 ? got >= 1 && got <= block : got == 0);
			for (size_t j = 0; j < got; j++, i++) {
				cr_assert_lt(i, m->n);
				cr_assert(kvs[j].klen == m->keys[i].len &&
					  memcmp(kvs[j].key, m->keys[i].bytes,
						 kvs[j].klen) == 0,
					  "block %zu: key %zu", block, i);
				cr_assert_eq(*(const long *)kvs[j].val,
					     m->keys[i].value);
			}
		}
		cr_assert_eq(rc, -ENOENT);
		cr_assert_eq(i, m->n, "blocks of %zu: %zu of %zu", block, i,
			     m->n);
		cr_assert_eq(snapmap_iter_next_n(&it, kvs, block, &got),
			     -ENOENT);
		cr_assert_eq(snapmap_iter_next(&it, &kv), -ENOENT);
	}

	/* Every key is found, and seeking to it lands on it.  key + "\0" is
	 * the next possible key in bytewise order, so seeking to it lands on
	 * the model's next key. */
	for (i = 0; i < m->n; i++) {
		const struct mkey *k = &m->keys[i];
		unsigned char past[MAXKEY + 1];
		const void *val;
		size_t vlen;

		cr_assert_eq(snapmap_find(snap, k->bytes, k->len, &val, &vlen),
			     0, "find key %zu", i);
		cr_assert_eq(*(const long *)val, k->value);
		cr_assert_eq(snapmap_iter_seek(snap, &it, k->bytes, k->len,
					       &kv), 0);
		cr_assert(kv.klen == k->len &&
			  memcmp(kv.key, k->bytes, k->len) == 0,
			  "seek to key %zu", i);
		memcpy(past, k->bytes, k->len);
		past[k->len] = 0;
		rc = snapmap_iter_seek(snap, &it, past, k->len + 1, &kv);
		if (i + 1 == m->n) {
			cr_assert_eq(rc, -ENOENT, "seek past the last key");
			continue;
		}
		cr_assert_eq(rc, 0);
		cr_assert(kv.klen == m->keys[i + 1].len &&
			  memcmp(kv.key, m->keys[i + 1].bytes, kv.klen) == 0,
			  "seek past key %zu", i);
	}
	rcu_read_unlock();
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

struct layout_case {
	enum family family;
	unsigned n;		/* keys inserted before the random phase */
};

static void setup(void)
{
	rcu_register_thread();
}

static void teardown(void)
{
	rcu_unregister_thread();
}

ParameterizedTestParameters(layout, model)
{
	static struct layout_case cases[] = {
		/* Around a built chunk (128), the split point (256) and
		 * twice that (two full chunks, 512). */
		{ DECIMAL, 0 }, { DECIMAL, 1 }, { DECIMAL, 127 },
		{ DECIMAL, 128 }, { DECIMAL, 129 }, { DECIMAL, 255 },
		{ DECIMAL, 256 }, { DECIMAL, 257 }, { DECIMAL, 511 },
		{ DECIMAL, 512 }, { DECIMAL, 513 }, { DECIMAL, 6000 },
		{ LONG_PREFIX, 3000 }, { LATE_DIFF, 3000 },
		{ BINARY_ZEROS, 3000 }, { NESTED, 3000 }, { SUBTREES, 3000 },
	};

	return cr_make_param_array(struct layout_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

/*
 * Builds the map one put at a time and in one batch (both orders of
 * insertion), then runs random puts, deletes and batches, comparing with
 * the model after every step of the batch phase.
 */
ParameterizedTest(struct layout_case *c, layout, model, .init = setup,
		  .fini = teardown, .timeout = 120)
{
	struct snapmap *map = snapmap_new(NULL);
	struct model m = { 0 };
	unsigned seed = 12345u + c->n + (unsigned)c->family * 7919u;
	struct mkey k;

	cr_assert_not_null(map);
	/* Insert in a scrambled order so chunks split in the middle. */
	for (unsigned i = 0; i < c->n; i++) {
		unsigned id = (unsigned)(((unsigned long)i * 2654435761u) %
					 (c->n ? c->n : 1));

		make_key(c->family, id, &k);
		k.value = id;
		model_put(&m, &k);
		cr_assert_eq(snapmap_put(map, k.bytes, k.len, &k.value,
					 sizeof(long)), 0);
	}
	check_snapshot(map, &m);

	for (int round = 0; round < 12; round++) {
		struct snapmap_batch *b = snapmap_batch_new(map);
		unsigned ops = 1 + (unsigned)rand_r(&seed) % 1500;
		unsigned space = c->n + 600;

		cr_assert_not_null(b);
		for (unsigned o = 0; o < ops; o++) {
			unsigned id = (unsigned)rand_r(&seed) % space;

			make_key(c->family, id, &k);
			/* Deletes dominate every third round, so chunks
			 * shrink and get absorbed. */
			if ((unsigned)rand_r(&seed) % 3 < (round % 3 ? 1u : 2u)) {
				cr_assert_eq(snapmap_batch_delete(b, k.bytes,
								  k.len), 0);
				model_delete(&m, &k);
			} else {
				k.value = (long)round * 100000 + o;
				cr_assert_eq(snapmap_batch_put(b, k.bytes, k.len,
							       &k.value,
							       sizeof(long)), 0);
				model_put(&m, &k);
			}
		}
		cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
		snapmap_batch_free(b);
		check_snapshot(map, &m);

		/* A few single writes between batches. */
		for (int s = 0; s < 20; s++) {
			unsigned id = (unsigned)rand_r(&seed) % space;

			make_key(c->family, id, &k);
			if (s % 2) {
				int rc = snapmap_delete(map, k.bytes, k.len);

				cr_assert_eq(rc, model_delete(&m, &k) ? 0
								      : -ENOENT);
			} else {
				k.value = -(long)id;
				cr_assert_eq(snapmap_put(map, k.bytes, k.len,
							 &k.value,
							 sizeof(long)), 0);
				model_put(&m, &k);
			}
		}
		check_snapshot(map, &m);
	}

	/* Delete everything: the map must come back to empty. */
	while (m.n) {
		k = m.keys[m.n - 1];
		cr_assert_eq(snapmap_delete(map, k.bytes, k.len), 0);
		model_delete(&m, &k);
	}
	check_snapshot(map, &m);
	cr_assert_eq(snapmap_destroy(map), 0);
	free(m.keys);
}

/*
 * Pinned snapshots of a churning map keep their exact content while the
 * chunks they share with newer versions are replaced and reclaimed.
 */
Test(layout, pins_across_chunk_rewrites, .init = setup, .fini = teardown,
     .timeout = 120)
{
	struct snapmap *map = snapmap_new(NULL);
	const struct snapmap_snapshot *pins[8];
	size_t counts[8];
	struct mkey k;

	cr_assert_not_null(map);
	for (unsigned i = 0; i < 5000; i++) {
		make_key(DECIMAL, i, &k);
		k.value = i;
		cr_assert_eq(snapmap_put(map, k.bytes, k.len, &k.value,
					 sizeof(long)), 0);
	}
	for (int p = 0; p < 8; p++) {
		pins[p] = snapmap_pin(map);
		counts[p] = snapmap_count(pins[p]);
		for (unsigned i = 0; i < 700; i++) {
			unsigned id = (i * 7 + (unsigned)p * 13) % 5000;

			make_key(DECIMAL, id, &k);
			if (i % 2) {
				snapmap_delete(map, k.bytes, k.len);
			} else {
				k.value = -(long)p;
				cr_assert_eq(snapmap_put(map, k.bytes, k.len,
							 &k.value,
							 sizeof(long)), 0);
			}
		}
	}
	/* Unpin out of order: the middle ones first. */
	for (int p = 2; p < 6; p++)
		snapmap_unpin(pins[p]);
	for (int p = 0; p < 8; p += (p == 1 ? 5 : 1)) {
		struct snapmap_iter it;
		struct snapmap_kv kv;
		size_t n = 0;

		for (int rc = snapmap_iter_first(pins[p], &it, &kv); rc == 0;
		     rc = snapmap_iter_next(&it, &kv)) {
			const void *val;

			cr_assert_eq(snapmap_find(pins[p], kv.key, kv.klen, &val,
						  NULL), 0);
			cr_assert_eq(val, kv.val);
			n++;
		}
		cr_assert_eq(n, counts[p], "pin %d: %zu entries, had %zu", p,
			     n, counts[p]);
	}
	snapmap_unpin(pins[0]);
	snapmap_unpin(pins[7]);
	snapmap_unpin(pins[6]);
	snapmap_unpin(pins[1]);
	cr_assert_eq(snapmap_destroy(map), 0);
}

/*
 * Values of 1 to 24 KiB: the layout copies a chunk's records whenever it
 * rebuilds the chunk, so it cuts chunks by record bytes as well as by
 * count.  Every value must survive the splits, absorptions and rebuilds
 * intact, in order, and aligned as the header promises.
 */
static void fill_value(unsigned char *buf, size_t len, unsigned id,
		       unsigned gen)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(id * 31u + gen * 7u + i);
}

Test(layout, big_values, .init = setup, .fini = teardown, .timeout = 120)
{
	enum { NKEYS = 160, MAXV = 24 << 10 };
	struct snapmap *map = snapmap_new(NULL);
	unsigned gen[NKEYS] = { 0 };
	size_t len[NKEYS] = { 0 };
	unsigned char *buf = malloc(MAXV);
	unsigned seed = 99;
	char key[16];

	cr_assert_not_null(map);
	cr_assert_not_null(buf);
	for (int step = 0; step < 1200; step++) {
		unsigned id = (unsigned)rand_r(&seed) % NKEYS;
		int klen = snprintf(key, sizeof(key), "big:%05u", id);

		if (step > 400 && rand_r(&seed) % 4 == 0) {
			int rc = snapmap_delete(map, key, (size_t)klen);

			cr_assert_eq(rc, len[id] ? 0 : -ENOENT);
			len[id] = 0;
			continue;
		}
		gen[id]++;
		len[id] = 1024 + (size_t)rand_r(&seed) % (MAXV - 1024);
		fill_value(buf, len[id], id, gen[id]);
		cr_assert_eq(snapmap_put(map, key, (size_t)klen, buf, len[id]),
			     0);
	}

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	struct snapmap_iter it;
	struct snapmap_kv kv;
	unsigned id = 0;
	size_t seen = 0;
	int rc;

	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv), seen++, id++) {
		while (id < NKEYS && !len[id])
			id++;
		cr_assert_lt(id, NKEYS);
		snprintf(key, sizeof(key), "big:%05u", id);
		cr_assert_eq(kv.klen, strlen(key));
		cr_assert_eq(memcmp(kv.key, key, kv.klen), 0, "key %s", key);
		cr_assert_eq(kv.vlen, len[id], "%s: %zu bytes, want %zu", key,
			     kv.vlen, len[id]);
		fill_value(buf, len[id], id, gen[id]);
		cr_assert_eq(memcmp(kv.val, buf, kv.vlen), 0, "%s value", key);
		ut_assert_aligned(kv.val, kv.vlen);
	}
	cr_assert_eq(rc, -ENOENT);
	while (id < NKEYS && !len[id])
		id++;
	cr_assert_eq(id, NKEYS, "iteration stopped early");
	cr_assert_eq(snapmap_count(snap), seen);
	rcu_read_unlock();
	cr_assert_eq(snapmap_destroy(map), 0);
	free(buf);
}

/*
 * Maps of tens of thousands of keys: the directory's pages (about 64
 * chunks each) are shared, split, taken apart and absorbed as single
 * writes and batches land, while a pinned snapshot keeps its own.  Keys
 * are "key:%010u", whose order is their number's, so the model is an
 * array indexed by number.
 */
#define BIG_SPACE 120000u

struct big_model {
	long value[BIG_SPACE];	/* -1: absent */
	size_t n;
};

static void big_key(unsigned id, char *key)
{
	snprintf(key, 16, "key:%010u", id);
}

static void big_check(const struct snapmap_snapshot *snap,
		      const struct big_model *m)
{
	struct snapmap_iter it;
	struct snapmap_kv kv[100];
	unsigned id = 0;
	size_t seen = 0, got;
	char key[16];
	int rc;

	cr_assert_eq(snapmap_count(snap), m->n);
	rc = snapmap_iter_first(snap, &it, &kv[0]);
	got = rc == 0;
	while (rc == 0) {
		for (size_t i = 0; i < got; i++, seen++, id++) {
			while (id < BIG_SPACE && m->value[id] < 0)
				id++;
			cr_assert_lt(id, BIG_SPACE, "more keys than the model");
			big_key(id, key);
			cr_assert(kv[i].klen == 14 &&
				  memcmp(kv[i].key, key, 14) == 0,
				  "entry %zu is not %s", seen, key);
			cr_assert_eq(*(const long *)kv[i].val, m->value[id]);
		}
		rc = snapmap_iter_next_n(&it, kv, 100, &got);
	}
	cr_assert_eq(seen, m->n);
	for (unsigned k = 0; k < BIG_SPACE; k += 7) {
		const void *val;
		int found;

		big_key(k, key);
		found = snapmap_find(snap, key, 14, &val, NULL);
		cr_assert_eq(found, m->value[k] < 0 ? -ENOENT : 0, "%s", key);
		if (found == 0)
			cr_assert_eq(*(const long *)val, m->value[k]);
	}
}

static void big_check_map(struct snapmap *map, const struct big_model *m)
{
	rcu_read_lock();
	big_check(snapmap_snapshot(map), m);
	rcu_read_unlock();
}

static void big_write(struct snapmap *map, struct snapmap_batch *b,
		      struct big_model *m, unsigned id, long value)
{
	char key[16];
	int rc;

	big_key(id, key);
	if (value < 0) {
		rc = b ? snapmap_batch_delete(b, key, 14) :
			 snapmap_delete(map, key, 14);
		cr_assert_eq(rc, b || m->value[id] >= 0 ? 0 : -ENOENT);
		m->n -= m->value[id] >= 0;
	} else {
		rc = b ? snapmap_batch_put(b, key, 14, &value, sizeof(value)) :
			 snapmap_put(map, key, 14, &value, sizeof(value));
		cr_assert_eq(rc, 0);
		m->n += m->value[id] < 0;
	}
	m->value[id] = value;
}

static void big_commit(struct snapmap_batch *b)
{
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	cr_assert_eq(snapmap_batch_abort(b), 0);
}

Test(layout, many_pages, .init = setup, .fini = teardown, .timeout = 240)
{
	struct big_model *m = malloc(sizeof(*m)), *pm = malloc(sizeof(*m));
	struct snapmap *map = snapmap_new(NULL);
	struct snapmap_batch *b;
	const struct snapmap_snapshot *pin;
	unsigned seed = 4242;

	cr_assert(m && pm && map);
	for (unsigned i = 0; i < BIG_SPACE; i++)
		m->value[i] = -1;
	m->n = 0;
	b = snapmap_batch_new(map);
	cr_assert_not_null(b);

	/* 96,000 keys in one batch: 750 chunks in 12 pages. */
	for (unsigned i = 0; i < BIG_SPACE; i++)
		if (i % 5)
			big_write(map, b, m, i, i);
	big_commit(b);
	big_check_map(map, m);
	pin = snapmap_pin(map);
	*pm = *m;

	/* Single writes spread over every page. */
	for (int i = 0; i < 3000; i++) {
		unsigned id = (unsigned)rand_r(&seed) % BIG_SPACE;

		big_write(map, NULL, m, id, rand_r(&seed) % 4 ? i : -1);
	}
	big_check_map(map, m);

	/* Empty a third of the key space: pages shrink and are absorbed. */
	for (unsigned i = 30000; i < 70000; i++)
		if (m->value[i] >= 0)
			big_write(map, b, m, i, -1);
	big_commit(b);
	big_check_map(map, m);

	/* Fill it again in random batches: pages grow and split. */
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < 6000; i++) {
			unsigned id = 30000 + (unsigned)rand_r(&seed) % 40000;

			big_write(map, b, m, id, round * 10000 + i);
		}
		big_commit(b);
	}
	big_check_map(map, m);

	/* Delete everything but a few keys at both ends, one by one. */
	for (unsigned i = 50; i + 50 < BIG_SPACE; i++)
		if (m->value[i] >= 0 && (i % 3 == 0 || i > 60000))
			big_write(map, NULL, m, i, -1);
	big_check_map(map, m);

	/* The pinned snapshot still holds the first version. */
	big_check(pin, pm);
	snapmap_unpin(pin);
	snapmap_batch_free(b);
	cr_assert_eq(snapmap_destroy(map), 0);
	free(m);
	free(pm);
}
