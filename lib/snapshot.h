/*
 * snapshot.h - the snapshot layout as the rest of lib/ sees it: struct
 * snapmap_snapshot, the changes a write hands to a build, cursors, and
 * what search.c (look-ups, seeks, iteration) and build.c (merge, full
 * build, the writer's scratch) offer the other files.  Only those files
 * know how a snapshot stores its entries (layout.h); the rest uses
 * these.  The chunk sizes are here because tests shape maps by them.
 */
#ifndef SNAPMAP_SNAPSHOT_H
#define SNAPMAP_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/call-rcu.h>
#include <urcu/ref.h>

#include "snapmap.h"
#include "entry.h"

/* Buffers a writer reuses from one build to the next (build.c), so that
 * a publish does not return big arrays to the kernel and fault them back
 * in.  Under the writer mutex. */
struct sm_run_seg;
struct sm_pend;
struct sm_topent;
struct sm_dpos;
struct sm_chunk;
struct sm_scratch {
	uint64_t *run_prefix;
	size_t caprunp;
	struct sm_entry **run_entry;
	size_t caprune;
	struct sm_run_seg *seg;
	size_t capseg;
	struct sm_pend *pend;
	size_t cappend;
	struct sm_topent *top;
	size_t captop;
	struct sm_chunk **fresh;
	size_t capfresh;
	struct sm_dpos *pos;
	size_t cappos;
};
void sm_scratch_free(struct sm_scratch *scratch);

/*
 * Chunk sizes: a build cuts runs into chunks of SM_CHUNK_TARGET entries,
 * a chunk that grows past SM_CHUNK_MAX is split, and one that shrinks
 * below SM_CHUNK_MIN absorbs its neighbour.  A write copies the chunk it
 * falls into, records included, and two small directory levels (layout.h),
 * so smaller chunks make writes cheaper: a batch of 1,000 random puts at
 * a million entries rebuilds most of the chunks it touches either way.
 * 128 made single puts and batches faster than 256 and 512, with look-ups
 * unchanged (the index inside a chunk keeps its depth).  Measured again
 * with 16-prefix nodes (issue 12, callgrind, 1M entries): 256 saves 1.1
 * of 13 simulated L1 misses per look-up and costs 13% more instructions
 * per put at 100k (with SM_ARENA_TARGET doubled so that a chunk of small
 * records still counts as small); 512 costs look-ups instructions and
 * puts twice as many.  Still 128.
 */
#define SM_CHUNK_TARGET	128u
#define SM_CHUNK_MAX	(2 * SM_CHUNK_TARGET)
#define SM_CHUNK_MIN	(SM_CHUNK_TARGET / 4)

/*
 * A static search tree over a sorted array of 8-byte key prefixes (its
 * leaves), inside the chunk, page or snapshot that holds it, at byte
 * offsets from that object's address (layout.h).
 */
#define SM_TREE_MAX_UP	4	/* index levels: 16^5 leaves */
struct sm_tree {
	uint32_t nup;			/* index levels above the leaves */
	uint32_t top;			/* entries in the top level */
	uint32_t up_off[SM_TREE_MAX_UP];	/* the levels, top first */
	uint32_t leaf_off;		/* the leaves */
};
/*
 * A chunk's records are copied whenever the chunk is rebuilt, so chunks
 * of big values hold fewer entries: a run is also cut where its records
 * pass SM_ARENA_MAX bytes (into pieces of about SM_ARENA_TARGET), and one
 * of SM_ARENA_MIN bytes counts as big enough to stand alone.
 */
#define SM_ARENA_TARGET	((size_t)32 << 10)
#define SM_ARENA_MAX	(2 * SM_ARENA_TARGET)
#define SM_ARENA_MIN	(SM_ARENA_TARGET / 4)

struct sm_chunk;
struct sm_page;
struct sm_dropblock;

/*
 * A snapshot: a directory of immutable chunks, each a sorted run of
 * entries stored in the chunk.  The directory has two levels: pages of
 * chunks, and the snapshot's own list of pages.  Chunks and pages are
 * shared with neighbouring versions; the list belongs to this snapshot.
 */
struct snapmap_snapshot {
	struct rcu_head rcu;		/* retirement (reclaim.c) */
	struct urcu_ref ref;		/* 1 for the map (until reclaimed) + pins */
	struct snapmap *map;
	uint64_t version;
	size_t count;			/* entries */
	size_t own_bytes;		/* this snapshot's own memory */
	size_t retire_bytes;		/* freed by its grace period: own memory
					 * and what its successor dropped */
#ifdef SNAPMAP_DEBUG
	long pins;			/* snapmap_pin() references (uatomic),
					 * for the debug checks only */
#endif

	/* Reclamation (reclaim.c), under map->reclaim_lock; readers never
	 * look at these. */
	struct snapmap_snapshot *older, *newer;	/* live snapshots */
	struct sm_dropblock *dropped;	/* objects this one is the newest
					 * live holder of, not in ->newer */

	/* Directory (layout.h): the top level, a list of pages. */
	size_t npages;
	size_t dir_skip;		/* bytes the pages' first keys share */
	const unsigned char *dir_shared;	/* those bytes */
	const uint64_t *dir_prefix;	/* their prefixes after them */
	struct sm_tree dir_tree;	/* over dir_prefix, from this struct */
	struct sm_page *const *pages;
	const struct sm_search *search;	/* the map's search path */
};

/* What a build changes, for publishing and statistics. */
struct sm_delta {
	struct sm_dropblock *dropped;	/* what the old snapshot loses
					 * (retire.h) */
	size_t dropped_bytes;		/* their memory */
	size_t added_bytes;		/* new chunks */
};

/*
 * One change to apply: @entry becomes the entry for its key, or, with
 * @entry NULL, the key @key/@klen is removed.  Arrays of changes given to
 * sm_layout_merge() are sorted by key with no key twice.
 */
struct sm_change {
	const void *key;
	size_t klen;
	struct sm_entry *entry;
};

/* A position in a snapshot: entry @index of chunk @slot of page @page. */
struct sm_cursor {
	size_t page;
	size_t slot;
	size_t index;
};

struct snapmap_snapshot *sm_layout_empty(struct snapmap *map,
					 uint64_t version);
/*
 * A new snapshot: @old with @changes applied, at @version.  @delta
 * receives what @old holds that the new snapshot does not (for
 * sm_reclaim_link()) and the bytes that come and go.  The snapshot stores
 * copies of the changes' entries.  Nothing is changed when it returns
 * NULL (ENOMEM).  The values the changes replace or delete are destroyed
 * when no snapshot older than @version is left.
 */
struct snapmap_snapshot *sm_layout_merge(const struct snapmap_snapshot *old,
					 const struct sm_change *changes,
					 size_t nchanges, uint64_t version,
					 struct sm_delta *delta);
/*
 * A new snapshot holding exactly @entries (sorted by key, unique), at
 * @version; like sm_layout_merge(), @delta->dropped receives all of @old.
 */
struct snapmap_snapshot *sm_layout_build(const struct snapmap_snapshot *old,
					 struct sm_entry *const *entries,
					 size_t n, uint64_t version,
					 struct sm_delta *delta);
/* The entry with @key, or NULL; it lives as long as @snap. */
const struct sm_entry *sm_layout_find(const struct snapmap_snapshot *snap,
				      const void *key, size_t klen);
/* Cursor on the first entry >= @key (past the end when none). */
void sm_layout_seek(const struct snapmap_snapshot *snap,
		    const void *key, size_t klen, struct sm_cursor *cur);
void sm_layout_first(const struct snapmap_snapshot *snap,
		     struct sm_cursor *cur);
/* Moves @cur to the next entry and returns it, or NULL past the end. */
const struct sm_entry *sm_layout_next(const struct snapmap_snapshot *snap,
				      struct sm_cursor *cur);
/* Fills @kv[0..max) with the entries after @cur and moves @cur to the
 * last one filled; returns how many (0 past the end). */
size_t sm_layout_next_n(const struct snapmap_snapshot *snap,
			struct sm_cursor *cur, struct snapmap_kv *kv,
			size_t max);
/* The entry under @cur, or NULL past the end. */
const struct sm_entry *sm_layout_at(const struct snapmap_snapshot *snap,
				    const struct sm_cursor *cur);
/* For tests of the layout: how many chunks @snap has, and how many
 * entries the chunk that @key falls into holds (0 if the map is empty). */
size_t sm_layout_nchunks(const struct snapmap_snapshot *snap);
size_t sm_layout_chunk_size_of(const struct snapmap_snapshot *snap,
			       const void *key, size_t klen);
/* Frees the snapshot's own memory (its directory), not what it holds. */
void sm_layout_free(struct snapmap_snapshot *snap);

#endif /* SNAPMAP_SNAPSHOT_H */
