/*
 * compound.c - single-key compound writes.
 *
 * Each is one op evaluated and published under the writer mutex (see
 * sm_write_one), or, for snapmap_update, a caller's function run under
 * it.  snapmap_add_i64 is an update whose function adds.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

int snapmap_put_if_absent(struct snapmap *map, const void *key, size_t klen,
			  const void *val, size_t vlen,
			  void *existing, size_t existing_size,
			  size_t *existing_len)
{
	const struct sm_copy_out out = {
		.buf = existing, .size = existing_size, .len = existing_len,
	};

	if (!existing && existing_size)
		return sm_count_failure(map, -EINVAL);
	return sm_write_one(map, SM_OP_PUT_IF_ABSENT, key, klen, val, vlen,
			    NULL, 0, &out);
}

int snapmap_replace(struct snapmap *map, const void *key, size_t klen,
		    const void *val, size_t vlen)
{
	return sm_write_one(map, SM_OP_REPLACE, key, klen, val, vlen, NULL, 0,
			    NULL);
}

int snapmap_compare_and_swap(struct snapmap *map, const void *key, size_t klen,
			     const void *expected, size_t elen,
			     const void *val, size_t vlen)
{
	return sm_write_one(map, SM_OP_CAS, key, klen, val, vlen, expected,
			    elen, NULL);
}

/* What an update function decided, and the key it decided about. */
struct snapmap_update {
	struct snapmap *map;
	const void *key;
	size_t klen;
	bool del;
	struct sm_entry *entry;		/* the value set, if any */
};

/*
 * Drops the value set so far; @published: a snapshot stores a copy of it,
 * else it is destroyed (replaced by a later set or a delete in the same
 * callback, or the update failed).
 */
static void update_drop_value(struct snapmap_update *u, bool published)
{
	if (u->entry && !published)
		sm_value_destroy(u->map, u->entry);
	sm_entry_free(u->entry);
	u->entry = NULL;
}

int snapmap_update_set(struct snapmap_update *u, const void *val, size_t vlen)
{
	struct sm_entry *e = NULL;
	int rc;

	if (!u)
		return -EINVAL;
	rc = sm_check_value(u->map, val, vlen);
	if (rc == 0) {
		e = sm_entry_new(u->key, u->klen, val, vlen);
		if (!e)
			rc = -ENOMEM;
	}
	if (rc) {
		sm_value_refused(u->map, val, vlen);
		return rc;
	}
	update_drop_value(u, false);
	u->entry = e;
	u->del = false;
	return 0;
}

int snapmap_update_delete(struct snapmap_update *u)
{
	if (!u)
		return -EINVAL;
	update_drop_value(u, false);
	u->del = true;
	return 0;
}

int snapmap_update(struct snapmap *map, const void *key, size_t klen,
		   snapmap_update_fn fn, void *ctx)
{
	struct snapmap_update u = { .map = map, .key = key, .klen = klen };
	struct sm_update_frame frame;
	const struct sm_entry *cur;
	struct sm_change change;
	int rc;

	if (!map || !fn)
		return sm_count_failure(map, -EINVAL);
	sm_check_map(map, __func__);
	rc = sm_check_key(map, key, klen);
	if (rc == 0)
		rc = sm_writer_lock(map);
	if (rc) {
		sm_count_failure(map, rc);
		return rc;
	}

	cur = sm_layout_find(sm_current_locked(map), key, klen);
	sm_update_frame_enter(&frame, map);
	rc = fn(key, klen, cur ? sm_entry_val(cur) : NULL, cur ? cur->vlen : 0,
		cur != NULL, &u, ctx);
	sm_update_frame_leave(&frame);

	if (rc >= 0) {
		rc = 0;
		if (u.entry || (u.del && cur)) {
			change = (struct sm_change){
				.key = key, .klen = klen, .entry = u.entry,
			};
			rc = sm_publish_locked(map, &change, 1, NULL);
		}
	}
	sm_writer_unlock(map);

	/* On success the snapshot holds its own copy of the value. */
	update_drop_value(&u, rc == 0);
	sm_count_failure(map, rc);
	return rc;
}

struct add_i64 {
	int64_t delta;
	int64_t result;
};

static int add_i64_fn(const void *key, size_t klen, const void *cur,
		      size_t curlen, bool present, struct snapmap_update *u,
		      void *ctx)
{
	struct add_i64 *add = ctx;
	int64_t value = 0;

	(void)key;
	(void)klen;
	if (present) {
		if (curlen != sizeof(value))
			return -EINVAL;
		memcpy(&value, cur, sizeof(value));
	}
	if (__builtin_add_overflow(value, add->delta, &value))
		return -EOVERFLOW;
	add->result = value;
	return snapmap_update_set(u, &value, sizeof(value));
}

int snapmap_add_i64(struct snapmap *map, const void *key, size_t klen,
		    int64_t delta, int64_t *result)
{
	struct add_i64 add = { .delta = delta };
	int rc = snapmap_update(map, key, klen, add_i64_fn, &add);

	if (rc == 0 && result)
		*result = add.result;
	return rc;
}
