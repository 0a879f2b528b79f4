/*
 * retire.c - retired layout objects: which live snapshot holds each one,
 * and freeing it when none does.
 *
 * Chunks and pages are shared by consecutive versions, so they are not
 * freed with a snapshot.  Each publish hands the old snapshot what the new
 * one dropped; a retired object always sits with the newest live snapshot
 * that holds it.  When a snapshot dies, each of its objects moves to the
 * next older live snapshot if that one holds it too (a pinned old
 * version), and is freed otherwise.  Since an object is held by one
 * unbroken range of versions, no other live snapshot can hold it then.
 * Without pins, snapshots die oldest first and every object is freed by
 * the death of the last version that held it: no reference counting per
 * entry on the write path.  Why a value that a write replaces or deletes
 * gets a grave of its own: layout.h.
 *
 * The cut.  build.c makes the retirements: which chunks and pages a
 * publish drops and which values die is known only inside the build's
 * walk (drop_item, drop_page, kill_value), and a failed build frees the
 * graves it made itself.  reclaim.c keeps the live-snapshot list, hands
 * each publish's block to the old snapshot (sm_reclaim_link) and calls
 * here when a snapshot dies.  This file knows the rest: what an object
 * is (the tags in retire.h) and costs, which snapshot holds it, where it
 * goes when its holder dies, and how it is freed.
 */
#include "layout.h"

size_t sm_retired_bytes(uintptr_t item)
{
	switch (item & SM_ITEM_TAGS) {
	case SM_ITEM_GRAVE:
		return sm_entry_span((const void *)(item & ~SM_ITEM_TAGS)) +
		       alignof(max_align_t);
	case SM_ITEM_PAGE:
		return ((const struct sm_page *)(item & ~SM_ITEM_TAGS))->bytes;
	default:
		return ((const struct sm_chunk *)item)->bytes;
	}
}

/* Whether @snap holds the retired object @item. */
static bool snapshot_holds(const struct snapmap_snapshot *snap,
			   uintptr_t item)
{
	/* A chunk or a page is in every version from its birth until the
	 * one that replaced it, and never again.  A grave's value was in
	 * every version before the one that replaced it, back to when it was
	 * written (older than any live snapshot may be: counted as held). */
	switch (item & SM_ITEM_TAGS) {
	case SM_ITEM_GRAVE:
		return true;
	case SM_ITEM_PAGE:
		return ((const struct sm_page *)(item & ~SM_ITEM_TAGS))->birth <=
		       snap->version;
	default:
		return ((const struct sm_chunk *)item)->birth <= snap->version;
	}
}

/* Frees a retired object no live snapshot holds (after a grace period),
 * and destroys the values that died in it. */
static void free_item(struct snapmap *map, uintptr_t item)
{
	void *obj = (void *)(item & ~SM_ITEM_TAGS);

	switch (item & SM_ITEM_TAGS) {
	case SM_ITEM_GRAVE:
		sm_value_destroy(map, obj);
		sm_entry_free(obj);
		break;
	case SM_ITEM_PAGE:
		page_free(obj);
		break;
	default:
		chunk_free(obj);
	}
}

/*
 * The blocks none of whose objects is held any more are freed by the
 * caller after it drops reclaim_lock: freeing a big snapshot's objects,
 * and running value destructors, must not hold up publishers, who take
 * the lock.
 */
void sm_retired_pass_on(struct snapmap_snapshot *snap,
			struct sm_dropblock **unheld)
{
	struct snapmap_snapshot *older = snap->older;
	struct sm_dropblock *block;

	while ((block = snap->dropped) != NULL) {
		size_t kept = 0;

		snap->dropped = block->next;
		for (size_t i = 0; older && i < block->n; i++)
			if (snapshot_holds(older, block->items[i]))
				kept++;
		if (!kept) {
			block->next = *unheld;
			*unheld = block;
			continue;
		}
		/* An older snapshot is pinned: keep what it holds in the
		 * block, which moves to it; free the rest now (rare). */
		kept = 0;
		for (size_t i = 0; i < block->n; i++) {
			uintptr_t item = block->items[i];

			if (snapshot_holds(older, item))
				block->items[kept++] = item;
			else
				free_item(snap->map, item);
		}
		block->n = kept;
		block->next = older->dropped;
		older->dropped = block;
	}
}

void sm_retired_free(struct snapmap *map, struct sm_dropblock *block)
{
	while (block) {
		struct sm_dropblock *next = block->next;

		for (size_t i = 0; i < block->n; i++)
			free_item(map, block->items[i]);
		sm_free(block);
		block = next;
	}
}

void sm_retired_free_all(struct snapmap_snapshot *snap)
{
	for (size_t i = 0; i < snap->npages; i++) {
		struct sm_page *p = snap->pages[i];

		for (size_t s = 0; s < p->count; s++) {
			struct sm_chunk *c = p->chunks[s];

			for (size_t k = 0; snap->map->value_destroy &&
					   k < c->count; k++)
				sm_value_destroy(snap->map,
						 chunk_entry_at(c, k));
			chunk_free(c);
		}
		page_free(p);
	}
}
