/*
 * test_binary.c - the binary snapshot file: round trips (empty, one
 * entry, 100k entries, every byte value, maximum lengths), what a load
 * publishes, snapmap_file_stat, saving a pinned or read-locked snapshot
 * while writers go on, and the savers' own errors.
 */
#include "util.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(binary, .init = pt_setup, .fini = pt_teardown,
	  .timeout = PT_TIMEOUT);

static void round_trip(struct snapmap *src, const struct snapmap_config *cfg)
{
	pt_round_trip(src, cfg, false);
}

/* Keys and values made of every byte value: NUL, TAB, newline, 0xff. */
Test(binary, every_byte_value)
{
	struct snapmap *src = pt_map_new(NULL);
	unsigned char all[256];

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (int i = 0; i < 256; i++) {
		unsigned char key[2] = { (unsigned char)i, 0 };

		/* One-byte keys, and two-byte keys ending in NUL. */
		pt_put(src, key, 1, all + i, (size_t)(256 - i));
		pt_put(src, key, 2, all, (size_t)i);
	}
	pt_put(src, "", 0, "", 0);	/* the empty key, an empty value */
	pt_put(src, all, sizeof(all), all, sizeof(all));
	round_trip(src, NULL);
	pt_map_destroy(src);
}

/* Keys of exactly the default maximum, and a value of exactly it. */
Test(binary, maximum_lengths)
{
	struct snapmap *src = pt_map_new(NULL);
	size_t vmax = SNAPMAP_DEFAULT_MAX_VALUE_LEN;
	char *key = malloc(SNAPMAP_DEFAULT_MAX_KEY_LEN);
	char *val = malloc(vmax);

	cr_assert(key && val);
	memset(val, 'v', vmax);
	for (int i = 0; i < 3; i++) {
		memset(key, 'a' + i, SNAPMAP_DEFAULT_MAX_KEY_LEN);
		pt_put(src, key, SNAPMAP_DEFAULT_MAX_KEY_LEN, val,
		       i == 0 ? vmax : 1);
	}
	round_trip(src, NULL);
	free(key);
	free(val);
	pt_map_destroy(src);
}

/* A map with its own order saves in that order and loads back. */
static int reverse(const void *a, size_t alen, const void *b, size_t blen,
		   void *ctx)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(b, a, n) : 0;

	(void)ctx;
	return c ? c : (blen > alen) - (blen < alen);
}

Test(binary, custom_order)
{
	struct snapmap_config cfg = { .compare = reverse };
	struct snapmap *src = pt_map_new(&cfg), *bytewise = pt_map_new(NULL);
	const struct snapmap_snapshot *before;
	struct snapmap_error err;

	pt_fill(src, 100, 3);
	round_trip(src, &cfg);
	/* In bytewise order the file's keys are out of order. */
	before = snapmap_pin(bytewise);
	cr_assert_eq(snapmap_load(bytewise, pt_path("rt.snap"), NULL, &err),
		     -EILSEQ);
	cr_assert_eq(err.code, -EILSEQ);
	pt_assert_unchanged(bytewise, before);
	pt_map_destroy(src);
	pt_map_destroy(bytewise);
}

/* Loaded values belong to the map: the destructor runs once for each. */
static void count_destroyed(void *val, size_t vlen, void *ctx)
{
	(void)val;
	(void)vlen;
	uatomic_inc((unsigned long *)ctx);
}

Test(binary, loaded_values_are_destroyed_once)
{
	static unsigned long destroyed;
	struct snapmap_config cfg = { .value_destroy = count_destroyed,
				      .destroy_ctx = &destroyed };
	struct snapmap *src = pt_map_new(NULL), *dst = pt_map_new(&cfg);

	pt_fill(src, 50, 1);
	pt_save(src, pt_path("a.snap"));
	cr_assert_eq(snapmap_load(dst, pt_path("a.snap"), NULL, NULL), 0);
	cr_assert_eq(snapmap_load(dst, pt_path("a.snap"), NULL, NULL), 0);
	pt_map_destroy(dst);
	cr_assert_eq(uatomic_read(&destroyed), 100);
	pt_map_destroy(src);
}

/* A pinned snapshot saves its own version, whatever writers do since. */
Test(binary, save_pinned_while_writers_go_on)
{
	struct snapmap *src = pt_map_new(NULL), *dst = pt_map_new(NULL);
	const struct snapmap_snapshot *pinned;
	struct snapmap_file_stat st;
	uint64_t v;

	pt_fill(src, 1000, 1);
	pinned = snapmap_pin(src);
	v = snapmap_version(pinned);
	pt_fill(src, 2000, 2);
	pt_put_str(src, "later", "write");
	cr_assert_eq(snapmap_save(pinned, pt_path("p.snap"), NULL), 0);
	cr_assert_eq(snapmap_file_stat(pt_path("p.snap"), &st, NULL), 0);
	cr_assert_eq(st.version, v);
	cr_assert_eq(st.entries, 1000);
	cr_assert_eq(snapmap_load(dst, pt_path("p.snap"), NULL, NULL), 0);
	rcu_read_lock();
	pt_assert_same_snap(snapmap_snapshot(dst), pinned);
	rcu_read_unlock();
	snapmap_unpin(pinned);
	pt_map_destroy(src);
	pt_map_destroy(dst);
}

/* Inside a read-side critical section, without a pin. */
Test(binary, save_inside_read_side_critical_section)
{
	struct snapmap *src = pt_map_new(NULL), *dst = pt_map_new(NULL);

	pt_fill(src, 10, 1);
	rcu_read_lock();
	cr_assert_eq(snapmap_save(snapmap_snapshot(src), pt_path("r.snap"),
				  NULL), 0);
	rcu_read_unlock();
	cr_assert_eq(snapmap_load(dst, pt_path("r.snap"), NULL, NULL), 0);
	pt_assert_same(src, dst);
	pt_map_destroy(src);
	pt_map_destroy(dst);
}

Test(binary, file_stat)
{
	struct snapmap *src = pt_map_new(NULL);
	struct snapmap_file_stat st;
	struct snapmap_error err;

	pt_put_str(src, "a", "1");
	pt_put_str(src, "bbb", "22222");
	pt_save(src, pt_path("s.snap"));
	cr_assert_eq(snapmap_file_stat(pt_path("s.snap"), &st, &err), 0);
	cr_assert_eq(st.format_version, 1);
	cr_assert_eq(st.flags, 0);
	cr_assert_eq(st.entries, 2);
	cr_assert_eq(st.version, pt_version(src));
	cr_assert_eq(st.key_bytes, 4);
	cr_assert_eq(st.value_bytes, 6);
	cr_assert_eq(st.longest_key, 3);
	cr_assert_eq(st.longest_value, 5);
	/* Header, two entries (8 + key + value each), checksum. */
	cr_assert_eq(st.file_bytes, 44 + (8 + 1 + 1) + (8 + 3 + 5) + 4);
	cr_assert_eq(snapmap_file_stat(NULL, &st, &err), -EINVAL);
	cr_assert_eq(snapmap_file_stat(pt_path("s.snap"), NULL, &err),
		     -EINVAL);
	cr_assert_eq(snapmap_file_stat(pt_path("none"), &st, &err), -ENOENT);
	pt_map_destroy(src);
}

/* Saving replaces the old file and leaves no temporary file. */
static size_t dir_entries(void)
{
	DIR *d = opendir(pt_dir);
	size_t n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2;	/* . and .. */
}

Test(binary, save_replaces_and_cleans_up)
{
	struct snapmap *a = pt_map_new(NULL), *b = pt_map_new(NULL);
	struct snapmap *dst = pt_map_new(NULL);

	pt_fill(a, 10, 1);
	pt_fill(b, 20, 2);
	pt_save(a, pt_path("x.snap"));
	pt_save(b, pt_path("x.snap"));
	cr_assert_eq(dir_entries(), 1);
	cr_assert_eq(snapmap_load(dst, pt_path("x.snap"), NULL, NULL), 0);
	pt_assert_same(b, dst);
	pt_map_destroy(a);
	pt_map_destroy(b);
	pt_map_destroy(dst);
}

/* A private file stays private when replaced. */
Test(binary, save_keeps_permission_bits)
{
	struct snapmap *src = pt_map_new(NULL);
	struct stat st;

	pt_write(pt_path("m.snap"), "old", 3);
	cr_assert_eq(chmod(pt_path("m.snap"), 0640), 0);
	pt_save(src, pt_path("m.snap"));
	cr_assert_eq(stat(pt_path("m.snap"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);
	pt_map_destroy(src);
}

Test(binary, save_errors)
{
	struct snapmap *src = pt_map_new(NULL);
	const struct snapmap_snapshot *snap = snapmap_pin(src);
	struct snapmap_error err;

	cr_assert_eq(snapmap_save(NULL, pt_path("a"), &err), -EINVAL);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert_eq(snapmap_save(snap, NULL, &err), -EINVAL);
	cr_assert_eq(snapmap_save(snap, pt_path("no/such/dir/x.snap"), &err),
		     -ENOENT);
	cr_assert_str_not_empty(err.message);
	cr_assert_eq(mkdir(pt_path("d"), 0755), 0);
	cr_assert_eq(snapmap_save(snap, pt_path("d"), &err), -EISDIR);
	cr_assert_eq(snapmap_save(snap, pt_path("d/"), &err), -EISDIR);
	/* Failed saves leave no temporary file: only d/ is there. */
	cr_assert_eq(dir_entries(), 1);
	snapmap_unpin(snap);
	pt_map_destroy(src);
}

Test(binary, load_errors_without_details)
{
	struct snapmap *map = pt_map_new(NULL);

	cr_assert_eq(snapmap_load(NULL, pt_path("a"), NULL, NULL), -EINVAL);
	cr_assert_eq(snapmap_load(map, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(snapmap_load(map, pt_path("none"), NULL, NULL), -ENOENT);
	pt_map_destroy(map);
}

/* A load from inside an update callback of the same map. */
struct nested {
	struct snapmap *map;
	const char *path;
	int rc;
};

static int load_from_callback(const void *key, size_t klen, const void *cur,
			      size_t curlen, bool present,
			      struct snapmap_update *u, void *ctx)
{
	struct nested *n = ctx;

	(void)key, (void)klen, (void)cur, (void)curlen, (void)present, (void)u;
	n->rc = snapmap_load(n->map, n->path, NULL, NULL);
	return 0;
}

Test(binary, load_inside_update_callback_is_edeadlk)
{
	struct snapmap *map;
	struct nested n;

	/* The release behaviour: a debug build would abort here instead
	 * (tests/unit/test_debug.c), unless told not to. */
	setenv("SNAPMAP_DEBUG", "0", 1);
	map = pt_map_new(NULL);
	n = (struct nested){ map, pt_path("e.snap"), 0 };

	pt_save(map, n.path);
	cr_assert_eq(snapmap_update(map, "k", 1, load_from_callback, &n), 0);
	cr_assert_eq(n.rc, -EDEADLK);
	pt_map_destroy(map);
}

Test(binary, strerror_words)
{
	cr_assert_str_eq(snapmap_strerror(0), "success");
	cr_assert_str_eq(snapmap_strerror(-EMEDIUMTYPE),
			 "not a snapmap file (bad magic)");
	cr_assert_str_eq(snapmap_strerror(EBADMSG),
			 "corrupt or malformed data");
	cr_assert_str_not_empty(snapmap_strerror(-ENOENT));
	cr_assert_str_not_empty(snapmap_strerror(-123456));
}
