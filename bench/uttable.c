/*
 * uttable.c - see uttable.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "uttable.h"

static struct ut_entry *entry_new(const void *key, size_t klen, uint64_t val)
{
	struct ut_entry *e = xmalloc(sizeof(*e) + klen);

	memset(&e->hh, 0, sizeof(e->hh));
	e->val = val;
	e->klen = klen;
	memcpy(e->key, key, klen);
	return e;
}

static void add(struct uttable *t, struct ut_entry *e)
{
	HASH_ADD_KEYPTR(hh, t->head, e->key, e->klen, e);
}

void ut_build(struct uttable *t, const struct keyset *ks)
{
	t->head = NULL;
	for (size_t i = 0; i < ks->n; i++)
		add(t, entry_new(ks_key(ks, i), ks->klen, val_make(i, 0)));
}

void ut_put(struct uttable *t, const void *key, size_t klen, uint64_t val)
{
	struct ut_entry *e = ut_lookup(t, key, klen);

	if (e)
		e->val = val;
	else
		add(t, entry_new(key, klen, val));
}

int ut_del(struct uttable *t, const void *key, size_t klen)
{
	struct ut_entry *e = ut_lookup(t, key, klen);

	if (!e)
		return -ENOENT;
	HASH_DEL(t->head, e);
	free(e);
	return 0;
}

void ut_clone(struct uttable *dst, const struct uttable *src)
{
	struct ut_entry *e, *tmp;

	dst->head = NULL;
	HASH_ITER(hh, src->head, e, tmp)
		add(dst, entry_new(e->key, e->klen, e->val));
}

void ut_clear(struct uttable *t)
{
	struct ut_entry *e, *tmp;

	HASH_ITER(hh, t->head, e, tmp) {
		HASH_DEL(t->head, e);
		free(e);
	}
}

size_t ut_bytes(const struct uttable *t)
{
	struct ut_entry *e, *tmp;
	size_t b = 0;

	if (!t->head)
		return 0;
	HASH_ITER(hh, t->head, e, tmp)
		b += sizeof(*e) - sizeof(e->hh) + e->klen;
	return b + HASH_OVERHEAD(hh, t->head);
}
