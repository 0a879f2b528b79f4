/*
 * build.c - making snapshots (layout.h), under the writer mutex: a merge
 * of sorted changes into the current snapshot, a build from sorted
 * entries (loads), and listing what each drops (retire.c).  A write
 * rebuilds only the chunks its changes fall into and copies their
 * records in blocks of neighbours, one memcpy each; untouched pages are
 * shared whole.
 */
#include "layout.h"

#include <errno.h>
#include <stdlib.h>

/* Where everything of a chunk of @count entries, @skip shared bytes and
 * @arena bytes of records goes (offsets into @c, when given) and how many
 * bytes it takes. */
static size_t chunk_geometry(size_t count, size_t skip, size_t arena,
			     struct sm_chunk *c)
{
	bool inline_shared = skip <= CHUNK_SHARED_INLINE;
	size_t off = round_up(sizeof(struct sm_chunk) +
			      (inline_shared ? 0 : skip), LINE);

	if (c) {
		c->count = (uint32_t)count;
		c->skip = (uint32_t)skip;
		c->shared_off = inline_shared ?
				offsetof(struct sm_chunk, shared_inline) :
				sizeof(struct sm_chunk);
	}
	off = tree_geometry(count, off, c ? &c->tree : NULL);
	off += (count + FANOUT - 1) / FANOUT * sizeof(struct leaf_block);
	off = round_up(off, alignof(max_align_t));
	if (c)
		c->arena_off = (uint32_t)off;
	return off + arena;
}

/*
 * Fills the index levels of tree @t at @base over its @n leaves (nodes
 * @stride u64 apart, padded), bottom up: each level holds the last
 * prefix of every node of the level below, PREFIX_END past its end.
 */
static void tree_fill(void *base, const struct sm_tree *t, size_t n,
		      size_t stride)
{
	char *at = base;

	for (uint32_t l = t->nup; l-- > 0;) {
		uint64_t *level = (uint64_t *)(at + t->up_off[l]);
		const uint64_t *up = l + 1 < t->nup ?
			(const uint64_t *)(at + t->up_off[l + 1]) : NULL;
		size_t nbelow = n, size;

		/* The level under this one: the leaves, or level l+1. */
		for (uint32_t k = t->nup; k-- > l + 1;)
			nbelow = (nbelow + FANOUT - 1) / FANOUT;
		size = (nbelow + FANOUT - 1) / FANOUT;
		for (size_t i = 0; i < round_up(size, FANOUT); i++) {
			size_t last = i * FANOUT + FANOUT - 1;

			if (i >= size) {
				level[i] = PREFIX_END;
				continue;
			}
			if (last >= nbelow)
				last = nbelow - 1;
			level[i] = l + 1 == t->nup ?
				   tree_leaf(base, t, stride, last) : up[last];
		}
	}
}

/*
 * A directory level of @n items in the allocation at @base, from byte
 * @off on: its tree and its prefix array (padded to whole nodes, which
 * start on a cache line); returns the first byte after them.  With @t
 * NULL, only counts (the allocation may start anywhere: a line more).
 */
static size_t dir_tree_place(void *base, size_t off, size_t n,
			     struct sm_tree *t)
{
	if (!t)
		return tree_geometry(n, off + LINE, NULL) +
		       round_up(n, FANOUT) * sizeof(uint64_t);
	off = round_up((uintptr_t)base + off, LINE) - (uintptr_t)base;
	return tree_geometry(n, off, t) +
	       round_up(n, FANOUT) * sizeof(uint64_t);
}

/* Pads the prefix array of directory level @t to whole nodes and builds
 * the index over it. */
static void dir_tree_fill(void *base, const struct sm_tree *t, size_t n)
{
	uint64_t *prefix = (uint64_t *)((char *)base + t->leaf_off);

	for (size_t i = n; i < round_up(n, FANOUT); i++)
		prefix[i] = PREFIX_END;
	tree_fill(base, t, n, FANOUT);
}

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

/* In how many pieces of about @target a run of @n is cut: one up to @max. */
static size_t pieces_of(size_t n, size_t target, size_t max)
{
	return n <= max ? 1 : (n + target - 1) / target;
}

/*
 * Grows @arr (of @elem-byte elements, room for *@cap) to hold @need;
 * returns it, moved or not.  On ENOMEM, returns @arr as it was and sets
 * *@err.
 */
static void *reserve(void *arr, size_t *cap, size_t need, size_t elem,
		     int *err)
{
	size_t ncap = *cap ? *cap : 64;
	void *grown;

	if (need <= *cap)
		return arr;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			goto nomem;
		ncap *= 2;
	}
	grown = sm_alloc(ncap * elem);
	if (!grown)
		goto nomem;
	if (*cap)
		memcpy(grown, arr, *cap * elem);
	sm_free(arr);
	*cap = ncap;
	return grown;
nomem:
	*err = -ENOMEM;
	return arr;
}

/*
 * The state of one snapshot build.  Its arrays are the map's scratch,
 * reused across writes (the writer mutex is held):
 *   top        the new top level: pages shared with the old snapshot and
 *              pages this build made;
 *   pend       the chunks of the page being made, old and new;
 *   fresh      the chunks this build made (freed if it fails);
 *   pos        where each change falls in the old snapshot;
 *   run        entries not yet cut into chunks (prefix and entry
 *              arrays; staged entries are tagged RUN_STAGED), with
 *              segments saying after how many shared bytes each run of
 *              prefixes was taken: a chunk rebuilt with the same shared
 *              bytes copies its old prefixes instead of reading every
 *              key again (a cache miss per entry);
 */
struct builder {
	struct snapmap *map;
	const struct snapmap_snapshot *old;
	uint64_t version;
	struct sm_scratch *s;
	const struct sm_search *search;	/* the map's, for the new snapshot */
	size_t npend;
	size_t ntop;
	size_t nfresh;
	size_t dropped_page;		/* the last old page dropped, or SIZE_MAX */
	size_t nrun;
	size_t runbytes;		/* about what the run's records take */
	size_t nseg;
	size_t count;			/* entries the new snapshot holds */
	struct sm_dropblock *drop;	/* what the old snapshot loses */
	size_t capdrop;
	size_t dropped_bytes;		/* memory of what is in drop */
	size_t added_bytes;		/* memory of new chunks and pages */
	int err;
};

/* A position in the old snapshot's directory: chunk @slot of page @page. */
struct sm_dpos {
	size_t page;
	size_t slot;
};

/* A chunk waiting for the page it will be in: its prefix there, taken
 * after @skip bytes (NO_PREFIX: not yet taken). */
struct sm_pend {
	struct sm_chunk *chunk;
	uint64_t prefix;
	size_t skip;
};

/* A page of the new top level, with its prefix there when @shared (taken
 * after the old top's shared bytes). */
struct sm_topent {
	struct sm_page *page;
	uint64_t prefix;
	bool shared;
};


struct sm_run_seg {
	size_t start;
	size_t len;
	size_t skip;		/* the prefixes' shared bytes, or NO_PREFIX */
	const struct sm_chunk *src;	/* the old chunk whose consecutive
					 * records these are (NULL: staged) */
	size_t from;		/* the first one's index there */
};

#define NO_PREFIX	SIZE_MAX

/* Run entries: records of old chunks, or staged entries, tagged. */
#define RUN_STAGED	((uintptr_t)1)

static inline const struct sm_entry *run_rec(const struct sm_entry *e)
{
	return (const struct sm_entry *)((uintptr_t)e & ~RUN_STAGED);
}

static inline bool has_destructor(const struct builder *b)
{
	return b->map->value_destroy != NULL;
}

static void drop_item(struct builder *b, uintptr_t item)
{
	size_t n = b->drop ? b->drop->n : 0;

	if (b->err)
		return;
	if (n == b->capdrop) {
		size_t cap = b->capdrop ? 2 * b->capdrop : 32;
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
	b->dropped_bytes += sm_retired_bytes(item);
}

/* Page @pi of the old snapshot is not in the new one. */
static void drop_page(struct builder *b, size_t pi)
{
	if (b->dropped_page == pi)
		return;
	b->dropped_page = pi;
	drop_item(b, (uintptr_t)b->old->pages[pi] | SM_ITEM_PAGE);
}

/*
 * The value of record @index of old chunk @c dies (a change replaces or
 * deletes it).  With a value destructor, it gets a grave: a copy that
 * outlives every snapshot that could show it (see layout.h); its memory
 * counts as added and as dropped at once.
 */
static void kill_value(struct builder *b, const struct sm_chunk *c,
		       size_t index)
{
	const struct sm_entry *e = chunk_entry_at(c, index);
	struct sm_entry *grave;

	if (b->err || !has_destructor(b))
		return;
	grave = sm_entry_new(NULL, 0, sm_entry_val(e), e->vlen);
	if (!grave) {
		b->err = -ENOMEM;
		return;
	}
	drop_item(b, (uintptr_t)grave | SM_ITEM_GRAVE);
	if (b->err) {
		sm_entry_free(grave);
		return;
	}
	b->added_bytes += sm_retired_bytes((uintptr_t)grave | SM_ITEM_GRAVE);
}

/* Appends a chunk to the page being made. */
static void pend_push(struct builder *b, struct sm_chunk *c, uint64_t prefix,
		      size_t skip)
{
	if (b->err)
		return;
	b->s->pend = reserve(b->s->pend, &b->s->cappend, b->npend + 1,
			     sizeof(*b->s->pend), &b->err);
	if (!b->err)
		b->s->pend[b->npend++] = (struct sm_pend){ c, prefix, skip };
}

/* Appends a page to the new top level (a new one is freed on failure). */
static void top_push(struct builder *b, struct sm_page *p, uint64_t prefix,
		     bool shared)
{
	if (!b->err)
		b->s->top = reserve(b->s->top, &b->s->captop, b->ntop + 1,
				    sizeof(*b->s->top), &b->err);
	if (b->err) {
		if (!shared)
			page_free(p);
		return;
	}
	b->s->top[b->ntop++] = (struct sm_topent){ p, prefix, shared };
}

/* A page of pending chunks @pd[0..n). */
static struct sm_page *page_new(struct builder *b, const struct sm_pend *pd,
				size_t n)
{
	size_t skip = bytewise(b->map) && n > 1 ?
		      sm_common_prefix(chunk_first(pd[0].chunk),
				    chunk_first(pd[n - 1].chunk)) : 0;
	bool inline_shared = skip <= PAGE_SHARED_INLINE;
	size_t bytes = dir_tree_place(NULL, sizeof(struct sm_page), n, NULL) +
		       n * sizeof(struct sm_chunk *) + (inline_shared ? 0 : skip);
	struct sm_page *p = sm_alloc_line(bytes);
	struct sm_chunk **chunks;
	uint64_t *prefix;

	if (!p)
		return NULL;
	chunks = (struct sm_chunk **)((char *)p +
		dir_tree_place(p, sizeof(struct sm_page), n, &p->tree));
	prefix = (uint64_t *)((char *)p + p->tree.leaf_off);
	/* An old chunk keeps its prefix unless the shared bytes differ. */
	for (size_t i = 0; i < n; i++) {
		chunks[i] = pd[i].chunk;
		prefix[i] = pd[i].skip == skip ? pd[i].prefix :
			    entry_prefix(chunk_first(pd[i].chunk), skip);
	}
	p->shared_off = inline_shared ?
			(uint32_t)offsetof(struct sm_page, shared_inline) :
			(uint32_t)((char *)(chunks + n) - (char *)p);
	memcpy((char *)p + p->shared_off,
	       sm_entry_key(chunk_first(pd[0].chunk)), skip);
	p->birth = b->version;
	p->bytes = bytes;
	p->count = (uint32_t)n;
	p->skip = (uint32_t)skip;
	p->chunks = chunks;
	dir_tree_fill(p, &p->tree, n);
	return p;
}

/* Makes pages of the pending chunks: one, or pieces of about PAGE_TARGET
 * when there are more than PAGE_MAX. */
static void page_flush(struct builder *b)
{
	size_t n = b->npend, pieces, done = 0;

	if (b->err || n == 0)
		return;
	pieces = pieces_of(n, PAGE_TARGET, PAGE_MAX);
	for (size_t i = 0; i < pieces && !b->err; i++) {
		size_t len = (n - done) / (pieces - i);
		struct sm_page *p = page_new(b, b->s->pend + done, len);

		if (!p) {
			b->err = -ENOMEM;
			break;
		}
		b->added_bytes += p->bytes;
		top_push(b, p, 0, false);
		done += len;
	}
	b->npend = 0;
}

static inline bool dpos_before(struct sm_dpos a, struct sm_dpos b)
{
	return a.page < b.page || (a.page == b.page && a.slot < b.slot);
}

static inline const struct sm_chunk *old_chunk(const struct builder *b,
					       struct sm_dpos at)
{
	return b->old->pages[at.page]->chunks[at.slot];
}

static inline void dpos_next(const struct builder *b, struct sm_dpos *at)
{
	if (++at->slot < b->old->pages[at->page]->count)
		return;
	at->slot = 0;
	at->page++;
}

/*
 * Appends old chunks [from, to) to the new directory: a whole page is
 * shared, unless the pending chunks are too few for a page of their own
 * (then it is taken apart and joins them); chunks of a page taken apart
 * keep their prefixes.
 */
static void dir_share(struct builder *b, struct sm_dpos from, struct sm_dpos to)
{
	while (!b->err && dpos_before(from, to)) {
		const struct sm_page *p = b->old->pages[from.page];
		size_t end = from.page < to.page ? p->count : to.slot;

		if (from.slot == 0 && end == p->count &&
		    (b->npend == 0 || b->npend >= PAGE_MIN)) {
			page_flush(b);
			top_push(b, (struct sm_page *)p,
				 b->old->dir_prefix[from.page], true);
		} else {
			drop_page(b, from.page);
			for (size_t s = from.slot; s < end; s++)
				pend_push(b, p->chunks[s], page_prefix(p)[s],
					  p->skip);
		}
		if (end == p->count) {
			from.page++;
			from.slot = 0;
		} else {
			from.slot = end;
		}
	}
}

/* Appends a chunk this build made (freed if the build fails). */
static void dir_push_new(struct builder *b, struct sm_chunk *c)
{
	if (!b->err)
		b->s->fresh = reserve(b->s->fresh, &b->s->capfresh,
				      b->nfresh + 1, sizeof(*b->s->fresh),
				      &b->err);
	if (b->err) {
		chunk_free(c);
		return;
	}
	b->s->fresh[b->nfresh++] = c;
	pend_push(b, c, 0, NO_PREFIX);
}

/* Room for @more entries in the run. */
static int run_reserve(struct builder *b, size_t more)
{
	if (b->err)
		return b->err;
	b->s->run_prefix = reserve(b->s->run_prefix, &b->s->caprunp,
				   b->nrun + more, sizeof(*b->s->run_prefix),
				   &b->err);
	if (!b->err)
		b->s->run_entry = reserve(b->s->run_entry, &b->s->caprune,
					  b->nrun + more,
					  sizeof(*b->s->run_entry), &b->err);
	return b->err;
}

/*
 * Records that the next @len run entries' prefixes follow @skip bytes and
 * that they are records @from... of old chunk @src (NULL: staged).
 */
static void run_segment(struct builder *b, size_t len, size_t skip,
			const struct sm_chunk *src, size_t from)
{
	struct sm_run_seg *last = b->nseg ? &b->s->seg[b->nseg - 1] : NULL;

	if (last && last->skip == skip && last->src == src &&
	    (!src || last->from + last->len == from) &&
	    last->start + last->len == b->nrun) {
		last->len += len;
		return;
	}
	if (b->err)	/* keep the first failure: it fails the build */
		return;
	b->s->seg = reserve(b->s->seg, &b->s->capseg, b->nseg + 1,
			    sizeof(*b->s->seg), &b->err);
	if (!b->err)
		b->s->seg[b->nseg++] = (struct sm_run_seg){
			b->nrun, len, skip, src, from,
		};
}

/* Appends a staged entry (its prefix is computed when it is cut). */
static void run_push_new(struct builder *b, struct sm_entry *e)
{
	run_segment(b, 1, NO_PREFIX, NULL, 0);
	if (b->err)
		return;
	b->s->run_prefix[b->nrun] = 0;
	b->s->run_entry[b->nrun++] = (struct sm_entry *)((uintptr_t)e | RUN_STAGED);
	b->runbytes += sm_entry_span(e) + alignof(max_align_t);
}

/* Appends old chunk @c's entries [from, to), with their prefixes; room
 * was reserved. */
static void run_copy(struct builder *b, const struct sm_chunk *c,
		     size_t from, size_t to)
{
	const struct leaf_block *leaves = chunk_leaves(c);
	uint64_t *prefix = b->s->run_prefix;
	struct sm_entry **entry = b->s->run_entry;
	size_t out = b->nrun;

	if (from >= to)
		return;
	run_segment(b, to - from, c->skip, c, from);
	if (b->err)
		return;
	/* The records of [from, to) lie in key order in @c's arena. */
	b->runbytes += records_span(chunk_entry_at(c, from),
				    chunk_entry_at(c, to - 1));
	for (size_t i = from; i < to;) {
		const struct leaf_block *lb = &leaves[i / FANOUT];
		size_t off = i % FANOUT;

		if (off == 0 && to - i >= FANOUT) {
			/* A whole block: fixed-size loops the compiler
			 * turns into a few vector operations. */
			memcpy(prefix + out, lb->prefix, sizeof(lb->prefix));
			for (size_t t = 0; t < FANOUT; t++)
				entry[out + t] = record_at(c, lb->record[t]);
			i += FANOUT;
			out += FANOUT;
			continue;
		}
		prefix[out] = lb->prefix[off];
		entry[out++] = chunk_entry_at(c, i);
		i++;
	}
	b->nrun = out;
}

/*
 * Where a record goes in an arena whose next free byte is @pos (arenas
 * start aligned to alignof(max_align_t)).  A staged entry goes to the
 * first place that aligns its value.  A record of an old arena keeps its
 * address modulo alignof(max_align_t), which keeps its value aligned and
 * a block of neighbours at the same distances, so that copy_records()
 * copies the block with one memcpy.
 */
static inline size_t rec_place(size_t pos, const struct sm_entry *e,
			       bool staged)
{
	const size_t m = alignof(max_align_t);
	size_t a;

	if (!staged)
		return pos + (((uintptr_t)e - pos) & (m - 1));
	a = sm_value_align(e->vlen);
	if (a < alignof(struct sm_entry))
		a = alignof(struct sm_entry);
	return round_up(pos + sizeof(*e), a) - sizeof(*e);
}

/*
 * A block of the run: a staged entry, or neighbours in an old arena (the
 * records of one segment, consecutive there), copied with one memcpy.
 */
struct block {
	size_t end;			/* past its last run entry */
	const unsigned char *src;	/* its first record */
	size_t len;			/* bytes up to the last one's end */
	bool staged;
};

/* The block of run entries that starts at @i and ends by @end; *@seg is
 * where to start looking for @i's segment. */
static void next_block(const struct builder *b, size_t *seg, size_t i,
		       size_t end, struct block *blk)
{
	struct sm_entry *const *ents = b->s->run_entry;
	const struct sm_run_seg *sg;

	while (b->s->seg[*seg].start + b->s->seg[*seg].len <= i)
		(*seg)++;
	sg = &b->s->seg[*seg];
	blk->staged = sg->src == NULL;
	blk->src = (const unsigned char *)run_rec(ents[i]);
	blk->end = blk->staged ? i + 1 :
		   sg->start + sg->len < end ? sg->start + sg->len : end;
	blk->len = records_span(run_rec(ents[i]), run_rec(ents[blk->end - 1]));
}

/* The arena bytes run entries [start, start + n) take. */
static size_t arena_size(const struct builder *b, size_t start, size_t n)
{
	size_t pos = 0, seg = 0;
	struct block blk;

	for (size_t i = start; i < start + n; i = blk.end) {
		next_block(b, &seg, i, start + n, &blk);
		pos = rec_place(pos, (const void *)blk.src, blk.staged) +
		      blk.len;
	}
	return pos;
}

/*
 * Copies the records of run entries [start, start + n) into @arena,
 * placed as arena_size() counted, and points the run at the copies.
 */
static void copy_records(struct builder *b, unsigned char *arena,
			 size_t start, size_t n)
{
	struct sm_entry **ents = b->s->run_entry;
	size_t pos = 0, seg = 0;
	struct block blk;

	for (size_t i = start; i < start + n; i = blk.end) {
		size_t at;

		next_block(b, &seg, i, start + n, &blk);
		at = rec_place(pos, (const void *)blk.src, blk.staged);
		memcpy(arena + at, blk.src, blk.len);
		for (size_t k = i; k < blk.end; k++)
			ents[k] = (struct sm_entry *)(arena + at +
				((const unsigned char *)run_rec(ents[k]) -
				 blk.src));
		pos = at + blk.len;
	}
}

/*
 * Makes a chunk of run entries [start, start + n), copying their records
 * into its arena: their prefixes are taken again only where they were
 * taken after other shared bytes.
 */
static struct sm_chunk *chunk_new(struct builder *b, size_t start, size_t n)
{
	struct sm_entry **ents = b->s->run_entry + start;
	uint64_t *pfx = b->s->run_prefix + start;
	size_t skip = bytewise(b->map) ?
		      sm_common_prefix(run_rec(ents[0]), run_rec(ents[n - 1])) : 0;

	/* Fewer shared bytes than the keys share is still right (ties are
	 * settled by full compares) and keeps the chunk's offsets small. */
	if (skip > CHUNK_SKIP_MAX)
		skip = CHUNK_SKIP_MAX;
	size_t bytes = chunk_geometry(n, skip, arena_size(b, start, n), NULL);
	struct leaf_block *leaves;
	struct sm_chunk *c = sm_alloc_line(bytes);

	if (!c)
		return NULL;
	chunk_geometry(n, skip, 0, c);
	c->bytes = bytes;
	c->birth = b->version;
	/* From here on the run points at the copies. */
	copy_records(b, (unsigned char *)c + c->arena_off, start, n);
	memcpy((unsigned char *)c + c->shared_off, sm_entry_key(ents[0]), skip);

	for (size_t k = 0; k < b->nseg && bytewise(b->map); k++) {
		const struct sm_run_seg *seg = &b->s->seg[k];
		size_t lo = seg->start > start ? seg->start : start;
		size_t hi = seg->start + seg->len < start + n ?
			    seg->start + seg->len : start + n;

		if (seg->skip == skip)
			continue;
		for (size_t i = lo; i < hi; i++)
			pfx[i - start] = entry_prefix(ents[i - start], skip);
	}

	leaves = chunk_leaves(c);
	for (size_t blk = 0; blk * FANOUT < n; blk++) {
		struct leaf_block *lb = &leaves[blk];
		size_t base = blk * FANOUT;

		if (n - base >= FANOUT) {
			/* A whole block: fixed-size loops the compiler
			 * turns into a few vector operations. */
			memcpy(lb->prefix, pfx + base, sizeof(lb->prefix));
			for (size_t t = 0; t < FANOUT; t++)
				lb->record[t] = record_offset(c, ents[base + t]);
			continue;
		}
		for (size_t t = 0; t < FANOUT; t++) {
			bool in = base + t < n;

			lb->prefix[t] = in ? pfx[base + t] : PREFIX_END;
			lb->record[t] = in ? record_offset(c, ents[base + t]) : 0;
		}
	}

	tree_fill(c, &c->tree, n, CHUNK_STRIDE);
	return c;
}

/* Makes a chunk of run entries [start, start + len). */
static void run_cut(struct builder *b, size_t start, size_t len)
{
	struct sm_chunk *c;

	if (b->err)
		return;
	c = chunk_new(b, start, len);
	if (!c) {
		b->err = -ENOMEM;
		return;
	}
	b->added_bytes += c->bytes;
	dir_push_new(b, c);
}

/*
 * Cuts the pending run into chunks of CHUNK_TARGET to CHUNK_MAX entries
 * (fewer only when the run is that short).  A run whose records pass
 * ARENA_MAX bytes is cut where they pass ARENA_TARGET instead (or at
 * CHUNK_TARGET entries), so that a big value stands alone and its small
 * neighbours stay together.
 */
static void run_flush(struct builder *b)
{
	size_t n = b->nrun, pieces, done = 0;

	if (b->err || n == 0)
		return;
	if (b->runbytes > SM_ARENA_MAX) {
		size_t bytes = 0;

		for (size_t i = 0; i < n; i++) {
			size_t span = sm_entry_span(run_rec(b->s->run_entry[i])) +
				      alignof(max_align_t);

			if (i > done && bytes + span > SM_ARENA_TARGET) {
				run_cut(b, done, i - done);
				done = i;
				bytes = 0;
			}
			bytes += span;
			if (bytes >= SM_ARENA_TARGET || i + 1 == n ||
			    i + 1 - done >= CHUNK_TARGET) {
				run_cut(b, done, i + 1 - done);
				done = i + 1;
				bytes = 0;
			}
		}
	} else {
		pieces = pieces_of(n, CHUNK_TARGET, CHUNK_MAX);
		for (size_t i = 0; i < pieces; i++) {
			size_t len = (n - done) / (pieces - i);

			run_cut(b, done, len);
			done += len;
		}
	}
	b->nrun = 0;
	b->runbytes = 0;
	b->nseg = 0;
}

/*
 * Merges old chunk @ci with @changes[0..n) into the pending run; the chunk
 * and its page are dropped, and the values the changes replace or delete
 * die.  Each change
 * finds its place by search, so a chunk with few changes costs a copy,
 * not a comparison per entry.
 */
static void run_merge(struct builder *b, struct sm_dpos ci,
		      const struct sm_change *changes, size_t n)
{
	const struct sm_chunk *c = old_chunk(b, ci);
	size_t i = 0;

	drop_page(b, ci.page);

	if (run_reserve(b, c->count + n))
		return;
	drop_item(b, (uintptr_t)c);
	for (size_t j = 0; j < n && !b->err; j++) {
		bool exact;
		size_t pos = sm_chunk_lower_bound(b->old, c, changes[j].key,
						  changes[j].klen, &exact);

		run_copy(b, c, i, pos);
		i = pos;
		if (exact) {
			kill_value(b, c, i);
			b->count--;
			i++;
		}
		if (changes[j].entry) {
			run_push_new(b, changes[j].entry);
			b->count++;
		}
	}
	run_copy(b, c, i, c->count);
}

static void builder_init(struct builder *b,
			 const struct snapmap_snapshot *old,
			 struct snapmap *map, uint64_t version)
{
	memset(b, 0, sizeof(*b));
	b->map = map;
	b->old = old;
	b->search = old ? old->search : NULL;
	b->version = version;
	b->s = &map->scratch;
	b->dropped_page = SIZE_MAX;
}

/*
 * Scratch past this many entries is not kept for the next write: a
 * single-key write needs a chunk's worth of it, and a big batch, which
 * reallocates it, costs far more than the allocations.  Kept, a build's
 * scratch was 30 KB of a 1,000-entry map's 77 KB.
 */
#define SCRATCH_KEEP	(2 * CHUNK_MAX)

static void scratch_trim(struct sm_scratch *s)
{
	if (s->cappos > SCRATCH_KEEP) {
		sm_free(s->pos);
		s->pos = NULL;
		s->cappos = 0;
	}
	if (s->caprunp > SCRATCH_KEEP || s->caprune > SCRATCH_KEEP) {
		sm_free(s->run_prefix);
		sm_free(s->run_entry);
		s->run_prefix = NULL;
		s->run_entry = NULL;
		s->caprunp = s->caprune = 0;
	}
}

void sm_scratch_free(struct sm_scratch *s)
{
	sm_free(s->run_prefix);
	sm_free(s->run_entry);
	sm_free(s->seg);
	sm_free(s->pend);
	sm_free(s->top);
	sm_free(s->pos);
	sm_free(s->fresh);
	memset(s, 0, sizeof(*s));
}

/* The bytes the first keys of the new top level's pages share. */
static size_t top_common(const struct builder *b)
{
	size_t n = b->ntop;

	if (n < 2 || !bytewise(b->map))
		return 0;
	return sm_common_prefix(page_first(b->s->top[0].page),
			     page_first(b->s->top[n - 1].page));
}

/*
 * Turns the builder's top level into a snapshot, or, on failure, frees
 * the chunks and pages it built (their entries are copies; the old
 * snapshot's chunks and pages stay as they were).
 */
static struct snapmap_snapshot *builder_finish(struct builder *b,
					       struct sm_delta *delta)
{
	struct snapmap_snapshot *snap = NULL;
	size_t n = b->ntop, skip = b->err ? 0 : top_common(b), own;
	bool reuse = b->old && b->old->dir_skip == skip;
	struct sm_page **pages;
	uint64_t *prefix;

	own = dir_tree_place(NULL, sizeof(*snap), n, NULL) +
	      n * sizeof(*pages) + skip;
	if (!b->err) {
		snap = sm_alloc(own);
		if (!snap)
			b->err = -ENOMEM;
	}
	if (b->err) {
		for (size_t i = 0; i < b->ntop; i++)
			if (!b->s->top[i].shared)
				page_free(b->s->top[i].page);
		for (size_t i = 0; i < b->nfresh; i++)
			chunk_free(b->s->fresh[i]);
		for (size_t i = 0; b->drop && i < b->drop->n; i++)
			if ((b->drop->items[i] & SM_ITEM_TAGS) == SM_ITEM_GRAVE)
				sm_entry_free((void *)(b->drop->items[i] &
						       ~SM_ITEM_TAGS));
		sm_free(b->drop);
		b->drop = NULL;
		scratch_trim(b->s);
		return NULL;
	}

	memset(snap, 0, sizeof(*snap));
	urcu_ref_init(&snap->ref);
	snap->own_bytes = own;
	snap->map = b->map;
	snap->version = b->version;
	snap->count = b->count;
	snap->npages = n;
	pages = (struct sm_page **)((char *)snap +
		dir_tree_place(snap, sizeof(*snap), n, &snap->dir_tree));
	prefix = (uint64_t *)((char *)snap + snap->dir_tree.leaf_off);
	snap->dir_skip = skip;
	if (skip) {
		memcpy(pages + n, sm_entry_key(page_first(b->s->top[0].page)),
		       skip);
		snap->dir_shared = (const unsigned char *)(pages + n);
	}
	/* Shared pages keep their prefix unless the shared bytes moved. */
	for (size_t i = 0; i < n; i++) {
		const struct sm_topent *t = &b->s->top[i];

		pages[i] = t->page;
		prefix[i] = t->shared && reuse ? t->prefix :
			    entry_prefix(page_first(t->page), skip);
	}
	snap->dir_prefix = prefix;
	snap->pages = pages;
	dir_tree_fill(snap, &snap->dir_tree, n);
	snap->search = b->search;
	if (delta) {
		delta->dropped = b->drop;
		delta->dropped_bytes = b->dropped_bytes;
		delta->added_bytes = b->added_bytes;
	}
	scratch_trim(b->s);
	return snap;
}

/*
 * A map's first snapshot: the map's search path is chosen here, once, and
 * every later snapshot inherits it.  SNAPMAP_SIMD (README) can lower it,
 * to compare paths or rule one out.
 */
struct snapmap_snapshot *sm_layout_empty(struct snapmap *map, uint64_t version)
{
	struct builder b;

	builder_init(&b, NULL, map, version);
	b.search = sm_search_pick(getenv("SNAPMAP_SIMD"));
	return builder_finish(&b, NULL);
}

/* The position of the old chunk @key falls into. */
static struct sm_dpos old_pos_of(const struct builder *b, const void *key,
			      size_t klen)
{
	struct sm_dpos at;

	sm_layout_place(b->old, key, klen, &at.page, &at.slot);
	return at;
}

static inline size_t chunk_arena_bytes(const struct sm_chunk *c)
{
	return c->bytes - c->arena_off;
}

static inline bool dpos_same(struct sm_dpos a, struct sm_dpos b)
{
	return a.page == b.page && a.slot == b.slot;
}

/*
 * Where each change falls in the old snapshot, into the scratch: one
 * search of the directory each, which reads the directory (small, hot)
 * and not the chunks, where asking a chunk for its neighbour's first key
 * would miss the cache twice per rebuilt chunk.
 */
static void changes_place(struct builder *b, const struct sm_change *changes,
			  size_t nchanges)
{
	if (b->err || b->old->npages == 0)
		return;
	b->s->pos = reserve(b->s->pos, &b->s->cappos, nchanges,
			    sizeof(*b->s->pos), &b->err);
	for (size_t k = 0; !b->err && k < nchanges; k++)
		b->s->pos[k] = old_pos_of(b, changes[k].key, changes[k].klen);
}

struct snapmap_snapshot *sm_layout_merge(const struct snapmap_snapshot *old,
					 const struct sm_change *changes,
					 size_t nchanges, uint64_t version,
					 struct sm_delta *delta)
{
	const struct sm_dpos end = { old->npages, 0 };
	struct sm_dpos ci = { 0, 0 };
	struct builder b;
	size_t j = 0;

	builder_init(&b, old, old->map, version);
	b.count = old->count;
	changes_place(&b, changes, nchanges);
	if (old->npages == 0) {
		run_reserve(&b, nchanges);
		for (; j < nchanges && !b.err; j++)
			if (changes[j].entry)
				run_push_new(&b, changes[j].entry);
		b.count = b.nrun;
		run_flush(&b);
	}
	/*
	 * Untouched pages are shared whole; each chunk a change falls into
	 * is rebuilt, and the other chunks of its page join the new page.
	 * A rebuilt run shorter than CHUNK_MIN absorbs the next chunk rather
	 * than leave a small chunk behind.
	 */
	while (dpos_before(ci, end) && !b.err) {
		struct sm_dpos target = j < nchanges ? (&b)->s->pos[j] : end;
		size_t stop = j;

		if (dpos_before(target, ci))
			target = ci;
		/* A short run absorbs the next chunk, but not one of big
		 * values, nor the first of an untouched page. */
		if (b.nrun && !dpos_same(ci, target) &&
		    ((ci.slot == 0 && target.page > ci.page) ||
		     chunk_arena_bytes(old_chunk(&b, ci)) >= SM_ARENA_MIN))
			run_flush(&b);
		if (b.nrun == 0) {
			dir_share(&b, ci, target);
			ci = target;
			if (!dpos_before(ci, end))
				break;
		}
		while (stop < nchanges && dpos_same((&b)->s->pos[stop], ci))
			stop++;
		run_merge(&b, ci, changes + j, stop - j);
		j = stop;
		dpos_next(&b, &ci);
		if (b.nrun >= CHUNK_MIN || b.runbytes >= SM_ARENA_MIN ||
		    !dpos_before(ci, end))
			run_flush(&b);
	}
	page_flush(&b);
	return builder_finish(&b, delta);
}

struct snapmap_snapshot *sm_layout_build(const struct snapmap_snapshot *old,
					 struct sm_entry *const *entries,
					 size_t n, uint64_t version,
					 struct sm_delta *delta)
{
	struct builder b;

	builder_init(&b, NULL, old->map, version);
	b.search = old->search;
	b.count = n;
	for (size_t i = 0; i < old->npages; i++) {
		const struct sm_page *p = old->pages[i];

		drop_item(&b, (uintptr_t)p | SM_ITEM_PAGE);
		for (size_t k = 0; k < p->count; k++) {
			drop_item(&b, (uintptr_t)p->chunks[k]);
			/* Every value of @old dies. */
			for (size_t e = 0; e < p->chunks[k]->count; e++)
				kill_value(&b, p->chunks[k], e);
		}
	}
	for (size_t done = 0; done < n && !b.err;) {
		size_t len = n - done <= CHUNK_MAX ? n - done : CHUNK_TARGET;

		if (run_reserve(&b, len))
			break;
		for (size_t i = 0; i < len; i++)
			run_push_new(&b, entries[done + i]);
		run_flush(&b);
		done += len;
	}
	page_flush(&b);
	return builder_finish(&b, delta);
}

/* ------------------------------------------------------------------ */
/* Freeing                                                             */
/* ------------------------------------------------------------------ */

void sm_layout_free(struct snapmap_snapshot *snap)
{
	sm_free(snap);
}

