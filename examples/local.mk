# Examples: built by `make`, run by `make check`.
noinst_PROGRAMS += examples/hot_path
TESTS += examples/hot_path
examples_hot_path_SOURCES = examples/hot_path.c
examples_hot_path_LDADD = lib/libsnapmap.la $(URCU_LIBS)
