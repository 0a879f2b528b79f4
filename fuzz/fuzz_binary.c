/*
 * fuzz_binary.c - libFuzzer target for the binary snapshot loader.
 *
 * Each input is loaded twice: as it is, which exercises the magic,
 * version, length and checksum checks; then with both checksums
 * recomputed over the mutated bytes, so that mutations reach the parser
 * behind them (entry lengths, order, limits) instead of stopping at the
 * checksum almost every time.  Build and run: `make fuzz` (see
 * lib/persist.mk).
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapmap *map = fuzz_map();
	unsigned char *fixed;

	fuzz_load(map, sm_load_binary_mem, data, size);
	if (size < SM_FILE_HEADER_LEN + SM_FILE_TRAILER_LEN)
		return 0;
	fixed = malloc(size);
	if (!fixed)
		abort();
	memcpy(fixed, data, size);
	sm_put_le32(fixed + SM_FILE_CRC_OFFSET,
		    sm_crc32c(0, fixed, SM_FILE_CRC_OFFSET));
	sm_put_le32(fixed + size - SM_FILE_TRAILER_LEN,
		    sm_crc32c(0, fixed, size - SM_FILE_TRAILER_LEN));
	fuzz_load(map, sm_load_binary_mem, fixed, size);
	free(fixed);
	return 0;
}
