# Bench suite (issue #4).  `make` (and so `make check` and `make
# distcheck`) builds bench/snapbench, so the bench never rots; only
# `make bench` runs it, and `make check` never does.
#
#   make bench                       quick run: under 3 minutes on 2 cores
#   make bench BENCH_ARGS=--full     the run for publication (long)
#   make bench BENCH_ARGS='--only snapmap-qsbr,rwlock,lfht --secs 0.5'
#
# Output, in the build directory: the tables on stdout, progress on
# stderr, bench-results.csv (every repetition), bench-summary.csv
# (medians) and bench-*.png (drawn by bench/plot.sh when configure found
# gnuplot).  uthash.h (Debian: uthash-dev) is required to build it.

BENCH_ARGS =

bench_snapbench_SOURCES = \
	bench/bench.h \
	bench/main.c \
	bench/run.c \
	bench/report.c \
	bench/util.c \
	bench/uttable.h \
	bench/uttable.c \
	bench/locked.h \
	bench/locked.c \
	bench/lostupdate.c \
	bench/persist.c \
	bench/flavor_memb.c \
	bench/flavor_qsbr.c \
	bench/snapmap_adapter.h \
	bench/subj_snapmap_memb.c \
	bench/subj_snapmap_qsbr.c \
	bench/subj_snapmap_nolimit.c \
	bench/subj_snapmap_norcu.c \
	bench/subj_snapmap_step.c \
	bench/subj_locked.c \
	bench/subj_lfht.c \
	bench/subj_cow.c \
	bench/subj_sorted.c \
	bench/subj_uthash.c
# Recorded in every result row: the compiler and the flags it ran with.
bench_snapbench_CPPFLAGS = $(AM_CPPFLAGS) -DBENCH_CC='"$(CC)"' \
	-DBENCH_CFLAGS='"$(CFLAGS) $(SANITIZER_CFLAGS)"'
bench_snapbench_LDADD = lib/libsnapmap.la $(URCU_LIBS) $(URCU_QSBR_LIBS) \
	$(URCU_CDS_LIBS) -lm

# bench/snapprobe: one operation in a loop, for callgrind and quick A/B
# timings of two library builds (bench/probe.c).  Built by `make` so that
# it never rots; it needs nothing but the library.
noinst_PROGRAMS += bench/snapprobe
bench_snapprobe_SOURCES = bench/probe.c
bench_snapprobe_LDADD = lib/libsnapmap.la $(URCU_LIBS)

EXTRA_DIST += bench/plot.sh
CLEANFILES += bench-results.csv bench-summary.csv bench-*.png

if HAVE_UTHASH
noinst_PROGRAMS += bench/snapbench
BENCH_DEPS = bench/snapbench$(EXEEXT)
BENCH_RUN = ./bench/snapbench$(EXEEXT) $(BENCH_ARGS) && \
	GNUPLOT='$(GNUPLOT)' $(SHELL) $(srcdir)/bench/plot.sh \
		bench-summary.csv .
else
BENCH_DEPS =
BENCH_RUN = echo "make bench: uthash.h was not found by configure;" \
	"install uthash-dev and re-run configure" >&2; exit 1
endif

bench: $(BENCH_DEPS)
	@$(BENCH_RUN)
.PHONY: bench
