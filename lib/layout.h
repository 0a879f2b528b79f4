/*
 * layout.h - the snapshot layout, shared by search.c (reading it),
 * build.c (writing it) and retire.c (freeing what a publish retires).
 * Not installed; only these files include it.
 *
 * A snapshot is a directory of chunks; a chunk is an immutable, sorted
 * run of about CHUNK_TARGET entries, stored in the chunk itself: the
 * search structure, then an arena of records (header, value, key) in key
 * order, so that a look-up reads no memory outside its chunk and a scan
 * walks the arena.  The directory has two levels, both shared between
 * versions like chunks: pages of about PAGE_TARGET chunks, under the
 * snapshot's own list of pages.  A write copies that list, one page and
 * the chunks its changes fall into; everything else is shared with the
 * previous version.
 *
 * Searching: under the default bytewise order every chunk keeps, next to
 * its entry pointers, a dense array of 8-byte key prefixes taken after
 * the bytes all of its keys share (keys such as "key:0000001234" share
 * long prefixes), compared as big-endian integers; both directory levels
 * do the same with their items' first keys.  A look-up walks down three
 * fanout-16 trees over such prefixes (the list's, the page's, the
 * chunk's), each node decided by one count of 16 prefixes, and compares
 * what follows the prefix.
 * Under a caller's comparator the same structure is searched with it.
 *
 * Reclamation: a publish reports the chunks and pages the old snapshot
 * held that the new one does not; retire.c frees each once no live
 * snapshot holds it.  Chunks copy the values
 * they keep, so a value has copies in every chunk version since it was
 * written; when a write replaces or deletes it, in a map with a value
 * destructor, the build keeps one more copy, a grave, which counts as
 * held by every older snapshot and is destroyed when it is freed.  A pin
 * thus keeps the values that die after it, not the chunks they died in.
 */
#ifndef SNAPMAP_LAYOUT_H
#define SNAPMAP_LAYOUT_H

#include "internal.h"
#include "keybytes.h"

#include <string.h>

/* The chunk sizes, SM_CHUNK_* in snapshot.h (tests shape maps by them). */
#define CHUNK_TARGET	SM_CHUNK_TARGET
#define CHUNK_MAX	SM_CHUNK_MAX
#define CHUNK_MIN	SM_CHUNK_MIN

/*
 * Every level of a snapshot is searched with a static tree (struct
 * sm_tree): the sorted prefixes in nodes of 16 (two cache lines,
 * PREFIX_END past the end), and above them index levels of fanout 16
 * holding the last prefix of each node below, top level first.  A
 * node's 16 prefixes are compared with the key at once (a search path,
 * below), so a search reads two lines per level and decides each level
 * without a branch on the data: two levels for up to 256 items.
 *
 * In a chunk the leaves are blocks of 16 prefixes followed by where
 * their 16 records are, as 4-byte offsets from the chunk (the three
 * lines are read together); in a page and the top level the prefixes
 * are one array, beside the array of items.
 */
#define FANOUT		16
#define CHUNK_SKIP_MAX	(64u << 10)	/* shared bytes kept: offsets fit
					 * in 32 bits */
#define MAX_UP		SM_TREE_MAX_UP
#define LINE		SM_LINE
#define CHUNK_STRIDE	(sizeof(struct leaf_block) / sizeof(uint64_t))
					/* u64 from one chunk leaf node to
					 * the next */

/*
 * A chunk starts on a cache line, and a look-up reads only that line of
 * its header: the fields it needs come first, then the shared bytes when
 * they fit in the rest of the line (else they follow the header).
 */
#define CHUNK_SHARED_INLINE	(LINE - 4 * sizeof(uint32_t) - \
				 sizeof(struct sm_tree))

struct sm_chunk {
	uint32_t count;		/* >= 1 */
	uint32_t skip;		/* bytes every key of the chunk shares */
	uint32_t arena_off;	/* the records */
	uint32_t shared_off;	/* the @skip shared bytes */
	struct sm_tree tree;	/* over the leaf blocks' prefixes */
	unsigned char shared_inline[CHUNK_SHARED_INLINE];
	/* Read by writes and reclamation, not by look-ups. */
	uint64_t birth;		/* version of the first snapshot holding it */
	size_t bytes;		/* the allocation's size */
};

/*
 * A record's offset fits in 32 bits: a chunk's records before its last
 * one fill at most SM_ARENA_MAX bytes (a run is cut there), and the
 * header, shared bytes and nodes before the arena are smaller than that.
 */
struct leaf_block {
	uint64_t prefix[FANOUT];	/* PREFIX_END past the end */
	uint32_t record[FANOUT];	/* 0 past the end */
};

_Static_assert(sizeof(struct leaf_block) % LINE == 0,
	       "leaf nodes start on a line");

/*
 * The directory is two levels: the snapshot's top (its own) lists pages,
 * and a page lists about PAGE_TARGET chunks.  Pages are immutable and
 * shared between versions like chunks, so a write copies the top and
 * the page its chunk is in, not a list of every chunk.  Each level keeps
 * the bytes its items' first keys share and 8-byte prefixes after them,
 * searched like a chunk's keys.
 */
#define PAGE_TARGET	64u
#define PAGE_MAX	(2 * PAGE_TARGET)
#define PAGE_MIN	(PAGE_TARGET / 4)

/* Like a chunk, a page starts on a line and a look-up reads the first,
 * with the shared bytes in it when they fit. */
#define PAGE_SHARED_INLINE	(LINE - 3 * sizeof(uint32_t) - \
				 sizeof(struct sm_tree) - sizeof(void *))

struct sm_page {
	uint32_t count;		/* chunks, >= 1 */
	uint32_t skip;		/* bytes their first keys share */
	uint32_t shared_off;	/* those bytes */
	/* Over the first keys' prefixes after the shared bytes (its
	 * leaves are those prefixes, one array). */
	struct sm_tree tree;
	struct sm_chunk *const *chunks;
	unsigned char shared_inline[PAGE_SHARED_INLINE];
	/* Read by writes and reclamation, not by look-ups. */
	uint64_t birth;		/* version of the first snapshot holding it */
	size_t bytes;		/* the allocation's size */
};

_Static_assert(offsetof(struct sm_chunk, birth) <= LINE &&
	       offsetof(struct sm_page, birth) <= LINE,
	       "what a look-up reads of a header is one line");

static inline size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/*
 * Lays out the index levels of a tree over @n leaves from byte @off on
 * (a multiple of LINE), in @t when given; returns where the leaves go.
 * A level of FANOUT or fewer is the top.
 */
static inline size_t tree_geometry(size_t n, size_t off, struct sm_tree *t)
{
	size_t sizes[MAX_UP], nup = 0, level = n;

	while (level > FANOUT && nup < MAX_UP) {
		level = (level + FANOUT - 1) / FANOUT;
		sizes[nup++] = level;
	}
	if (t) {
		t->nup = (uint32_t)nup;
		t->top = (uint32_t)(nup ? sizes[nup - 1] : n);
	}
	for (size_t l = 0; l < nup; l++) {	/* top level first */
		if (t)
			t->up_off[l] = (uint32_t)off;
		off += round_up(sizes[nup - 1 - l], FANOUT) * sizeof(uint64_t);
	}
	if (t)
		t->leaf_off = (uint32_t)off;
	return off;
}

/* Prefix @i of the leaves of tree @t at @base, nodes @stride u64 apart. */
static inline uint64_t tree_leaf(const void *base, const struct sm_tree *t,
				 size_t stride, size_t i)
{
	const uint64_t *leaves =
		(const uint64_t *)((const char *)base + t->leaf_off);

	return leaves[i / FANOUT * stride + i % FANOUT];
}

static inline const unsigned char *chunk_shared(const struct sm_chunk *c)
{
	return (const unsigned char *)c + c->shared_off;
}

static inline struct leaf_block *chunk_leaves(const struct sm_chunk *c)
{
	return (struct leaf_block *)((char *)c + c->tree.leaf_off);
}

static inline uint64_t chunk_prefix_at(const struct sm_chunk *c, size_t i)
{
	return chunk_leaves(c)[i / FANOUT].prefix[i % FANOUT];
}

/* A record of chunk @c and where its leaf block keeps it. */
static inline struct sm_entry *record_at(const struct sm_chunk *c,
					 uint32_t offset)
{
	return (struct sm_entry *)((char *)c + offset);
}

static inline uint32_t record_offset(const struct sm_chunk *c,
				     const struct sm_entry *e)
{
	return (uint32_t)((const char *)e - (const char *)c);
}

static inline struct sm_entry *chunk_entry_at(const struct sm_chunk *c,
					      size_t i)
{
	return record_at(c, chunk_leaves(c)[i / FANOUT].record[i % FANOUT]);
}

static inline const struct sm_entry *chunk_first(const struct sm_chunk *c)
{
	return chunk_entry_at(c, 0);
}

static inline void chunk_free(struct sm_chunk *c)
{
	sm_free_line(c);
}

static inline void page_free(struct sm_page *p)
{
	sm_free_line(p);
}

static inline bool bytewise(const struct snapmap *map)
{
	return map->compare == NULL;
}

/* ------------------------------------------------------------------ */
/* Key prefixes                                                        */
/* ------------------------------------------------------------------ */

/*
 * Prefixes are kept with their top bit flipped and ordered as signed
 * integers: the same order, and the one x86's 64-bit SIMD compare
 * (pcmpgtq, signed only) gives without flipping each element of a node.
 * PREFIX_END, the greatest, pads nodes past their end.
 */
#define PREFIX_BIAS	((uint64_t)1 << 63)
#define PREFIX_END	((uint64_t)INT64_MAX)

static inline bool prefix_less(uint64_t a, uint64_t b)
{
	return (int64_t)a < (int64_t)b;
}

/* The prefix of @key after @skip bytes, as kept (biased). */
static inline uint64_t key_prefix(const void *key, size_t klen, size_t skip)
{
	return key_bytes8(key, klen, skip) ^ PREFIX_BIAS;
}

/* The prefix of entry @e's key after @skip bytes. */
static inline uint64_t entry_prefix(const struct sm_entry *e, size_t skip)
{
	return key_prefix(sm_entry_key(e), e->klen, skip);
}

/* Bytes from the start of record @first to the end of record @last, two
 * records of one arena with @first not after @last. */
static inline size_t records_span(const struct sm_entry *first,
				  const struct sm_entry *last)
{
	return (size_t)((const unsigned char *)last -
			(const unsigned char *)first) + sm_entry_span(last);
}

/* memcmp for the short runs a search compares, inline: 8 bytes a step,
 * compared as big-endian integers. */
static inline int bytes_cmp(const unsigned char *a, const unsigned char *b,
			    size_t n)
{
	size_t done = 0;

	if (n >= 8) {
		for (; done + 8 <= n; done += 8) {
			uint64_t x = load_be64(a + done), y = load_be64(b + done);

			if (x != y)
				return x < y ? -1 : 1;
		}
		if (done < n) {
			/* The last 8 bytes, overlapping what was equal. */
			uint64_t x = load_be64(a + n - 8), y = load_be64(b + n - 8);

			if (x != y)
				return x < y ? -1 : 1;
		}
		return 0;
	}
	if (n >= 4) {
		uint32_t x = load_be32(a), y = load_be32(b);

		if (x == y) {
			x = load_be32(a + n - 4);
			y = load_be32(b + n - 4);
		}
		return x == y ? 0 : x < y ? -1 : 1;
	}
	for (; done < n; done++)
		if (a[done] != b[done])
			return a[done] < b[done] ? -1 : 1;
	return 0;
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
	d = bytes_cmp(key, shared, klen < skip ? klen : skip);
	if (d == 0 && klen < skip)
		return -1;	/* a proper prefix of the shared bytes */
	return d;
}

/*
 * Bytewise order of two keys that share their first @off bytes (the
 * shared bytes and an equal 8-byte prefix, @off = skip + 8): only what
 * follows needs comparing.  Where either key ends within @off, equal
 * prefixes mean one is a prefix of the other (padding is zero bytes, and
 * a zero byte of the longer key past the shorter's end): the shorter sorts
 * first.
 */
static inline int tail_cmp(const struct sm_entry *e, const void *key,
			   size_t klen, size_t off)
{
	if (e->klen > off && klen > off) {
		size_t n = (e->klen < klen ? e->klen : klen) - off;
		int c = bytes_cmp((const unsigned char *)sm_entry_key(e) + off,
				  (const unsigned char *)key + off, n);

		if (c)
			return c;
	}
	return (e->klen > klen) - (e->klen < klen);
}

/* A level of the directory, for the searches both levels share. */
struct level {
	size_t n;
	size_t skip;
	const unsigned char *shared;
	const uint64_t *prefix;
	const void *const *items;
	const void *base;	/* what @tree's offsets count from */
	const struct sm_tree *tree;
	bool pages;		/* the items are pages (else chunks) */
};

static inline const unsigned char *page_shared(const struct sm_page *p)
{
	return (const unsigned char *)p + p->shared_off;
}

static inline const uint64_t *page_prefix(const struct sm_page *p)
{
	return (const uint64_t *)((const char *)p + p->tree.leaf_off);
}

static inline const struct sm_entry *page_first(const struct sm_page *p)
{
	return chunk_first(p->chunks[0]);
}

static inline struct level top_level(const struct snapmap_snapshot *snap)
{
	return (struct level){
		snap->npages, snap->dir_skip, snap->dir_shared,
		snap->dir_prefix, (const void *const *)snap->pages, snap,
		&snap->dir_tree, true,
	};
}

static inline struct level page_level(const struct sm_page *p)
{
	return (struct level){
		p->count, p->skip, page_shared(p), page_prefix(p),
		(const void *const *)p->chunks, p, &p->tree, false,
	};
}

/*
 * A search path: the node search for one instruction set (a portable
 * scalar one, SSE4.2, AVX2), and the look-up and chunk search built on
 * it.  One library serves every CPU: a path is chosen when a map is made
 * (sm_layout_empty) and each snapshot of the map carries it, so that a
 * look-up makes one indirect call, not one per node.
 */
struct sm_search {
	const char *name;	/* "scalar", "sse42", "avx2" */
	/* The node search: how many of the FANOUT prefixes at @node (LINE
	 * aligned) are < @x.  Inlined into the two below; here for tests. */
	size_t (*count)(const uint64_t *node, uint64_t x);
	/* A bytewise look-up in @snap. */
	const struct sm_entry *(*find)(const struct snapmap_snapshot *snap,
				       const void *key, size_t klen);
	/* The first position of chunk @c whose prefix is >= @x. */
	size_t (*bound)(const struct sm_chunk *c, uint64_t x);
};

/*
 * The best search path this CPU runs, no better than the one @want names
 * (NULL or an unknown name: no limit).  Asking for more than the CPU has
 * gets what it has: the choice can lower the path, never fault.
 */
const struct sm_search *sm_search_pick(const char *want);

/* search.c, for build.c */

/*
 * Lower bound of @key in chunk @c of @snap; *@exact tells whether the
 * entry there is @key.
 */
size_t sm_chunk_lower_bound(const struct snapmap_snapshot *snap,
			    const struct sm_chunk *c,
			    const void *key, size_t klen, bool *exact);
/* Where the chunk @key falls into sits: page *@page, slot *@slot (the
 * last chunk whose first key is <= @key, or the first).  @snap has at
 * least one chunk. */
void sm_layout_place(const struct snapmap_snapshot *snap, const void *key,
		     size_t klen, size_t *page, size_t *slot);

#endif /* SNAPMAP_LAYOUT_H */
