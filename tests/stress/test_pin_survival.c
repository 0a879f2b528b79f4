/*
 * test_pin_survival.c - a pinned snapshot outlives the versions after it.
 *
 * pin_survives_writes: pin a snapshot, let another thread publish many
 * later versions (every pinned value is overwritten or deleted), and read
 * the pinned snapshot meanwhile with no read lock (offline, under qsbr):
 * contents, count and version stay exactly as recorded at pin time.  A
 * counting value destructor shows that no value of the pinned snapshot
 * (nor of the current one) is destroyed while the pin is held, even after
 * every grace period has passed, that snapmap_destroy refuses the map
 * while it is pinned, that unpinning the last reference destroys them at
 * once, and that in the end every value was destroyed exactly once.
 *
 * pins_handed_over: one thread pins snapshots while a writer publishes,
 * and hands each pin to an unregistered thread that reads it (no read
 * lock), checks it against a digest taken at pin time and that none of
 * its values has been destroyed, holds it while later pins arrive, checks
 * it again and unpins it there.  The last pins are checked once every
 * grace period is over (rcu_barrier), when only the pins keep them.
 */
#include "util.h"

#define PS_KEYS		64	/* prefilled */
#define PS_WRITES	1000	/* by the writer thread */
#define PS_VALUES	(PS_KEYS + PS_WRITES)
#define PS_MAX_CHECKS	400	/* reads of the pinned snapshot meanwhile */
#define PS_PINS		200	/* handed over */
#define PS_QUEUE	8
#define PS_HOLD		16	/* pins the unpinner holds at a time */

#define PS_MAGIC	0x50494e56u	/* "PINV" */

/* Every value stored has its own id. */
struct ps_value {
	uint32_t magic;
	uint32_t id;
	uint64_t check;
};

struct ps_destroyed {
	atomic_uint count[PS_VALUES];
	atomic_uint total;
	atomic_bool bad;	/* a destructor got something we never stored */
};

struct ps_shared {
	struct snapmap *map;
	const struct rcu_flavor_struct *fl;
	struct ps_destroyed destroyed;
	pthread_barrier_t start;
	atomic_bool writer_done;

	/* pins_handed_over: a bounded queue of pins. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct snapmap_snapshot *queue[PS_QUEUE];
	uint64_t queue_digest[PS_QUEUE], queue_version[PS_QUEUE];
	unsigned head, tail;	/* head - tail pins queued */
	bool flushed;		/* writer done, every callback has run */
};

static struct ps_value ps_value(uint32_t id)
{
	struct ps_value v = {
		.magic = PS_MAGIC,
		.id = id,
		.check = id * 0x9e3779b97f4a7c15ull,
	};

	return v;
}

static bool ps_value_ok(const void *val, size_t vlen, uint32_t *id)
{
	struct ps_value v;

	if (!val || vlen != sizeof(v))
		return false;
	memcpy(&v, val, sizeof(v));
	*id = v.id;
	return v.magic == PS_MAGIC && v.id < PS_VALUES &&
	       v.check == v.id * 0x9e3779b97f4a7c15ull;
}

/* snapmap_value_destroy_fn: count, per value id. */
static void ps_destroy(void *val, size_t vlen, void *ctx)
{
	struct ps_destroyed *d = ctx;
	uint32_t id;

	if (!ps_value_ok(val, vlen, &id)) {
		atomic_store(&d->bad, true);
		return;
	}
	atomic_fetch_add(&d->count[id], 1);
	atomic_fetch_add(&d->total, 1);
}

static size_t ps_key(unsigned k, char *buf)
{
	return (size_t)sprintf(buf, "pin/%03u", k);
}

static void ps_setup(struct ps_shared *sh, enum st_flavor f)
{
	struct snapmap_config cfg;
	struct ps_value v;
	char key[32];
	unsigned k;
	int rc;

	memset(sh, 0, sizeof(*sh));
	sh->fl = st_flavor(f);
	sh->fl->register_thread();
	memset(&cfg, 0, sizeof(cfg));
	cfg.value_destroy = ps_destroy;
	cfg.destroy_ctx = &sh->destroyed;
	sh->map = st_map_new(sh->fl, &cfg);
	for (k = 0; k < PS_KEYS; k++) {
		v = ps_value(k);
		rc = snapmap_put(sh->map, key, ps_key(k, key), &v, sizeof(v));
		cr_assert_eq(rc, 0, "prefill put: %d", rc);
	}
	pthread_mutex_init(&sh->lock, NULL);
	pthread_cond_init(&sh->cond, NULL);
}

/* Destroys the map; then every stored value was destroyed exactly once. */
static void ps_teardown(struct ps_shared *sh)
{
	unsigned id;

	st_map_destroy(sh->map);
	cr_assert(!atomic_load(&sh->destroyed.bad),
		  "a destructor got a value that was never stored");
	for (id = 0; id < PS_VALUES; id++)
		cr_assert_eq(atomic_load(&sh->destroyed.count[id]), 1,
			     "value %u destroyed %u times", id,
			     atomic_load(&sh->destroyed.count[id]));
	pthread_mutex_destroy(&sh->lock);
	pthread_cond_destroy(&sh->cond);
	sh->fl->unregister_thread();
}

/*
 * Writer: first overwrites or deletes every prefilled key (so the values
 * of the prefilled snapshot live on in the pin only), then random puts
 * (new keys too) and deletes; PS_WRITES puts in all, one new value id
 * each.
 */
static void *ps_writer_main(void *arg)
{
	struct ps_shared *sh = arg;
	const struct rcu_flavor_struct *fl = sh->fl;
	uint64_t rng = 0x9e11, id = PS_KEYS;
	unsigned k, step = 0;
	struct ps_value v;
	char key[32];
	size_t klen;
	int rc;

	st_thread_begin(fl, &sh->start);
	while (id < PS_VALUES && !st_failed()) {
		if (step < PS_KEYS)
			k = step;
		else
			k = (unsigned)st_rand_below(&rng, PS_KEYS * 3 / 2);
		klen = ps_key(k, key);
		if ((step < PS_KEYS && k % 4 == 0) ||
		    (step >= PS_KEYS && st_rand_below(&rng, 4) == 0)) {
			rc = snapmap_delete(sh->map, key, klen);
			if (!ST_CHECK(rc == 0 || rc == -ENOENT,
				      "writer: delete returned %d", rc))
				break;
		} else {
			v = ps_value((uint32_t)id++);
			rc = snapmap_put(sh->map, key, klen, &v, sizeof(v));
			if (!ST_CHECK(rc == 0, "writer: put returned %d", rc))
				break;
		}
		step++;
		fl->read_quiescent_state();
		st_maybe_yield(&rng, 16);
	}
	atomic_store(&sh->writer_done, true);
	st_thread_end(fl);
	return NULL;
}

/*
 * Entry check for pinned snapshots: a value we stored, not destroyed
 * while a pin holds it.
 */
static bool ps_check_live(const struct snapmap_kv *kv, size_t index,
			  void *ctx)
{
	struct ps_shared *sh = ctx;
	uint32_t id;

	if (!ST_CHECK(ps_value_ok(kv->val, kv->vlen, &id), "pinned entry %zu "
		      "holds a value never stored", index))
		return false;
	return ST_CHECK(atomic_load(&sh->destroyed.count[id]) == 0,
			"value %u of a live snapshot (entry %zu) already "
			"destroyed", id, index);
}

/* The pinned snapshot's recorded contents. */
struct ps_record {
	uint64_t version;
	size_t count;
	char keys[PS_KEYS][32];
	size_t klen[PS_KEYS];
	struct ps_value vals[PS_KEYS];
};

static void ps_record(const struct snapmap_snapshot *snap,
		      struct ps_record *rec)
{
	struct snapmap_iter it;
	struct snapmap_kv kv;
	size_t n = 0;
	int rc;

	rec->version = snapmap_version(snap);
	rec->count = snapmap_count(snap);
	cr_assert_eq(rec->count, PS_KEYS);
	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv), n++) {
		cr_assert(n < PS_KEYS && kv.klen < sizeof(rec->keys[n]) &&
			  kv.vlen == sizeof(rec->vals[n]));
		memcpy(rec->keys[n], kv.key, kv.klen);
		rec->klen[n] = kv.klen;
		memcpy(&rec->vals[n], kv.val, kv.vlen);
	}
	cr_assert_eq(n, PS_KEYS);
}

/* Worker-safe: @snap still holds exactly what @rec recorded. */
static bool ps_matches(struct ps_shared *sh,
		       const struct snapmap_snapshot *snap,
		       const struct ps_record *rec)
{
	struct snapmap_iter it;
	struct snapmap_kv kv;
	struct st_snap_info info;
	const void *val;
	size_t n = 0, vlen;
	int rc;

	if (!st_validate_snapshot(snap, PS_KEYS, ps_check_live, sh, &info))
		return false;
	if (!ST_CHECK(info.version == rec->version && info.count == rec->count,
		      "pinned snapshot now v%" PRIu64 "/%zu entries, was v%"
		      PRIu64 "/%zu", info.version, info.count, rec->version,
		      rec->count))
		return false;
	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv), n++) {
		if (!ST_CHECK(st_bytes_eq(kv.key, kv.klen, rec->keys[n],
					  rec->klen[n]) &&
			      st_bytes_eq(kv.val, kv.vlen, &rec->vals[n],
					  sizeof(rec->vals[n])),
			      "pinned entry %zu changed", n))
			return false;
		rc = snapmap_find(snap, rec->keys[n], rec->klen[n], &val, &vlen);
		if (!ST_CHECK(rc == 0 && st_bytes_eq(val, vlen, &rec->vals[n],
						     sizeof(rec->vals[n])),
			      "find in the pinned snapshot: entry %zu (%d)", n,
			      rc))
			return false;
	}
	return true;
}

struct ps_param {
	enum st_flavor flavor;
};

ParameterizedTestParameters(stress, pin_survives_writes)
{
	static struct ps_param params[] = { { ST_MEMB }, { ST_QSBR } };

	return cr_make_param_array(struct ps_param, params, ST_NELEM(params));
}

ParameterizedTest(struct ps_param *p, stress, pin_survives_writes,
		  .init = st_test_init, .timeout = ST_TIMEOUT)
{
	static struct ps_shared sh;
	static struct ps_record rec;
	const struct rcu_flavor_struct *fl;
	const struct snapmap_snapshot *pin, *cur;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	pthread_t writer;
	unsigned id, checks = 0;
	uint32_t vid;
	uint64_t version;
	bool ok = true;
	int rc;

	ps_setup(&sh, p->flavor);
	fl = sh.fl;
	pin = snapmap_pin(sh.map);
	cr_assert_not_null(pin, "pin: %s", strerror(errno));
	ps_record(pin, &rec);

	rc = snapmap_destroy(sh.map);
	cr_assert_eq(rc, -EBUSY, "destroy of a pinned map returned %d", rc);

	/*
	 * Read the pin with no read lock while the writer publishes; under
	 * qsbr, offline, so grace periods pass meanwhile.
	 */
	st_barrier_init(&sh.start, 1);
	st_spawn(&writer, ps_writer_main, &sh);
	fl->thread_offline();
	cr_assert(!fl->read_ongoing(), "reading the pin inside a read-side "
		  "critical section would prove nothing");
	do {
		ok = ps_matches(&sh, pin, &rec);
		checks++;
	} while (ok && !atomic_load(&sh.writer_done) && checks < PS_MAX_CHECKS);
	rc = pthread_join(writer, NULL);
	fl->thread_online();
	cr_assert_eq(rc, 0);
	st_assert_no_failure();
	cr_assert(ok);

	/* Every callback queued so far has run: all grace periods are over. */
	fl->barrier();
	fl->thread_offline();
	ok = ps_matches(&sh, pin, &rec);
	fl->thread_online();
	st_assert_no_failure();
	cr_assert(ok);
	for (id = 0; id < PS_KEYS; id++)
		cr_assert_eq(atomic_load(&sh.destroyed.count[id]), 0,
			     "value %u of the pinned snapshot destroyed before "
			     "the unpin", id);

	/* Neither may a value of the current snapshot be destroyed. */
	fl->read_lock();
	cur = snapmap_snapshot(sh.map);
	version = snapmap_version(cur);
	for (rc = snapmap_iter_first(cur, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv)) {
		cr_assert(ps_value_ok(kv.val, kv.vlen, &vid));
		cr_assert(vid >= PS_KEYS, "prefilled value %u outlived the "
			  "writer's first pass", vid);
		cr_assert_eq(atomic_load(&sh.destroyed.count[vid]), 0,
			     "value %u is current but was destroyed", vid);
	}
	fl->read_unlock();
	cr_assert_gt(version, rec.version + PS_WRITES - 1);
	for (id = 0; id < PS_VALUES; id++)
		cr_assert_leq(atomic_load(&sh.destroyed.count[id]), 1,
			      "value %u destroyed twice", id);

	/* The last reference goes: its values are destroyed in the unpin. */
	snapmap_unpin(pin);
	for (id = 0; id < PS_KEYS; id++)
		cr_assert_eq(atomic_load(&sh.destroyed.count[id]), 1,
			     "value %u of the unpinned snapshot destroyed %u "
			     "times by the unpin", id,
			     atomic_load(&sh.destroyed.count[id]));

	pthread_barrier_destroy(&sh.start);
	ps_teardown(&sh);
}

/* pins_handed_over ------------------------------------------------- */

static void *ps_pinner_main(void *arg)
{
	struct ps_shared *sh = arg;
	const struct rcu_flavor_struct *fl = sh->fl;
	const struct snapmap_snapshot *pin;
	unsigned i;

	st_thread_begin(fl, &sh->start);
	for (i = 0; i < PS_PINS; i++) {
		pin = snapmap_pin(sh->map);
		if (!ST_CHECK(pin != NULL, "pin: %s", strerror(errno)))
			pin = NULL;	/* handed over anyway: ends the consumer */
		fl->read_quiescent_state();
		/* Blocking on the queue: offline under qsbr. */
		fl->thread_offline();
		pthread_mutex_lock(&sh->lock);
		while (sh->head - sh->tail == PS_QUEUE)
			pthread_cond_wait(&sh->cond, &sh->lock);
		sh->queue[sh->head % PS_QUEUE] = pin;
		sh->queue_digest[sh->head % PS_QUEUE] =
			pin ? st_snapshot_digest(pin) : 0;
		sh->queue_version[sh->head % PS_QUEUE] =
			pin ? snapmap_version(pin) : 0;
		sh->head++;
		pthread_cond_broadcast(&sh->cond);
		pthread_mutex_unlock(&sh->lock);
		fl->thread_online();
		if (!pin)
			break;
	}
	st_thread_end(fl);
	return NULL;
}

/* A pin the unpinner holds, and the digest taken when it was pinned. */
struct ps_held {
	const struct snapmap_snapshot *pin;
	uint64_t digest, version;
	unsigned index;
};

/* Worker-safe: @h is still what was pinned, none of its values destroyed. */
static bool ps_check_held(struct ps_shared *sh, const struct ps_held *h)
{
	struct st_snap_info info;

	return st_validate_snapshot(h->pin, PS_KEYS * 3 / 2, ps_check_live, sh,
				    &info) &&
	       ST_CHECK(info.digest == h->digest && info.version == h->version,
			"pin %u (v%" PRIu64 ") changed since it was pinned (as v%"
			PRIu64 ")", h->index, info.version, h->version);
}

/*
 * Not a registered RCU thread: pinned snapshots and unpin need none.
 * Holds the last PS_HOLD pins while the writer goes on, checks each when
 * it arrives and again just before unpinning it.
 */
static void *ps_unpinner_main(void *arg)
{
	struct ps_shared *sh = arg;
	struct ps_held held[PS_HOLD], *h;
	uint64_t prev_version = 0;
	unsigned i, n = 0;
	bool ok = true;

	for (i = 0; i < PS_PINS; i++) {
		if (n == PS_HOLD) {
			/* Release the oldest, after one last look. */
			h = &held[i % PS_HOLD];
			ok = ok && ps_check_held(sh, h);
			snapmap_unpin(h->pin);
			n--;
		}
		h = &held[i % PS_HOLD];
		pthread_mutex_lock(&sh->lock);
		while (sh->head == sh->tail)
			pthread_cond_wait(&sh->cond, &sh->lock);
		h->pin = sh->queue[sh->tail % PS_QUEUE];
		h->digest = sh->queue_digest[sh->tail % PS_QUEUE];
		h->version = sh->queue_version[sh->tail % PS_QUEUE];
		h->index = i;
		sh->tail++;
		pthread_cond_broadcast(&sh->cond);
		pthread_mutex_unlock(&sh->lock);
		if (!h->pin)
			break;
		n++;
		ok = ok && ps_check_held(sh, h) &&
		     ST_CHECK(snapmap_version(h->pin) >= prev_version,
			      "pins went back from v%" PRIu64 " to v%" PRIu64,
			      prev_version, snapmap_version(h->pin));
		prev_version = snapmap_version(h->pin);
	}
	/*
	 * Wait until the main thread has seen the writer finish and every
	 * call_rcu callback run: all grace periods are over, so only the
	 * references we hold keep these snapshots and their values alive.
	 */
	pthread_mutex_lock(&sh->lock);
	while (!sh->flushed)
		pthread_cond_wait(&sh->cond, &sh->lock);
	pthread_mutex_unlock(&sh->lock);
	/* The pins still held: @i is one past the newest. */
	for (; n > 0; n--) {
		h = &held[(i - n) % PS_HOLD];
		ok = ok && ps_check_held(sh, h);
		snapmap_unpin(h->pin);
	}
	return NULL;
}

ParameterizedTestParameters(stress, pins_handed_over)
{
	static struct ps_param params[] = { { ST_MEMB }, { ST_QSBR } };

	return cr_make_param_array(struct ps_param, params, ST_NELEM(params));
}

ParameterizedTest(struct ps_param *p, stress, pins_handed_over,
		  .init = st_test_init, .timeout = ST_TIMEOUT)
{
	static struct ps_shared sh;
	pthread_t tids[3];
	unsigned id;
	int rc;

	ps_setup(&sh, p->flavor);
	st_barrier_init(&sh.start, 2);
	st_spawn(&tids[0], ps_writer_main, &sh);
	st_spawn(&tids[1], ps_pinner_main, &sh);
	st_spawn(&tids[2], ps_unpinner_main, &sh);
	st_join(sh.fl, tids, 2);	/* writer and pinner */
	sh.fl->barrier();
	pthread_mutex_lock(&sh.lock);
	sh.flushed = true;
	pthread_cond_broadcast(&sh.cond);
	pthread_mutex_unlock(&sh.lock);
	st_join(sh.fl, &tids[2], 1);
	st_assert_no_failure();
	cr_assert_eq(sh.head, PS_PINS, "%u pins handed over", sh.head);
	cr_assert_eq(sh.tail, PS_PINS, "%u pins released", sh.tail);

	/* Every pin is released: the map may go. */
	for (id = 0; id < PS_VALUES; id++)
		cr_assert_leq(atomic_load(&sh.destroyed.count[id]), 1,
			      "value %u destroyed twice", id);
	rc = atomic_load(&sh.destroyed.bad);
	cr_assert_eq(rc, 0, "a destructor got a value never stored");
	pthread_barrier_destroy(&sh.start);
	ps_teardown(&sh);
}
