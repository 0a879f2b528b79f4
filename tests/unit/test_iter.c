/*
 * test_iter.c - snapmap_iter_first/seek/next: key order, seeks, prefix
 * scans, binary keys, error paths.  Default (memb) flavor, default
 * (bytewise) order; custom orders are in test_config.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include <urcu.h>
#include <snapmap.h>

#include "util.h"

TestSuite(iter, .init = ut_register, .fini = ut_unregister,
	  .timeout = UT_TIMEOUT);

/* Every key below, in bytewise order (shorter first on a common prefix). */
static const struct ut_bytes sorted_keys[] = {
	UT_B(""), UT_B("\0"), UT_B("\0\0"), UT_B("\0\x01"), UT_B("\x01"),
	UT_B("a"), UT_B("a\0"), UT_B("a\0b"), UT_B("ab"), UT_B("abc"),
	UT_B("b"), UT_B("\x7f"), UT_B("\x80"), UT_B("\xff"),
	UT_B("\xff\xff"),
};
#define NKEYS UT_ARRAY_SIZE(sorted_keys)

/*
 * A map holding sorted_keys, inserted in a scrambled order; the value of
 * key #i is the single byte 'A' + i.
 */
static struct snapmap *sorted_keys_map(void)
{
	struct snapmap *map = ut_map_new(NULL);

	for (size_t n = 0; n < NKEYS; n++) {
		size_t i = (n * 7 + 3) % NKEYS;	/* 7 is prime to NKEYS */
		char val = (char)('A' + i);

		cr_assert_eq(snapmap_put(map, sorted_keys[i].p,
					 sorted_keys[i].n, &val, 1), 0);
	}
	cr_assert_eq(ut_count(map), NKEYS);
	return map;
}

/* Assert that @kv is key #i of sorted_keys with its value. */
static void assert_kv_is(const struct snapmap_kv *kv, size_t i)
{
	char val = (char)('A' + i);

	cr_assert(ut_bytes_eq(kv->key, kv->klen, sorted_keys[i].p,
			      sorted_keys[i].n),
		  "expected key #%zu, got a %zu-byte key", i, kv->klen);
	cr_assert(ut_bytes_eq(kv->val, kv->vlen, &val, 1),
		  "wrong value for key #%zu", i);
	ut_assert_aligned(kv->val, kv->vlen);
}

Test(iter, empty_snapshot)
{
	struct snapmap *map = ut_map_new(NULL);
	struct snapmap_iter it;
	struct snapmap_kv kv;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_iter_first(snap, &it, &kv), -ENOENT);
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("a"), &kv), -ENOENT);
	cr_assert_eq(snapmap_iter_seek(snap, &it, NULL, 0, &kv), -ENOENT);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(iter, bytewise_order_shorter_prefix_first)
{
	struct snapmap *map = sorted_keys_map();

	ut_assert_keys(map, sorted_keys, NKEYS);

	/* Also check the values and the entry pointers. */
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t i = 0;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	for (int ret = snapmap_iter_first(snap, &it, &kv); ret == 0;
	     ret = snapmap_iter_next(&it, &kv))
		assert_kv_is(&kv, i++);
	cr_assert_eq(i, NKEYS);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(iter, the_example_order)
{
	/* The order the header documents: "a" < "a\0" < "ab" < "b". */
	static const struct ut_bytes want[] = {
		UT_B("a"), UT_B("a\0"), UT_B("ab"), UT_B("b"),
	};
	struct snapmap *map = ut_map_new(NULL);

	cr_assert_eq(snapmap_put(map, UT_S("b"), NULL, 0), 0);
	cr_assert_eq(snapmap_put(map, UT_S("ab"), NULL, 0), 0);
	cr_assert_eq(snapmap_put(map, UT_S("a\0"), NULL, 0), 0);
	cr_assert_eq(snapmap_put(map, UT_S("a"), NULL, 0), 0);
	ut_assert_keys(map, want, UT_ARRAY_SIZE(want));
	ut_map_destroy(map);
}

Test(iter, next_after_end_keeps_returning_enoent)
{
	struct snapmap *map = sorted_keys_map();
	struct snapmap_iter it;
	struct snapmap_kv kv;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("\xff\xff"), &kv), 0);
	assert_kv_is(&kv, NKEYS - 1);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(snapmap_iter_next(&it, &kv), -ENOENT,
			     "call #%d past the end", i);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(iter, single_entry)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "only", "1", NULL });
	struct snapmap_iter it;
	struct snapmap_kv kv;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_iter_first(snap, &it, &kv), 0);
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("only")));
	cr_assert(ut_bytes_eq(kv.val, kv.vlen, UT_S("1")));
	cr_assert_eq(snapmap_iter_next(&it, &kv), -ENOENT);
	cr_assert_eq(snapmap_iter_next(&it, &kv), -ENOENT);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(iter, seek)
{
	struct snapmap *map = sorted_keys_map();
	struct snapmap_iter it;
	struct snapmap_kv kv;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);

	/* Exactly on every key, then next. */
	for (size_t i = 0; i < NKEYS; i++) {
		cr_assert_eq(snapmap_iter_seek(snap, &it, sorted_keys[i].p,
					       sorted_keys[i].n, &kv), 0);
		assert_kv_is(&kv, i);
		if (i + 1 < NKEYS) {
			cr_assert_eq(snapmap_iter_next(&it, &kv), 0);
			assert_kv_is(&kv, i + 1);
		} else {
			cr_assert_eq(snapmap_iter_next(&it, &kv), -ENOENT);
		}
	}

	/* Before the first key: the empty key is the smallest there is. */
	cr_assert_eq(snapmap_iter_seek(snap, &it, NULL, 0, &kv), 0);
	assert_kv_is(&kv, 0);

	/* Between keys. */
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("\0\0\0"), &kv), 0);
	assert_kv_is(&kv, 3);				/* "\0\x01" */
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("a\0a"), &kv), 0);
	assert_kv_is(&kv, 7);				/* "a\0b" */
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("a\x01"), &kv), 0);
	assert_kv_is(&kv, 8);				/* "ab" */
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("abcd"), &kv), 0);
	assert_kv_is(&kv, 10);				/* "b" */
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("zzz"), &kv), 0);
	assert_kv_is(&kv, 11);				/* "\x7f" */

	/* After the last key. */
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("\xff\xff\0"), &kv),
		     -ENOENT);
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("\xff\xff\xff\xff"),
				       &kv), -ENOENT);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(iter, seek_before_first_of_nonempty_keys)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "m", "1", "n", "2", NULL });
	struct snapmap_iter it;
	struct snapmap_kv kv;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("a"), &kv), 0);
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("m")));
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("m\0"), &kv), 0);
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("n")));
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("n\0"), &kv), -ENOENT);
	rcu_read_unlock();
	ut_map_destroy(map);
}

Test(iter, prefix_scan)
{
	static const char *const pairs[] = {
		"use", "0", "user", "1", "user:1", "a", "user:10", "b",
		"user:2", "c", "user;", "2", "userz", "3", "usr", "4",
		"user:", "5", NULL,
	};
	static const char *const want[] = {
		"user:", "user:1", "user:10", "user:2",
	};
	static const char prefix[] = "user:";
	struct snapmap *map = ut_map_from_strings(NULL, pairs);
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t n = 0;
	int ret;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	for (ret = snapmap_iter_seek(snap, &it, UT_S(prefix), &kv);
	     ret == 0 && kv.klen >= strlen(prefix) &&
	     memcmp(kv.key, prefix, strlen(prefix)) == 0;
	     ret = snapmap_iter_next(&it, &kv), n++) {
		cr_assert_lt(n, UT_ARRAY_SIZE(want));
		cr_assert(ut_bytes_eq(kv.key, kv.klen, want[n],
				      strlen(want[n])),
			  "prefix scan entry #%zu is not %s", n, want[n]);
	}
	cr_assert_eq(ret, 0, "the scan stops on \"user;\", not at the end");
	cr_assert(ut_bytes_eq(kv.key, kv.klen, UT_S("user;")));
	cr_assert_eq(n, UT_ARRAY_SIZE(want));
	rcu_read_unlock();
	ut_map_destroy(map);
}

/*
 * Writers may publish while a reader iterates (inside its critical
 * section): the iterator stays on the snapshot it started on.
 */
Test(iter, iteration_sees_one_snapshot_while_writers_publish)
{
	struct snapmap *map = ut_map_from_strings(NULL,
		(const char *const[]){ "a", "1", "b", "2", "c", "3", NULL });
	static const char *const want[] = { "a", "b", "c" };
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t n = 0;
	int ret;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	for (ret = snapmap_iter_first(snap, &it, &kv); ret == 0;
	     ret = snapmap_iter_next(&it, &kv), n++) {
		cr_assert_lt(n, 3);
		cr_assert(ut_bytes_eq(kv.key, kv.klen, want[n], 1));
		cr_assert_eq(kv.vlen, 1, "a value from a later snapshot");
		/* Change the map under the iterator. */
		if (n == 0) {
			cr_assert_eq(snapmap_delete(map, UT_S("c")), 0);
			cr_assert_eq(ut_put_str(map, "bb", "new"), 0);
		}
		cr_assert_eq(ut_put_str(map, "a", "changed"), 0);
	}
	cr_assert_eq(ret, -ENOENT);
	cr_assert_eq(n, 3);
	rcu_read_unlock();
	ut_assert_keys(map, (const struct ut_bytes[]){
			       UT_B("a"), UT_B("b"), UT_B("bb") }, 3);
	ut_map_destroy(map);
}

Test(iter, bad_arguments_are_einval)
{
	struct snapmap *map = sorted_keys_map();
	struct snapmap_iter it;
	struct snapmap_kv kv;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_iter_first(NULL, &it, &kv), -EINVAL);
	cr_assert_eq(snapmap_iter_first(snap, NULL, &kv), -EINVAL);
	cr_assert_eq(snapmap_iter_seek(NULL, &it, UT_S("a"), &kv), -EINVAL);
	cr_assert_eq(snapmap_iter_seek(snap, NULL, UT_S("a"), &kv), -EINVAL);
	cr_assert_eq(snapmap_iter_seek(snap, &it, NULL, 1, &kv), -EINVAL);
	cr_assert_eq(snapmap_iter_first(snap, &it, &kv), 0);
	cr_assert_eq(snapmap_iter_next(NULL, &kv), -EINVAL);
	/* The iterator is still usable after the rejected calls. */
	cr_assert_eq(snapmap_iter_next(&it, &kv), 0);
	assert_kv_is(&kv, 1);
	rcu_read_unlock();
	ut_map_destroy(map);
}

/*
 * The header: the iterators return "-EINVAL for NULL args", and @kv is an
 * "out" argument that, unlike snapmap_find()'s, is not documented as
 * optional.
 */
Test(iter, null_kv_is_einval)
{
	struct snapmap *map = sorted_keys_map();
	struct snapmap_iter it;
	struct snapmap_kv kv;

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_iter_first(snap, &it, NULL), -EINVAL);
	cr_assert_eq(snapmap_iter_seek(snap, &it, UT_S("a"), NULL), -EINVAL);
	cr_assert_eq(snapmap_iter_first(snap, &it, &kv), 0);
	cr_assert_eq(snapmap_iter_next(&it, NULL), -EINVAL);
	rcu_read_unlock();
	ut_map_destroy(map);
}

/* ------------------------------------------------------------------ */
/* Random keys against a reference model                               */
/* ------------------------------------------------------------------ */

#define RKEY_MAX 6

struct rkey {
	unsigned char b[RKEY_MAX];
	size_t n;
};

static int rkey_cmp(const void *a, const void *b)
{
	const struct rkey *x = a, *y = b;

	return contract_bytewise_cmp(x->b, x->n, y->b, y->n);
}

/* xorshift64: deterministic, so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A key from a small alphabet, so that many keys share prefixes. */
static struct rkey random_key(uint64_t *s)
{
	static const unsigned char alpha[] = { 0x00, 0x01, 'a', 0xff };
	struct rkey k = { .n = rnd(s) % (RKEY_MAX + 1) };

	for (size_t i = 0; i < k.n; i++)
		k.b[i] = alpha[rnd(s) % sizeof(alpha)];
	return k;
}

Test(iter, random_binary_keys_match_reference_order)
{
	enum { N = 600, PROBES = 400 };
	struct rkey *keys = calloc(N, sizeof(*keys));
	struct snapmap *map = ut_map_new(NULL);
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t distinct = 0;
	struct snapmap_iter it;
	struct snapmap_kv kv;

	cr_assert_not_null(keys);
	for (size_t i = 0; i < N; i++) {
		keys[i] = random_key(&seed);
		cr_assert_eq(snapmap_put(map, keys[i].b, keys[i].n,
					 &i, sizeof(i)), 0);
	}

	/* Reference: sorted, unique. */
	qsort(keys, N, sizeof(*keys), rkey_cmp);
	for (size_t i = 0; i < N; i++)
		if (distinct == 0 || rkey_cmp(&keys[distinct - 1], &keys[i]))
			keys[distinct++] = keys[i];

	rcu_read_lock();
	const struct snapmap_snapshot *snap = snapmap_snapshot(map);
	size_t i = 0;
	int ret;

	cr_assert_eq(snapmap_count(snap), distinct);
	for (ret = snapmap_iter_first(snap, &it, &kv); ret == 0;
	     ret = snapmap_iter_next(&it, &kv), i++) {
		cr_assert_lt(i, distinct);
		cr_assert(ut_bytes_eq(kv.key, kv.klen, keys[i].b, keys[i].n),
			  "entry #%zu out of order", i);
	}
	cr_assert_eq(ret, -ENOENT);
	cr_assert_eq(i, distinct);

	/* Seeks land on the reference lower bound. */
	for (size_t p = 0; p < PROBES; p++) {
		struct rkey probe = random_key(&seed);
		size_t lb = 0;

		while (lb < distinct && rkey_cmp(&keys[lb], &probe) < 0)
			lb++;
		ret = snapmap_iter_seek(snap, &it, probe.b, probe.n, &kv);
		if (lb == distinct) {
			cr_assert_eq(ret, -ENOENT, "probe #%zu", p);
			continue;
		}
		cr_assert_eq(ret, 0, "probe #%zu", p);
		cr_assert(ut_bytes_eq(kv.key, kv.klen, keys[lb].b,
				      keys[lb].n), "probe #%zu", p);
		cr_assert_eq(snapmap_find(snap, probe.b, probe.n, NULL, NULL),
			     rkey_cmp(&keys[lb], &probe) == 0 ? 0 : -ENOENT,
			     "probe #%zu", p);
	}
	rcu_read_unlock();
	free(keys);
	ut_map_destroy(map);
}

/*
 * Random puts, deletes, compare-and-swaps and batches on a pool of
 * binary keys, checked against a model after every step (count, version)
 * and in full (iteration, seek, find) every few steps; a snapshot pinned
 * half-way must still match the model as it was then.
 */
enum { POOL = 300, STEPS = 3000, CHECK_EVERY = 97, PIN_AT = 1500 };

struct model {
	struct rkey keys[POOL];		/* sorted, distinct */
	uint64_t val[POOL];
	bool present[POOL];
	size_t count;
};

static void model_set(struct model *m, size_t i, uint64_t v)
{
	m->count += !m->present[i];
	m->present[i] = true;
	m->val[i] = v;
}

static void model_del(struct model *m, size_t i)
{
	m->count -= m->present[i];
	m->present[i] = false;
}

/* Assert that @snap (read lock held or pinned) holds exactly @m. */
static void assert_matches_model(const struct snapmap_snapshot *snap,
				 const struct model *m)
{
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t i = 0;
	int ret;

	cr_assert_eq(snapmap_count(snap), m->count);
	for (ret = snapmap_iter_first(snap, &it, &kv); ret == 0;
	     ret = snapmap_iter_next(&it, &kv), i++) {
		while (i < POOL && !m->present[i])
			i++;
		cr_assert_lt(i, POOL, "an entry the model does not have");
		cr_assert(ut_bytes_eq(kv.key, kv.klen, m->keys[i].b,
				      m->keys[i].n), "key of pool #%zu", i);
		cr_assert(ut_bytes_eq(kv.val, kv.vlen, &m->val[i], 8),
			  "value of pool #%zu", i);
	}
	cr_assert_eq(ret, -ENOENT);
	while (i < POOL && !m->present[i])
		i++;
	cr_assert_eq(i, POOL, "the snapshot misses pool #%zu", i);

	for (i = 0; i < POOL; i++) {
		size_t j = i;

		while (j < POOL && !m->present[j])
			j++;
		ret = snapmap_iter_seek(snap, &it, m->keys[i].b,
					m->keys[i].n, &kv);
		if (j == POOL) {
			cr_assert_eq(ret, -ENOENT, "seek pool #%zu", i);
		} else {
			cr_assert_eq(ret, 0, "seek pool #%zu", i);
			cr_assert(ut_bytes_eq(kv.key, kv.klen, m->keys[j].b,
					      m->keys[j].n),
				  "seek pool #%zu", i);
		}
		cr_assert_eq(snapmap_find(snap, m->keys[i].b, m->keys[i].n,
					  NULL, NULL),
			     m->present[i] ? 0 : -ENOENT, "find pool #%zu", i);
	}
}

Test(iter, random_writes_match_a_reference_model)
{
	struct model *m = calloc(1, sizeof(*m));
	struct model *pinned_model = malloc(sizeof(*m));
	const struct snapmap_snapshot *pin = NULL;
	struct snapmap *map = ut_map_new(NULL);
	struct snapmap_batch *b = snapmap_batch_new(map);
	uint64_t seed = 0x2545f4914f6cdd1dull, next_val = 1;
	uint64_t version = ut_version(map);
	size_t n = 0;

	cr_assert_not_null(m);
	cr_assert_not_null(pinned_model);
	cr_assert_not_null(b);

	/* A pool of distinct keys, sorted. */
	while (n < POOL) {
		struct rkey k = random_key(&seed);
		size_t i;

		for (i = 0; i < n && rkey_cmp(&m->keys[i], &k); i++)
			;
		if (i == n)
			m->keys[n++] = k;
	}
	qsort(m->keys, POOL, sizeof(m->keys[0]), rkey_cmp);

	for (int step = 0; step < STEPS; step++) {
		size_t i = rnd(&seed) % POOL;
		const struct rkey *k = &m->keys[i];
		unsigned what = rnd(&seed) % 10;
		int ret;

		if (what < 5) {				/* put */
			uint64_t v = next_val++;

			cr_assert_eq(snapmap_put(map, k->b, k->n, &v, 8), 0);
			model_set(m, i, v);
			version++;
		} else if (what < 7) {			/* delete */
			ret = snapmap_delete(map, k->b, k->n);
			cr_assert_eq(ret, m->present[i] ? 0 : -ENOENT,
				     "step %d", step);
			version += m->present[i];
			model_del(m, i);
		} else if (what < 9) {			/* batch */
			size_t ops = 1 + rnd(&seed) % 16;

			for (size_t o = 0; o < ops; o++) {
				size_t j = rnd(&seed) % POOL;
				uint64_t v = next_val++;

				if (rnd(&seed) % 3) {
					cr_assert_eq(snapmap_batch_put(b,
						m->keys[j].b, m->keys[j].n,
						&v, 8), 0);
					model_set(m, j, v);
				} else {
					cr_assert_eq(snapmap_batch_delete(b,
						m->keys[j].b, m->keys[j].n), 0);
					model_del(m, j);
				}
			}
			cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0,
				     "step %d", step);
			version++;
		} else {				/* CAS */
			uint64_t v = next_val++;
			uint64_t expect = m->present[i] && rnd(&seed) % 2
					  ? m->val[i] : 0;

			ret = snapmap_compare_and_swap(map, k->b, k->n,
						       &expect, 8, &v, 8);
			if (!m->present[i]) {
				cr_assert_eq(ret, -ENOENT, "step %d", step);
			} else if (expect != m->val[i]) {
				cr_assert_eq(ret, -EAGAIN, "step %d", step);
			} else {
				cr_assert_eq(ret, 0, "step %d", step);
				model_set(m, i, v);
				version++;
			}
		}
		cr_assert_eq(ut_count(map), m->count, "step %d", step);
		cr_assert_eq(ut_version(map), version, "step %d", step);

		if (step % CHECK_EVERY == 0) {
			rcu_read_lock();
			assert_matches_model(snapmap_snapshot(map), m);
			rcu_read_unlock();
		}
		if (step == PIN_AT) {
			pin = snapmap_pin(map);
			cr_assert_not_null(pin);
			memcpy(pinned_model, m, sizeof(*m));
		}
	}
	rcu_read_lock();
	assert_matches_model(snapmap_snapshot(map), m);
	rcu_read_unlock();

	ut_barrier();
	assert_matches_model(pin, pinned_model);
	snapmap_unpin(pin);

	snapmap_batch_free(b);
	free(m);
	free(pinned_model);
	ut_map_destroy(map);
}

/*
 * snapmap_iter_next_n: blocks continue where snapmap_iter_next left off
 * and the other way round, a block is cut at the end, and bad arguments
 * are -EINVAL with *n = 0.
 */
Test(iter, next_n_mixes_with_next)
{
	struct snapmap *map = sorted_keys_map();
	const struct snapmap_snapshot *snap;
	struct snapmap_iter it;
	struct snapmap_kv kv, kvs[NKEYS + 3];
	size_t n = 99, at;

	rcu_read_lock();
	snap = snapmap_snapshot(map);
	cr_assert_eq(snapmap_iter_first(snap, &it, &kv), 0);
	assert_kv_is(&kv, 0);
	cr_assert_eq(snapmap_iter_next_n(&it, kvs, 2, &n), 0);
	cr_assert_eq(n, 2);
	assert_kv_is(&kvs[0], 1);
	assert_kv_is(&kvs[1], 2);
	cr_assert_eq(snapmap_iter_next(&it, &kv), 0);
	assert_kv_is(&kv, 3);
	at = 4;
	cr_assert_eq(snapmap_iter_next_n(&it, kvs, NKEYS + 3, &n), 0);
	cr_assert_eq(n, NKEYS - at, "the block stops at the last key");
	for (size_t i = 0; i < n; i++)
		assert_kv_is(&kvs[i], at + i);
	cr_assert_eq(snapmap_iter_next_n(&it, kvs, 4, &n), -ENOENT);
	cr_assert_eq(n, 0);
	cr_assert_eq(snapmap_iter_next(&it, &kv), -ENOENT);
	cr_assert_eq(snapmap_iter_next_n(&it, kvs, 4, &n), -ENOENT);

	cr_assert_eq(snapmap_iter_first(snap, &it, &kv), 0);
	cr_assert_eq(snapmap_iter_next_n(&it, kvs, 0, &n), -EINVAL);
	cr_assert_eq(n, 0);
	cr_assert_eq(snapmap_iter_next_n(&it, NULL, 1, &n), -EINVAL);
	cr_assert_eq(snapmap_iter_next_n(&it, kvs, 1, NULL), -EINVAL);
	cr_assert_eq(snapmap_iter_next_n(NULL, kvs, 1, &n), -EINVAL);
	/* A failed call leaves the iterator where it was. */
	cr_assert_eq(snapmap_iter_next(&it, &kv), 0);
	assert_kv_is(&kv, 1);
	rcu_read_unlock();
	ut_map_destroy(map);
}
