/*
 * internal.h - shared by the files of libsnapmap-etcd: http.c (one POST
 * to the gateway, abortable), sync.c (range, watch, applying to the map)
 * and mirror.c (the thread, its state machine and the public calls).
 */
#ifndef SNAPMAP_ETCD_INTERNAL_H
#define SNAPMAP_ETCD_INTERNAL_H

#include <snapmap.h>
#include <snapmap-etcd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define ETCD_MSG_LEN	256

/* A line of the watch stream, handed over complete; returns 0 or -errno. */
typedef int (*etcd_line_fn)(struct snapmap_etcd_mirror *m, const char *line,
			    size_t len);

struct snapmap_etcd_mirror {
	struct snapmap *map;
	const struct rcu_flavor_struct *flavor;
	struct snapmap_etcd_config cfg;	/* strings: our own copies */
	char **endpoints;
	unsigned n_endpoints;
	unsigned cur;			/* endpoint in use */
	unsigned char *prefix;
	size_t prefix_len;
	char *key_b64;			/* the prefix, for requests */
	char *range_end_b64;		/* its range end ("AA==" for all) */
	char *token;			/* auth token of the current endpoint */
	struct snapmap_batch *batch;

	pthread_t thread;
	atomic_bool stopping;
	CURLM *multi;
	CURL *easy;
	char curl_err[CURL_ERROR_SIZE];

	/* The response being received (http.c). */
	char *body;
	size_t body_len, body_cap;
	etcd_line_fn line_fn;		/* NULL: keep the whole body */
	int line_err;			/* what line_fn failed with */

	/* The last failure, for the event and the stats. */
	char msg[ETCD_MSG_LEN];

	/* Mirror-thread state. */
	bool synced;			/* a first sync happened */
	bool need_sync;
	bool stale_reported;
	struct timespec lost_at;	/* watch lost, or start */
	unsigned failures;		/* since the last success (backoff) */
	bool watch_created;

	/* Under @lock: the public picture.  @cond: revision and stop. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct snapmap_etcd_stats st;
};

/* http.c */
int etcd_http_init(struct snapmap_etcd_mirror *m);
void etcd_http_fini(struct snapmap_etcd_mirror *m);
void etcd_forget_token(struct snapmap_etcd_mirror *m);
int etcd_grpc_errno(int code, const char *msg);
int etcd_post(struct snapmap_etcd_mirror *m, const char *path,
	      struct json_object *req, long timeout_ms, etcd_line_fn line_fn);

/* sync.c */
int etcd_sync(struct snapmap_etcd_mirror *m);
int etcd_watch(struct snapmap_etcd_mirror *m);

/* mirror.c */
void etcd_fail(struct snapmap_etcd_mirror *m, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void etcd_emit(struct snapmap_etcd_mirror *m,
	       enum snapmap_etcd_event_type type, int code, uint64_t stale_ms);
void etcd_set_revision(struct snapmap_etcd_mirror *m, int64_t rev);
void etcd_seen_revision(struct snapmap_etcd_mirror *m, int64_t rev);
void etcd_check_stale(struct snapmap_etcd_mirror *m);
uint64_t etcd_ms_since(const struct timespec *t);

#endif
