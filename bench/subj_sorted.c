/*
 * subj_sorted.c - floor "sorted": an unsynchronized sorted array of
 * (key, value) with binary search, in the same key order as libsnapmap's
 * default (memcmp, shorter key first on a common prefix).  The built
 * keys live in one contiguous block; keys inserted later are allocated
 * one by one.  Single-threaded only.  Its range scan (a binary search,
 * then a walk along the array) is the scan workload's baseline: the
 * plain array walk the goal compares libsnapmap's iterators with.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct sent {
	const unsigned char *key;
	uint32_t klen;
	uint32_t owned;		/* key allocated on its own (inserted later) */
	uint64_t val;
};

struct sorted {
	struct sent *a;
	size_t n, cap;
	unsigned char *block;
	size_t block_bytes, owned_bytes;
};

static int keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

static int sent_cmp(const void *x, const void *y)
{
	const struct sent *a = x, *b = y;

	return keycmp(a->key, a->klen, b->key, b->klen);
}

/* The index of @key, or of where it would go; *found says which. */
static size_t search(const struct sorted *s, const void *key, size_t klen,
		     int *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = keycmp(s->a[mid].key, s->a[mid].klen, key, klen);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static void *create(const struct keyset *ks)
{
	struct sorted *s = xcalloc(1, sizeof(*s));

	s->n = s->cap = ks->n;
	s->a = xmalloc(s->cap * sizeof(*s->a));
	s->block_bytes = ks->n * ks->klen;
	s->block = xmalloc(s->block_bytes);
	for (size_t i = 0; i < ks->n; i++) {
		unsigned char *k = s->block + i * ks->klen;

		memcpy(k, ks_key(ks, i), ks->klen);
		s->a[i] = (struct sent){ k, (uint32_t)ks->klen, 0,
					 val_make(i, 0) };
	}
	qsort(s->a, s->n, sizeof(*s->a), sent_cmp);
	return s;
}

static int find(void *m, const void *key, size_t klen, uint64_t *val)
{
	struct sorted *s = m;
	int found;
	size_t i = search(s, key, klen, &found);

	if (found)
		*val = s->a[i].val;
	return found;
}

static size_t scan(void *m, const void *key, size_t klen, size_t len,
		   uint64_t *sum)
{
	struct sorted *s = m;
	int found;
	size_t i = search(s, key, klen, &found);	/* first key >= @key */
	size_t end = s->n - i < len ? s->n : i + len;
	uint64_t acc = 0;	/* local: *sum might alias the array */

	for (size_t j = i; j < end; j++)
		acc += (uint32_t)s->a[j].val;
	*sum += acc;
	return end - i;
}

static int put(void *m, const void *key, size_t klen, uint64_t val)
{
	struct sorted *s = m;
	int found;
	size_t i = search(s, key, klen, &found);
	unsigned char *k;

	if (found) {
		s->a[i].val = val;
		return 0;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->a = realloc(s->a, s->cap * sizeof(*s->a));
		if (!s->a)
			die("out of memory");
	}
	k = xmalloc(klen);
	memcpy(k, key, klen);
	s->owned_bytes += klen;
	memmove(&s->a[i + 1], &s->a[i], (s->n - i) * sizeof(*s->a));
	s->a[i] = (struct sent){ k, (uint32_t)klen, 1, val };
	s->n++;
	return 0;
}

static int del(void *m, const void *key, size_t klen)
{
	struct sorted *s = m;
	int found;
	size_t i = search(s, key, klen, &found);

	if (!found)
		return -ENOENT;
	if (s->a[i].owned) {
		s->owned_bytes -= s->a[i].klen;
		free((void *)s->a[i].key);
	}
	memmove(&s->a[i], &s->a[i + 1], (s->n - i - 1) * sizeof(*s->a));
	s->n--;
	return 0;
}

static void destroy(void *m)
{
	struct sorted *s = m;

	for (size_t i = 0; i < s->n; i++)
		if (s->a[i].owned)
			free((void *)s->a[i].key);
	free(s->a);
	free(s->block);
	free(s);
}

static size_t bytes(void *m)
{
	struct sorted *s = m;

	return sizeof(*s) + s->cap * sizeof(*s->a) + s->block_bytes +
	       s->owned_bytes;
}

const struct subject subj_sorted = {
	.name = "sorted",
	.flavor = "-",
	.what = "floor: unsynchronized sorted array, binary search",
	.flags = 0,
	.create = create,
	.find = find,
	.put = put,
	.del = del,
	.batch = NULL,
	.scan = scan,
	.destroy = destroy,
	.bytes = bytes,
};
