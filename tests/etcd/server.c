/*
 * server.c - see server.h.
 */
#include "server.h"
#include "../../etcd/base64.h"

#ifdef ETCD_SERVER_STANDALONE
/* Built into the bench, which has no Criterion: a failed check exits. */
#include <stdio.h>
#define cr_assert(cond, ...) do { if (!(cond)) { \
	fprintf(stderr, "etcd harness: %s:%d: %s\n", __FILE__, __LINE__, \
		#cond); \
	exit(1); } } while (0)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b))
#else
#include <criterion/criterion.h>
#endif
#include <curl/curl.h>
#include <json-c/json.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_WAIT_MS	30000
#define CTL_ARGS	32

int etcd_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	cr_assert(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	int *healthy = arg;

	if (memmem(p, size * n, "\"true\"", 6))
		*healthy = 1;
	return size * n;
}

/* What a client of @s needs to connect: the CA and a certificate. */
static void client_tls(struct etcd_server *s, CURL *c)
{
	if (!s->tls)
		return;
	curl_easy_setopt(c, CURLOPT_CAINFO, s->ca);
	curl_easy_setopt(c, CURLOPT_SSLCERT, s->cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, s->key);
}

static int healthy(struct etcd_server *s)
{
	char url[96];
	CURL *c = curl_easy_init();
	int ok = 0;

	client_tls(s, c);
	snprintf(url, sizeof(url), "%s/health", s->endpoint);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ok);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	return ok;
}

/* Forks etcd; a member of a cluster when s->cluster is set. */
static void spawn(struct etcd_server *s)
{
	char client[64], peer[64], cluster[96], data[300];
	char cert[330], key[330], ca[330];

	snprintf(client, sizeof(client), "%s://127.0.0.1:%d",
		 s->tls ? "https" : "http", s->client_port);
	snprintf(cert, sizeof(cert), "--cert-file=%s/server.pem", s->dir);
	snprintf(key, sizeof(key), "--key-file=%s/server.key", s->dir);
	snprintf(ca, sizeof(ca), "--trusted-ca-file=%s", s->ca);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", s->peer_port);
	snprintf(cluster, sizeof(cluster), "t=%s", peer);
	snprintf(data, sizeof(data), "%s/data", s->dir);
	s->pid = fork();
	cr_assert(s->pid >= 0);
	if (s->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(null, 2);
		execl(ETCD_BIN, "etcd", "--name", s->name[0] ? s->name : "t",
		      "--data-dir", data,
		      "--listen-client-urls", client,
		      "--advertise-client-urls", client,
		      "--listen-peer-urls", peer,
		      "--initial-advertise-peer-urls", peer,
		      "--initial-cluster", s->cluster ? s->cluster : cluster,
		      "--max-txn-ops", "1000",
		      "--log-level", "error",
		      s->tls ? cert : NULL, key, ca, "--client-cert-auth",
		      (char *)NULL);
		_exit(127);
	}
}

void etcd_wait_healthy(struct etcd_server *s)
{
	for (int waited = 0; !healthy(s); waited += 100) {
		int st;

		cr_assert(waitpid(s->pid, &st, WNOHANG) == 0,
			  "etcd exited while starting");
		cr_assert(waited < START_WAIT_MS, "etcd did not answer");
		usleep(100000);
	}
}

static void launch(struct etcd_server *s)
{
	spawn(s);
	etcd_wait_healthy(s);
}

static void prepare(struct etcd_server *s, int tls)
{
	const char *tmp = getenv("TMPDIR");

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/snapmap-etcd.XXXXXX",
		 tmp ? tmp : "/tmp");
	cr_assert(mkdtemp(s->dir));
	s->client_port = etcd_free_port();
	do
		s->peer_port = etcd_free_port();
	while (s->peer_port == s->client_port);
	s->tls = tls;
	snprintf(s->endpoint, sizeof(s->endpoint), "%s://127.0.0.1:%d",
		 tls ? "https" : "http", s->client_port);
	snprintf(s->ca, sizeof(s->ca), "%s/ca.pem", s->dir);
	snprintf(s->cert, sizeof(s->cert), "%s/client.pem", s->dir);
	snprintf(s->key, sizeof(s->key), "%s/client.key", s->dir);
}

void etcd_start(struct etcd_server *s)
{
	prepare(s, 0);
	launch(s);
}

/* P-256 keys: quick to make. */
#define NEWKEY "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
#define SIGN "openssl x509 -req -CA ca.pem -CAkey ca.key -CAcreateserial -days 1"

void etcd_start_tls(struct etcd_server *s)
{
	char cmd[2048];

	prepare(s, 1);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && exec >/dev/null 2>&1 && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		 "-nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca && "
		 NEWKEY " -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
		 "printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > server.ext && "
		 SIGN " -in server.csr -out server.pem -extfile server.ext && "
		 NEWKEY " -keyout client.key -out client.csr -subj /CN=root && "
		 "printf 'extendedKeyUsage=clientAuth\n' > client.ext && "
		 SIGN " -in client.csr -out client.pem -extfile client.ext",
		 s->dir);
	cr_assert_eq(system(cmd), 0, "openssl could not make certificates");
	launch(s);
}

void etcd_enable_auth(struct etcd_server *s, const char *root_password)
{
	static char user[64];
	char add[80];

	snprintf(add, sizeof(add), "root:%s", root_password);
	free(etcdctl(s, NULL, "user", "add", add, NULL));
	free(etcdctl(s, NULL, "auth", "enable", NULL));
	snprintf(user, sizeof(user), "--user=root:%s", root_password);
	s->user = user;
}

void etcd_cluster_start(struct etcd_server s[ETCD_CLUSTER_SIZE])
{
	static char cluster[ETCD_CLUSTER_SIZE * 48];
	size_t len = 0;

	for (int i = 0; i < ETCD_CLUSTER_SIZE; i++) {
		prepare(&s[i], 0);
		snprintf(s[i].name, sizeof(s[i].name), "m%d", i);
		len += (size_t)snprintf(cluster + len, sizeof(cluster) - len,
					"%sm%d=http://127.0.0.1:%d",
					i ? "," : "", i, s[i].peer_port);
	}
	for (int i = 0; i < ETCD_CLUSTER_SIZE; i++) {
		s[i].cluster = cluster;
		spawn(&s[i]);
	}
	for (int i = 0; i < ETCD_CLUSTER_SIZE; i++)
		etcd_wait_healthy(&s[i]);
}

void etcd_restart(struct etcd_server *s)
{
	launch(s);
}

void etcd_kill(struct etcd_server *s, int sig)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void etcd_stop(struct etcd_server *s)
{
	etcd_kill(s, SIGKILL);
	if (s->dir[0])
		nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

char *run_capture(const char *path, const char *input,
		  const char *const argv[], int *status)
{
	int in[2], out[2], st;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;
	pid_t pid;

	cr_assert(buf && pipe(in) == 0 && pipe(out) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		setenv("ETCDCTL_API", "3", 1);
		execv(path, (char **)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* Inputs are small (a transaction), well within a pipe buffer. */
	if (input)
		cr_assert(write(in[1], input, strlen(input)) ==
			  (ssize_t)strlen(input));
	close(in[1]);
	while ((n = read(out[0], buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
	}
	buf[len] = '\0';
	close(out[0]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st), "%s did not exit", path);
	*status = WEXITSTATUS(st);
	return buf;
}

char *etcdctl(struct etcd_server *s, const char *input, const char *arg, ...)
{
	const char *argv[CTL_ARGS];
	char ep[80], cacert[330], cert[330], key[330], *out;
	int argc = 0, status;
	va_list ap;

	snprintf(ep, sizeof(ep), "--endpoints=%s", s->endpoint);
	argv[argc++] = "etcdctl";
	argv[argc++] = ep;
	if (s->tls) {
		snprintf(cacert, sizeof(cacert), "--cacert=%s", s->ca);
		snprintf(cert, sizeof(cert), "--cert=%s", s->cert);
		snprintf(key, sizeof(key), "--key=%s", s->key);
		argv[argc++] = cacert;
		argv[argc++] = cert;
		argv[argc++] = key;
	}
	if (s->user)
		argv[argc++] = s->user;
	va_start(ap, arg);
	for (; arg && argc < CTL_ARGS - 1; arg = va_arg(ap, const char *))
		argv[argc++] = arg;
	va_end(ap);
	argv[argc] = NULL;
	out = run_capture(ETCDCTL_BIN, input, argv, &status);
	cr_assert_eq(status, 0, "etcdctl %s failed: %s", argv[argc - 1], out);
	return out;
}

int64_t etcdctl_revision(char *json_out)
{
	struct json_object *o = json_tokener_parse(json_out), *h, *r;
	int64_t rev;

	cr_assert(o, "etcdctl: not JSON: %s", json_out);
	cr_assert(json_object_object_get_ex(o, "header", &h) &&
		  json_object_object_get_ex(h, "revision", &r));
	rev = json_object_get_int64(r);
	json_object_put(o);
	free(json_out);
	return rev;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	char **buf = arg;
	size_t old = *buf ? strlen(*buf) : 0;

	*buf = realloc(*buf, old + size * n + 1);
	memcpy(*buf + old, p, size * n);
	(*buf)[old + size * n] = '\0';
	return size * n;
}

int64_t etcd_put_raw(struct etcd_server *s, const void *key, size_t klen,
		     const void *val, size_t vlen)
{
	struct json_object *req = json_object_new_object();
	char *k = etcd_b64_encode(key, klen), *v = etcd_b64_encode(val, vlen);
	char url[96], *resp = NULL;
	struct curl_slist *hdr = curl_slist_append(NULL,
		"Content-Type: application/json");
	CURL *c = curl_easy_init();
	int64_t rev;

	json_object_object_add(req, "key", json_object_new_string(k));
	json_object_object_add(req, "value", json_object_new_string(v));
	snprintf(url, sizeof(url), "%s/v3/kv/put", s->endpoint);
	client_tls(s, c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS,
			 json_object_to_json_string(req));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	cr_assert(curl_easy_perform(c) == CURLE_OK);
	rev = etcdctl_revision(resp);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	json_object_put(req);
	free(k);
	free(v);
	return rev;
}
