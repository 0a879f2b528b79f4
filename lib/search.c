/*
 * search.c - reading the snapshot layout (layout.h): look-ups, seeks
 * and cursors.
 * Everything here runs in readers, inside their read-side critical
 * section or on a pinned snapshot, and stores to nothing shared.
 */
#include "layout.h"

/* The SIMD search paths: x86-64 with GCC or Clang; elsewhere the scalar
 * path alone. */
#if defined(__x86_64__) && defined(__GNUC__)
#define SM_SEARCH_X86 1
#include <immintrin.h>
#else
#define SM_SEARCH_X86 0
#endif

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

/* How many of a node's FANOUT prefixes at @p are < @x: one kernel per
 * search path, the same count. */
typedef size_t (*node_count_fn)(const uint64_t *p, uint64_t x);

/* The portable kernel: a binary search of the node, whose steps compile
 * to conditional moves (the node is sorted, padded with PREFIX_END). */
static inline size_t count_scalar(const uint64_t *p, uint64_t x)
{
	const uint64_t *base = p;

	_Static_assert((FANOUT & (FANOUT - 1)) == 0, "halves to 1");
#pragma GCC unroll 8
	for (size_t half = FANOUT / 2; half > 0; half /= 2)
		base = prefix_less(base[half], x) ? base + half : base;
	return (size_t)(base - p) + prefix_less(*base, x);
}

#if SM_SEARCH_X86
/*
 * The x86 kernels: prefixes are biased (layout.h), so the signed compare
 * orders them.  Each lane that compares true is -1; subtracting the
 * masks counts them.  Nodes start on a cache line: aligned loads.
 */
static inline __attribute__((target("sse4.2"), always_inline))
size_t count_sse42(const uint64_t *p, uint64_t x)
{
	__m128i key = _mm_set1_epi64x((long long)x);
	__m128i acc = _mm_setzero_si128();

#pragma GCC unroll 16
	for (int i = 0; i < FANOUT; i += 2)
		acc = _mm_sub_epi64(acc, _mm_cmpgt_epi64(key,
			_mm_load_si128((const __m128i *)(p + i))));
	return (size_t)(_mm_cvtsi128_si64(acc) + _mm_extract_epi64(acc, 1));
}

static inline __attribute__((target("avx2"), always_inline))
size_t count_avx2(const uint64_t *p, uint64_t x)
{
	__m256i key = _mm256_set1_epi64x((long long)x);
	__m256i acc = _mm256_setzero_si256();
	__m128i sum;

#pragma GCC unroll 16
	for (int i = 0; i < FANOUT; i += 4)
		acc = _mm256_sub_epi64(acc, _mm256_cmpgt_epi64(key,
			_mm256_load_si256((const __m256i *)(p + i))));
	sum = _mm_add_epi64(_mm256_castsi256_si128(acc),
			    _mm256_extracti128_si256(acc, 1));
	return (size_t)(_mm_cvtsi128_si64(sum) + _mm_extract_epi64(sum, 1));
}
#endif

/*
 * Where the items of a tree's leaf positions are: with @side non-NULL,
 * the @lines lines at @side + @side_stride * (leaf node) hold those of
 * that node's 16 positions (a chunk's record offsets, a level's page or
 * chunk pointers).  They are fetched while the node is counted, so that
 * reading the item after the count does not wait for memory again.
 */
struct leaf_items {
	const char *side;
	size_t side_stride;
	size_t lines;		/* 1 or 2 */
};

#define NO_ITEMS	((struct leaf_items){ NULL, 0, 0 })

/*
 * A chunk's or page's first node usually starts where its header's lines
 * end (the shared bytes fit in the header): fetched with the header, not
 * after it, without reading the header for where it is.  A guess that is
 * wrong (long shared bytes) costs a wasted fetch, not a wrong answer.
 */
#define LINES_OF(bytes)		(((bytes) + LINE - 1) / LINE * LINE)
#define FIRST_NODE_GUESS	LINES_OF(sizeof(struct sm_chunk))
_Static_assert(LINES_OF(sizeof(struct sm_page)) == FIRST_NODE_GUESS,
	       "pages and chunks put their first node at the same place");

static inline void fetch_first_node(const void *obj)
{
	__builtin_prefetch((const char *)obj + FIRST_NODE_GUESS);
	__builtin_prefetch((const char *)obj + FIRST_NODE_GUESS + LINE);
}

/* First of the @n leaves of tree @t (at @base, leaf nodes @stride u64
 * apart) that is >= @x: down the index, one node a level, counted by
 * @count. */
static inline __attribute__((always_inline))
size_t tree_bound(const void *base, const struct sm_tree *t, size_t n,
		  size_t stride, uint64_t x, node_count_fn count,
		  struct leaf_items items)
{
	const char *at = base;
	size_t block = 0;

	for (uint32_t l = 0; l < t->nup; l++) {
		const uint64_t *level = (const uint64_t *)(at + t->up_off[l]);
		size_t i = count(level + FANOUT * block, x);

		/* Below the top, some prefix of the block is >= @x: its
		 * parent, the block's last, was. */
		if (l == 0 && i == t->top)
			return n;
		block = FANOUT * block + i;
	}
	if (items.side) {
		const char *line = items.side + items.side_stride * block;

		__builtin_prefetch(line);
		if (items.lines > 1)
			__builtin_prefetch(line + LINE);
	}
	return FANOUT * block +
	       count((const uint64_t *)(at + t->leaf_off) + stride * block, x);
}

/* First position of chunk @c whose prefix is >= @x; the record offsets
 * of the leaf node it counts are fetched. */
static inline __attribute__((always_inline))
size_t prefix_bound(const struct sm_chunk *c, uint64_t x, node_count_fn count)
{
	return tree_bound(c, &c->tree, c->count, CHUNK_STRIDE, x, count,
			  (struct leaf_items){
				  (const char *)chunk_leaves(c)->record,
				  sizeof(struct leaf_block), 1 });
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
	/* The next prefix up: kp + 1 in the biased order. */
	hi = kp == PREFIX_END ? n : run_end(obj, kp + 1);
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

/* The end of a run of ties: rare, so the scalar count serves every path. */
static size_t chunk_run_end(const void *c, uint64_t next)
{
	return prefix_bound(c, next, count_scalar);
}

static uint64_t level_prefix_of(const void *level, size_t i)
{
	return ((const struct level *)level)->prefix[i];
}

static size_t level_run_end(const void *level, uint64_t next)
{
	const struct level *l = level;

	return tree_bound(l->base, l->tree, l->n, FANOUT, next, count_scalar,
			  NO_ITEMS);
}

/*
 * Lower bound of @key in chunk @c; *@exact tells whether the entry there
 * is @key.
 */
size_t sm_chunk_lower_bound(const struct snapmap_snapshot *snap,
			    const struct sm_chunk *c,
			    const void *key, size_t klen, bool *exact)
{
	const struct snapmap *map = snap->map;
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
	pos = settle_ties(c, snap->search->bound(c, kp), c->count, kp,
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
size_t level_of(const struct snapmap *map, const struct level *l,
		const void *key, size_t klen, node_count_fn count)
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
		/* The first keys themselves are read only on a tie. */
		kp = key_prefix(key, klen, l->skip);
		n = tree_bound(l->base, l->tree, l->n, FANOUT, kp, count,
			       (struct leaf_items){
				       (const char *)l->items,
				       FANOUT * sizeof(void *), 2 });
		if (n < l->n && l->prefix[n] == kp)
			n = level_tie(l, n, kp, key, klen);
	}
	return n ? n - 1 : 0;
}

/*
 * The chunk @key falls into, down both directory levels; *@page and
 * *@slot say where it is.  @snap has at least one chunk.  Forced inline,
 * with level_of(), into each search path: it is the path of every
 * look-up, and out of line the calls and the spilled state showed in
 * callgrind's counts (README).
 */
static inline __attribute__((always_inline))
const struct sm_chunk *chunk_of(const struct snapmap_snapshot *snap,
				const void *key, size_t klen, size_t *page,
				size_t *slot, node_count_fn count)
{
	struct level l = top_level(snap);
	const struct sm_page *p;

	*page = level_of(snap->map, &l, key, klen, count);
	p = snap->pages[*page];
	fetch_first_node(p);
	l = page_level(p);
	*slot = level_of(snap->map, &l, key, klen, count);
	fetch_first_node(p->chunks[*slot]);
	return p->chunks[*slot];
}

/* Outside the look-up (seeks, writes, tests) the directory is searched
 * with the scalar count: one copy of that code serves them all. */
void sm_layout_place(const struct snapmap_snapshot *snap, const void *key,
		     size_t klen, size_t *page, size_t *slot)
{
	chunk_of(snap, key, klen, page, slot, count_scalar);
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
	sm_layout_place(snap, key, klen, &cur->page, &cur->slot);
	c = cursor_chunk(snap, cur);
	cur->index = sm_chunk_lower_bound(snap, c, key, klen, &exact);
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
 * layout_seek(), with the usual cases decided inline and the nodes
 * counted by @count.  A key whose 8-byte prefix equals an item's first
 * one, or more than one entry's in its chunk, is settled by the general
 * search.
 */
static inline __attribute__((always_inline))
const struct sm_entry *find_bytewise(const struct snapmap_snapshot *snap,
				     const void *key, size_t klen,
				     node_count_fn count)
{
	const struct sm_chunk *c;
	const struct sm_entry *e;
	size_t pos, page, slot;
	uint64_t kp;
	int cmp;

	if (snap->npages == 0)
		return NULL;
	c = chunk_of(snap, key, klen, &page, &slot, count);

	if (against_shared(key, klen, chunk_shared(c), c->skip))
		return NULL;	/* not among the chunk's keys */
	kp = key_prefix(key, klen, c->skip);
	pos = prefix_bound(c, kp, count);
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

/*
 * The search paths: the look-up and chunk search compiled once per
 * kernel, each with its instruction set (@attr), so that the kernel and
 * the search around it are one function with no call per node.
 */
#define SEARCH_PATH(name, attr, count)					\
	static attr size_t bound_##name(const struct sm_chunk *c,	\
					uint64_t x)			\
	{								\
		return prefix_bound(c, x, count);			\
	}								\
	static attr const struct sm_entry *find_##name(			\
		const struct snapmap_snapshot *snap, const void *key,	\
		size_t klen)						\
	{								\
		return find_bytewise(snap, key, klen, count);		\
	}								\
	static const struct sm_search search_##name = {		\
		#name, count, find_##name, bound_##name,		\
	}

SEARCH_PATH(scalar, , count_scalar);
#if SM_SEARCH_X86
SEARCH_PATH(sse42, __attribute__((target("sse4.2"))), count_sse42);
SEARCH_PATH(avx2, __attribute__((target("avx2"))), count_avx2);
#endif

/* The paths from the best down, with what each needs of the CPU. */
static bool cpu_has(const char *name)
{
#if SM_SEARCH_X86
	__builtin_cpu_init();
	if (strcmp(name, "avx2") == 0)
		return __builtin_cpu_supports("avx2");
	if (strcmp(name, "sse42") == 0)
		return __builtin_cpu_supports("sse4.2");
#endif
	return strcmp(name, "scalar") == 0;
}

const struct sm_search *sm_search_pick(const char *want)
{
	static const struct sm_search *const paths[] = {
#if SM_SEARCH_X86
		&search_avx2, &search_sse42,
#endif
		&search_scalar,
	};
	size_t i = 0, n = sizeof(paths) / sizeof(paths[0]);

	/* Skip down to the named path, if one is named. */
	while (want && i < n && strcmp(paths[i]->name, want) != 0)
		i++;
	if (i == n)
		i = 0;	/* an unknown name sets no limit */
	while (!cpu_has(paths[i]->name))
		i++;	/* scalar, the last, runs everywhere */
	return paths[i];
}

const struct sm_entry *sm_layout_find(const struct snapmap_snapshot *snap,
				      const void *key, size_t klen)
{
	struct sm_cursor cur;

	if (bytewise(snap->map))
		return snap->search->find(snap, key, klen);
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

#define SCAN_AHEAD	(8 * LINE)

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
		for (; i < end; i++) {
			const struct sm_entry *e = chunk_entry_at(c, i);

			/* Records lie in key order in the arena: fetch ahead
			 * of the walk (the CPU's own prefetcher stops at each
			 * page and starts again with each chunk). */
			__builtin_prefetch((const char *)e + SCAN_AHEAD);
			kv[done++] = sm_entry_kv(e);
		}
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
	sm_layout_place(snap, key, klen, &page, &slot);
	return snap->pages[page]->chunks[slot]->count;
}

