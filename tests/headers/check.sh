#!/usr/bin/env bash
# check.sh - <snapmap.h> with every liburcu include pattern, each pattern
# its own translation unit, compiled as C11, as C99 -pedantic and as
# C++11 (all -Wall -Wextra -Werror), then linked with the built library
# and the one flavor runtime it needs, and run.
#
# Run by `make check' (tests/headers/local.mk passes the build's
# compilers and flags in the environment: HDR_CC, HDR_CXX, HDR_LIBTOOL,
# HDR_CPPFLAGS, HDR_CFLAGS, HDR_LIBSNAPMAP, PKG_CONFIG, srcdir).  With no
# C++ compiler (HDR_CXX, else c++) the C++ rows are reported as skipped.
set -uo pipefail

here=${srcdir:-.}/tests/headers
cc=${HDR_CC:-cc}
cxx=${HDR_CXX:-c++}
libtool=${HDR_LIBTOOL:-libtool}
pkg_config=${PKG_CONFIG:-pkg-config}
warn="-Wall -Wextra -Werror"
work=$(mktemp -d "${TMPDIR:-/tmp}/snapmap-headers.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT

# name | source | defines | pkg-config modules of the flavor runtime(s)
patterns=(
	"memb|one_flavor.c|-DFLAVOR_HEADER=<urcu/urcu-memb.h> -DFLAVOR=urcu_memb_flavor|liburcu-memb"
	"qsbr|one_flavor.c|-DFLAVOR_HEADER=<urcu/urcu-qsbr.h> -DFLAVOR=urcu_qsbr_flavor|liburcu-qsbr"
	"bp|one_flavor.c|-DFLAVOR_HEADER=<urcu/urcu-bp.h> -DFLAVOR=urcu_bp_flavor|liburcu-bp"
	"mb|one_flavor.c|-DFLAVOR_HEADER=<urcu/urcu-mb.h> -DFLAVOR=urcu_mb_flavor|liburcu-mb"
	"two-flavors|two_flavors.c||liburcu-memb liburcu-qsbr"
	"urcu.h|generic.c|-DMAP_HEADER=<urcu.h>|liburcu"
	"urcu.h-mb|generic.c|-DRCU_MB -DMAP_HEADER=<urcu.h>|liburcu-mb"
	"urcu-qsbr.h|generic.c|-DMAP_HEADER=<urcu-qsbr.h>|liburcu-qsbr"
	"urcu-bp.h|generic.c|-DMAP_HEADER=<urcu-bp.h>|liburcu-bp"
)
languages=(
	"c11|$cc|-std=c11"
	"c99|$cc|-std=c99 -pedantic"
	"c++|$cxx|-x c++ -std=c++11"
)

have_cxx=no
command -v "$cxx" >/dev/null 2>&1 && have_cxx=yes
failed=0 passed=0 skipped=0

# build_and_run NAME COMPILER LANGFLAGS SOURCE DEFINES MODULES
build_and_run() {
	local name=$1 compiler=$2 langflags=$3 source=$4 defines=$5 modules=$6
	local out=$work/$name libs log=$work/$name.log

	# shellcheck disable=SC2086 # flags are word lists
	libs=$($pkg_config --libs $modules) &&
	$compiler $langflags $warn ${HDR_CPPFLAGS:-} ${HDR_CFLAGS:-} $defines \
		-I"$here" -c -o "$out.o" "$here/$source" >"$log" 2>&1 &&
	$libtool --quiet --tag=CC --mode=link $compiler ${HDR_CFLAGS:-} \
		-o "$out" "$out.o" "${HDR_LIBSNAPMAP:?}" $libs >>"$log" 2>&1 &&
	"$out" >>"$log" 2>&1
}

for pattern in "${patterns[@]}"; do
	IFS='|' read -r pname source defines modules <<<"$pattern"
	for order in "" after; do
		for language in "${languages[@]}"; do
			IFS='|' read -r lname compiler langflags <<<"$language"
			name="$pname${order:+-$order}-$lname"
			if [ "$lname" = c++ ] && [ $have_cxx = no ]; then
				echo "SKIP: $name (no C++ compiler $cxx)"
				skipped=$((skipped + 1))
				continue
			fi
			if build_and_run "$name" "$compiler" "$langflags" \
				"$source" "$defines${order:+ -DSNAPMAP_FIRST}" \
				"$modules"; then
				echo "PASS: $name"
				passed=$((passed + 1))
			else
				echo "FAIL: $name"
				sed 's/^/    /' "$work/$name.log"
				failed=$((failed + 1))
			fi
		done
	done
done
echo "headers: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
