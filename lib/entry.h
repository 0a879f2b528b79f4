/*
 * entry.h - entries (entry.c): the record that holds a key and its value,
 * staged by a write or stored in a chunk's arena; the checks of key and
 * value lengths; and running the map's value destructor, so that every
 * value handed to a write is destroyed exactly once.
 */
#ifndef SNAPMAP_ENTRY_H
#define SNAPMAP_ENTRY_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "snapmap.h"

/*
 * An entry: a key and its value, in one of two places.  A write stages
 * its entries on their own (sm_entry_new); a snapshot stores them as
 * records in the arena of the chunk that holds them (layout.h), and a
 * write that rebuilds a chunk copies its records.  Both have this
 * header, the value after it and the key after the value.  The value is
 * aligned for any object that fits in it (sm_value_align).
 */
struct sm_entry {
	uint32_t klen;
	uint32_t vlen;
	unsigned char data[];
};

static inline const void *sm_entry_key(const struct sm_entry *e)
{
	return e->data + e->vlen;
}

static inline const void *sm_entry_val(const struct sm_entry *e)
{
	return e->data;
}

/* An entry as readers see it. */
static inline struct snapmap_kv sm_entry_kv(const struct sm_entry *e)
{
	return (struct snapmap_kv){
		sm_entry_key(e), e->klen, sm_entry_val(e), e->vlen,
	};
}

/* Bytes of an entry's record, header included, without padding. */
static inline size_t sm_entry_span(const struct sm_entry *e)
{
	return sizeof(*e) + (size_t)e->vlen + e->klen;
}

/* How many leading bytes the keys of @a and @b share. */
static inline size_t sm_common_prefix(const struct sm_entry *a,
				      const struct sm_entry *b)
{
	const unsigned char *ka = sm_entry_key(a), *kb = sm_entry_key(b);
	size_t n = a->klen < b->klen ? a->klen : b->klen, i = 0;

	while (i < n && ka[i] == kb[i])
		i++;
	return i;
}

/*
 * The alignment a value of @vlen bytes is stored at: the largest power of
 * two <= @vlen, at most alignof(max_align_t).  Any object type of at most
 * @vlen bytes needs no more (an alignment divides the size), so a struct
 * with a flexible array member is aligned too; a 3-byte string costs 2.
 */
static inline size_t sm_value_align(size_t vlen)
{
	size_t a = alignof(max_align_t);

	while (a > 1 && a > vlen)
		a /= 2;
	return vlen ? a : alignof(max_align_t);
}

/* Checks lengths against @map's limits; -EINVAL, -E2BIG. */
int sm_check_key(const struct snapmap *map, const void *key, size_t klen);
int sm_check_value(const struct snapmap *map, const void *val, size_t vlen);

/* A staged entry of the caller's; NULL on ENOMEM.  Its value is aligned
 * to alignof(max_align_t). */
struct sm_entry *sm_entry_new(const void *key, size_t klen,
			      const void *val, size_t vlen);
/* Frees a staged entry; its value is the caller's business. */
void sm_entry_free(struct sm_entry *e);
/*
 * Runs @map's value destructor, if any, on @e's value: a value handed to
 * the map that no snapshot can show any more, or that no snapshot will
 * ever show (the write failed, or a later value of the same write
 * replaced it).  Every value handed to a write is destroyed exactly once.
 */
void sm_value_destroy(const struct snapmap *map, const struct sm_entry *e);
void sm_value_destroy_bytes(const struct snapmap *map, const void *val,
			    size_t vlen);
/* The same for a value a write refused before copying it (bad arguments,
 * too long, no memory): the caller's own bytes, if it gave any. */
void sm_value_refused(const struct snapmap *map, const void *val,
		      size_t vlen);

#endif /* SNAPMAP_ENTRY_H */
