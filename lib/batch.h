/*
 * batch.h - ops (batch.c): the kinds of write, one staged change with its
 * key and values already copied, and the commit that checks a set of ops
 * under the writer mutex and publishes them at once.  Single-key writes
 * are commits of one op, batches of many.
 */
#ifndef SNAPMAP_BATCH_H
#define SNAPMAP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapmap.h"
#include "entry.h"

/* The kinds of write; see batch.c. */
enum sm_op_kind {
	SM_OP_PUT,
	SM_OP_DELETE,		/* batch delete: absent is fine */
	SM_OP_DELETE_PRESENT,	/* snapmap_delete: absent is -ENOENT */
	SM_OP_PUT_IF_ABSENT,
	SM_OP_REPLACE,
	SM_OP_CAS,
};

struct sm_op {
	enum sm_op_kind kind;
	size_t seq;			/* staging index */
	struct sm_entry *entry;		/* key (+ new value, except deletes) */
	uint64_t head;			/* set by a commit: see batch.c */
	void *expected;			/* CAS only, owned */
	size_t elen;
	bool stored;			/* the commit stores @entry's value
					 * (no later op of the batch replaced
					 * it) */
};

static inline bool sm_kind_has_value(enum sm_op_kind kind)
{
	return kind != SM_OP_DELETE && kind != SM_OP_DELETE_PRESENT;
}

static inline bool sm_op_has_value(const struct sm_op *op)
{
	return sm_kind_has_value(op->kind);
}

/*
 * Fills @op (validating and copying key, value and expected value).
 * 0, -EINVAL, -E2BIG or -ENOMEM; on error @op owns nothing.
 */
int sm_op_init(struct sm_op *op, const struct snapmap *map,
	       enum sm_op_kind kind, const void *key, size_t klen,
	       const void *val, size_t vlen,
	       const void *expected, size_t elen);
/*
 * Releases what @op holds.  @committed: the write succeeded, so the map
 * owned @op's value: a snapshot stored a copy (whose destructor runs when
 * the last snapshot holding it goes), or, replaced within its batch, it
 * is destroyed now; otherwise the value is dropped without the
 * destructor.
 */
void sm_op_release(struct snapmap *map, struct sm_op *op, bool committed);

/*
 * With the writer mutex held: apply @ops (sorted by key, then seq, by
 * this function) to the current snapshot in one publish.  On a failed
 * condition returns its error, sets *@failed to the smallest failing seq
 * and *@conflict to the entry that made it fail (NULL if absent), valid
 * while the mutex is held.
 */
int sm_commit_ops_locked(struct snapmap *map, struct sm_op *ops, size_t nops,
			 uint64_t *version, size_t *failed,
			 const struct sm_entry **conflict);

#endif /* SNAPMAP_BATCH_H */
