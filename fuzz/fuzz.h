/*
 * fuzz.h - what the libFuzzer targets share (fuzz/fuzz_*.c).
 *
 * The targets are built by `make fuzz` (lib/persist.mk) from the
 * library's sources, so they call the loaders on memory directly
 * (sm_load_binary_mem, sm_load_text_mem: lib/persist.h).  Each input is
 * loaded into one long-lived map with small limits, so that the limit
 * checks are reachable.  Beyond "no crash, no sanitizer report", every
 * load is checked against the contract: an error is a documented code
 * with a message and leaves the map's version alone; a success publishes
 * exactly one version holding strictly increasing keys.  A broken
 * contract aborts, which libFuzzer reports as a crash.
 */
#ifndef SNAPMAP_FUZZ_H
#define SNAPMAP_FUZZ_H

#include "persist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern const struct rcu_flavor_struct urcu_memb_flavor;

#define FUZZ_FLAVOR	(&urcu_memb_flavor)

static struct snapmap *fuzz_new_map(void)
{
	struct snapmap_config cfg = { .max_key_len = 64,
				      .max_value_len = 1024 };
	struct snapmap *map = snapmap_new_flavor(&cfg, FUZZ_FLAVOR);

	if (!map)
		abort();
	return map;
}

/* The map every input is loaded into; the fuzzing thread registers
 * once. */
static struct snapmap *fuzz_map(void)
{
	static struct snapmap *map;

	if (!map) {
		FUZZ_FLAVOR->register_thread();
		map = fuzz_new_map();
	}
	return map;
}

static uint64_t fuzz_version(struct snapmap *map)
{
	uint64_t v;

	FUZZ_FLAVOR->read_lock();
	v = snapmap_version(snapmap_snapshot(map));
	FUZZ_FLAVOR->read_unlock();
	return v;
}

/* Keys strictly increasing in the map's order, and within its limits. */
static void fuzz_check_sorted(struct snapmap *map)
{
	const struct snapmap_snapshot *snap;
	struct snapmap_kv prev = { 0 }, kv;
	struct snapmap_iter it;
	bool first = true;
	int rc;

	FUZZ_FLAVOR->read_lock();
	snap = snapmap_snapshot(map);
	for (rc = snapmap_iter_first(snap, &it, &kv); rc == 0;
	     rc = snapmap_iter_next(&it, &kv)) {
		if (kv.klen > map->max_key_len || kv.vlen > map->max_value_len)
			abort();
		if (!first && sm_compare(map, prev.key, prev.klen, kv.key,
					 kv.klen) >= 0)
			abort();
		prev = kv;
		first = false;
	}
	FUZZ_FLAVOR->read_unlock();
}

/*
 * Loads @len bytes (copied: loaders may write to their buffer) with
 * @load and checks the contract.  Returns the loader's result.
 */
static int fuzz_load(struct snapmap *map, sm_load_mem_fn load,
		     const uint8_t *data, size_t len)
{
	static const int documented[] = {
		-EMEDIUMTYPE, -EPROTONOSUPPORT, -ENODATA, -EBADMSG,
		-EILSEQ, -ENOTUNIQ, -E2BIG, -ENOMEM,
	};
	unsigned char *buf = malloc(len ? len : 1);
	uint64_t before = fuzz_version(map), version = 0;
	struct snapmap_error err;
	bool known = false;
	int rc;

	if (!buf)
		abort();
	memcpy(buf, data, len);
	rc = load(map, buf, len, &version, &err);
	free(buf);
	if (rc == 0) {
		if (version != before + 1 || fuzz_version(map) != version)
			abort();
		fuzz_check_sorted(map);
		return 0;
	}
	for (size_t i = 0; i < sizeof(documented) / sizeof(int); i++)
		known |= rc == documented[i];
	if (!known || err.code != rc || !err.message[0] ||
	    fuzz_version(map) != before)
		abort();
	return rc;
}

#endif /* SNAPMAP_FUZZ_H */
