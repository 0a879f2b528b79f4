/*
 * search.c - reading the snapshot layout (layout.h): look-ups, seeks,
 * cursors and what reclamation asks about retired chunks and pages.
 * Everything here runs in readers, inside their read-side critical
 * section or on a pinned snapshot, and stores to nothing shared.
 */
#include "layout.h"

static const struct sm_entry *chunk_key_at(const void *chunk, size_t i)
{
	return chunk_entry_at(chunk, i);
}

/* The first key of item @i of a level. */
static const struct sm_entry *level_key_at(const void *level, size_t i)
{
	const struct level *l = level;

	return l->pages ? page_first(l->items[i]) : chunk_first(l->items[i]);
}

/* Position of @key among @n sorted entries by the map's comparator: the
 * number of entries < @key, or with @upper, <= @key. */
static size_t generic_search(const struct snapmap *map, size_t n,
			     const struct sm_entry *(*key_at)(const void *,
							      size_t),
			     const void *obj, const void *key, size_t klen,
			     bool upper)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct sm_entry *e = key_at(obj, mid);
		int c = sm_compare(map, sm_entry_key(e), e->klen, key, klen);

		if (c < 0 || (c == 0 && upper))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First position of the chunk whose prefix is >= @x: down the index. */
static size_t chunk_prefix_bound(const struct sm_chunk *c, uint64_t x)
{
	size_t block = 0;

	for (uint32_t l = 0; l < c->nup; l++) {
		const uint64_t *level =
			(const uint64_t *)((const char *)c + c->up_off[l]);
		size_t i = count_less8(level + FANOUT * block, x);

		/* Below the top, some prefix of the block is >= @x: its
		 * parent, the block's last, was. */
		if (l == 0 && i == c->top)
			return c->count;
		block = FANOUT * block + i;
	}
	return FANOUT * block + count_less8(chunk_leaves(c)[block].prefix, x);
}

/*
 * The entries from @pos to @end share @key's 8-byte prefix (@end: the
 * first past them, computed only when needed): returns the position of
 * @key among them, past those whose key is < @key (with @upper, <=),
 * comparing only what follows the prefix (@off bytes in).  Usually the
 * run is one entry long; when many keys share those bytes too (paths of
 * one subtree), a few steps, then a binary search over the run.
 * *@cmp: the comparison of the entry there with @key (1 past the run).
 */
static inline size_t settle_ties(const void *obj, size_t pos, size_t n,
				 uint64_t kp,
				 uint64_t (*prefix_at)(const void *, size_t),
				 const struct sm_entry *(*key_at)(const void *,
								  size_t),
				 size_t (*run_end)(const void *, uint64_t),
				 const void *key, size_t klen, size_t off,
				 bool upper, int *cmp)
{
	size_t lo, hi;

	for (int step = 0; step < 4; step++, pos++) {
		if (pos >= n || prefix_at(obj, pos) != kp) {
			*cmp = 1;
			return pos;
		}
		*cmp = tail_cmp(key_at(obj, pos), key, klen, off);
		if (*cmp > 0 || (*cmp == 0 && !upper))
			return pos;
	}
	lo = pos;
	hi = kp == UINT64_MAX ? n : run_end(obj, kp + 1);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = tail_cmp(key_at(obj, mid), key, klen, off);

		if (c < 0 || (c == 0 && upper))
			lo = mid + 1;
		else
			hi = mid;
	}
	*cmp = lo < n && prefix_at(obj, lo) == kp ?
	       tail_cmp(key_at(obj, lo), key, klen, off) : 1;
	return lo;
}

static uint64_t chunk_prefix_of(const void *c, size_t i)
{
	return chunk_prefix_at(c, i);
}

static size_t chunk_run_end(const void *c, uint64_t next)
{
	return chunk_prefix_bound(c, next);
}

static uint64_t level_prefix_of(const void *level, size_t i)
{
	return ((const struct level *)level)->prefix[i];
}

static size_t level_run_end(const void *level, uint64_t next)
{
	const struct level *l = level;

	return lower_bound_u64(l->prefix, l->n, next);
}

/*
 * Lower bound of @key in chunk @c; *@exact tells whether the entry there
 * is @key.
 */
size_t sm_chunk_lower_bound(const struct snapmap *map,
				const struct sm_chunk *c,
				const void *key, size_t klen, bool *exact)
{
	size_t pos, off = (size_t)c->skip + 8;
	int side, cmp = 1;
	uint64_t kp;

	if (!bytewise(map)) {
		pos = generic_search(map, c->count, chunk_key_at, c, key, klen,
				     false);
		*exact = pos < c->count &&
			 sm_compare(map, sm_entry_key(chunk_entry_at(c, pos)),
				    chunk_entry_at(c, pos)->klen, key,
				    klen) == 0;
		return pos;
	}
	*exact = false;
	side = against_shared(key, klen, chunk_shared(c), c->skip);
	if (side)
		return side < 0 ? 0 : c->count;
	kp = key_prefix(key, klen, c->skip);
	pos = settle_ties(c, chunk_prefix_bound(c, kp), c->count, kp,
			  chunk_prefix_of, chunk_key_at, chunk_run_end, key,
			  klen, off, false, &cmp);
	*exact = cmp == 0;
	return pos;
}

/* Past the items of @l whose first key is <= @key, from @pos on, where
 * the 8-byte prefixes tie with @key's (@kp).  Rare: kept out of line. */
static __attribute__((noinline))
size_t level_tie(const struct level *l, size_t pos, uint64_t kp,
		 const void *key, size_t klen)
{
	int cmp;

	return settle_ties(l, pos, l->n, kp, level_prefix_of, level_key_at,
			   level_run_end, key, klen, l->skip + 8, true, &cmp);
}

/*
 * The item of level @l @key falls into: the last one whose first key is
 * <= @key, or the first one.  A level of one item is not searched (the
 * next level tells whether @key is there).
 */
static inline __attribute__((always_inline))
size_t level_of(const struct snapmap *map,
			      const struct level *l, const void *key,
			      size_t klen)
{
	size_t n;
	int side;
	uint64_t kp;

	if (l->n == 1)
		return 0;
	if (!bytewise(map)) {
		n = generic_search(map, l->n, level_key_at, l, key, klen, true);
	} else if ((side = against_shared(key, klen, l->shared,
					  l->skip)) != 0) {
		n = side < 0 ? 0 : l->n;
	} else {
		/* A level is small and hot: a binary search over it, and
		 * the first keys themselves only on a tie. */
		kp = key_prefix(key, klen, l->skip);
		n = lower_bound_u64(l->prefix, l->n, kp);
		if (n < l->n && l->prefix[n] == kp)
			n = level_tie(l, n, kp, key, klen);
	}
	return n ? n - 1 : 0;
}

/*
 * The chunk @key falls into, down both directory levels; *@page and
 * *@slot say where it is.  @snap has at least one chunk.  Forced inline,
 * with level_of(), into every caller: it is the path of every look-up,
 * and out of line the two cost some 35 more instructions a look-up at
 * 1,000 keys (callgrind: 333 against 367).
 */
static inline __attribute__((always_inline))
const struct sm_chunk *chunk_of(const struct snapmap_snapshot *snap,
				const void *key, size_t klen, size_t *page,
				size_t *slot)
{
	struct level l = top_level(snap);
	const struct sm_page *p;

	*page = level_of(snap->map, &l, key, klen);
	p = snap->pages[*page];
	l = page_level(p);
	*slot = level_of(snap->map, &l, key, klen);
	return p->chunks[*slot];
}

void sm_layout_place(const struct snapmap_snapshot *snap, const void *key,
		     size_t klen, size_t *page, size_t *slot)
{
	chunk_of(snap, key, klen, page, slot);
}

/* The chunk under a cursor; the cursor is on a chunk. */
static inline const struct sm_chunk *cursor_chunk(
	const struct snapmap_snapshot *snap, const struct sm_cursor *cur)
{
	return snap->pages[cur->page]->chunks[cur->slot];
}

/* Moves @cur to the first entry of the next chunk (or past the end). */
static void cursor_next_chunk(const struct snapmap_snapshot *snap,
			      struct sm_cursor *cur)
{
	cur->index = 0;
	if (++cur->slot < snap->pages[cur->page]->count)
		return;
	cur->slot = 0;
	cur->page++;
}

/* Cursor on the first entry >= @key; returns whether it is @key. */
static bool layout_seek(const struct snapmap_snapshot *snap,
			const void *key, size_t klen, struct sm_cursor *cur)
{
	const struct sm_chunk *c;
	bool exact;

	*cur = (struct sm_cursor){ 0, 0, 0 };
	if (snap->npages == 0)
		return false;
	c = chunk_of(snap, key, klen, &cur->page, &cur->slot);
	cur->index = sm_chunk_lower_bound(snap->map, c, key, klen, &exact);
	if (cur->index == c->count)
		cursor_next_chunk(snap, cur);
	return exact;
}

void sm_layout_seek(const struct snapmap_snapshot *snap,
		    const void *key, size_t klen, struct sm_cursor *cur)
{
	layout_seek(snap, key, klen, cur);
}

/*
 * A bytewise look-up, on the path of every read: the same search as
 * layout_seek(), with the usual cases decided inline.  A key whose 8-byte
 * prefix equals an item's first one, or more than one entry's in its
 * chunk, is settled by the general search.
 */
static const struct sm_entry *find_bytewise(const struct snapmap_snapshot *snap,
					    const void *key, size_t klen)
{
	const struct sm_chunk *c;
	const struct sm_entry *e;
	size_t pos, page, slot;
	uint64_t kp;
	int cmp;

	if (snap->npages == 0)
		return NULL;
	c = chunk_of(snap, key, klen, &page, &slot);

	if (against_shared(key, klen, chunk_shared(c), c->skip))
		return NULL;	/* not among the chunk's keys */
	kp = key_prefix(key, klen, c->skip);
	pos = chunk_prefix_bound(c, kp);
	if (pos == c->count || chunk_prefix_at(c, pos) != kp)
		return NULL;
	e = chunk_entry_at(c, pos);
	cmp = tail_cmp(e, key, klen, (size_t)c->skip + 8);
	if (cmp == 0)
		return e;
	if (cmp > 0)
		return NULL;
	/* More entries share the prefix: the general search. */
	pos = settle_ties(c, pos + 1, c->count, kp, chunk_prefix_of,
			  chunk_key_at, chunk_run_end, key, klen,
			  (size_t)c->skip + 8, false, &cmp);
	return cmp == 0 ? chunk_entry_at(c, pos) : NULL;
}

const struct sm_entry *sm_layout_find(const struct snapmap_snapshot *snap,
				      const void *key, size_t klen)
{
	struct sm_cursor cur;

	if (bytewise(snap->map))
		return find_bytewise(snap, key, klen);
	if (!layout_seek(snap, key, klen, &cur))
		return NULL;
	return chunk_entry_at(cursor_chunk(snap, &cur), cur.index);
}

void sm_layout_first(const struct snapmap_snapshot *snap, struct sm_cursor *cur)
{
	(void)snap;
	*cur = (struct sm_cursor){ 0, 0, 0 };
}

const struct sm_entry *sm_layout_next(const struct snapmap_snapshot *snap,
				      struct sm_cursor *cur)
{
	const struct sm_chunk *c;

	if (cur->page >= snap->npages)
		return NULL;
	c = cursor_chunk(snap, cur);
	if (++cur->index < c->count)	/* the usual step: same chunk */
		return chunk_entry_at(c, cur->index);
	cursor_next_chunk(snap, cur);
	return sm_layout_at(snap, cur);
}

size_t sm_layout_next_n(const struct snapmap_snapshot *snap,
			struct sm_cursor *cur, struct snapmap_kv *kv,
			size_t max)
{
	size_t done = 0;

	while (done < max && cur->page < snap->npages) {
		const struct sm_chunk *c = cursor_chunk(snap, cur);
		size_t i = cur->index + 1, end;

		if (i >= c->count) {
			struct sm_cursor next = *cur;

			cursor_next_chunk(snap, &next);
			if (next.page == snap->npages)
				break;
			*cur = next;
			cur->index = SIZE_MAX;	/* before the chunk's first */
			continue;
		}
		end = c->count - i < max - done ? c->count : i + (max - done);
		for (; i < end; i++)
			kv[done++] = sm_entry_kv(chunk_entry_at(c, i));
		cur->index = end - 1;
	}
	if (done == 0)	/* past the end, where sm_layout_next goes */
		*cur = (struct sm_cursor){ snap->npages, 0, 0 };
	return done;
}

const struct sm_entry *sm_layout_at(const struct snapmap_snapshot *snap,
				    const struct sm_cursor *cur)
{
	const struct sm_chunk *c;

	if (cur->page >= snap->npages)
		return NULL;
	c = cursor_chunk(snap, cur);
	return cur->index < c->count ? chunk_entry_at(c, cur->index) : NULL;
}

size_t sm_layout_nchunks(const struct snapmap_snapshot *snap)
{
	size_t n = 0;

	for (size_t i = 0; i < snap->npages; i++)
		n += snap->pages[i]->count;
	return n;
}


size_t sm_layout_chunk_size_of(const struct snapmap_snapshot *snap,
			       const void *key, size_t klen)
{
	size_t page, slot;

	if (snap->npages == 0)
		return 0;
	return chunk_of(snap, key, klen, &page, &slot)->count;
}

bool sm_layout_holds(const struct snapmap_snapshot *snap, uintptr_t item)
{
	/* A chunk or a page is in every version from its birth until the
	 * one that replaced it, and never again.  A grave's value was in
	 * every version before the one that replaced it, back to when it was
	 * written (older than any live snapshot may be: counted as held). */
	switch (item & ITEM_TAGS) {
	case ITEM_GRAVE:
		return true;
	case ITEM_PAGE:
		return ((const struct sm_page *)(item & ~ITEM_TAGS))->birth <=
		       snap->version;
	default:
		return ((const struct sm_chunk *)item)->birth <= snap->version;
	}
}

