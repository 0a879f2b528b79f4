/*
 * subj_uthash.c - floor "uthash": an unsynchronized uthash table
 * (uttable.c).  Single-threaded only; also the victim of the lost-update
 * demonstration.
 */
#include "config.h"

#include <stdlib.h>

#include "bench.h"
#include "uttable.h"

static void *create(const struct keyset *ks)
{
	struct uttable *t = xcalloc(1, sizeof(*t));

	ut_build(t, ks);
	return t;
}

static int find(void *m, const void *key, size_t klen, uint64_t *val)
{
	struct ut_entry *e = ut_lookup(m, key, klen);

	if (!e)
		return 0;
	*val = e->val;
	return 1;
}

static int put(void *m, const void *key, size_t klen, uint64_t val)
{
	ut_put(m, key, klen, val);
	return 0;
}

static int del(void *m, const void *key, size_t klen)
{
	return ut_del(m, key, klen);
}

static void destroy(void *m)
{
	ut_clear(m);
	free(m);
}

static size_t bytes(void *m)
{
	return sizeof(struct uttable) + ut_bytes(m);
}

const struct subject subj_uthash = {
	.name = "uthash",
	.flavor = "-",
	.what = "floor: unsynchronized uthash",
	.flags = 0,
	.create = create,
	.find = find,
	.put = put,
	.del = del,
	.batch = NULL,
	.destroy = destroy,
	.bytes = bytes,
};
