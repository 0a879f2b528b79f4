/*
 * sync.c - the two conversations with etcd: a paged range published as
 * one replace-all snapshot, and a watch applied one etcd revision per
 * batch.  Both publish through the core's public batch API only.
 */
#include "internal.h"
#include "base64.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* An etcd int64: the gateway writes them as JSON strings. */
static int64_t get_i64(struct json_object *o, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(o, name, &v) ?
	       json_object_get_int64(v) : 0;
}

static int64_t header_revision(struct json_object *o)
{
	struct json_object *h;

	return json_object_object_get_ex(o, "header", &h) ?
	       get_i64(h, "revision") : 0;
}

/* A base64 field of a kv; an absent one is empty (proto3 omits it). */
static int get_bytes(struct json_object *o, const char *name,
		     unsigned char **out, size_t *len)
{
	struct json_object *v;
	const char *s = "";

	if (json_object_object_get_ex(o, name, &v))
		s = json_object_get_string(v);
	return etcd_b64_decode(s, strlen(s), out, len);
}

/* The map's key for an etcd key: the prefix stripped unless kept. */
static void map_key(struct snapmap_etcd_mirror *m, const unsigned char **k,
		    size_t *klen)
{
	if (m->cfg.flags & SNAPMAP_ETCD_KEEP_PREFIX || *klen < m->prefix_len)
		return;
	*k += m->prefix_len;
	*klen -= m->prefix_len;
}

static int bad_answer(struct snapmap_etcd_mirror *m, const char *what)
{
	etcd_fail(m, -EPROTO, "%s: %s", m->endpoints[m->cur], what);
	return -EPROTO;
}

/*
 * Stages one kv of a range or a put event.  A key or value the map
 * cannot hold is staged as a delete and reported: the map never serves
 * a value etcd no longer holds.
 */
static int stage_kv(struct snapmap_etcd_mirror *m, struct json_object *kv,
		    bool is_delete)
{
	unsigned char *key = NULL, *val = NULL;
	const unsigned char *k;
	size_t klen, vlen = 0;
	int rc;

	rc = get_bytes(kv, "key", &key, &klen);
	if (!rc && !is_delete)
		rc = get_bytes(kv, "value", &val, &vlen);
	if (rc) {
		free(key);
		return rc == -ENOMEM ? rc : bad_answer(m, "bad base64");
	}
	k = key;
	map_key(m, &k, &klen);
	rc = is_delete ? snapmap_batch_delete(m->batch, k, klen) :
	     snapmap_batch_put(m->batch, k, klen, val, vlen);
	if (rc == -E2BIG) {
		etcd_fail(m, -E2BIG, "key of %zu bytes with a value of %zu "
			  "bytes exceeds the map's limits: not applied",
			  klen, vlen);
		pthread_mutex_lock(&m->lock);
		m->st.rejected++;
		pthread_mutex_unlock(&m->lock);
		etcd_emit(m, SNAPMAP_ETCD_ERROR, -E2BIG, 0);
		/* A key too long for the map cannot be in it. */
		rc = snapmap_batch_delete(m->batch, k, klen);
		if (rc == -E2BIG)
			rc = 0;
	}
	free(key);
	free(val);
	return rc;
}

/*
 * Commits the staged batch, with the mirror's thread online (qsbr),
 * unless staging failed (@rc); on any failure the staged ops are
 * dropped and the map is as it was.
 */
static int commit(struct snapmap_etcd_mirror *m, int rc)
{
	if (!rc) {
		m->flavor->thread_online();
		rc = snapmap_batch_commit(m->batch, NULL, NULL);
		m->flavor->thread_offline();
		if (rc)
			etcd_fail(m, rc, "publishing to the map failed: %s",
				  snapmap_strerror(rc));
	}
	if (rc)
		snapmap_batch_abort(m->batch);
	return rc;
}

/*
 * Stages a delete of every key the map holds now, and makes the commit
 * conditional on the map still being at that version, so that the
 * range's puts staged next replace the whole content in one publish.
 */
static int stage_clear(struct snapmap_etcd_mirror *m)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_iter it;
	struct snapmap_kv kv;
	int rc, more;

	m->flavor->thread_online();
	snap = snapmap_pin(m->map);
	m->flavor->thread_offline();
	if (!snap)
		return -errno;
	rc = snapmap_batch_require_version(m->batch, snapmap_version(snap));
	for (more = snapmap_iter_first(snap, &it, &kv); !rc && !more;
	     more = snapmap_iter_next(&it, &kv))
		rc = snapmap_batch_delete(m->batch, kv.key, kv.klen);
	snapmap_unpin(snap);
	return rc;
}

/*
 * POST /v3/kv/range from @from_b64 to the prefix's end, at @rev (0: the
 * current revision); the answer is left in m->body.
 */
static int post_range(struct snapmap_etcd_mirror *m, const char *from_b64,
		      size_t limit, int64_t rev, bool count_only)
{
	struct json_object *req = json_object_new_object();
	int rc;

	if (!req)
		return -ENOMEM;
	json_object_object_add(req, "key", json_object_new_string(from_b64));
	json_object_object_add(req, "range_end",
			       json_object_new_string(m->range_end_b64));
	json_object_object_add(req, "limit",
			       json_object_new_int64((int64_t)limit));
	if (rev)
		json_object_object_add(req, "revision",
				       json_object_new_int64(rev));
	if (count_only)
		json_object_object_add(req, "count_only",
				       json_object_new_boolean(1));
	rc = etcd_post(m, "/v3/kv/range", req, m->cfg.request_timeout_ms,
		       NULL);
	json_object_put(req);
	return rc;
}

/* One page of the range; *rev is the revision of the first page. */
static int range_page(struct snapmap_etcd_mirror *m, const char *from_b64,
		      int64_t *rev, char **next_b64)
{
	struct json_object *resp, *kvs, *more;
	size_t n = 0;
	int rc;

	*next_b64 = NULL;
	rc = post_range(m, from_b64, m->cfg.page_size, *rev, false);
	if (rc)
		return rc;
	resp = json_tokener_parse(m->body);
	if (!resp)
		return bad_answer(m, "range: not JSON");
	if (!*rev)
		*rev = header_revision(resp);
	etcd_seen_revision(m, header_revision(resp));
	if (*rev <= 0)
		rc = bad_answer(m, "range: no revision");
	if (!rc && json_object_object_get_ex(resp, "kvs", &kvs)) {
		n = json_object_array_length(kvs);
		for (size_t i = 0; !rc && i < n; i++)
			rc = stage_kv(m, json_object_array_get_idx(kvs, i),
				      false);
	}
	if (!rc && n && json_object_object_get_ex(resp, "more", &more) &&
	    json_object_get_boolean(more)) {
		/* The next page starts just after the last key: key + "\0". */
		unsigned char *last;
		size_t len;

		rc = get_bytes(json_object_array_get_idx(kvs, n - 1), "key",
			       &last, &len);
		if (!rc) {
			/* get_bytes NUL-terminates: encode one byte more. */
			*next_b64 = etcd_b64_encode(last, len + 1);
			free(last);
			rc = *next_b64 ? 0 : -ENOMEM;
		}
	}
	json_object_put(resp);
	return rc;
}

/*
 * Reads the prefix at one revision, page by page, and publishes it as
 * the map's whole content in one commit.  Returns 0 with the revision
 * applied, -ESTALE when the revision was compacted between pages (the
 * caller starts over), or another negative errno.
 */
int etcd_sync(struct snapmap_etcd_mirror *m)
{
	int64_t rev = 0;
	char *from = strdup(m->key_b64), *next;
	int rc;

	if (!from)
		return -ENOMEM;
	rc = stage_clear(m);
	while (!rc && from) {
		rc = range_page(m, from, &rev, &next);
		free(from);
		from = next;
	}
	free(from);
	rc = commit(m, rc);
	if (rc)
		return rc;
	pthread_mutex_lock(&m->lock);
	m->st.syncs++;
	if (m->synced)
		m->st.resyncs++;
	pthread_mutex_unlock(&m->lock);
	etcd_set_revision(m, rev);
	etcd_emit(m, m->synced ? SNAPMAP_ETCD_RESYNCED : SNAPMAP_ETCD_SYNCED,
		  0, 0);
	m->synced = true;
	return 0;
}

static int64_t event_revision(struct json_object *ev)
{
	struct json_object *kv;

	return json_object_object_get_ex(ev, "kv", &kv) ?
	       get_i64(kv, "mod_revision") : 0;
}

/* Applies events [i, j) of one etcd revision as one batch. */
static int apply_revision(struct snapmap_etcd_mirror *m,
			  struct json_object *evs, size_t i, size_t j,
			  int64_t rev)
{
	int rc = 0;

	for (size_t e = i; !rc && e < j; e++) {
		struct json_object *ev = json_object_array_get_idx(evs, e);
		struct json_object *type, *kv;
		bool del = json_object_object_get_ex(ev, "type", &type) &&
			   !strcmp(json_object_get_string(type), "DELETE");

		if (!json_object_object_get_ex(ev, "kv", &kv))
			rc = bad_answer(m, "watch: an event without kv");
		else
			rc = stage_kv(m, kv, del);
	}
	rc = commit(m, rc);
	if (rc)
		return rc;
	pthread_mutex_lock(&m->lock);
	m->st.events += j - i;
	m->st.batches++;
	pthread_mutex_unlock(&m->lock);
	etcd_set_revision(m, rev);
	return 0;
}

static void watch_created(struct snapmap_etcd_mirror *m)
{
	m->failures = 0;
	m->stale_reported = false;
	pthread_mutex_lock(&m->lock);
	if (m->watch_created)
		m->st.reconnects++;
	m->st.watching = true;
	pthread_mutex_unlock(&m->lock);
	m->watch_created = true;
}

/* One message of the watch stream. */
static int on_watch_line(struct snapmap_etcd_mirror *m, const char *line,
			 size_t len)
{
	struct json_object *o = json_tokener_parse(line), *res, *v, *evs;
	int rc = 0;

	(void)len;
	if (!o)
		return bad_answer(m, "watch: not JSON");
	if (!json_object_object_get_ex(o, "result", &res)) {
		/* A stream error: {"error": {"grpc_code": N, "message": ...}} */
		struct json_object *err = NULL, *msg = NULL, *code = NULL;
		const char *text = line;

		if (json_object_object_get_ex(o, "error", &err) &&
		    json_object_is_type(err, json_type_object)) {
			json_object_object_get_ex(err, "message", &msg);
			json_object_object_get_ex(err, "grpc_code", &code);
		}
		if (msg)
			text = json_object_get_string(msg);
		rc = etcd_grpc_errno(code ? json_object_get_int(code) : -1, text);
		if (rc == -EPROTO)
			rc = -ECONNRESET;	/* the stream broke: resume */
		etcd_fail(m, rc, "%s: watch: %s", m->endpoints[m->cur], text);
		json_object_put(o);
		if (rc == -EACCES)
			etcd_forget_token(m);
		return rc;
	}
	etcd_seen_revision(m, header_revision(res));
	if (json_object_object_get_ex(res, "canceled", &v) &&
	    json_object_get_boolean(v)) {
		int64_t compact = get_i64(res, "compact_revision");

		if (compact > 0) {
			etcd_fail(m, -ESTALE, "%s: watch: revision %lld is "
				  "compacted (oldest kept: %lld): resync",
				  m->endpoints[m->cur],
				  (long long)snapmap_etcd_revision(m) + 1,
				  (long long)compact);
			rc = -ESTALE;
		} else {
			rc = bad_answer(m, "watch canceled");
		}
	} else if (json_object_object_get_ex(res, "created", &v) &&
		   json_object_get_boolean(v)) {
		watch_created(m);
	} else if (json_object_object_get_ex(res, "events", &evs) &&
		   json_object_array_length(evs)) {
		size_t n = json_object_array_length(evs), i = 0;

		/* One response may carry several revisions, in order. */
		while (!rc && i < n) {
			int64_t rev = event_revision(
				json_object_array_get_idx(evs, i));
			size_t j = i + 1;

			while (j < n && event_revision(
					json_object_array_get_idx(evs, j)) == rev)
				j++;
			rc = apply_revision(m, evs, i, j, rev);
			i = j;
		}
	} else {
		/* A progress notification: every event up to the header's
		 * revision has been sent. */
		etcd_set_revision(m, header_revision(res));
	}
	json_object_put(o);
	return rc;
}

/*
 * Watches the prefix from the revision after the one applied, until the
 * stream fails or the mirror stops.  Returns -ESTALE when etcd compacted
 * that revision (the caller resyncs), -ECANCELED on stop, or the error
 * that ended the stream.
 */
int etcd_watch(struct snapmap_etcd_mirror *m)
{
	struct json_object *req, *create;
	int rc;

	/*
	 * etcd serves a watch that starts exactly at its compaction
	 * revision, but without the deletions made at that revision (the
	 * compaction dropped their tombstones).  A range at the applied
	 * revision R fails (-ESTALE: resync) when R is compacted; when it
	 * succeeds, the compaction revision is at most R and the watch
	 * from R + 1 misses nothing.
	 */
	rc = post_range(m, m->key_b64, 1, snapmap_etcd_revision(m), true);
	if (rc)
		return rc;
	req = json_object_new_object();
	create = json_object_new_object();
	if (!req || !create) {
		json_object_put(req);
		json_object_put(create);
		return -ENOMEM;
	}
	json_object_object_add(create, "key",
			       json_object_new_string(m->key_b64));
	json_object_object_add(create, "range_end",
			       json_object_new_string(m->range_end_b64));
	json_object_object_add(create, "start_revision",
			       json_object_new_int64(
				       snapmap_etcd_revision(m) + 1));
	json_object_object_add(create, "progress_notify",
			       json_object_new_boolean(1));
	json_object_object_add(req, "create_request", create);
	rc = etcd_post(m, "/v3/watch", req, 0, on_watch_line);
	json_object_put(req);
	pthread_mutex_lock(&m->lock);
	if (m->st.watching)
		clock_gettime(CLOCK_MONOTONIC, &m->lost_at);
	m->st.watching = false;
	pthread_mutex_unlock(&m->lock);
	return rc;
}
