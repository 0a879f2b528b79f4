/*
 * uttable.h - a uthash table of (key bytes, u64 value) entries, with no
 * synchronization of its own.  Used by the lock-based subjects, the
 * copy-on-write map and the unsynchronized uthash floor, so that they all
 * run the same, unmodified uthash (default hash function, HASH_JEN, and
 * default growth).
 */
#ifndef BENCH_UTTABLE_H
#define BENCH_UTTABLE_H

#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

struct keyset;

struct ut_entry {
	UT_hash_handle hh;
	uint64_t val;
	size_t klen;
	unsigned char key[];
};

struct uttable {
	struct ut_entry *head;
};

static inline struct ut_entry *ut_lookup(const struct uttable *t,
					 const void *key, size_t klen)
{
	struct ut_entry *e, *head = t->head;

	HASH_FIND(hh, head, key, klen, e);
	return e;
}

/* Keys [0, ks->n) of @ks with val_make(i, 0). */
void ut_build(struct uttable *t, const struct keyset *ks);
/* Overwrite in place, or insert a new entry. */
void ut_put(struct uttable *t, const void *key, size_t klen, uint64_t val);
int ut_del(struct uttable *t, const void *key, size_t klen);
/* A deep copy: every key and value copied into new entries. */
void ut_clone(struct uttable *dst, const struct uttable *src);
void ut_clear(struct uttable *t);
/* Entries (with their keys) plus uthash's own overhead. */
size_t ut_bytes(const struct uttable *t);

#endif /* BENCH_UTTABLE_H */
