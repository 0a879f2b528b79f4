/*
 * write.h - the write path (write.c): the writer mutex, publishing the
 * next snapshot under it, and the single-key write that plain and
 * compound writes go through.
 */
#ifndef SNAPMAP_WRITE_H
#define SNAPMAP_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "snapmap.h"
#include "batch.h"
#include "entry.h"
#include "snapshot.h"

/*
 * Takes the writer mutex for a write: -EDEADLK from inside an update
 * callback of @map; waits first while reclamation is over the limit;
 * counts the mutex profile.
 */
int sm_writer_lock(struct snapmap *map);
void sm_writer_unlock(struct snapmap *map);
/* Takes the writer mutex without the above; release with
 * pthread_mutex_unlock.  -EDEADLK from inside an update callback. */
int sm_writer_lock_plain(struct snapmap *map);
/* The current snapshot; call with the writer mutex held. */
struct snapmap_snapshot *sm_current_locked(struct snapmap *map);
/*
 * With the writer mutex held: build the next snapshot from @changes,
 * publish it and retire the old one.  0 or -ENOMEM (nothing changed).
 */
int sm_publish_locked(struct snapmap *map, const struct sm_change *changes,
		      size_t nchanges, uint64_t *version);
/*
 * With the writer mutex held: publish a snapshot holding exactly
 * @entries (sorted by key under the map's order, unique), replacing the
 * whole content, as the next version.  0 or -ENOMEM (nothing changed).
 * The snapshot stores copies: the caller still frees @entries.
 */
int sm_replace_all_locked(struct snapmap *map, struct sm_entry *const *entries,
			  size_t n, uint64_t *version);

/*
 * Where a single-key write copies the value that made it fail
 * (put_if_absent's "existing" buffer), snprintf-style.
 */
struct sm_copy_out {
	void *buf;
	size_t size;
	size_t *len;
};

/*
 * One op, one publish: what every single-key write shares.  Validates,
 * copies, takes the writer mutex, applies, publishes.  On -EEXIST, copies
 * the present value to @existing (may be NULL).
 */
int sm_write_one(struct snapmap *map, enum sm_op_kind kind,
		 const void *key, size_t klen, const void *val, size_t vlen,
		 const void *expected, size_t elen,
		 const struct sm_copy_out *existing);

#endif /* SNAPMAP_WRITE_H */
