/*
 * entry.c - key and value checks, staged entries, value destructors.
 *
 * A write copies its key and value into a staged entry before it takes
 * the writer mutex; the publish copies the entry into the arena of the
 * chunk that holds it (build.c), and the write frees the staged one.
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

/*
 * A staged entry sits 8 bytes into its allocation, so that its value,
 * right after the 8-byte header, is aligned to max_align_t.
 */
#define STAGE_OFFSET	(alignof(max_align_t) - sizeof(struct sm_entry))

struct sm_entry *sm_entry_new(const void *key, size_t klen,
			      const void *val, size_t vlen)
{
	unsigned char *mem = sm_alloc(STAGE_OFFSET + sizeof(struct sm_entry) +
				      vlen + klen);
	struct sm_entry *e;

	if (!mem)
		return NULL;
	e = (struct sm_entry *)(mem + STAGE_OFFSET);
	e->klen = (uint32_t)klen;
	e->vlen = (uint32_t)vlen;
	if (vlen)
		memcpy(e->data, val, vlen);
	if (klen)
		memcpy(e->data + vlen, key, klen);
	return e;
}

void sm_entry_free(struct sm_entry *e)
{
	if (e)
		sm_free((unsigned char *)e - STAGE_OFFSET);
}

void sm_value_destroy_bytes(const struct snapmap *map, const void *val,
			    size_t vlen)
{
	if (!map->value_destroy)
		return;
	sm_destructor_enter();
	map->value_destroy((void *)(val ? val : ""), vlen, map->destroy_ctx);
	sm_destructor_leave();
}

void sm_value_destroy(const struct snapmap *map, const struct sm_entry *e)
{
	sm_value_destroy_bytes(map, sm_entry_val(e), e->vlen);
}

void sm_value_refused(const struct snapmap *map, const void *val,
		      size_t vlen)
{
	if (val || !vlen)
		sm_value_destroy_bytes(map, val, vlen);
}
