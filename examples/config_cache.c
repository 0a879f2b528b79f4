/*
 * config_cache.c - a configuration cache that reloads itself from a file.
 *
 * Reader threads look settings up on a hot path (a read-side critical
 * section around snapmap_find, nothing else) while the main thread, as
 * a deployment tool would, replaces the configuration file several
 * times.  Every third replacement is deliberately corrupt.  The map
 * follows the file through snapmap_watch_file():
 *
 * - a good file becomes the map's next version in one publish, so a
 *   reader sees all of one generation or all of the next, never a mix;
 * - a corrupt file is reported through the callback and skipped: the
 *   readers keep the last good generation.
 *
 * The main thread waits for each good reload with snapmap_wait_version()
 * and for each rejection with the callback's condition variable, with a
 * timeout, so the program is bounded in time.  Exits 0 when readers saw
 * only complete, valid generations, every good file was loaded and every
 * corrupt one reported.
 */
#include <urcu.h>		/* the memb flavor: snapmap_new() binds to it */
#include <snapmap.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSETTINGS	32
#define NREADERS	2
#define NGENERATIONS	10
#define WAIT_MS		20000

/* One setting.  @check detects a torn or mixed-up value. */
struct setting {
	unsigned generation;
	unsigned index;
	unsigned check;
};

static unsigned check_of(unsigned generation, unsigned index)
{
	return generation * 2654435761u ^ index;
}

static struct snapmap *config;
/* C11 atomics rather than uatomic: ThreadSanitizer sees these. */
static int stop;

/* What the watcher reported, for the main thread to wait on. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t report_cond = PTHREAD_COND_INITIALIZER;
static unsigned rejected;

static void on_reload(const char *path, int result, uint64_t version,
		      const struct snapmap_error *err, void *ctx)
{
	(void)ctx;
	if (result == 0) {
		printf("watcher: %s loaded as version %llu\n", path,
		       (unsigned long long)version);
		return;
	}
	printf("watcher: %s rejected, old version kept: %s\n", path,
	       err->message);
	pthread_mutex_lock(&report_lock);
	rejected++;
	pthread_cond_broadcast(&report_cond);
	pthread_mutex_unlock(&report_lock);
}

static void setting_key(char *buf, size_t size, unsigned index)
{
	snprintf(buf, size, "setting:%02u", index);
}

/* The hot path: settings 0 and @index must come from one generation. */
static void *reader(void *arg)
{
	unsigned long lookups = 0, bad = 0;
	unsigned last_generation = 0;
	char key0[32], key[32];

	(void)arg;
	rcu_register_thread();
	setting_key(key0, sizeof(key0), 0);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		for (unsigned i = 1; i < NSETTINGS; i++) {
			const struct snapmap_snapshot *snap;
			const struct setting *a, *b;
			size_t alen, blen;

			setting_key(key, sizeof(key), i);
			rcu_read_lock();
			snap = snapmap_snapshot(config);
			if (snapmap_count(snap) == 0) {
				rcu_read_unlock();	/* not loaded yet */
				continue;
			}
			if (snapmap_find(snap, key0, strlen(key0),
					 (const void **)&a, &alen) ||
			    snapmap_find(snap, key, strlen(key),
					 (const void **)&b, &blen) ||
			    alen != sizeof(*a) || blen != sizeof(*b) ||
			    a->generation != b->generation || b->index != i ||
			    a->check != check_of(a->generation, 0) ||
			    b->check != check_of(b->generation, i) ||
			    a->generation < last_generation)
				bad++;
			else
				last_generation = a->generation;
			rcu_read_unlock();
			lookups++;
		}
	}
	rcu_unregister_thread();
	printf("reader: %lu lookups, %lu inconsistent, last generation %u\n",
	       lookups, bad, last_generation);
	return (void *)bad;
}

/* Writes generation @g to @path the way a deployment would: a whole new
 * file, renamed into place (snapmap_save does both). */
static int write_generation(struct snapmap *builder, unsigned g,
			    const char *path)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_error err;
	char key[32];
	int rc = 0;

	for (unsigned i = 0; i < NSETTINGS; i++) {
		struct setting s = { g, i, check_of(g, i) };

		setting_key(key, sizeof(key), i);
		rc |= snapmap_put(builder, key, strlen(key), &s, sizeof(s));
	}
	snap = snapmap_pin(builder);
	if (!rc && (rc = snapmap_save(snap, path, &err)))
		fprintf(stderr, "save %s: %s\n", path, err.message);
	snapmap_unpin(snap);
	return rc;
}

/* A corrupt replacement: a good file with one byte damaged, renamed in. */
static int write_corrupt(struct snapmap *builder, unsigned g,
			 const char *dir, const char *path)
{
	char staging[4096 + 16];
	unsigned char buf[4096];
	FILE *f;
	size_t len;
	int rc;

	snprintf(staging, sizeof(staging), "%s/staging", dir);
	rc = write_generation(builder, g, staging);
	f = rc ? NULL : fopen(staging, "r+b");
	if (!f)
		return -1;
	len = fread(buf, 1, sizeof(buf), f);
	buf[len / 2] ^= 0x5a;
	rewind(f);
	rc = fwrite(buf, 1, len, f) != len;
	rc |= fclose(f);
	return rc ? -1 : rename(staging, path);
}

static int wait_rejected(unsigned n)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&report_lock);
	while (rejected < n && rc == 0)
		rc = pthread_cond_timedwait(&report_cond, &report_lock,
					    &deadline);
	pthread_mutex_unlock(&report_lock);
	return rc;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], path[4096 + 16];
	pthread_t readers[NREADERS];
	struct snapmap_watch *watch;
	struct snapmap *builder;
	unsigned corrupt = 0, good = 0;
	uint64_t version = 0, failures = 0;
	unsigned long bad = 0;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/snapmap-config-cache.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/app.snap", dir);
	rcu_register_thread();
	config = snapmap_new(NULL);
	builder = snapmap_new(NULL);
	if (!config || !builder)
		return 1;
	/* Watch first, then write: no change can slip in between. */
	rc = snapmap_watch_file(config, path, 0, on_reload, NULL, &watch);
	if (rc) {
		fprintf(stderr, "watch: %s\n", snapmap_strerror(rc));
		return 1;
	}
	for (int i = 0; i < NREADERS; i++)
		pthread_create(&readers[i], NULL, reader, NULL);

	for (unsigned g = 1; g <= NGENERATIONS && !rc; g++) {
		if (g % 3 == 0) {
			rc = write_corrupt(builder, g, dir, path);
			if (!rc && (rc = wait_rejected(++corrupt)))
				fprintf(stderr, "corrupt file not reported\n");
			continue;
		}
		rc = write_generation(builder, g, path);
		if (!rc && (rc = snapmap_wait_version(config, version, WAIT_MS,
						      &version)))
			fprintf(stderr, "generation %u not loaded\n", g);
		good++;
	}

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < NREADERS; i++) {
		void *ret;

		pthread_join(readers[i], &ret);
		bad += (unsigned long)ret;
	}
	snapmap_watch_stats(watch, NULL, &failures, NULL);
	rc |= snapmap_unwatch(watch);
	printf("main: %u good files loaded, %u corrupt files rejected "
	       "(watcher counted %llu), map at version %llu\n", good, corrupt,
	       (unsigned long long)failures, (unsigned long long)version);
	rc |= failures != corrupt;
	rc |= snapmap_destroy(config);
	rc |= snapmap_destroy(builder);
	rcu_unregister_thread();
	unlink(path);
	rmdir(dir);
	return rc || bad ? 1 : 0;
}
