/*
 * server.h - a real etcd for the tests: one member on 127.0.0.1 only,
 * with ports the kernel just handed out and a temporary data directory.
 * Every wait is bounded; a test that dies takes its etcd with it
 * (PR_SET_PDEATHSIG).
 */
#ifndef TESTS_ETCD_SERVER_H
#define TESTS_ETCD_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct etcd_server {
	pid_t pid;
	int client_port, peer_port;
	char dir[256];
	char endpoint[64];	/* http(s)://127.0.0.1:PORT */
	int tls;		/* clients need s->dir/{ca,client}.pem */
	char ca[300], cert[300], key[300];
	const char *user;	/* "root:PASSWORD" once auth is on */
	char name[8];		/* a cluster member's name */
	const char *cluster;	/* --initial-cluster of a member */
};

#define ETCD_CLUSTER_SIZE	3

/* Starts etcd and waits (bounded) until it answers; asserts on failure. */
void etcd_start(struct etcd_server *s);
/*
 * The same with TLS: a CA, a server certificate for 127.0.0.1 and a
 * client certificate made with openssl(1) in the data directory; etcd
 * requires client certificates (--client-cert-auth).
 */
void etcd_start_tls(struct etcd_server *s);
/* Adds user root with @password and enables auth. */
void etcd_enable_auth(struct etcd_server *s, const char *root_password);
/* Starts a cluster of ETCD_CLUSTER_SIZE members on 127.0.0.1. */
void etcd_cluster_start(struct etcd_server s[ETCD_CLUSTER_SIZE]);
/* Waits (bounded) until @s answers /health: it has a leader. */
void etcd_wait_healthy(struct etcd_server *s);
/* Starts it again on the same ports and data directory. */
void etcd_restart(struct etcd_server *s);
/* Sends @sig and reaps it. */
void etcd_kill(struct etcd_server *s, int sig);
/* Stops it and removes its data directory. */
void etcd_stop(struct etcd_server *s);

/* A port on 127.0.0.1 nothing listens on (bound, then closed). */
int etcd_free_port(void);

/*
 * Runs etcdctl against @s with @input on its standard input and the
 * NULL-terminated @args; asserts it exits 0; returns its output
 * (malloc'ed).
 */
char *etcdctl(struct etcd_server *s, const char *input, const char *arg, ...)
	__attribute__((sentinel));

/*
 * Runs @path with @argv and @input on its standard input; returns its
 * standard output (malloc'ed) and its exit status in *@status.
 */
char *run_capture(const char *path, const char *input,
		  const char *const argv[], int *status);

/* The revision etcdctl -w json printed in its header; frees @json_out. */
int64_t etcdctl_revision(char *json_out);

/* A put of arbitrary bytes through the JSON gateway; returns the revision. */
int64_t etcd_put_raw(struct etcd_server *s, const void *key, size_t klen,
		     const void *val, size_t vlen);

#endif
