/*
 * mirror.c - the mirror's thread and the public calls.
 *
 * The thread runs: sync (a range published as one snapshot), then watch
 * until the stream ends; a compacted watch sends it back to sync, any
 * other failure moves to the next endpoint and waits a backoff before
 * watching again from the last applied revision.
 */
#include "internal.h"
#include "base64.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONNECT_MS	2000
#define DEFAULT_REQUEST_MS	10000
#define DEFAULT_BACKOFF_MIN_MS	100
#define DEFAULT_BACKOFF_MAX_MS	5000
#define DEFAULT_STALE_MS	10000
#define DEFAULT_PAGE_SIZE	1000

uint64_t etcd_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t->tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - t->tv_nsec) / 1000000);
}

void etcd_fail(struct snapmap_etcd_mirror *m, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->msg, sizeof(m->msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&m->lock);
	m->st.last_error = code;
	memcpy(m->st.last_message, m->msg, sizeof(m->st.last_message));
	pthread_mutex_unlock(&m->lock);
}

void etcd_emit(struct snapmap_etcd_mirror *m,
	       enum snapmap_etcd_event_type type, int code, uint64_t stale_ms)
{
	struct snapmap_etcd_event ev = {
		.type = type,
		.revision = snapmap_etcd_revision(m),
		.code = code,
		.message = type == SNAPMAP_ETCD_ERROR ? m->msg : "",
		.stale_ms = stale_ms,
	};

	if (m->cfg.event)
		m->cfg.event(m, &ev, m->cfg.event_ctx);
}

void etcd_seen_revision(struct snapmap_etcd_mirror *m, int64_t rev)
{
	pthread_mutex_lock(&m->lock);
	if (rev > m->st.etcd_revision)
		m->st.etcd_revision = rev;
	pthread_mutex_unlock(&m->lock);
}

/* The map now holds @rev: wake snapmap_etcd_wait_revision(). */
void etcd_set_revision(struct snapmap_etcd_mirror *m, int64_t rev)
{
	pthread_mutex_lock(&m->lock);
	if (rev > m->st.revision) {
		m->st.revision = rev;
		pthread_cond_broadcast(&m->cond);
	}
	if (rev > m->st.etcd_revision)
		m->st.etcd_revision = rev;
	pthread_mutex_unlock(&m->lock);
}

/* Reports SNAPMAP_ETCD_STALE once per loss of the watch. */
void etcd_check_stale(struct snapmap_etcd_mirror *m)
{
	uint64_t ms;
	bool watching;

	if (m->stale_reported)
		return;
	pthread_mutex_lock(&m->lock);
	watching = m->st.watching;
	ms = etcd_ms_since(&m->lost_at);
	pthread_mutex_unlock(&m->lock);
	if (watching || ms < (uint64_t)m->cfg.stale_after_ms)
		return;
	m->stale_reported = true;
	etcd_emit(m, SNAPMAP_ETCD_STALE, 0, ms);
}

/*
 * After a failure: the next endpoint, and a wait of [d/2, d] with d
 * doubling from backoff_min_ms to backoff_max_ms.  Woken by stop.
 */
static void backoff(struct snapmap_etcd_mirror *m, unsigned *seed)
{
	uint64_t d = (uint64_t)m->cfg.backoff_min_ms, ms;
	struct timespec until;

	for (unsigned i = 0; i < m->failures && d < (uint64_t)m->cfg.backoff_max_ms; i++)
		d *= 2;
	if (d > (uint64_t)m->cfg.backoff_max_ms)
		d = (uint64_t)m->cfg.backoff_max_ms;
	ms = d / 2 + (d / 2 ? (uint64_t)rand_r(seed) % (d / 2 + 1) : 0);
	m->failures++;
	m->cur = (m->cur + 1) % m->n_endpoints;
	etcd_forget_token(m);

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&m->lock);
	m->st.endpoint = m->cur;
	while (!atomic_load(&m->stopping)) {
		struct timespec slice = until, now;

		/* Wake at least every 200 ms to report staleness. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > until.tv_sec ||
		    (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
			break;
		now.tv_nsec += 200000000;
		if (now.tv_nsec >= 1000000000) {
			now.tv_sec++;
			now.tv_nsec -= 1000000000;
		}
		if (now.tv_sec < slice.tv_sec ||
		    (now.tv_sec == slice.tv_sec && now.tv_nsec < slice.tv_nsec))
			slice = now;
		pthread_cond_timedwait(&m->cond, &m->lock, &slice);
		pthread_mutex_unlock(&m->lock);
		etcd_check_stale(m);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
}

static void *mirror_thread(void *arg)
{
	struct snapmap_etcd_mirror *m = arg;
	unsigned seed = (unsigned)(uintptr_t)m ^ (unsigned)time(NULL);

	m->flavor->register_thread();
	/* Offline but while committing: never hold up grace periods
	 * (qsbr; a no-op for the other flavors). */
	m->flavor->thread_offline();
	m->need_sync = true;
	while (!atomic_load(&m->stopping)) {
		int rc = 0;

		if (m->need_sync) {
			rc = etcd_sync(m);
			if (!rc)
				m->need_sync = false;
		}
		if (!rc)
			rc = etcd_watch(m);
		if (rc == -ECANCELED)
			break;
		if (rc == -ESTALE) {
			/* Compacted: a fresh range, at once. */
			m->need_sync = true;
			continue;
		}
		etcd_emit(m, SNAPMAP_ETCD_ERROR, rc, 0);
		backoff(m, &seed);
	}
	m->flavor->thread_online();
	m->flavor->unregister_thread();
	return NULL;
}

static void mirror_free(struct snapmap_etcd_mirror *m)
{
	etcd_http_fini(m);
	for (unsigned i = 0; i < m->n_endpoints; i++)
		free(m->endpoints[i]);
	free(m->endpoints);
	free(m->prefix);
	free(m->key_b64);
	free(m->range_end_b64);
	free((char *)m->cfg.ca_file);
	free((char *)m->cfg.cert_file);
	free((char *)m->cfg.key_file);
	free((char *)m->cfg.user);
	free((char *)m->cfg.password);
	snapmap_batch_free(m->batch);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
	curl_global_cleanup();
}

/* Splits "url,url" into m->endpoints; each must be http(s)://host... */
static int parse_endpoints(struct snapmap_etcd_mirror *m, const char *list)
{
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ",");
		char **e, *url;

		if (!(len > 7 && !strncmp(p, "http://", 7)) &&
		    !(len > 8 && !strncmp(p, "https://", 8)))
			return -EINVAL;
		e = realloc(m->endpoints, (m->n_endpoints + 1) * sizeof(*e));
		if (!e)
			return -ENOMEM;
		m->endpoints = e;
		url = strndup(p, len);
		if (!url)
			return -ENOMEM;
		/* "http://h:1/" and "http://h:1" name the same gateway. */
		if (url[len - 1] == '/')
			url[len - 1] = '\0';
		m->endpoints[m->n_endpoints++] = url;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/*
 * The keys under the prefix: [prefix, range_end) where range_end is the
 * prefix with its last byte below 0xff incremented and what follows
 * dropped; "\0" (every key) when there is no such byte.
 */
static int set_range(struct snapmap_etcd_mirror *m)
{
	unsigned char *end = malloc(m->prefix_len + 1);
	size_t n = m->prefix_len;

	if (!end)
		return -ENOMEM;
	memcpy(end, m->prefix, n);
	while (n && end[n - 1] == 0xff)
		n--;
	if (n)
		end[n - 1]++;
	else
		end[n++] = 0;
	/* No prefix: from "\0" (m->prefix holds it) to "\0", all keys. */
	m->key_b64 = etcd_b64_encode(m->prefix,
				     m->prefix_len ? m->prefix_len : 1);
	m->range_end_b64 = etcd_b64_encode(end, n);
	free(end);
	return m->key_b64 && m->range_end_b64 ? 0 : -ENOMEM;
}

static int check_config(const struct snapmap_etcd_config *c)
{
	if (!c->endpoints || (!c->prefix && c->prefix_len) ||
	    c->connect_timeout_ms < 0 || c->request_timeout_ms < 0 ||
	    c->backoff_min_ms < 0 || c->backoff_max_ms < 0 ||
	    c->stale_after_ms < 0 || (c->flags & ~SNAPMAP_ETCD_KEEP_PREFIX) ||
	    (c->key_file && !c->cert_file) || (c->password && !c->user))
		return -EINVAL;
	return 0;
}

/*
 * Keeps a copy of an optional string of the configuration; a TLS file
 * must be readable now, so that a wrong path fails the start instead of
 * every connection.
 */
static int copy_opt(const char **dst, const char *src, bool is_file)
{
	FILE *f;

	*dst = NULL;
	if (!src)
		return 0;
	if (is_file) {
		f = fopen(src, "r");
		if (!f)
			return -errno;
		fclose(f);
	}
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

static int copy_strings(struct snapmap_etcd_mirror *m,
			const struct snapmap_etcd_config *c)
{
	int rc = copy_opt(&m->cfg.ca_file, c->ca_file, true);

	if (!rc)
		rc = copy_opt(&m->cfg.cert_file, c->cert_file, true);
	if (!rc)
		rc = copy_opt(&m->cfg.key_file, c->key_file, true);
	if (!rc)
		rc = copy_opt(&m->cfg.user, c->user, false);
	if (!rc)
		rc = copy_opt(&m->cfg.password, c->password, false);
	return rc;
}

int snapmap_etcd_mirror_start_flavor(struct snapmap *map,
				     const struct snapmap_etcd_config *cfg,
				     const struct rcu_flavor_struct *flavor,
				     struct snapmap_etcd_mirror **mirror)
{
	struct snapmap_etcd_mirror *m;
	pthread_condattr_t ca;
	int rc;

	if (!map || !cfg || !flavor || !mirror || check_config(cfg))
		return -EINVAL;
	/* Reference-counted and thread-safe in the libcurl configure asks
	 * for; paired with the cleanup in mirror_free(). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (!m) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	m->map = map;
	m->flavor = flavor;
	m->cfg = *cfg;
	m->cfg.ca_file = m->cfg.cert_file = m->cfg.key_file = NULL;
	m->cfg.user = m->cfg.password = NULL;
#define DEFAULT(f, v) do { if (!m->cfg.f) m->cfg.f = (v); } while (0)
	DEFAULT(connect_timeout_ms, DEFAULT_CONNECT_MS);
	DEFAULT(request_timeout_ms, DEFAULT_REQUEST_MS);
	DEFAULT(backoff_min_ms, DEFAULT_BACKOFF_MIN_MS);
	DEFAULT(backoff_max_ms, DEFAULT_BACKOFF_MAX_MS);
	DEFAULT(stale_after_ms, DEFAULT_STALE_MS);
	DEFAULT(page_size, DEFAULT_PAGE_SIZE);
#undef DEFAULT
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	clock_gettime(CLOCK_MONOTONIC, &m->lost_at);

	rc = m->cfg.backoff_min_ms > m->cfg.backoff_max_ms ? -EINVAL : 0;
	if (!rc)
		rc = parse_endpoints(m, cfg->endpoints);
	if (!rc)
		rc = copy_strings(m, cfg);
	m->prefix_len = cfg->prefix_len;
	m->prefix = malloc(cfg->prefix_len + 1);
	if (!rc && !m->prefix)
		rc = -ENOMEM;
	if (!rc) {
		if (cfg->prefix_len)
			memcpy(m->prefix, cfg->prefix, cfg->prefix_len);
		m->prefix[cfg->prefix_len] = '\0';
		m->cfg.endpoints = NULL;
		m->cfg.prefix = NULL;
		rc = set_range(m);
	}
	if (!rc) {
		m->batch = snapmap_batch_new(map);
		if (!m->batch)
			rc = -errno;
	}
	if (!rc)
		rc = etcd_http_init(m);
	if (!rc)
		rc = -pthread_create(&m->thread, NULL, mirror_thread, m);
	if (rc) {
		mirror_free(m);
		return rc;
	}
	*mirror = m;
	return 0;
}

int snapmap_etcd_mirror_stop(struct snapmap_etcd_mirror *m)
{
	if (!m)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	atomic_store(&m->stopping, true);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	curl_multi_wakeup(m->multi);
	pthread_join(m->thread, NULL);
	mirror_free(m);
	return 0;
}

int64_t snapmap_etcd_revision(struct snapmap_etcd_mirror *m)
{
	int64_t rev;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	rev = m->st.revision;
	pthread_mutex_unlock(&m->lock);
	return rev;
}

int snapmap_etcd_wait_revision(struct snapmap_etcd_mirror *m, int64_t rev,
			       int timeout_ms)
{
	struct timespec until;
	int rc = 0;

	if (!m)
		return -EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &until);
	if (timeout_ms > 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&m->lock);
	while (m->st.revision < rev && !rc) {
		if (timeout_ms == 0)
			rc = -ETIMEDOUT;
		else if (timeout_ms < 0)
			pthread_cond_wait(&m->cond, &m->lock);
		else
			rc = -pthread_cond_timedwait(&m->cond, &m->lock,
						     &until);
	}
	if (m->st.revision >= rev)
		rc = 0;
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int snapmap_etcd_stats(struct snapmap_etcd_mirror *m,
		       struct snapmap_etcd_stats *st)
{
	if (!m || !st)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	*st = m->st;
	st->lag = st->etcd_revision - st->revision;
	st->stale_ms = st->watching ? 0 : etcd_ms_since(&m->lost_at);
	pthread_mutex_unlock(&m->lock);
	return 0;
}
