# Header include patterns (issue 11, item 14): tests/headers/check.sh
# compiles <snapmap.h> with each liburcu include pattern as its own
# translation unit (C11, C99 -pedantic, C++11), links each with the
# built library and the one flavor runtime it needs, and runs it.
TESTS += tests/headers/check.sh
EXTRA_DIST += \
	tests/headers/check.sh \
	tests/headers/exercise.h \
	tests/headers/one_flavor.c \
	tests/headers/two_flavors.c \
	tests/headers/generic.c

# The build's own compilers and flags, so that the patterns are compiled
# the way the library was (sanitizers included).
AM_TESTS_ENVIRONMENT += \
	HDR_CC='$(CC)'; HDR_CXX='$(CXX)'; HDR_LIBTOOL='$(LIBTOOL)'; \
	HDR_CPPFLAGS='-I$(abs_top_srcdir)/include $(URCU_CFLAGS)'; \
	HDR_CFLAGS='$(PTHREAD_CFLAGS) $(SANITIZER_CFLAGS)'; \
	HDR_LIBSNAPMAP='$(abs_top_builddir)/lib/libsnapmap.la'; \
	PKG_CONFIG='$(PKG_CONFIG)'; \
	export HDR_CC HDR_CXX HDR_LIBTOOL HDR_CPPFLAGS HDR_CFLAGS \
		HDR_LIBSNAPMAP PKG_CONFIG;
