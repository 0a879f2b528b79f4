#!/usr/bin/env bash
# consumer.sh SRCDIR WORKDIR - use libsnapmap the way its users will:
# installed, found with pkg-config, documented by man.
#
#   1. configure SRCDIR in WORKDIR/build with --prefix=WORKDIR/prefix,
#      build it and `make install';
#   2. check the installed library's exports (.ci/check-exports.sh);
#   3. copy .ci/consumer/consumer.c to WORKDIR/app (outside the source
#      tree) and build it once per flavor (memb, mb, qsbr, bp) with
#      nothing but `pkg-config --cflags --libs snapmap liburcu-FLAVOR'
#      (PKG_CONFIG_PATH pointing into the prefix, an rpath to find the
#      library at run time); check that `pkg-config --libs snapmap' names
#      no liburcu runtime, that the library and each program need exactly
#      the one flavor runtime they use (readelf NEEDED), that each runs
#      against the installed library; then run each;
#   4. check that the installed header also compiles as C++;
#   5. check that `man -M PREFIX/share/man 3 NAME' finds a page, without
#      warnings, for snapmap(3) and every exported function.
#
# SRCDIR must have a configure script (autoreconf -fi) and must not be
# configured in place.  WORKDIR is created if needed; what the script
# made there is replaced on each run.  Exits 0 when everything passed.
# CC and CXX choose the compilers (default cc and c++).
set -euo pipefail

me=consumer
if [ $# -ne 2 ]; then
	echo "usage: $0 SRCDIR WORKDIR" >&2
	exit 2
fi
src=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
cc=${CC:-cc}
cxx=${CXX:-c++}

fail() {
	echo "$me: FAIL: $*" >&2
	exit 1
}

[ -x "$src/configure" ] ||
	fail "$src/configure is missing: run autoreconf -fi in $src first"
[ ! -f "$src/config.status" ] ||
	fail "$src is configured in place (config.status): run make distclean there, or use a clean copy"
case "$work/" in
"$src"/*) fail "WORKDIR $work is inside SRCDIR $src: the consumer must be built outside the source tree" ;;
esac

build=$work/build
prefix=$work/prefix
app=$work/app
rm -rf "$build" "$prefix" "$app"
mkdir -p "$build" "$app"

# ---------------------------------------------------------------------
# 1. Install into a fresh prefix.
# ---------------------------------------------------------------------
echo "== $me: configure --prefix=$prefix"
(cd "$build" && "$src/configure" -q --prefix="$prefix") ||
	fail "configure (see $build/config.log)"
echo "== $me: make install"
make -C "$build" -s -j"$jobs" >"$work/make.log" 2>&1 ||
	{ tail -n 30 "$work/make.log" >&2; fail "make (see $work/make.log)"; }
make -C "$build" -s install >>"$work/make.log" 2>&1 ||
	{ tail -n 30 "$work/make.log" >&2; fail "make install (see $work/make.log)"; }

pc=$(find "$prefix" -name snapmap.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "make install put no snapmap.pc under $prefix"
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir snapmap)
[ -f "$prefix/include/snapmap.h" ] || fail "snapmap.h not installed in $prefix/include"
echo "installed in $prefix: $(cd "$prefix" && find . -type f -o -type l |
	sed -e 's|^\./||' -e 's|/[^/]*$||' | sort | uniq -c |
	awk '{ printf "%s%s %d", sep, $2, $1; sep = ", " }')"

# ---------------------------------------------------------------------
# 2. The installed library exports the API and nothing else.
# ---------------------------------------------------------------------
echo "== $me: exports"
bash "$src/.ci/check-exports.sh" "$libdir/libsnapmap.so" \
	"$prefix/include/snapmap.h" || fail "exported symbols"

# ---------------------------------------------------------------------
# 3. A program built outside the tree with pkg-config only.
# ---------------------------------------------------------------------
echo "== $me: build the consumer with pkg-config, once per flavor"
cp "$src/.ci/consumer/consumer.c" "$app/"
libs=$(pkg-config --libs snapmap)
echo "pkg-config --libs snapmap: $libs"
case " $libs " in
*" -lurcu"*) fail "pkg-config --libs snapmap names a liburcu runtime: $libs" ;;
esac

# urcu_runtimes FILE: the liburcu flavor runtimes FILE needs, one a line
# (liburcu-common and liburcu-cds are no flavor).
urcu_runtimes() {
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(liburcu[^]]*\)\].*/\1/p' |
		grep -v -e '^liburcu-common\.' -e '^liburcu-cds\.' || true
}
lib_runtimes=$(urcu_runtimes "$libdir/libsnapmap.so")
[ -z "$lib_runtimes" ] ||
	fail "libsnapmap.so needs a flavor runtime: $lib_runtimes"

# flavor | pkg-config module | macro choosing consumer.c's header | runtime
for row in "memb|liburcu||liburcu.so" "mb|liburcu-mb|-DRCU_MB|liburcu-mb.so" \
	"qsbr|liburcu-qsbr|-DCONSUMER_QSBR|liburcu-qsbr.so" \
	"bp|liburcu-bp|-DCONSUMER_BP|liburcu-bp.so"; do
	IFS='|' read -r flavor module macro runtime <<<"$row"
	prog=$app/consumer-$flavor
	flags=$(pkg-config --cflags --libs snapmap "$module")
	echo "$flavor: pkg-config --cflags --libs snapmap $module: $flags"
	# --no-as-needed: NEEDED then lists every library the flags name,
	# whatever the toolchain's default, so it checks the flags.
	# shellcheck disable=SC2086 # flags are word lists
	(cd "$app" &&
		$cc -std=c11 -Wall -Wextra -Werror $macro -o "$prog" consumer.c \
			-Wl,--no-as-needed $flags -Wl,-rpath,"$libdir") ||
		fail "building the $flavor consumer"

	runtimes=$(urcu_runtimes "$prog" | paste -sd ' ')
	[ "$(wc -w <<<"$runtimes")" -eq 1 ] && [[ $runtimes == "$runtime".* ]] ||
		fail "consumer-$flavor needs the flavor runtimes '$runtimes', expected $runtime only"
	echo "consumer-$flavor needs the flavor runtime $runtimes only"

	# It must run against the installed library, not one found elsewhere.
	resolved=$(ldd "$prog" | awk '$1 ~ /^libsnapmap\.so/ { print $3 }')
	case "$resolved" in
	"$libdir"/*) echo "consumer-$flavor uses $resolved" ;;
	*) fail "consumer-$flavor resolves libsnapmap to '${resolved:-nothing}', not to $libdir" ;;
	esac

	echo "== $me: run the $flavor consumer"
	"$prog" "$app" || fail "the $flavor consumer program"
done
cflags=$(pkg-config --cflags snapmap)
libs="$libs $(pkg-config --libs liburcu)"

# ---------------------------------------------------------------------
# 4. The installed header compiles as C++ (extern "C" and all).
# ---------------------------------------------------------------------
if command -v "$cxx" >/dev/null 2>&1; then
	echo "== $me: the header in C++"
	printf '#include <urcu.h>\n#include <snapmap.h>\nint main() { return snapmap_new(nullptr) ? 0 : 1; }\n' \
		>"$app/header.cc"
	(cd "$app" && $cxx -std=c++11 -Wall -Wextra -Werror $cflags \
		-o header-cxx header.cc $libs -Wl,-rpath,"$libdir") ||
		fail "snapmap.h does not compile as C++"
	echo "snapmap.h compiles and links as C++"
else
	echo "== $me: no C++ compiler ($cxx), C++ check skipped"
fi

# ---------------------------------------------------------------------
# 5. The man pages resolve from the prefix, without warnings.
# ---------------------------------------------------------------------
echo "== $me: man pages"
mandir=$prefix/share/man
names="snapmap snapmap_new $(nm -D --defined-only "$libdir/libsnapmap.so" |
	awk '$NF ~ /^snapmap_/ { print $NF }' | sort)"
if command -v man >/dev/null 2>&1; then
	count=0
	for name in $names; do
		page=$(man -M "$mandir" -w 3 "$name" 2>/dev/null) ||
			fail "man -M $mandir 3 $name: no page"
		case "$page" in
		"$mandir"/*) ;;
		*) fail "man 3 $name resolves to $page, outside $mandir" ;;
		esac
		warnings=$(MANWIDTH=80 man --warnings -M "$mandir" 3 "$name" 2>&1 >/dev/null) ||
			fail "man -M $mandir 3 $name failed: $warnings"
		[ -z "$warnings" ] || fail "man 3 $name: $warnings"
		count=$((count + 1))
	done
	MANWIDTH=80 man -M "$mandir" 3 snapmap_put | grep -q 'snapmap_put, snapmap_delete' ||
		fail "man -M $mandir 3 snapmap_put does not show the page"
	MANWIDTH=80 man -M "$mandir" 3 snapmap_find | grep -q 'SNAPMAP_SNAPSHOT(3)' ||
		fail "man -M $mandir 3 snapmap_find does not follow its .so link"
	echo "man -M $mandir 3 NAME: $count pages found, rendered without warnings"
else
	for name in $names; do
		[ -f "$mandir/man3/$name.3" ] || fail "$mandir/man3/$name.3 missing"
	done
	echo "man not installed: checked that the $(wc -w <<<"$names") page files exist"
fi

echo "$me: OK"
