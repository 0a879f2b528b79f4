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
	etcd_forget_token(m);
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
 * gRPC codes of etcd's errors: 11 (OUT_OF_RANGE) is "required revision
 * has been compacted"; 16 (UNAUTHENTICATED) a bad token, 7
 * (PERMISSION_DENIED) a user without read permission, and a wrong
 * password comes as 3 (INVALID_ARGUMENT) "authentication failed".
 */
int etcd_grpc_errno(int code, const char *msg)
{
	if (code == 11)
		return -ESTALE;
	if (code == 16 || code == 7 ||
	    (code == 3 && strstr(msg, "authentication failed")))
		return -EACCES;
	return -EPROTO;
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
		rc = etcd_grpc_errno(code ? json_object_get_int(code) : -1,
				msg ? json_object_get_string(msg) : "");
	}
	etcd_fail(m, rc, "%s: HTTP %ld: %s", m->endpoints[m->cur], status,
		  msg ? json_object_get_string(msg) : "no error message");
	json_object_put(o);
	return rc;
}

/* The request's headers: JSON, and the auth token once there is one. */
static struct curl_slist *headers(struct snapmap_etcd_mirror *m)
{
	struct curl_slist *h = curl_slist_append(NULL,
		"Content-Type: application/json"), *t;
	char *auth;

	if (!h || !m->token)
		return h;
	auth = malloc(strlen(m->token) + sizeof("Authorization: "));
	if (!auth) {
		curl_slist_free_all(h);
		return NULL;
	}
	strcpy(auth, "Authorization: ");
	strcat(auth, m->token);
	t = curl_slist_append(h, auth);
	free(auth);
	if (!t)
		curl_slist_free_all(h);
	return t;
}

static void set_tls(struct snapmap_etcd_mirror *m)
{
	if (m->cfg.ca_file)
		curl_easy_setopt(m->easy, CURLOPT_CAINFO, m->cfg.ca_file);
	if (m->cfg.cert_file)
		curl_easy_setopt(m->easy, CURLOPT_SSLCERT, m->cfg.cert_file);
	if (m->cfg.key_file)
		curl_easy_setopt(m->easy, CURLOPT_SSLKEY, m->cfg.key_file);
}

/* One POST, see etcd_post(). */
static int post_once(struct snapmap_etcd_mirror *m, const char *path,
		     struct json_object *req, long timeout_ms,
		     etcd_line_fn line_fn)
{
	const char *ep = m->endpoints[m->cur];
	struct curl_slist *hdr;
	char *url;
	CURLcode res = CURLE_OK;
	long status = 0;
	int rc = 0, running = 1;

	url = malloc(strlen(ep) + strlen(path) + 1);
	hdr = headers(m);
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
	set_tls(m);
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

/* With a user: get a token for the current endpoint (simple tokens are
 * per member, so every failover asks again). */
static int authenticate(struct snapmap_etcd_mirror *m)
{
	struct json_object *req = json_object_new_object(), *resp, *tok;
	int rc;

	if (!req)
		return -ENOMEM;
	json_object_object_add(req, "name",
			       json_object_new_string(m->cfg.user));
	json_object_object_add(req, "password",
			       json_object_new_string(m->cfg.password ?
						      m->cfg.password : ""));
	rc = post_once(m, "/v3/auth/authenticate", req,
		       m->cfg.request_timeout_ms, NULL);
	json_object_put(req);
	if (rc)
		return rc;
	resp = json_tokener_parse(m->body);
	if (resp && json_object_object_get_ex(resp, "token", &tok))
		m->token = strdup(json_object_get_string(tok));
	else
		etcd_fail(m, rc = -EPROTO, "%s: authenticate: no token",
			  m->endpoints[m->cur]);
	json_object_put(resp);
	return rc ? rc : m->token ? 0 : -ENOMEM;
}

void etcd_forget_token(struct snapmap_etcd_mirror *m)
{
	free(m->token);
	m->token = NULL;
}

/*
 * Posts @req (JSON) to @path of the current endpoint, authenticating
 * first when a user is configured.  Without @line_fn the whole answer
 * is left in m->body; with it, each line of a 200 answer goes to
 * @line_fn as it arrives.  Returns 0, -ECANCELED when the mirror is
 * stopping, or a negative errno (and m->msg says it).
 */
int etcd_post(struct snapmap_etcd_mirror *m, const char *path,
	      struct json_object *req, long timeout_ms, etcd_line_fn line_fn)
{
	int rc = 0;

	if (m->cfg.user && !m->token)
		rc = authenticate(m);
	if (!rc)
		rc = post_once(m, path, req, timeout_ms, line_fn);
	/* An expired or refused token: ask for a new one next time. */
	if (rc == -EACCES)
		etcd_forget_token(m);
	return rc;
}
