/*
 * hot_path.c - readers look keys up on a hot path while a writer
 * publishes changes.
 *
 * Reader threads look up "route:<n>" keys in a tight loop, each lookup a
 * read-side critical section around snapmap_find(); the main thread
 * updates routes and swaps in a batch.  Every value a reader sees must be
 * a complete, valid route.  Exits 0 when all lookups were consistent.
 */
#include <urcu.h>		/* the memb flavor: snapmap_new() binds to it */
#include <snapmap.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NROUTES 64
#define NREADERS 2
#define NUPDATES 2000

struct route {
	unsigned id;
	unsigned next_hop;
	unsigned check;		/* id ^ next_hop: detects a torn value */
};

static struct snapmap *table;
static atomic_int stop;	/* C11 atomic: ThreadSanitizer sees it */

static void route_key(char *buf, size_t size, unsigned id)
{
	snprintf(buf, size, "route:%u", id);
}

static void *reader(void *arg)
{
	unsigned long lookups = 0, bad = 0;
	char key[32];

	(void)arg;
	rcu_register_thread();
	while (!atomic_load(&stop)) {
		for (unsigned id = 0; id < NROUTES; id++) {
			const struct route *r;
			size_t len;

			route_key(key, sizeof(key), id);
			rcu_read_lock();
			if (snapmap_find(snapmap_snapshot(table), key,
					 strlen(key), (const void **)&r,
					 &len) == 0 &&
			    (len != sizeof(*r) || r->id != id ||
			     r->check != (r->id ^ r->next_hop)))
				bad++;
			rcu_read_unlock();
			lookups++;
		}
	}
	rcu_unregister_thread();
	printf("reader: %lu lookups, %lu inconsistent\n", lookups, bad);
	return (void *)bad;
}

static int set_route(unsigned id, unsigned next_hop)
{
	struct route r = { id, next_hop, id ^ next_hop };
	char key[32];

	route_key(key, sizeof(key), id);
	return snapmap_put(table, key, strlen(key), &r, sizeof(r));
}

int main(void)
{
	pthread_t readers[NREADERS];
	struct snapmap_batch *batch;
	unsigned long bad = 0;
	uint64_t version;
	int rc = 0;

	rcu_register_thread();
	table = snapmap_new(NULL);
	if (!table)
		return 1;
	for (unsigned id = 0; id < NROUTES; id++)
		rc |= set_route(id, 0);
	for (int i = 0; i < NREADERS; i++)
		pthread_create(&readers[i], NULL, reader, NULL);

	/* Single writes: each one is published atomically. */
	for (unsigned n = 1; n <= NUPDATES; n++)
		rc |= set_route(n % NROUTES, n);

	/* A batch: readers see every route moved, or none. */
	batch = snapmap_batch_new(table);
	for (unsigned id = 0; id < NROUTES; id++) {
		struct route r = { id, 9999, id ^ 9999 };
		char key[32];

		route_key(key, sizeof(key), id);
		rc |= snapmap_batch_put(batch, key, strlen(key), &r, sizeof(r));
	}
	rc |= snapmap_batch_commit(batch, &version, NULL);
	snapmap_batch_free(batch);

	atomic_store(&stop, 1);
	for (int i = 0; i < NREADERS; i++) {
		void *ret;

		pthread_join(readers[i], &ret);
		bad += (unsigned long)ret;
	}
	printf("writer: %d single puts and one batch, now at version %llu\n",
	       NROUTES + NUPDATES, (unsigned long long)version);
	rc |= snapmap_destroy(table);
	rcu_unregister_thread();
	return rc || bad ? 1 : 0;
}
