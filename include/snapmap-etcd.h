/*
 * snapmap-etcd.h - mirror an etcd key prefix into a snapmap.
 *
 * libsnapmap-etcd (pkg-config: snapmap-etcd) keeps a map equal to the
 * keys under one etcd prefix, the way an informer caches an API server:
 * list, then watch, and list again when the watch is too old.  It talks
 * to etcd's v3 JSON gateway (POST /v3/kv/range, POST /v3/watch) over
 * libcurl, from one background thread per mirror.
 *
 *  - Initial sync: a paged range, every page read at the revision of the
 *    first, published as ONE snapshot that replaces the map's content.
 *  - Then a watch from that revision + 1.  All events of one etcd
 *    revision (one etcd transaction) are committed as one batch: readers
 *    see an etcd transaction entirely or not at all.
 *  - Compaction (etcd cancels the watch: its start revision is gone;
 *    or a count-only range at the applied revision, asked before each
 *    watch, finds it compacted): a fresh range published in one
 *    replace-all, as the initial sync.
 *  - Disconnects and etcd restarts: the map keeps its last snapshot; the
 *    mirror reconnects with exponential backoff and jitter, moving to
 *    the next endpoint after each failure, and resumes the watch from
 *    the last applied revision.
 *
 * The mirror owns the map's content: a write of another thread to the
 * same map is overwritten at the next sync.  Every publish goes through
 * the core's public batch API (snapmap_batch_commit), so the map's
 * version advances by one per applied etcd revision and by one per sync.
 *
 * Keys or values the map cannot hold (longer than its max_key_len or
 * max_value_len): the key is absent from the map (neither the old nor the
 * new value is served: a cache must not serve a value etcd no longer
 * holds), the rest of its etcd transaction is applied, and the rejection
 * is reported (SNAPMAP_ETCD_ERROR with -E2BIG, stats.rejected).
 *
 * TLS: https:// endpoints, verified against @ca_file (or libcurl's
 * default store), with an optional client certificate for etcd's
 * --client-cert-auth.  Auth: with @user, the mirror authenticates
 * (POST /v3/auth/authenticate) on each endpoint it uses and sends the
 * token with every request; a refused password or token is reported as
 * -EACCES and retried with backoff, as any failure.
 *
 * Synchronization: start, stop and stats may be called from any thread;
 * stop must not run concurrently with any other call on the same mirror,
 * nor from the mirror's own event callback.  None needs the caller to be
 * a registered RCU thread; none may be called inside a read-side critical
 * section (stop and wait_revision block).
 */
#ifndef SNAPMAP_ETCD_H
#define SNAPMAP_ETCD_H

#include <snapmap.h>

#ifdef __cplusplus
extern "C" {
#endif

struct snapmap_etcd_mirror;

/* The event types passed to snapmap_etcd_event_fn. */
enum snapmap_etcd_event_type {
	SNAPMAP_ETCD_SYNCED = 1,	/* the initial range is published */
	SNAPMAP_ETCD_RESYNCED,		/* a later range (after compaction) */
	SNAPMAP_ETCD_ERROR,		/* a failure: @code and @message */
	SNAPMAP_ETCD_STALE,		/* no watch for stale_after_ms */
};

/*
 * struct snapmap_etcd_event - what happened.
 * @type:     see enum snapmap_etcd_event_type.
 * @revision: the etcd revision the map holds after the event.
 * @code:     ERROR: a negative errno (-ECONNREFUSED, -ETIMEDOUT,
 *            -ECONNRESET, -EPROTO for an answer etcd should not give,
 *            -EACCES for a refused password, token or permission,
 *            -E2BIG for a rejected key or value, -ENOMEM); 0 otherwise.
 * @message:  ERROR: the failure in words (endpoint included); "" else.
 * @stale_ms: STALE: milliseconds since the watch was lost (or since
 *            start, before the first sync).
 */
struct snapmap_etcd_event {
	enum snapmap_etcd_event_type type;
	int64_t revision;
	int code;
	const char *message;
	uint64_t stale_ms;
};

/*
 * snapmap_etcd_event_fn - called from the mirror's thread, outside any
 * read-side critical section, with no lock of the mirror held.  It may
 * read the map and call snapmap_etcd_revision() or _stats(); it must not
 * call snapmap_etcd_mirror_stop() on its own mirror.  The mirror waits
 * for it: keep it short.
 */
typedef void (*snapmap_etcd_event_fn)(struct snapmap_etcd_mirror *mirror,
				      const struct snapmap_etcd_event *ev,
				      void *ctx);

/* Keep the prefix in the map's keys (by default it is stripped). */
#define SNAPMAP_ETCD_KEEP_PREFIX	(1u << 0)

/*
 * struct snapmap_etcd_config - zero-initialize, then set what you need;
 * a zero field means its default.  Copied by start.
 * @endpoints:          required: one or more gateway URLs separated by
 *                      commas, "http://127.0.0.1:2379,http://10.0.0.2:2379",
 *                      as etcdctl's --endpoints.
 * @prefix, @prefix_len: the key prefix (any bytes); length 0 mirrors
 *                      every key of the cluster.
 * @flags:              0 or SNAPMAP_ETCD_KEEP_PREFIX.
 * @connect_timeout_ms: per connection attempt (default 2000).
 * @request_timeout_ms: per range page (default 10000); the watch has
 *                      none (it is a stream) but TCP keepalive.
 * @backoff_min_ms, @backoff_max_ms: the wait after a failure starts at
 *                      min and doubles up to max (defaults 100, 5000);
 *                      each wait is drawn at random from [d/2, d] so that
 *                      a fleet does not reconnect in step.
 * @stale_after_ms:     report SNAPMAP_ETCD_STALE once per disconnect
 *                      after this long without a watch (default 10000).
 * @page_size:          keys per range page (default 1000).
 * @event, @event_ctx:  optional callback.
 * @ca_file:            optional: PEM file of the CA(s) that signed the
 *                      endpoints' certificates.
 * @cert_file, @key_file: optional: client certificate and its key (PEM).
 * @user, @password:    optional: etcd user (auth enabled on the cluster).
 */
struct snapmap_etcd_config {
	const char *endpoints;
	const void *prefix;
	size_t prefix_len;
	unsigned flags;
	int connect_timeout_ms;
	int request_timeout_ms;
	int backoff_min_ms;
	int backoff_max_ms;
	int stale_after_ms;
	size_t page_size;
	snapmap_etcd_event_fn event;
	void *event_ctx;
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	const char *user;
	const char *password;
};

/*
 * struct snapmap_etcd_stats - what a mirror is doing; counters count from
 * start.
 * @revision:      the etcd revision the map holds (0 before the first
 *                 sync).
 * @etcd_revision: the newest etcd revision seen in any answer.
 * @lag:           @etcd_revision - @revision (revisions seen, not yet
 *                 applied).
 * @events:        etcd events applied (a put or a delete each).
 * @batches:       revisions applied from the watch (one publish each).
 * @syncs:         ranges published (the initial sync and resyncs).
 * @resyncs:       of those, the ones after the first.
 * @reconnects:    watches created after the first one.
 * @rejected:      keys or values the map could not hold.
 * @bytes:         bytes received from etcd.
 * @last_error:    the last failure's negative errno, 0 if none.
 * @last_message:  its message.
 * @watching:      a watch stream is established now.
 * @stale_ms:      0 while watching; else milliseconds since the watch
 *                 was lost (or since start).
 * @endpoint:      index of the endpoint in use or tried last.
 */
struct snapmap_etcd_stats {
	int64_t revision;
	int64_t etcd_revision;
	int64_t lag;
	uint64_t events;
	uint64_t batches;
	uint64_t syncs;
	uint64_t resyncs;
	uint64_t reconnects;
	uint64_t rejected;
	uint64_t bytes;
	int last_error;
	char last_message[256];
	bool watching;
	uint64_t stale_ms;
	unsigned endpoint;
};

/*
 * snapmap_etcd_mirror_start_flavor - start mirroring into @map.
 * @map:    the map; it must outlive the mirror (stop first, then
 *          snapmap_destroy()).
 * @cfg:    the configuration (copied).
 * @flavor: the RCU flavor @map was created with; the mirror's thread
 *          registers with it (and under qsbr is offline but while it
 *          commits).
 * @mirror: out: the mirror.
 *
 * Returns at once, before the first contact with etcd: wait for
 * revision 1 (snapmap_etcd_wait_revision) or for SNAPMAP_ETCD_SYNCED to
 * know the map holds the prefix.  Unreachable endpoints are not an error
 * here; they are reported through the callback and the stats, and
 * retried.
 *
 * Returns 0, -EINVAL (a NULL argument, no endpoint, an endpoint that is
 * not an http:// or https:// URL, a negative timeout, backoff_min_ms >
 * backoff_max_ms, a key_file without a cert_file, a password without a
 * user), the negative errno of opening a TLS file (-ENOENT, -EACCES:
 * bad files are refused here, not found at the first connection),
 * -ENOMEM, or -EAGAIN when the thread cannot be created.
 *
 * Calling threads are NOT required to be registered RCU threads.
 */
SNAPMAP_API
int snapmap_etcd_mirror_start_flavor(struct snapmap *map,
				     const struct snapmap_etcd_config *cfg,
				     const struct rcu_flavor_struct *flavor,
				     struct snapmap_etcd_mirror **mirror);

#ifdef URCU_API_MAP	/* <urcu.h>, <urcu-qsbr.h>, <urcu-bp.h> */
/*
 * snapmap_etcd_mirror_start - as _start_flavor() with the flavor whose
 * header was included before this one (as snapmap_new()).
 */
static inline
int snapmap_etcd_mirror_start(struct snapmap *map,
			      const struct snapmap_etcd_config *cfg,
			      struct snapmap_etcd_mirror **mirror)
{
	return snapmap_etcd_mirror_start_flavor(map, cfg, &rcu_flavor, mirror);
}
#endif

/*
 * snapmap_etcd_mirror_stop - stop the mirror and free it.
 * Returns promptly in every state (connecting, syncing, watching,
 * backing off): a transfer in progress is aborted (curl_multi_wakeup),
 * a backoff wait is woken; a commit in progress finishes first.  The map
 * keeps the content it has.  Returns 0, or -EINVAL for NULL.
 *
 * Must NOT be called inside a read-side critical section, nor from the
 * mirror's event callback.  Calling threads are NOT required to be
 * registered RCU threads.
 */
SNAPMAP_API
int snapmap_etcd_mirror_stop(struct snapmap_etcd_mirror *mirror);

/*
 * snapmap_etcd_revision - the etcd revision the map holds: every change
 * etcd made under the prefix up to this revision is published (0 before
 * the first sync, or for NULL).  Calling threads are NOT required to be
 * registered RCU threads.
 */
SNAPMAP_API
int64_t snapmap_etcd_revision(struct snapmap_etcd_mirror *mirror);

/*
 * snapmap_etcd_wait_revision - sleep until the map holds etcd revision
 * @rev (read-your-writes: a client that wrote to etcd and got revision R
 * waits for R).  @rev 1 waits for the first sync.
 * @timeout_ms: 0 checks without sleeping; negative waits without limit.
 *
 * A revision that touched no key under the prefix is reached by the
 * next change under the prefix or by a progress notification of etcd.
 *
 * Returns 0, -ETIMEDOUT, or -EINVAL for NULL.  Must NOT be called inside
 * a read-side critical section.  Calling threads are NOT required to be
 * registered RCU threads.
 */
SNAPMAP_API
int snapmap_etcd_wait_revision(struct snapmap_etcd_mirror *mirror,
			       int64_t rev, int timeout_ms);

/*
 * snapmap_etcd_stats - read a mirror's statistics (one consistent
 * picture, taken under the mirror's lock).  Returns 0 or -EINVAL.
 * Calling threads are NOT required to be registered RCU threads.
 */
SNAPMAP_API
int snapmap_etcd_stats(struct snapmap_etcd_mirror *mirror,
		       struct snapmap_etcd_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* SNAPMAP_ETCD_H */
