/*
 * fuzz_text.c - libFuzzer target for the text loader.
 *
 * Beyond the contract checks of fuzz.h: whatever loads must round-trip.
 * The loaded snapshot is written back as text (snapmap_write_text, into
 * a memfd), that text is loaded into a second map, and the two maps must
 * hold the same entries: the escaper and the parser agree on every
 * byte.  Build and run: `make fuzz` (see lib/persist.mk).
 */
#include "fuzz.h"

#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The text form of @map's current snapshot; from malloc. */
static unsigned char *text_of(struct snapmap *map, size_t *len)
{
	int fd = memfd_create("fuzz_text", MFD_CLOEXEC);
	unsigned char *buf;
	off_t end;

	if (fd < 0)
		abort();
	FUZZ_FLAVOR->read_lock();
	if (snapmap_write_text(snapmap_snapshot(map), fd, NULL))
		abort();
	FUZZ_FLAVOR->read_unlock();
	end = lseek(fd, 0, SEEK_END);
	buf = malloc((size_t)end + 1);
	if (end < 0 || !buf || pread(fd, buf, (size_t)end, 0) != end)
		abort();
	close(fd);
	*len = (size_t)end;
	return buf;
}

static void assert_same(struct snapmap *a, struct snapmap *b)
{
	struct snapmap_iter ia, ib;
	struct snapmap_kv ka, kb;
	int ra, rb;

	FUZZ_FLAVOR->read_lock();
	for (ra = snapmap_iter_first(snapmap_snapshot(a), &ia, &ka),
	     rb = snapmap_iter_first(snapmap_snapshot(b), &ib, &kb);
	     ra == 0 && rb == 0;
	     ra = snapmap_iter_next(&ia, &ka), rb = snapmap_iter_next(&ib, &kb))
		if (ka.klen != kb.klen || ka.vlen != kb.vlen ||
		    memcmp(ka.key, kb.key, ka.klen) ||
		    memcmp(ka.val, kb.val, ka.vlen))
			abort();
	if (ra != rb)
		abort();
	FUZZ_FLAVOR->read_unlock();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snapmap *again;
	struct snapmap *map = fuzz_map();
	unsigned char *text;
	size_t len;

	if (fuzz_load(map, sm_load_text_mem, data, size))
		return 0;
	if (!again)
		again = fuzz_new_map();
	text = text_of(map, &len);
	if (fuzz_load(again, sm_load_text_mem, text, len))
		abort();
	assert_same(map, again);
	free(text);
	return 0;
}
