/*
 * util.c - helpers shared by the persistence tests; see util.h.
 */
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char pt_dir[PATH_MAX];

void pt_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	rcu_register_thread();
	snprintf(pt_dir, PATH_MAX, "%s/snapmap-persist.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(pt_dir), "mkdtemp: %s", strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void pt_teardown(void)
{
	if (pt_dir[0])
		nftw(pt_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	rcu_unregister_thread();
}

const char *pt_path(const char *name)
{
	static char ring[8][PATH_MAX];
	static unsigned next;
	char *p = ring[next++ % 8];
	int n = snprintf(p, PATH_MAX, "%s/%s", pt_dir, name);

	cr_assert_lt(n, PATH_MAX, "path too long");
	return p;
}

unsigned char *pt_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long size;

	cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = malloc((size_t)size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
}

void pt_write(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "create %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

unsigned pt_tmp_files(void)
{
	DIR *d = opendir(pt_dir);
	struct dirent *de;
	unsigned n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		n += de->d_name[0] == '.' && len > 4 &&
		     !strcmp(de->d_name + len - 4, ".tmp");
	}
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------ */
/* Maps                                                                */
/* ------------------------------------------------------------------ */

struct snapmap *pt_map_new(const struct snapmap_config *cfg)
{
	struct snapmap *map = snapmap_new(cfg);

	cr_assert_not_null(map, "snapmap_new: %s", strerror(errno));
	return map;
}

void pt_map_destroy(struct snapmap *map)
{
	cr_assert_eq(snapmap_destroy(map), 0, "snapmap_destroy failed");
}

uint64_t pt_version(struct snapmap *map)
{
	uint64_t v;

	rcu_read_lock();
	v = snapmap_version(snapmap_snapshot(map));
	rcu_read_unlock();
	return v;
}

size_t pt_count(struct snapmap *map)
{
	size_t n;

	rcu_read_lock();
	n = snapmap_count(snapmap_snapshot(map));
	rcu_read_unlock();
	return n;
}

void pt_fill(struct snapmap *map, size_t n, unsigned seed)
{
	struct snapmap_batch *b = snapmap_batch_new(map);
	char key[32], val[48];

	cr_assert_not_null(b);
	for (size_t i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "key:%08zu", i);
		int vl = snprintf(val, sizeof(val), "v%u:%zu", seed, i);

		cr_assert_eq(snapmap_batch_put(b, key, (size_t)kl, val,
					       (size_t)vl), 0);
	}
	cr_assert_eq(snapmap_batch_commit(b, NULL, NULL), 0);
	snapmap_batch_free(b);
}

void pt_put(struct snapmap *map, const void *key, size_t klen,
	    const void *val, size_t vlen)
{
	int rc = snapmap_put(map, key, klen, val, vlen);

	cr_assert_eq(rc, 0, "put of a %zu-byte key: %d", klen, rc);
}

void pt_put_str(struct snapmap *map, const char *key, const char *val)
{
	pt_put(map, key, strlen(key), val, strlen(val));
}

static bool same_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (!alen || memcmp(a, b, alen) == 0);
}

void pt_assert_same_snap(const struct snapmap_snapshot *a,
			 const struct snapmap_snapshot *b)
{
	struct snapmap_iter ia, ib;
	struct snapmap_kv ka, kb;
	int ra, rb;
	size_t i = 0;

	cr_assert_eq(snapmap_count(a), snapmap_count(b),
		     "counts differ: %zu vs %zu", snapmap_count(a),
		     snapmap_count(b));
	for (ra = snapmap_iter_first(a, &ia, &ka),
	     rb = snapmap_iter_first(b, &ib, &kb);
	     ra == 0 && rb == 0;
	     ra = snapmap_iter_next(&ia, &ka), rb = snapmap_iter_next(&ib, &kb),
	     i++) {
		cr_assert(same_bytes(ka.key, ka.klen, kb.key, kb.klen),
			  "key #%zu differs", i);
		cr_assert(same_bytes(ka.val, ka.vlen, kb.val, kb.vlen),
			  "value #%zu differs (%zu vs %zu bytes)", i, ka.vlen,
			  kb.vlen);
	}
	cr_assert_eq(ra, -ENOENT);
	cr_assert_eq(rb, -ENOENT);
}

void pt_assert_same(struct snapmap *a, struct snapmap *b)
{
	rcu_read_lock();
	pt_assert_same_snap(snapmap_snapshot(a), snapmap_snapshot(b));
	rcu_read_unlock();
}

void pt_assert_unchanged(struct snapmap *map,
			 const struct snapmap_snapshot *before)
{
	rcu_read_lock();
	cr_assert_eq(snapmap_version(snapmap_snapshot(map)),
		     snapmap_version(before), "the version moved");
	pt_assert_same_snap(snapmap_snapshot(map), before);
	rcu_read_unlock();
	snapmap_unpin(before);
}

void pt_assert_str(struct snapmap *map, const char *key, const char *val)
{
	char buf[256];
	size_t len = 0;
	int rc = snapmap_get(map, key, strlen(key), buf, sizeof(buf), &len);

	cr_assert_eq(rc, 0, "get \"%s\": %d", key, rc);
	cr_assert(same_bytes(buf, len, val, strlen(val)),
		  "\"%s\" is \"%.*s\", expected \"%s\"", key, (int)len, buf,
		  val);
}

static void save(struct snapmap *map, const char *path, bool text)
{
	const struct snapmap_snapshot *snap = snapmap_pin(map);
	struct snapmap_error err;
	int rc = text ? snapmap_save_text(snap, path, &err)
		      : snapmap_save(snap, path, &err);

	snapmap_unpin(snap);
	cr_assert_eq(rc, 0, "save %s: %d %s", path, rc, err.message);
}

void pt_save(struct snapmap *map, const char *path)
{
	save(map, path, false);
}

void pt_save_text(struct snapmap *map, const char *path)
{
	save(map, path, true);
}

void pt_round_trip(struct snapmap *src, const struct snapmap_config *cfg,
		   bool text)
{
	const char *path = pt_path(text ? "rt.txt" : "rt.snap");
	struct snapmap *dst = pt_map_new(cfg);
	struct snapmap_error err;
	uint64_t before, version = 0;
	int rc;

	pt_put_str(dst, "stale", "entry");
	before = pt_version(dst);
	save(src, path, text);
	rc = text ? snapmap_load_text(dst, path, &version, &err)
		  : snapmap_load(dst, path, &version, &err);
	cr_assert_eq(rc, 0, "load: %d %s", rc, err.message);
	cr_assert_eq(err.code, 0);
	cr_assert_str_empty(err.message);
	cr_assert_eq(version, before + 1, "one publish");
	cr_assert_eq(pt_version(dst), before + 1);
	pt_assert_same(src, dst);
	pt_map_destroy(dst);
}

/* ------------------------------------------------------------------ */
/* Forging                                                             */
/* ------------------------------------------------------------------ */

static void le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

void pt_fix_crcs(unsigned char *buf, size_t len)
{
	le32(buf + PT_HDR_CRC, sm_crc32c(0, buf, PT_HDR_CRC));
	le32(buf + len - 4, sm_crc32c(0, buf, len - 4));
}

unsigned char *pt_forge(const struct pt_kv *kvs, size_t n, size_t *len)
{
	static const unsigned char magic[8] = {
		0x89, 'S', 'N', 'A', 'P', 'M', 'A', 'P'
	};
	size_t body = 0, off = PT_HDR_LEN;
	unsigned char *buf;

	for (size_t i = 0; i < n; i++)
		body += 8 + kvs[i].klen + kvs[i].vlen;
	*len = PT_HDR_LEN + body + 4;
	buf = calloc(1, *len);
	cr_assert_not_null(buf);
	memcpy(buf, magic, 8);
	le32(buf + PT_OFF_VERSION, 1);
	le64(buf + PT_OFF_COUNT, n);
	le64(buf + 24, 7);
	le64(buf + PT_OFF_BODY_LEN, body);
	for (size_t i = 0; i < n; i++) {
		le32(buf + off, (uint32_t)kvs[i].klen);
		le32(buf + off + 4, (uint32_t)kvs[i].vlen);
		memcpy(buf + off + 8, kvs[i].key, kvs[i].klen);
		memcpy(buf + off + 8 + kvs[i].klen, kvs[i].val, kvs[i].vlen);
		off += 8 + kvs[i].klen + kvs[i].vlen;
	}
	pt_fix_crcs(buf, *len);
	return buf;
}

/* ------------------------------------------------------------------ */
/* The tool                                                            */
/* ------------------------------------------------------------------ */

void pt_tool(struct pt_run *r, const char *stdin_path, const char *const *args)
{
	const char *out = pt_path("tool.stdout"), *err = pt_path("tool.stderr");
	const char *argv[16] = { SNAPMAP_TOOL };
	size_t argc = 1;
	int status;
	pid_t pid;

	for (; args[argc - 1]; argc++) {
		cr_assert_lt(argc, 15, "too many arguments");
		argv[argc] = args[argc - 1];
	}
	argv[argc] = NULL;
	fflush(NULL);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 ||
		    dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status)
				      : 128 + WTERMSIG(status);
	r->out = (char *)pt_read(out, &r->out_len);
	{
		size_t n;

		r->err = (char *)pt_read(err, &n);
	}
}

void pt_run_free(struct pt_run *r)
{
	free(r->out);
	free(r->err);
}
