/*
 * lostupdate.c - the lost-update demonstration.
 *
 * Two threads increment one counter.  On a plain uthash map (the
 * "uthash" floor) each increment is an unsynchronized find + put, the
 * read-modify-write a programmer writes when the map "is only read
 * concurrently": concurrent increments overwrite each other.  This data
 * race is the point of the demonstration; it only ever touches the
 * value word of one existing entry, never the table's structure.
 * With snapmap_add_i64 every increment is atomic with respect to every
 * other writer, so none is lost.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define _LGPL_SOURCE
#include <urcu.h>		/* memb flavor, with the rcu_* names */

#include "snapmap.h"
#include "bench.h"

static const char counter_key[] = "counter";
#define KLEN (sizeof(counter_key) - 1)

struct lu {
	pthread_barrier_t start;
	int running;		/* threads past the barrier */
	uint64_t per_thread;
	void *plain;
	struct snapmap *sm;
};

/* Both threads in their loops before either starts counting. */
static void overlap(struct lu *lu)
{
	pthread_barrier_wait(&lu->start);
	__atomic_add_fetch(&lu->running, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&lu->running, __ATOMIC_ACQUIRE) < 2)
		;
}

static void *plain_main(void *arg)
{
	struct lu *lu = arg;
	const struct subject *s = &subj_uthash;

	overlap(lu);
	for (uint64_t i = 0; i < lu->per_thread; i++) {
		uint64_t v = 0;

		s->find(lu->plain, counter_key, KLEN, &v);
		s->put(lu->plain, counter_key, KLEN, v + 1);
	}
	return NULL;
}

static void *snapmap_main(void *arg)
{
	struct lu *lu = arg;

	rcu_register_thread();
	overlap(lu);
	for (uint64_t i = 0; i < lu->per_thread; i++) {
		int r = snapmap_add_i64(lu->sm, counter_key, KLEN, 1, NULL);

		if (r)
			die("snapmap_add_i64: %s", strerror(-r));
	}
	rcu_unregister_thread();
	return NULL;
}

static double run2(struct lu *lu, void *(*fn)(void *))
{
	pthread_t t[2];
	uint64_t t0;

	lu->running = 0;
	pthread_barrier_init(&lu->start, NULL, 3);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, fn, lu))
			die("pthread_create failed");
	pthread_barrier_wait(&lu->start);
	t0 = now_ns();
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&lu->start);
	return (double)(now_ns() - t0) / 1e9;
}

void run_lost_update(uint64_t per_thread, uint64_t per_thread_snapmap,
		     struct lost_result *r)
{
	struct keyset empty = { .type = KEY_STR, .n = 0 };
	struct lu lu = { .per_thread = per_thread };
	uint64_t v = 0;
	int64_t c = 0;
	size_t vlen;
	int e;

	memset(r, 0, sizeof(*r));
	r->plain_expected = 2 * per_thread;
	r->snapmap_expected = 2 * per_thread_snapmap;
	lu.plain = subj_uthash.create(&empty);
	subj_uthash.put(lu.plain, counter_key, KLEN, 0);
	r->plain_secs = run2(&lu, plain_main);
	subj_uthash.find(lu.plain, counter_key, KLEN, &v);
	r->plain = v;
	subj_uthash.destroy(lu.plain);

	lu.per_thread = per_thread_snapmap;
	lu.sm = snapmap_new(NULL);
	if (!lu.sm)
		die("snapmap_new: %s", strerror(errno));
	r->snapmap_secs = run2(&lu, snapmap_main);
	rcu_register_thread();
	e = snapmap_get(lu.sm, counter_key, KLEN, &c, sizeof(c), &vlen);
	if (e)
		die("snapmap_get: %s", strerror(-e));
	r->snapmap = (uint64_t)c;
	e = snapmap_destroy(lu.sm);
	if (e)
		die("snapmap_destroy: %s", strerror(-e));
	rcu_unregister_thread();
}
