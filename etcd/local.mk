# libsnapmap-etcd: the optional etcd mirror (include/snapmap-etcd.h), its
# tests against a real etcd, and its example.  Built when configure found
# libcurl and json-c (--with-etcd); included by Makefile.am.

EXTRA_DIST += snapmap-etcd.pc.in

if HAVE_ETCD
include_HEADERS += include/snapmap-etcd.h
pkgconfig_DATA += snapmap-etcd.pc

lib_LTLIBRARIES += etcd/libsnapmap-etcd.la
etcd_libsnapmap_etcd_la_SOURCES = \
	etcd/internal.h \
	etcd/base64.h \
	etcd/base64.c \
	etcd/http.c \
	etcd/sync.c \
	etcd/mirror.c
etcd_libsnapmap_etcd_la_CFLAGS = $(AM_CFLAGS) $(VISIBILITY_CFLAGS) \
	$(ETCD_DEPS_CFLAGS)
etcd_libsnapmap_etcd_la_LDFLAGS = $(AM_LDFLAGS) -no-undefined \
	-version-info $(SNAPMAP_LT_VERSION)
etcd_libsnapmap_etcd_la_LIBADD = lib/libsnapmap.la $(ETCD_DEPS_LIBS) $(LIBS)

# The tests start a real etcd (tests/etcd/server.c), one per test; run
# them one at a time (see main in test_mirror.c).
if HAVE_ETCD_TESTS
if HAVE_CRITERION
check_PROGRAMS += tests/etcd/etcd
if !TSAN
TESTS += tests/etcd/etcd
endif
endif
endif
tests_etcd_etcd_SOURCES = \
	tests/etcd/server.h \
	tests/etcd/server.c \
	tests/etcd/test_mirror.c \
	tests/etcd/test_tool.c \
	etcd/base64.h \
	etcd/base64.c
tests_etcd_etcd_CPPFLAGS = $(AM_CPPFLAGS) -DETCD_BIN='"$(ETCD)"' \
	-DETCDCTL_BIN='"$(ETCDCTL)"' \
	-DSNAPMAP_ETCD_TOOL='"$(abs_top_builddir)/tools/snapmap-etcd"'
tests_etcd_etcd_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(ETCD_DEPS_CFLAGS)
tests_etcd_etcd_LDADD = etcd/libsnapmap-etcd.la lib/libsnapmap.la \
	$(CRITERION_LIBS) $(ETCD_DEPS_LIBS) $(URCU_LIBS)
endif

if HAVE_ETCD
noinst_PROGRAMS += examples/etcd_cache
TESTS += examples/etcd_cache
examples_etcd_cache_SOURCES = examples/etcd_cache.c
examples_etcd_cache_LDADD = etcd/libsnapmap-etcd.la lib/libsnapmap.la \
	$(URCU_LIBS)
endif

# Man pages: in every tarball (EXTRA_DIST), installed with the library.
ETCD_MAN3 = \
	man/snapmap_etcd_mirror_start.3 \
	man/snapmap_etcd_mirror_start_flavor.3 \
	man/snapmap_etcd_mirror_stop.3 \
	man/snapmap_etcd_revision.3 \
	man/snapmap_etcd_wait_revision.3 \
	man/snapmap_etcd_stats.3
EXTRA_DIST += $(ETCD_MAN3) tools/snapmap-etcd.1
if HAVE_ETCD
man3_MANS = $(ETCD_MAN3)
endif

if HAVE_ETCD
bin_PROGRAMS += tools/snapmap-etcd
tools_snapmap_etcd_SOURCES = tools/snapmap-etcd.c
tools_snapmap_etcd_LDADD = etcd/libsnapmap-etcd.la lib/libsnapmap.la \
	$(URCU_LIBS)
man1_MANS = tools/snapmap-etcd.1
endif

# `make bench-etcd`: the mirror's initial sync throughput and its
# put-to-visible lag against a real etcd (bench/etcd_bench.c); also run
# by `make bench` when etcd is installed.  Never by `make check`.
if HAVE_ETCD_TESTS
noinst_PROGRAMS += bench/etcd-bench
bench_etcd_bench_SOURCES = bench/etcd_bench.c tests/etcd/server.h \
	tests/etcd/server.c etcd/base64.h etcd/base64.c
bench_etcd_bench_CPPFLAGS = $(AM_CPPFLAGS) -DETCD_SERVER_STANDALONE \
	-DETCD_BIN='"$(ETCD)"' -DETCDCTL_BIN='"$(ETCDCTL)"'
bench_etcd_bench_CFLAGS = $(AM_CFLAGS) $(ETCD_DEPS_CFLAGS)
bench_etcd_bench_LDADD = etcd/libsnapmap-etcd.la lib/libsnapmap.la \
	$(ETCD_DEPS_LIBS) $(URCU_LIBS)
BENCH_ETCD_ARGS =
BENCH_ETCD_DEPS = bench/etcd-bench$(EXEEXT)
BENCH_ETCD_RUN = ./bench/etcd-bench$(EXEEXT) $(BENCH_ETCD_ARGS)
else
BENCH_ETCD_DEPS =
BENCH_ETCD_RUN = echo "bench-etcd: skipped: configure found no etcd" \
	"(or no libcurl, json-c): install etcd-server etcd-client" >&2
endif
bench-etcd: $(BENCH_ETCD_DEPS)
	@$(BENCH_ETCD_RUN)
bench: bench-etcd
.PHONY: bench-etcd
