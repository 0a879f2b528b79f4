# Persistence and config-cache sources (snapshot files, text format,
# file watching, the snapmap command-line tool), with their tests, the
# config_cache example and the fuzz targets.  Included by Makefile.am.

# ---------------------------------------------------------------------
# Library sources (lib/persist.h lists what each file does)
# ---------------------------------------------------------------------
lib_libsnapmap_la_SOURCES += \
	lib/persist.h \
	lib/checksum.c \
	lib/error.c \
	lib/fileio.c \
	lib/persist.c \
	lib/text.c \
	lib/watch.c

# ---------------------------------------------------------------------
# The snapmap tool, installed with the library, and its man page
# ---------------------------------------------------------------------
bin_PROGRAMS = tools/snapmap
tools_snapmap_SOURCES = tools/snapmap.c
tools_snapmap_LDADD = lib/libsnapmap.la $(URCU_LIBS)
dist_man1_MANS = tools/snapmap.1

# ---------------------------------------------------------------------
# Example: built by `make`, run by `make check`
# ---------------------------------------------------------------------
noinst_PROGRAMS += examples/config_cache
if !TSAN
# Not under ThreadSanitizer: see examples/local.mk.
TESTS += examples/config_cache
endif
examples_config_cache_SOURCES = examples/config_cache.c
examples_config_cache_LDADD = lib/libsnapmap.la $(URCU_LIBS)

# ---------------------------------------------------------------------
# Tests: a third Criterion binary, tests/persist/persist.  It also runs
# the tool (SNAPMAP_TOOL) and loads the fuzz seed corpus
# (SNAPMAP_CORPUS).  lib/checksum.c is compiled in so that the CRC32C
# check value is tested directly, and so that tests can forge files with
# correct checksums around a defect.
# ---------------------------------------------------------------------
if HAVE_CRITERION
check_PROGRAMS += tests/persist/persist
if !TSAN
# Criterion cannot start under ThreadSanitizer (see tests/local.mk).
TESTS += tests/persist/persist
endif
endif

tests_persist_persist_SOURCES = \
	tests/persist/util.h \
	tests/persist/util.c \
	tests/persist/test_checksum.c \
	tests/persist/test_binary.c \
	tests/persist/test_text.c \
	tests/persist/test_roundtrip.c \
	tests/persist/test_defects.c \
	tests/persist/test_crash.c \
	tests/persist/test_watch.c \
	tests/persist/test_files.c \
	tests/persist/test_tool.c \
	lib/checksum.c
tests_persist_persist_CPPFLAGS = $(AM_CPPFLAGS) \
	-DSNAPMAP_TOOL='"$(abs_top_builddir)/tools/snapmap"' \
	-DSNAPMAP_CORPUS='"$(abs_top_srcdir)/fuzz/corpus"'
tests_persist_persist_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_persist_persist_LDADD = lib/libsnapmap.la $(CRITERION_LIBS) \
	$(URCU_LIBS) $(URCU_QSBR_LIBS)

# ---------------------------------------------------------------------
# Fuzzing (not part of `make check`; needs clang and its libFuzzer
# runtime, Debian: clang libclang-rt-dev).
#
#   make fuzz                  build both targets, run each FUZZ_SECONDS
#   make fuzz FUZZ_SECONDS=600
#   make fuzz-build            only build fuzz/fuzz_binary, fuzz/fuzz_text
#   make fuzz-clean            remove them and the generated corpus
#
# The targets compile the library's sources themselves with
# -fsanitize=fuzzer,address,undefined.  New inputs go to fuzz/work/ in
# the build tree; the seeds in $(srcdir)/fuzz/corpus/ are only read.  A
# crash stops the run and leaves crash-* (the input) in the build tree.
# ---------------------------------------------------------------------
EXTRA_DIST += fuzz/fuzz_binary.c fuzz/fuzz_text.c fuzz/fuzz.h fuzz/corpus

FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined
FUZZ_TARGETS = binary text

fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || \
	  { echo "fuzz: $(FUZZ_CC) not found (apt-get install clang libclang-rt-dev)"; exit 1; }
	@mkdir -p fuzz
	@srcs=; for f in $(lib_libsnapmap_la_SOURCES); do \
	  case $$f in *.c) srcs="$$srcs $(srcdir)/$$f";; esac; done; \
	for t in $(FUZZ_TARGETS); do \
	  echo "  FUZZCC   fuzz/fuzz_$$t"; \
	  $(FUZZ_CC) $(FUZZ_CFLAGS) -D_GNU_SOURCE -I$(top_builddir) \
	    -I$(srcdir)/include -I$(srcdir)/lib $(URCU_CFLAGS) \
	    -o fuzz/fuzz_$$t \
	    $(srcdir)/fuzz/fuzz_$$t.c $$srcs $(URCU_LIBS) -lurcu-common \
	    -pthread || exit 1; \
	done

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/work/$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS)s"; \
	  ./fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    fuzz/work/$$t $(srcdir)/fuzz/corpus/$$t || exit 1; \
	done

fuzz-clean:
	rm -rf fuzz/work fuzz/fuzz_binary fuzz/fuzz_text

.PHONY: fuzz fuzz-build fuzz-clean
