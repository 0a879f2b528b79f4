# Examples: built by `make`, run by `make check`.
noinst_PROGRAMS += examples/hot_path
if !TSAN
# Not under ThreadSanitizer: the readers read values through the
# pointers snapmap_find hands out after the library's last call, and only
# the reader can tell TSan that the grace period orders those reads
# before the frees (tests/stress/tsan.h), which an example written for
# users does not do.  The stress tests and the soak run under TSan.
TESTS += examples/hot_path
endif
examples_hot_path_SOURCES = examples/hot_path.c
examples_hot_path_LDADD = lib/libsnapmap.la $(URCU_LIBS)
