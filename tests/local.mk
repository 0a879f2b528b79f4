# Tests (Criterion).  `make check` runs two binaries, each printing its own
# Criterion summary ("Synthesis: Tested: ..."):
#   tests/unit    fast unit tests of every function and error path, the
#                 flavor-parameterized tests (memb, mb, qsbr, bp)
#   tests/stress  bounded concurrency torture tests (seconds, not minutes)
# Under ThreadSanitizer it runs tests/stress/stress-plain (the stress tests
# without Criterion, with the same summary line) and a short soak instead.

TEST_FLAVOR_LIBS = $(URCU_LIBS) $(URCU_QSBR_LIBS) $(URCU_BP_LIBS) $(URCU_MB_LIBS)

if HAVE_CRITERION
check_PROGRAMS += tests/unit/unit tests/stress/stress
if TSAN
# Criterion's sandbox (BoxFort) cannot map its arena under ThreadSanitizer
# ("Could not initialize inheritable arena", Criterion issue #274), so a
# TSan build runs the stress tests with the plain runner below, and a
# short soak (a plain program).
TESTS += tests/soak/soak-check.sh
else
TESTS += tests/unit/unit tests/stress/stress
endif
endif

# tests/stress/stress-plain: the same stress test files, compiled with
# -DST_PLAIN against a small stand-in for the Criterion API they use
# (tests/stress/plain.h) and run by tests/stress/plain.c.  Built in every
# configuration so that it cannot rot; run by `make check` under TSan.
check_PROGRAMS += tests/stress/stress-plain
if TSAN
TESTS += tests/stress/stress-plain
endif

# The soak: readers, writers, batches and pins for SOAK_SECONDS (default
# 600), checking invariants all along.  `make soak`; not part of
# `make check` except as the short run above under TSan.
check_PROGRAMS += tests/soak/soak
tests_soak_soak_SOURCES = tests/soak/soak.c tests/stress/tsan.h
tests_soak_soak_LDADD = lib/libsnapmap.la $(URCU_LIBS)
EXTRA_DIST += tests/soak/soak-check.sh
SOAK_SECONDS = 600
soak: tests/soak/soak
	./tests/soak/soak --seconds $(SOAK_SECONDS)
.PHONY: soak

tests_unit_unit_SOURCES = \
	tests/contract.h \
	tests/unit/util.h \
	tests/unit/test_basic.c \
	tests/unit/test_iter.c \
	tests/unit/test_config.c \
	tests/unit/test_compound.c \
	tests/unit/test_batch.c \
	tests/unit/test_pin.c \
	tests/unit/flavors.h \
	tests/unit/test_flavor.c \
	tests/unit/test_waits.c \
	tests/unit/test_process.c \
	tests/unit/test_layout.c \
	tests/unit/test_debug.c \
	tests/unit/test_stats.c \
	tests/unit/test_failed_invalid.c
tests_unit_unit_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_unit_unit_LDADD = lib/libsnapmap.la $(CRITERION_LIBS) $(TEST_FLAVOR_LIBS)

tests_stress_stress_SOURCES = \
	tests/contract.h \
	tests/stress/util.h \
	tests/stress/tsan.h \
	tests/stress/test_readers_writers.c \
	tests/stress/test_lost_updates.c \
	tests/stress/test_races.c \
	tests/stress/test_bank.c \
	tests/stress/test_batch_atomicity.c \
	tests/stress/test_pin_survival.c
tests_stress_stress_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_stress_stress_LDADD = lib/libsnapmap.la $(CRITERION_LIBS) $(TEST_FLAVOR_LIBS)

tests_stress_stress_plain_SOURCES = \
	tests/stress/plain.h \
	tests/stress/plain.c \
	$(tests_stress_stress_SOURCES)
tests_stress_stress_plain_CPPFLAGS = $(AM_CPPFLAGS) -DST_PLAIN
tests_stress_stress_plain_LDADD = lib/libsnapmap.la $(TEST_FLAVOR_LIBS)

# TSan: suppressions for liburcu internals only (the orderings liburcu
# hides are annotated instead); see the file for the reason behind each line.
EXTRA_DIST += tests/tsan.supp tests/lsan.supp
AM_TESTS_ENVIRONMENT = \
	TSAN_OPTIONS="suppressions=$(abs_top_srcdir)/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1 $${TSAN_OPTIONS}"; \
	ASAN_OPTIONS="detect_leaks=1 $${ASAN_OPTIONS}"; \
	LSAN_OPTIONS="suppressions=$(abs_top_srcdir)/tests/lsan.supp $${LSAN_OPTIONS}"; \
	UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 $${UBSAN_OPTIONS}"; \
	export TSAN_OPTIONS ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS;

# ---------------------------------------------------------------------
# Allocation-failure tests (issue #6): tests/fault/fault.
#
# lib/libsnapmap-test.la is the library built a second time, from the
# same sources, with -DSM_TESTING: its allocation seam (lib/alloc.c) can
# fail the k-th allocation from now and counts allocations and live
# blocks (lib/alloc.h).  It is a libtool convenience library, never
# installed; the test links it statically, so it reaches those internal,
# hidden functions while the installed library exports nothing new and
# keeps the seam as it is (jemalloc's "test build of the library").
# ---------------------------------------------------------------------
noinst_LTLIBRARIES = lib/libsnapmap-test.la
lib_libsnapmap_test_la_SOURCES = $(lib_libsnapmap_la_SOURCES)
lib_libsnapmap_test_la_CPPFLAGS = $(AM_CPPFLAGS) -DSM_TESTING
lib_libsnapmap_test_la_CFLAGS = $(lib_libsnapmap_la_CFLAGS)
lib_libsnapmap_test_la_LIBADD = $(lib_libsnapmap_la_LIBADD)

if HAVE_CRITERION
check_PROGRAMS += tests/fault/fault
# Criterion cannot run under TSan (see above); the fault test has no
# concurrency to check anyway.
if !TSAN
TESTS += tests/fault/fault
endif
endif

tests_fault_fault_SOURCES = tests/fault/fault.c
tests_fault_fault_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib -DSM_TESTING
tests_fault_fault_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_fault_fault_LDADD = lib/libsnapmap-test.la $(CRITERION_LIBS) \
	$(URCU_LIBS)

# ---------------------------------------------------------------------
# The search paths (issue 12): tests/layout/layout runs every SIMD path
# this CPU has and the scalar one on the same keys.  It links the test
# build of the library to see which path a map is on and how its chunks
# were cut.
# ---------------------------------------------------------------------
if HAVE_CRITERION
check_PROGRAMS += tests/layout/layout
if !TSAN
TESTS += tests/layout/layout
endif
endif

tests_layout_layout_SOURCES = tests/contract.h tests/layout/test_search.c
tests_layout_layout_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib -DSM_TESTING
tests_layout_layout_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_layout_layout_LDADD = lib/libsnapmap-test.la $(CRITERION_LIBS) \
	$(URCU_LIBS)

include $(srcdir)/tests/headers/local.mk
