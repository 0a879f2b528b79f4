# Packaging (issue #6): the library's man pages, section 3, installed by
# `make install', and the scripts CI uses to check an installed tree.
# Included by Makefile.am.
#
# One page per function group (snapmap_snapshot.3 documents snapmap_find,
# snapmap_count and snapmap_version too); every other function has a
# one-line page, ".so man3/GROUP.3", so that `man 3 snapmap_find' works.
# snapmap.3 is the overview: what the library is, the synchronization
# table, flavors, ownership and lifetimes, and the list of pages.  The
# header include/snapmap.h is the reference the pages follow.

dist_man3_MANS = \
	man/snapmap.3 \
	man/snapmap_add_i64.3 \
	man/snapmap_batch_abort.3 \
	man/snapmap_batch_commit.3 \
	man/snapmap_batch_compare_and_swap.3 \
	man/snapmap_batch_count.3 \
	man/snapmap_batch_delete.3 \
	man/snapmap_batch_free.3 \
	man/snapmap_batch_new.3 \
	man/snapmap_batch_put.3 \
	man/snapmap_batch_put_if_absent.3 \
	man/snapmap_batch_replace.3 \
	man/snapmap_batch_require_version.3 \
	man/snapmap_compare_and_swap.3 \
	man/snapmap_count.3 \
	man/snapmap_delete.3 \
	man/snapmap_destroy.3 \
	man/snapmap_file_stat.3 \
	man/snapmap_find.3 \
	man/snapmap_get.3 \
	man/snapmap_iter_first.3 \
	man/snapmap_iter_next.3 \
	man/snapmap_iter_next_n.3 \
	man/snapmap_iter_seek.3 \
	man/snapmap_load.3 \
	man/snapmap_load_text.3 \
	man/snapmap_load_text_fd.3 \
	man/snapmap_new.3 \
	man/snapmap_new_flavor.3 \
	man/snapmap_pin.3 \
	man/snapmap_put.3 \
	man/snapmap_put_if_absent.3 \
	man/snapmap_replace.3 \
	man/snapmap_save.3 \
	man/snapmap_save_text.3 \
	man/snapmap_snapshot.3 \
	man/snapmap_stats.3 \
	man/snapmap_strerror.3 \
	man/snapmap_unpin.3 \
	man/snapmap_unwatch.3 \
	man/snapmap_update.3 \
	man/snapmap_update_delete.3 \
	man/snapmap_update_set.3 \
	man/snapmap_version.3 \
	man/snapmap_wait_version.3 \
	man/snapmap_watch_file.3 \
	man/snapmap_watch_stats.3 \
	man/snapmap_write_text.3

# .ci/consumer.sh builds .ci/consumer/consumer.c against an installed
# copy of the library with nothing but pkg-config; .ci/check-exports.sh
# fails on any exported symbol outside the snapmap_ namespace.
EXTRA_DIST += \
	.ci/consumer.sh \
	.ci/consumer/consumer.c \
	.ci/check-exports.sh

# `make check-exports': the built library exports the API and nothing
# else (the SNAPMAP_API functions of include/snapmap.h, all snapmap_).
check-exports: lib/libsnapmap.la
	bash $(srcdir)/.ci/check-exports.sh lib/.libs/libsnapmap.so \
	  $(srcdir)/include/snapmap.h

# `make check-consumer': configure, build and install the sources into a
# scratch prefix, then build and run the consumer program against it.
# The scratch directory is removed on success, kept for a look on failure.
check-consumer:
	@work=`mktemp -d "$${TMPDIR:-/tmp}/snapmap-consumer.XXXXXX"` && \
	bash $(srcdir)/.ci/consumer.sh $(abs_srcdir) "$$work" && \
	rm -rf "$$work"

.PHONY: check-exports check-consumer
