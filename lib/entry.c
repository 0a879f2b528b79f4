/*
 * entry.c - immutable key/value entries.
 *
 * An entry is built once by a writer and never modified afterwards, so
 * consecutive snapshots share it instead of copying it.  It has at most
 * two references: the creation reference of the op that built it, and
 * one shared by every snapshot version that holds it (taken by the
 * publish that first stores it, dropped by reclaim.c when no live
 * snapshot holds it any more).  Shared entries cost a write nothing.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

int sm_bytewise_compare(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return (alen > blen) - (alen < blen);
}

static int check_bytes(const void *p, size_t len, size_t max)
{
	if (!p && len)
		return -EINVAL;
	if (len > max)
		return -E2BIG;
	return 0;
}

int sm_check_key(const struct snapmap *map, const void *key, size_t klen)
{
	return check_bytes(key, klen, map->max_key_len);
}

int sm_check_value(const struct snapmap *map, const void *val, size_t vlen)
{
	return check_bytes(val, vlen, map->max_value_len);
}

struct sm_entry *sm_entry_new(const void *key, size_t klen,
			      const void *val, size_t vlen)
{
	struct sm_entry *e = sm_alloc(sizeof(*e) + vlen + klen);

	if (!e)
		return NULL;
	urcu_ref_init(&e->ref);
	e->klen = (uint32_t)klen;
	e->vlen = (uint32_t)vlen;
	if (vlen)
		memcpy(e->data, val, vlen);
	if (klen)
		memcpy(e->data + vlen, key, klen);
	return e;
}

void sm_entry_get(struct sm_entry *e)
{
	urcu_ref_get(&e->ref);
}

/*
 * The reference count is updated with liburcu's uatomic, which
 * ThreadSanitizer cannot see (inline asm).  In TSan builds, tell it about
 * the ordering uatomic_sub_return gives (a full barrier): every put
 * releases, and the thread dropping the last reference acquires before
 * it frees.
 */
static bool entry_put_last(struct sm_entry *e)
{
	long left;

#ifdef SM_TSAN
	__tsan_release(&e->ref);
#endif
	left = uatomic_sub_return(&e->ref.refcount, 1);
#ifdef SM_TSAN
	if (left == 0)
		__tsan_acquire(&e->ref);
#endif
	return left == 0;
}

void sm_entry_put(struct snapmap *map, struct sm_entry *e)
{
	if (!entry_put_last(e))
		return;
	if (map->value_destroy) {
		sm_destructor_enter();
		map->value_destroy(e->data, e->vlen, map->destroy_ctx);
		sm_destructor_leave();
	}
	sm_free(e);
}

void sm_entry_discard(struct sm_entry *e)
{
	if (entry_put_last(e))
		sm_free(e);
}
