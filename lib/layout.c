/*
 * layout.c - how a snapshot stores its entries.
 *
 * A snapshot is a directory of chunks; a chunk is an immutable, sorted
 * run of about CHUNK_TARGET entries.  A write copies the directory and
 * rebuilds only the chunks its changes fall into (O(sqrt n) for one key
 * instead of O(n)); every other chunk, and every untouched entry, is
 * shared with the previous version.
 *
 * Searching: under the default bytewise order every chunk keeps, next to
 * its entry pointers, a dense array of 8-byte key prefixes taken after
 * the bytes all of its keys share (keys such as "key:0000001234" share
 * long prefixes), compared as big-endian integers; the directory does the
 * same with the chunks' first keys.  A look-up is then two branch-free
 * binary searches over contiguous integers and one full key comparison.
 * Under a caller's comparator the same structure is searched with it.
 *
 * Reclamation: a publish reports what the old snapshot held that the new
 * one does not (replaced entries and chunks) as tagged pointers; reclaim.c
 * frees each once no live snapshot holds it, asking sm_layout_holds().
 *
 * This is the only file that knows the layout.
 */
#include "internal.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#define CHUNK_TARGET	1024u			/* entries per built chunk */
#define CHUNK_MAX	(2 * CHUNK_TARGET)	/* split above this */
#define CHUNK_MIN	(CHUNK_TARGET / 4)	/* absorb a neighbour below */

struct sm_chunk {
	uint64_t birth;		/* version of the first snapshot holding it */
	uint32_t count;		/* >= 1 */
	uint32_t skip;		/* bytes every key of the chunk shares */
	/* uint64_t prefix[count]; struct sm_entry *entries[count]; */
};

static inline uint64_t *chunk_prefix(const struct sm_chunk *c)
{
	return (uint64_t *)(c + 1);
}

static inline struct sm_entry **chunk_entries(const struct sm_chunk *c)
{
	return (struct sm_entry **)(chunk_prefix(c) + c->count);
}

static inline const struct sm_entry *chunk_first(const struct sm_chunk *c)
{
	return chunk_entries(c)[0];
}

/* Retired objects are tagged pointers: entries and chunks are 8-aligned. */
#define ITEM_CHUNK	((uintptr_t)1)

static inline bool bytewise(const struct snapmap *map)
{
	return map->compare == NULL;
}

/* ------------------------------------------------------------------ */
/* Key prefixes                                                        */
/* ------------------------------------------------------------------ */

/*
 * The 8 bytes of @key after its first @skip, zero-padded, as a
 * big-endian integer.  Integer order of prefixes agrees with bytewise
 * order of keys that share their first @skip bytes; equal prefixes need a
 * full comparison.
 */
static inline uint64_t key_prefix(const void *key, size_t klen, size_t skip)
{
	const unsigned char *p = (const unsigned char *)key + skip;
	uint64_t v = 0;

	if (klen >= skip + 8)
		memcpy(&v, p, 8);
	else if (klen > skip)
		memcpy(&v, p, klen - skip);
	return be64toh(v);
}

static size_t common_prefix(const struct sm_entry *a, const struct sm_entry *b)
{
	const unsigned char *ka = sm_entry_key(a), *kb = sm_entry_key(b);
	size_t n = a->klen < b->klen ? a->klen : b->klen, i = 0;

	while (i < n && ka[i] == kb[i])
		i++;
	return i;
}

/* First index of @a[0..n) whose value is >= @x, without branches on the
 * data (the ternary compiles to a conditional move). */
static inline size_t lower_bound_u64(const uint64_t *a, size_t n, uint64_t x)
{
	const uint64_t *base = a;

	if (n == 0)
		return 0;
	while (n > 1) {
		size_t half = n / 2;

		base = base[half] < x ? base + half : base;
		n -= half;
	}
	return (size_t)(base - a) + (*base < x);
}

/*
 * Compares @key with the @skip bytes every key of a run shares (@shared
 * points at them): <0 when @key sorts before the whole run, >0 after it,
 * 0 when it starts with them.
 */
static inline int against_shared(const void *key, size_t klen,
				 const void *shared, size_t skip)
{
	int d;

	if (!skip)
		return 0;
	d = memcmp(key, shared, klen < skip ? klen : skip);
	if (d == 0 && klen < skip)
		return -1;
	return d;
}

/*
 * Lower bound of @key in the sorted entries whose prefixes (after @skip
 * shared bytes) are @prefix[0..n): ties on the prefix are settled with
 * full keys, taken by @key_at.
 */
static size_t prefix_lower_bound(const uint64_t *prefix, size_t n, size_t skip,
				 const void *shared,
				 const struct sm_entry *(*key_at)(const void *,
								  size_t),
				 const void *obj, const void *key, size_t klen)
{
	int side = against_shared(key, klen, shared, skip);
	uint64_t kp;
	size_t pos;

	if (side)
		return side < 0 ? 0 : n;
	kp = key_prefix(key, klen, skip);
	pos = lower_bound_u64(prefix, n, kp);
	while (pos < n && prefix[pos] == kp) {
		const struct sm_entry *e = key_at(obj, pos);

		if (sm_bytewise_compare(sm_entry_key(e), e->klen, key, klen) >= 0)
			break;
		pos++;
	}
	return pos;
}

/* ------------------------------------------------------------------ */
/* Search                                                              */
/* ------------------------------------------------------------------ */

static const struct sm_entry *chunk_key_at(const void *chunk, size_t i)
{
	return chunk_entries(chunk)[i];
}

static const struct sm_entry *dir_key_at(const void *snap, size_t i)
{
	return chunk_first(((const struct snapmap_snapshot *)snap)->chunks[i]);
}

/* Lower bound of @key among @n entries given by @key_at, by comparator. */
static size_t generic_lower_bound(const struct snapmap *map, size_t n,
				  const struct sm_entry *(*key_at)(const void *,
								   size_t),
				  const void *obj, const void *key, size_t klen)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct sm_entry *e = key_at(obj, mid);

		if (sm_compare(map, sm_entry_key(e), e->klen, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t chunk_lower_bound(const struct snapmap *map,
				const struct sm_chunk *c,
				const void *key, size_t klen)
{
	if (!bytewise(map))
		return generic_lower_bound(map, c->count, chunk_key_at, c,
					   key, klen);
	return prefix_lower_bound(chunk_prefix(c), c->count, c->skip,
				  sm_entry_key(chunk_first(c)), chunk_key_at, c,
				  key, klen);
}

/* How many chunks have a first key <= @key. */
static size_t dir_upper_count(const struct snapmap_snapshot *snap,
			      const void *key, size_t klen)
{
	const struct snapmap *map = snap->map;
	size_t pos;

	if (snap->nchunks == 0)
		return 0;
	if (!bytewise(map))
		pos = generic_lower_bound(map, snap->nchunks, dir_key_at, snap,
					  key, klen);
	else
		pos = prefix_lower_bound(snap->dir_prefix, snap->nchunks,
					 snap->dir_skip,
					 sm_entry_key(dir_key_at(snap, 0)),
					 dir_key_at, snap, key, klen);
	/* pos counts first keys < @key; one more if the next is equal. */
	if (pos < snap->nchunks) {
		const struct sm_entry *e = dir_key_at(snap, pos);

		if (sm_compare(map, sm_entry_key(e), e->klen, key, klen) == 0)
			pos++;
	}
	return pos;
}

void sm_layout_seek(const struct snapmap_snapshot *snap,
		    const void *key, size_t klen, struct sm_cursor *cur)
{
	size_t n = dir_upper_count(snap, key, klen);

	cur->chunk = n ? n - 1 : 0;
	cur->index = 0;
	if (cur->chunk < snap->nchunks) {
		const struct sm_chunk *c = snap->chunks[cur->chunk];

		cur->index = chunk_lower_bound(snap->map, c, key, klen);
		if (cur->index == c->count) {
			cur->chunk++;
			cur->index = 0;
		}
	}
}

const struct sm_entry *sm_layout_find(const struct snapmap_snapshot *snap,
				      const void *key, size_t klen)
{
	struct sm_cursor cur;
	const struct sm_entry *e;

	sm_layout_seek(snap, key, klen, &cur);
	e = sm_layout_at(snap, &cur);
	if (e && sm_compare(snap->map, sm_entry_key(e), e->klen, key, klen) == 0)
		return e;
	return NULL;
}

void sm_layout_first(const struct snapmap_snapshot *snap, struct sm_cursor *cur)
{
	(void)snap;
	cur->chunk = 0;
	cur->index = 0;
}

void sm_layout_next(const struct snapmap_snapshot *snap, struct sm_cursor *cur)
{
	if (cur->chunk >= snap->nchunks)
		return;
	if (++cur->index >= snap->chunks[cur->chunk]->count) {
		cur->chunk++;
		cur->index = 0;
	}
}

const struct sm_entry *sm_layout_at(const struct snapmap_snapshot *snap,
				    const struct sm_cursor *cur)
{
	const struct sm_chunk *c;

	if (cur->chunk >= snap->nchunks)
		return NULL;
	c = snap->chunks[cur->chunk];
	return cur->index < c->count ? chunk_entries(c)[cur->index] : NULL;
}

bool sm_layout_holds(const struct snapmap_snapshot *snap, uintptr_t item)
{
	const struct sm_entry *e;

	if (item & ITEM_CHUNK)
		/* A chunk is in every version from its birth until the one
		 * that replaced it, and never again. */
		return ((const struct sm_chunk *)(item & ~ITEM_CHUNK))->birth <=
		       snap->version;
	e = (const struct sm_entry *)item;
	return sm_layout_find(snap, sm_entry_key(e), e->klen) == e;
}

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

/* Grows @*arr (of @elem-byte elements) to hold @need; keeps it on ENOMEM. */
static int reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 16;
	void *grown;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		ncap *= 2;
	}
	grown = sm_alloc(ncap * elem);
	if (!grown)
		return -ENOMEM;
	if (*cap)
		memcpy(grown, *arr, *cap * elem);
	sm_free(*arr);
	*arr = grown;
	*cap = ncap;
	return 0;
}

/* The state of one snapshot build. */
struct builder {
	struct snapmap *map;
	uint64_t version;
	struct sm_chunk **dir;		/* the new directory */
	size_t ndir, capdir;
	struct sm_entry **run;		/* entries not yet cut into chunks */
	size_t nrun, caprun;
	struct sm_dropblock *drop;	/* what the old snapshot loses */
	size_t capdrop;
	size_t count;
	int err;
};

static void drop_item(struct builder *b, uintptr_t item)
{
	size_t n = b->drop ? b->drop->n : 0;

	if (b->err)
		return;
	if (n == b->capdrop) {
		size_t cap = b->capdrop ? 2 * b->capdrop : 64;
		struct sm_dropblock *grown;

		grown = sm_alloc(sizeof(*grown) + cap * sizeof(grown->items[0]));
		if (!grown) {
			b->err = -ENOMEM;
			return;
		}
		grown->next = NULL;
		grown->n = n;
		if (n)
			memcpy(grown->items, b->drop->items,
			       n * sizeof(grown->items[0]));
		sm_free(b->drop);
		b->drop = grown;
		b->capdrop = cap;
	}
	b->drop->items[b->drop->n++] = item;
}

static void run_push(struct builder *b, struct sm_entry *e)
{
	if (b->err)
		return;
	b->err = reserve((void **)&b->run, &b->caprun, b->nrun + 1,
			 sizeof(*b->run));
	if (!b->err)
		b->run[b->nrun++] = e;
}

static void dir_push(struct builder *b, struct sm_chunk *c)
{
	if (b->err)
		return;
	b->err = reserve((void **)&b->dir, &b->capdir, b->ndir + 1,
			 sizeof(*b->dir));
	if (!b->err) {
		b->dir[b->ndir++] = c;
		b->count += c->count;
	}
}

static struct sm_chunk *chunk_new(const struct builder *b,
				  struct sm_entry *const *entries, size_t n)
{
	struct sm_chunk *c;
	uint64_t *prefix;

	c = sm_alloc(sizeof(*c) + n * (sizeof(uint64_t) + sizeof(*entries)));
	if (!c)
		return NULL;
	c->birth = b->version;
	c->count = (uint32_t)n;
	c->skip = bytewise(b->map) ?
		  (uint32_t)common_prefix(entries[0], entries[n - 1]) : 0;
	prefix = chunk_prefix(c);
	for (size_t i = 0; i < n; i++)
		prefix[i] = key_prefix(sm_entry_key(entries[i]),
				       entries[i]->klen, c->skip);
	memcpy(chunk_entries(c), entries, n * sizeof(*entries));
	return c;
}

/* Cuts the pending run into chunks of CHUNK_TARGET to CHUNK_MAX entries
 * (fewer only when the run is that short). */
static void run_flush(struct builder *b)
{
	size_t n = b->nrun, pieces, done = 0;

	if (b->err || n == 0)
		return;
	pieces = n <= CHUNK_MAX ? 1 : (n + CHUNK_TARGET - 1) / CHUNK_TARGET;
	for (size_t i = 0; i < pieces && !b->err; i++) {
		size_t len = (n - done) / (pieces - i);
		struct sm_chunk *c = chunk_new(b, b->run + done, len);

		if (!c) {
			b->err = -ENOMEM;
			break;
		}
		dir_push(b, c);
		if (b->err)
			sm_free(c);
		done += len;
	}
	b->nrun = 0;
}

/* Merges chunk @c with @changes[0..n) into the pending run; @c and the
 * entries the changes replace or delete are dropped. */
static void run_merge(struct builder *b, const struct sm_chunk *c,
		      const struct sm_change *changes, size_t n)
{
	struct sm_entry *const *ent = chunk_entries(c);
	size_t i = 0, j = 0;

	drop_item(b, (uintptr_t)c | ITEM_CHUNK);
	while ((i < c->count || j < n) && !b->err) {
		int cmp;

		if (j == n)
			cmp = -1;
		else if (i == c->count)
			cmp = 1;
		else
			cmp = sm_compare(b->map, sm_entry_key(ent[i]),
					 ent[i]->klen, changes[j].key,
					 changes[j].klen);
		if (cmp < 0) {
			run_push(b, ent[i++]);
			continue;
		}
		if (cmp == 0)
			drop_item(b, (uintptr_t)ent[i++]);
		if (changes[j].entry)
			run_push(b, changes[j].entry);
		j++;
	}
}

static void builder_init(struct builder *b, struct snapmap *map,
			 uint64_t version)
{
	memset(b, 0, sizeof(*b));
	b->map = map;
	b->version = version;
}

/*
 * Turns the builder's directory into a snapshot, or, on failure, frees
 * the chunks it built (their entries belong to the caller or to the old
 * snapshot).  Either way frees the builder's scratch.
 */
static struct snapmap_snapshot *builder_finish(struct builder *b,
					       struct sm_dropblock **dropped)
{
	struct snapmap_snapshot *snap = NULL;
	uint64_t *prefix;
	struct sm_chunk **chunks;
	size_t n = b->ndir;

	if (!b->err) {
		snap = sm_alloc(sizeof(*snap) +
				n * (sizeof(*prefix) + sizeof(*chunks)));
		if (!snap)
			b->err = -ENOMEM;
	}
	if (b->err) {
		for (size_t i = 0; i < b->ndir; i++)
			if (b->dir[i]->birth == b->version)
				sm_free(b->dir[i]);
		sm_free(b->drop);
		b->drop = NULL;
	} else {
		memset(snap, 0, sizeof(*snap));
		urcu_ref_init(&snap->ref);
		snap->map = b->map;
		snap->version = b->version;
		snap->count = b->count;
		snap->nchunks = n;
		prefix = (uint64_t *)(snap + 1);
		chunks = (struct sm_chunk **)(prefix + n);
		snap->dir_skip = n > 1 && bytewise(b->map) ?
			(uint32_t)common_prefix(chunk_first(b->dir[0]),
						chunk_first(b->dir[n - 1])) : 0;
		for (size_t i = 0; i < n; i++) {
			const struct sm_entry *first = chunk_first(b->dir[i]);

			chunks[i] = b->dir[i];
			prefix[i] = key_prefix(sm_entry_key(first), first->klen,
					       snap->dir_skip);
		}
		snap->dir_prefix = prefix;
		snap->chunks = chunks;
	}
	if (dropped)
		*dropped = b->drop;
	sm_free(b->dir);
	sm_free(b->run);
	return snap;
}

struct snapmap_snapshot *sm_layout_empty(struct snapmap *map, uint64_t version)
{
	struct builder b;

	builder_init(&b, map, version);
	return builder_finish(&b, NULL);
}

/* Lineage references: a snapshot holding an entry for the first time
 * takes the one reference all of its versions share (see entry.c). */
static void adopt_new_entries(const struct sm_change *changes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (changes[i].entry)
			sm_entry_get(changes[i].entry);
}

struct snapmap_snapshot *sm_layout_merge(const struct snapmap_snapshot *old,
					 const struct sm_change *changes,
					 size_t nchanges, uint64_t version,
					 struct sm_dropblock **dropped)
{
	struct snapmap *map = old->map;
	struct snapmap_snapshot *snap;
	struct builder b;
	size_t j = 0;

	builder_init(&b, map, version);
	for (size_t ci = 0; ci < old->nchunks && !b.err; ci++) {
		const struct sm_chunk *c = old->chunks[ci];
		bool last = ci + 1 == old->nchunks;
		size_t end = j;

		/* Changes before the next chunk's first key belong here (and
		 * those before the first chunk, to the first chunk). */
		if (last) {
			end = nchanges;
		} else {
			const struct sm_entry *next =
				chunk_first(old->chunks[ci + 1]);

			while (end < nchanges &&
			       sm_compare(map, changes[end].key,
					  changes[end].klen, sm_entry_key(next),
					  next->klen) < 0)
				end++;
		}
		if (end == j && b.nrun == 0) {
			dir_push(&b, (struct sm_chunk *)c);	/* shared */
			continue;
		}
		run_merge(&b, c, changes + j, end - j);
		j = end;
		/* A short run absorbs the next chunk rather than leave a
		 * small chunk behind. */
		if (b.nrun >= CHUNK_MIN || last)
			run_flush(&b);
	}
	for (; j < nchanges && !b.err; j++)	/* the map was empty */
		if (changes[j].entry)
			run_push(&b, changes[j].entry);
	run_flush(&b);

	snap = builder_finish(&b, dropped);
	if (snap)
		adopt_new_entries(changes, nchanges);
	return snap;
}

struct snapmap_snapshot *sm_layout_build(const struct snapmap_snapshot *old,
					 struct sm_entry *const *entries,
					 size_t n, uint64_t version,
					 struct sm_dropblock **dropped)
{
	struct snapmap_snapshot *snap;
	struct builder b;

	builder_init(&b, old->map, version);
	for (size_t i = 0; i < old->nchunks; i++) {
		const struct sm_chunk *c = old->chunks[i];

		drop_item(&b, (uintptr_t)c | ITEM_CHUNK);
		for (size_t k = 0; k < c->count; k++)
			drop_item(&b, (uintptr_t)chunk_entries(c)[k]);
	}
	for (size_t done = 0; done < n && !b.err;) {
		size_t len = n - done <= CHUNK_MAX ? n - done : CHUNK_TARGET;

		b.err = reserve((void **)&b.run, &b.caprun, len,
				sizeof(*b.run));
		if (b.err)
			break;
		memcpy(b.run, entries + done, len * sizeof(*entries));
		b.nrun = len;
		run_flush(&b);
		done += len;
	}
	snap = builder_finish(&b, dropped);
	if (snap)
		for (size_t i = 0; i < n; i++)
			sm_entry_get(entries[i]);
	return snap;
}

/* ------------------------------------------------------------------ */
/* Freeing                                                             */
/* ------------------------------------------------------------------ */

void sm_reclaim_free_item(struct snapmap *map, uintptr_t item)
{
	if (item & ITEM_CHUNK)
		sm_free((void *)(item & ~ITEM_CHUNK));
	else
		sm_entry_put(map, (struct sm_entry *)item);
}

void sm_reclaim_free_all(struct snapmap_snapshot *snap)
{
	for (size_t i = 0; i < snap->nchunks; i++) {
		struct sm_chunk *c = snap->chunks[i];

		for (size_t k = 0; k < c->count; k++)
			sm_reclaim_free_item(snap->map,
					     (uintptr_t)chunk_entries(c)[k]);
		sm_reclaim_free_item(snap->map, (uintptr_t)c | ITEM_CHUNK);
	}
}

void sm_layout_free(struct snapmap_snapshot *snap)
{
	sm_free(snap);
}
