/*
 * http.c - one POST to the gateway of the current endpoint, through a
 * curl multi handle so that snapmap_etcd_mirror_stop() can abort it at
 * any moment with curl_multi_wakeup(), whatever the transfer is doing.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The longest a poll sleeps: how often staleness is checked. */
#define POLL_MS	200

int etcd_http_init(struct snapmap_etcd_mirror *m)
{
	m->multi = curl_multi_init();
	m->easy = curl_easy_init();
	return m->multi && m->easy ? 0 : -ENOMEM;
}

void etcd_http_fini(struct snapmap_etcd_mirror *m)
{
	if (m->easy)
		curl_easy_cleanup(m->easy);
	if (m->multi)
		curl_multi_cleanup(m->multi);
	free(m->body);
}

/* Hands every complete line of the stream to line_fn, keeps the rest. */
static int feed_lines(struct snapmap_etcd_mirror *m)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(m->body + start, '\n', m->body_len - start))) {
		size_t len = (size_t)(nl - (m->body + start));
		int rc;

		*nl = '\0';
		rc = len ? m->line_fn(m, m->body + start, len) : 0;
		start += len + 1;
		if (rc < 0)
			return rc;
	}
	memmove(m->body, m->body + start, m->body_len - start);
	m->body_len -= start;
	return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct snapmap_etcd_mirror *m = arg;
	size_t len = size * n;
	long status = 0;

	if (m->body_len + len + 1 > m->body_cap) {
		size_t cap = m->body_cap ? m->body_cap : 16384;
		char *b;

		while (cap < m->body_len + len + 1)
			cap *= 2;
		b = realloc(m->body, cap);
		if (!b) {
			m->line_err = -ENOMEM;
			return 0;
		}
		m->body = b;
		m->body_cap = cap;
	}
	memcpy(m->body + m->body_len, p, len);
	m->body_len += len;
	m->body[m->body_len] = '\0';

	pthread_mutex_lock(&m->lock);
	m->st.bytes += len;
	pthread_mutex_unlock(&m->lock);

	curl_easy_getinfo(m->easy, CURLINFO_RESPONSE_CODE, &status);
	if (m->line_fn && status == 200) {
		m->line_err = feed_lines(m);
		if (m->line_err < 0)
			return 0;	/* aborts with CURLE_WRITE_ERROR */
	}
	return len;
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -ECONNRESET;
	}
}

/*
 * An error answer of the gateway: {"error": ..., "message": ..., "code":
 * N} with a gRPC code; 11 (OUT_OF_RANGE) is etcd's "required revision
 * has been compacted".
 */
static int gateway_error(struct snapmap_etcd_mirror *m, long status)
{
	struct json_object *o = json_tokener_parse(m->body ? m->body : "");
	struct json_object *msg = NULL, *code = NULL;
	int rc = -EPROTO;

	if (o) {
		json_object_object_get_ex(o, "message", &msg);
		json_object_object_get_ex(o, "code", &code);
		if (code && json_object_get_int(code) == 11)
			rc = -ESTALE;
	}
	etcd_fail(m, rc, "%s: HTTP %ld: %s", m->endpoints[m->cur], status,
		  msg ? json_object_get_string(msg) : "no error message");
	json_object_put(o);
	return rc;
}

/*
 * Posts @req (JSON) to @path of the current endpoint.  Without @line_fn
 * the whole answer is left in m->body; with it, each line of a 200
 * answer goes to @line_fn as it arrives.  Returns 0, -ECANCELED when
 * the mirror is stopping, or a negative errno (and m->msg says it).
 */
int etcd_post(struct snapmap_etcd_mirror *m, const char *path,
	      struct json_object *req, long timeout_ms, etcd_line_fn line_fn)
{
	const char *ep = m->endpoints[m->cur];
	struct curl_slist *hdr;
	char *url;
	CURLcode res = CURLE_OK;
	long status = 0;
	int rc = 0, running = 1;

	url = malloc(strlen(ep) + strlen(path) + 1);
	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (!url || !hdr) {
		free(url);
		curl_slist_free_all(hdr);
		return -ENOMEM;
	}
	strcpy(url, ep);
	strcat(url, path);

	m->body_len = 0;
	m->line_fn = line_fn;
	m->line_err = 0;
	m->curl_err[0] = '\0';
	curl_easy_reset(m->easy);
	curl_easy_setopt(m->easy, CURLOPT_URL, url);
	curl_easy_setopt(m->easy, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(m->easy, CURLOPT_COPYPOSTFIELDS,
			 json_object_to_json_string_ext(req,
							JSON_C_TO_STRING_PLAIN));
	curl_easy_setopt(m->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(m->easy, CURLOPT_WRITEDATA, m);
	curl_easy_setopt(m->easy, CURLOPT_ERRORBUFFER, m->curl_err);
	curl_easy_setopt(m->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(m->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)m->cfg.connect_timeout_ms);
	curl_easy_setopt(m->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* A watch is silent while nothing changes: keepalive is what finds
	 * a peer that vanished without closing the connection. */
	curl_easy_setopt(m->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(m->easy, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(m->easy, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_multi_add_handle(m->multi, m->easy);

	while (running) {
		CURLMsg *msg;
		int left;

		if (atomic_load(&m->stopping)) {
			rc = -ECANCELED;
			break;
		}
		if (curl_multi_perform(m->multi, &running) != CURLM_OK) {
			rc = -EIO;
			break;
		}
		while ((msg = curl_multi_info_read(m->multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				res = msg->data.result;
		if (running) {
			curl_multi_poll(m->multi, NULL, 0, POLL_MS, NULL);
			etcd_check_stale(m);
		}
	}
	curl_easy_getinfo(m->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(m->multi, m->easy);
	curl_slist_free_all(hdr);
	free(url);
	if (rc)
		return rc;
	if (res == CURLE_WRITE_ERROR && m->line_err)
		return m->line_err;	/* m->msg set by line_fn */
	if (res != CURLE_OK) {
		rc = curl_errno(res);
		etcd_fail(m, rc, "%s: %s", ep,
			  m->curl_err[0] ? m->curl_err : curl_easy_strerror(res));
		return rc;
	}
	if (status != 200)
		return gateway_error(m, status);
	if (line_fn) {
		etcd_fail(m, -ECONNRESET, "%s: the watch stream ended", ep);
		return -ECONNRESET;
	}
	return 0;
}
