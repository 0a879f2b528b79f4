/*
 * layout.c - how a snapshot stores its entries.
 *
 * Layout: one array of entry pointers sorted by key, searched by binary
 * search.  A write builds the next array in one merge pass over the
 * current one and the sorted changes, sharing every untouched entry (one
 * reference each).  This is the only file that knows the layout; the rest
 * of the library goes through the sm_layout_* functions, so the layout
 * can change without touching them.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

static struct snapmap_snapshot *snapshot_alloc(struct snapmap *map,
					       size_t capacity,
					       uint64_t version)
{
	struct snapmap_snapshot *snap;

	if (capacity > (SIZE_MAX - sizeof(*snap)) / sizeof(snap->entries[0]))
		return NULL;
	snap = sm_alloc(sizeof(*snap) + capacity * sizeof(snap->entries[0]));
	if (!snap)
		return NULL;
	urcu_ref_init(&snap->ref);
	snap->map = map;
	snap->version = version;
	snap->count = 0;
	return snap;
}

struct snapmap_snapshot *sm_layout_empty(struct snapmap *map, uint64_t version)
{
	return snapshot_alloc(map, 0, version);
}

static void append(struct snapmap_snapshot *snap, struct sm_entry *e)
{
	sm_entry_get(e);
	snap->entries[snap->count++] = e;
}

struct snapmap_snapshot *sm_layout_build(struct snapmap *map,
					 struct sm_entry *const *entries,
					 size_t n, uint64_t version)
{
	struct snapmap_snapshot *snap = snapshot_alloc(map, n, version);

	if (!snap)
		return NULL;
	for (size_t i = 0; i < n; i++)
		append(snap, entries[i]);
	return snap;
}

static int compare_entry(const struct snapmap *map, const struct sm_entry *e,
			 const void *key, size_t klen)
{
	return sm_compare(map, sm_entry_key(e), e->klen, key, klen);
}

size_t sm_layout_lower_bound(const struct snapmap_snapshot *snap,
			     const void *key, size_t klen)
{
	size_t lo = 0, hi = snap->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (compare_entry(snap->map, snap->entries[mid], key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct sm_entry *sm_layout_find(const struct snapmap_snapshot *snap,
				      const void *key, size_t klen)
{
	size_t pos = sm_layout_lower_bound(snap, key, klen);

	if (pos < snap->count &&
	    compare_entry(snap->map, snap->entries[pos], key, klen) == 0)
		return snap->entries[pos];
	return NULL;
}

const struct sm_entry *sm_layout_at(const struct snapmap_snapshot *snap,
				    size_t pos)
{
	return pos < snap->count ? snap->entries[pos] : NULL;
}


struct snapmap_snapshot *sm_layout_merge(const struct snapmap_snapshot *old,
					 const struct sm_change *changes,
					 size_t nchanges, uint64_t version)
{
	struct snapmap *map = old->map;
	struct snapmap_snapshot *snap;
	size_t i = 0, j = 0;

	if (nchanges > SIZE_MAX - old->count)
		return NULL;
	snap = snapshot_alloc(map, old->count + nchanges, version);
	if (!snap)
		return NULL;

	/* Nothing below can fail, so a failed merge never leaves a half-built
	 * snapshot holding references. */
	while (i < old->count || j < nchanges) {
		int c;

		if (j == nchanges)
			c = -1;
		else if (i == old->count)
			c = 1;
		else
			c = compare_entry(map, old->entries[i],
					  changes[j].key, changes[j].klen);
		if (c < 0) {
			append(snap, old->entries[i++]);
			continue;
		}
		if (c == 0)
			i++;	/* replaced or deleted by changes[j] */
		if (changes[j].entry)
			append(snap, changes[j].entry);
		j++;
	}
	return snap;
}

void sm_layout_free(struct snapmap_snapshot *snap)
{
	for (size_t i = 0; i < snap->count; i++)
		sm_entry_put(snap->map, snap->entries[i]);
	sm_free(snap);
}
