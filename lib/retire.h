/*
 * retire.h - retired layout objects (retire.c): the chunks, pages and
 * graves a publish drops, as tagged pointers in blocks that reclamation
 * keeps with the newest live snapshot that holds them, until no live
 * snapshot does and retire.c frees them.
 */
#ifndef SNAPMAP_RETIRE_H
#define SNAPMAP_RETIRE_H

#include <stddef.h>
#include <stdint.h>

#include "snapmap.h"

/*
 * Retired objects, tagged pointers: chunks (cache-line aligned), pages,
 * and graves: copies of the values a write replaced or deleted, for maps
 * with a value destructor (staged entries, 8-aligned).
 */
#define SM_ITEM_PAGE	((uintptr_t)1)
#define SM_ITEM_GRAVE	((uintptr_t)2)
#define SM_ITEM_TAGS	(SM_ITEM_PAGE | SM_ITEM_GRAVE)

/*
 * Objects retired by a publish: the chunks and pages of the old snapshot
 * that the new one no longer holds, and graves.  Each is freed when no
 * live snapshot holds it any more, with the values that died in it.
 */
struct sm_dropblock {
	struct sm_dropblock *next;
	size_t n;
	uintptr_t items[];
};

/* Memory a retired object takes. */
size_t sm_retired_bytes(uintptr_t item);
/*
 * When @snap dies: passes on to the next older live snapshot the objects
 * of @snap's blocks that it still holds, and puts the blocks none of
 * whose objects is held any more on *@unheld, to be freed with
 * sm_retired_free() after the lock is dropped.  Call with reclaim_lock
 * held, while @snap is still in the live list.
 */
void sm_retired_pass_on(struct snapmap_snapshot *snap,
			struct sm_dropblock **unheld);
/* Frees @block and the blocks after it, whose objects no live snapshot
 * holds: the objects, and the values that died in them. */
void sm_retired_free(struct snapmap *map, struct sm_dropblock *block);
/* Every object @snap holds and its values, for the last snapshot of a
 * destroyed map. */
void sm_retired_free_all(struct snapmap_snapshot *snap);

#endif /* SNAPMAP_RETIRE_H */
