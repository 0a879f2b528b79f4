/*
 * batch.c - ops and batches.
 *
 * An op is one staged change with its key and value already copied.  A
 * commit sorts its ops by key (then staging order), walks each key's ops
 * in staging order starting from the key's current value to check the
 * conditions and find the key's final state, and publishes all final
 * states in one merge: O(k log k) for the sort, O(k log n) for the
 * look-ups, then every touched chunk rebuilt once (build.c).  Single-key
 * writes are commits of one op (write.c).
 */
#include "internal.h"
#include "keybytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct snapmap_batch {
	struct snapmap *map;
	struct sm_op *ops;
	size_t nops;
	size_t cap;
	bool has_version;
	uint64_t version;
	bool committed;		/* committed, nothing staged since */
};

/* ------------------------------------------------------------------ */
/* Ops                                                                 */
/* ------------------------------------------------------------------ */

int sm_op_init(struct sm_op *op, const struct snapmap *map,
	       enum sm_op_kind kind, const void *key, size_t klen,
	       const void *val, size_t vlen,
	       const void *expected, size_t elen)
{
	int rc;

	memset(op, 0, sizeof(*op));
	op->kind = kind;
	rc = sm_check_key(map, key, klen);
	if (!rc && sm_op_has_value(op))
		rc = sm_check_value(map, val, vlen);
	if (!rc && kind == SM_OP_CAS)
		rc = sm_check_value(map, expected, elen);
	if (rc)
		return rc;

	if (!sm_op_has_value(op))
		vlen = 0;
	op->entry = sm_entry_new(key, klen, val, vlen);
	if (!op->entry)
		return -ENOMEM;
	if (kind == SM_OP_CAS) {
		/* One spare byte so that an empty expected value still gets
		 * its own (non-NULL) buffer. */
		op->expected = sm_alloc(elen + 1);
		if (!op->expected) {
			sm_entry_free(op->entry);
			op->entry = NULL;
			return -ENOMEM;
		}
		if (elen)
			memcpy(op->expected, expected, elen);
		op->elen = elen;
	}
	return 0;
}

void sm_op_release(struct snapmap *map, struct sm_op *op, bool committed)
{
	/* A stored value lives on as the snapshot's copy; every other value
	 * handed to the write (it failed, was aborted, or a later op of its
	 * batch replaced it) is destroyed now. */
	if (sm_op_has_value(op) && !(committed && op->stored))
		sm_value_destroy(map, op->entry);
	sm_entry_free(op->entry);
	sm_free(op->expected);
	op->entry = NULL;
	op->expected = NULL;
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */
/* ------------------------------------------------------------------ */

/*
 * Sorting a batch compared keys through their entries, a cache miss on
 * each side of each comparison: 1M staged puts spent more than half of
 * their commit there.  Under the bytewise order each op's head is the 8
 * bytes of its key after those every key of the batch shares, as an
 * integer (keybytes.h): heads decide most comparisons, and only equal
 * ones read the keys.  Under a caller's comparator heads are all 0.
 */
static void set_heads(const struct snapmap *map, struct sm_op *ops,
		      size_t nops)
{
	size_t skip;

	if (map->compare || nops < 2) {	/* nothing to sort by bytes */
		for (size_t i = 0; i < nops; i++)
			ops[i].head = 0;
		return;
	}
	skip = ops[0].entry->klen;	/* what the first key shares */
	for (size_t i = 1; i < nops && skip; i++) {
		size_t shared = sm_common_prefix(ops[0].entry, ops[i].entry);

		if (shared < skip)
			skip = shared;
	}
	for (size_t i = 0; i < nops; i++)
		ops[i].head = key_bytes8(sm_entry_key(ops[i].entry),
					 ops[i].entry->klen, skip);
}

static int op_order(const void *pa, const void *pb, void *pmap)
{
	const struct sm_op *a = pa, *b = pb;
	int c;

	if (a->head != b->head)
		return a->head < b->head ? -1 : 1;
	c = sm_compare(pmap, sm_entry_key(a->entry), a->entry->klen,
		       sm_entry_key(b->entry), b->entry->klen);
	if (c)
		return c;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

/*
 * Applies @op to @state, the key's value as the ops before it leave it
 * (NULL: absent).  Returns 0 or the condition's error.
 */
static int op_apply(const struct sm_op *op, const struct sm_entry **state)
{
	const struct sm_entry *cur = *state;

	switch (op->kind) {
	case SM_OP_PUT:
		break;
	case SM_OP_DELETE:
		*state = NULL;
		return 0;
	case SM_OP_DELETE_PRESENT:
		if (!cur)
			return -ENOENT;
		*state = NULL;
		return 0;
	case SM_OP_PUT_IF_ABSENT:
		if (cur)
			return -EEXIST;
		break;
	case SM_OP_REPLACE:
		if (!cur)
			return -ENOENT;
		break;
	case SM_OP_CAS:
		if (!cur)
			return -ENOENT;
		if (cur->vlen != op->elen ||
		    memcmp(sm_entry_val(cur), op->expected, op->elen) != 0)
			return -EAGAIN;
		break;
	}
	*state = op->entry;
	return 0;
}

/*
 * Whether the ops [i, end) on one key are unconditional and end with a
 * put: then the key's present value does not matter (the last put wins)
 * and the commit need not look it up.
 */
static bool key_ends_put(const struct sm_op *ops, size_t i, size_t end)
{
	for (size_t k = i; k < end; k++)
		if (ops[k].kind != SM_OP_PUT && ops[k].kind != SM_OP_DELETE)
			return false;
	return ops[end - 1].kind == SM_OP_PUT;
}

int sm_commit_ops_locked(struct snapmap *map, struct sm_op *ops, size_t nops,
			 uint64_t *version, size_t *failed,
			 const struct sm_entry **conflict)
{
	const struct snapmap_snapshot *cur = sm_current_locked(map);
	struct sm_change *changes, one;
	size_t nchanges = 0;
	int err = 0;

	*failed = SIZE_MAX;
	*conflict = NULL;
	changes = nops == 1 ? &one : sm_alloc(nops * sizeof(*changes));
	if (!changes)
		return -ENOMEM;
	for (size_t i = 0; i < nops; i++)	/* a retried commit */
		ops[i].stored = false;
	set_heads(map, ops, nops);
	/* Bulk loads usually stage in key order: check before sorting. */
	for (size_t i = 1; i < nops; i++) {
		if (op_order(&ops[i - 1], &ops[i], map) > 0) {
			qsort_r(ops, nops, sizeof(*ops), op_order, map);
			break;
		}
	}

	for (size_t i = 0; i < nops;) {
		const struct sm_entry *key = ops[i].entry;
		const struct sm_entry *before, *state;
		struct sm_op *setter;
		size_t end = i + 1;

		/* Equal keys have equal heads: most neighbours differ there. */
		while (end < nops && ops[end].head == ops[i].head &&
		       sm_compare(map, sm_entry_key(key), key->klen,
				  sm_entry_key(ops[end].entry),
				  ops[end].entry->klen) == 0)
			end++;

		before = state = key_ends_put(ops, i, end) ? NULL :
			sm_layout_find(cur, sm_entry_key(key), key->klen);
		setter = NULL;
		for (; i < end; i++) {
			int rc = op_apply(&ops[i], &state);

			if (!rc)
				setter = state ? &ops[i] : NULL;
			if (rc && ops[i].seq < *failed) {
				*failed = ops[i].seq;
				*conflict = state;
				err = rc;
			}
			if (rc) {
				i = end;
				break;
			}
		}
		if (err || state == before)
			continue;
		if (setter)	/* counts only if the commit succeeds */
			setter->stored = true;
		changes[nchanges++] = (struct sm_change){
			.key = sm_entry_key(key), .klen = key->klen,
			.entry = (struct sm_entry *)state,
		};
	}

	if (!err)
		err = sm_publish_locked(map, changes, nchanges, version);
	if (changes != &one)
		sm_free(changes);
	return err;
}

/* ------------------------------------------------------------------ */
/* Batches                                                             */
/* ------------------------------------------------------------------ */

struct snapmap_batch *snapmap_batch_new(struct snapmap *map)
{
	struct snapmap_batch *batch;

	if (!map) {
		errno = EINVAL;
		return NULL;
	}
	batch = sm_calloc(1, sizeof(*batch));
	if (!batch) {
		errno = ENOMEM;
		return NULL;
	}
	batch->map = map;
	uatomic_inc(&map->batches);
	return batch;
}

/* A batch keeps its op array for reuse up to this many ops. */
#define BATCH_KEEP_OPS	1024

static void batch_clear(struct snapmap_batch *batch, bool committed)
{
	for (size_t i = 0; i < batch->nops; i++)
		sm_op_release(batch->map, &batch->ops[i], committed);
	batch->nops = 0;
	batch->has_version = false;
	if (batch->cap > BATCH_KEEP_OPS) {
		/* Don't let one bulk load pin its staging memory. */
		sm_free(batch->ops);
		batch->ops = NULL;
		batch->cap = 0;
	}
}

void snapmap_batch_free(struct snapmap_batch *batch)
{
	struct snapmap *map;

	if (!batch)
		return;
	map = batch->map;
	batch_clear(batch, false);
	sm_free(batch->ops);
	sm_free(batch);
	/* Pairs with the barrier in snapmap_destroy(). */
	cmm_smp_mb__before_uatomic_dec();
	uatomic_dec(&map->batches);
}

/* Room for one more op. */
static int batch_reserve(struct snapmap_batch *batch)
{
	size_t cap = batch->cap ? 2 * batch->cap : 16;
	struct sm_op *ops;

	if (batch->nops < batch->cap)
		return 0;
	if (cap > SIZE_MAX / sizeof(*ops))
		return -ENOMEM;
	ops = sm_alloc(cap * sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	if (batch->nops)
		memcpy(ops, batch->ops, batch->nops * sizeof(*ops));
	sm_free(batch->ops);
	batch->ops = ops;
	batch->cap = cap;
	return 0;
}

static int batch_stage(struct snapmap_batch *batch, enum sm_op_kind kind,
		       const void *key, size_t klen, const void *val,
		       size_t vlen, const void *expected, size_t elen)
{
	struct sm_op op;
	int rc;

	if (!batch)
		return -EINVAL;
	rc = batch_reserve(batch);
	if (rc == 0)
		rc = sm_op_init(&op, batch->map, kind, key, klen, val, vlen,
				expected, elen);
	if (rc) {
		if (sm_kind_has_value(kind))
			sm_value_refused(batch->map, val, vlen);
		return sm_count_failure(batch->map, rc);
	}
	op.seq = batch->nops;
	batch->ops[batch->nops++] = op;
	batch->committed = false;
	return 0;
}

int snapmap_batch_put(struct snapmap_batch *batch, const void *key,
		      size_t klen, const void *val, size_t vlen)
{
	return batch_stage(batch, SM_OP_PUT, key, klen, val, vlen, NULL, 0);
}

int snapmap_batch_delete(struct snapmap_batch *batch, const void *key,
			 size_t klen)
{
	return batch_stage(batch, SM_OP_DELETE, key, klen, NULL, 0, NULL, 0);
}

int snapmap_batch_put_if_absent(struct snapmap_batch *batch, const void *key,
				size_t klen, const void *val, size_t vlen)
{
	return batch_stage(batch, SM_OP_PUT_IF_ABSENT, key, klen, val, vlen,
			   NULL, 0);
}

int snapmap_batch_replace(struct snapmap_batch *batch, const void *key,
			  size_t klen, const void *val, size_t vlen)
{
	return batch_stage(batch, SM_OP_REPLACE, key, klen, val, vlen, NULL, 0);
}

int snapmap_batch_compare_and_swap(struct snapmap_batch *batch,
				   const void *key, size_t klen,
				   const void *expected, size_t elen,
				   const void *val, size_t vlen)
{
	return batch_stage(batch, SM_OP_CAS, key, klen, val, vlen, expected,
			   elen);
}

int snapmap_batch_require_version(struct snapmap_batch *batch,
				  uint64_t version)
{
	if (!batch)
		return -EINVAL;
	batch->has_version = true;
	batch->version = version;
	batch->committed = false;
	return 0;
}

size_t snapmap_batch_count(const struct snapmap_batch *batch)
{
	return batch ? batch->nops : 0;
}

int snapmap_batch_abort(struct snapmap_batch *batch)
{
	if (!batch)
		return -EINVAL;
	batch_clear(batch, false);
	batch->committed = false;
	return 0;
}

int snapmap_batch_commit(struct snapmap_batch *batch, uint64_t *version,
			 size_t *failed_op)
{
	const struct sm_entry *conflict;
	struct snapmap *map;
	size_t failed = SIZE_MAX;
	uint64_t current;
	int rc;

	if (!batch)
		return -EINVAL;
	map = batch->map;
	sm_check_map(map, __func__);
	if (batch->committed) {
		sm_count_failure(map, -EALREADY);
		return -EALREADY;
	}
	rc = sm_writer_lock(map);
	if (rc) {
		sm_count_failure(map, rc);
		return rc;
	}
	current = sm_current_locked(map)->version;
	if (batch->has_version && batch->version != current) {
		rc = -ESTALE;
		failed = SNAPMAP_BATCH_VERSION_OP;
	} else if (batch->nops) {
		rc = sm_commit_ops_locked(map, batch->ops, batch->nops,
					  &current, &failed, &conflict);
	}
	sm_writer_unlock(map);

	if (rc == 0) {
		batch_clear(batch, true);
		batch->committed = true;
		if (version)
			*version = current;
	} else if (failed_op) {
		*failed_op = failed;
	}
	sm_count_failure(map, rc);
	return rc;
}
