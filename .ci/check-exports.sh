#!/usr/bin/env bash
# check-exports.sh LIB [HEADER]
#
# Fails (exit 1, naming them) when the shared library LIB exports a
# symbol outside the snapmap_ namespace: the library is built with
# -fvisibility=hidden and SNAPMAP_API marks the API, so anything else in
# the dynamic symbol table is a leak (a missing `static', an internal
# helper, a bundled dependency).  The linker's own symbols (_init, _fini,
# _edata, _end, __bss_start) are ignored if they appear.
#
# With HEADER (include/snapmap.h), also checks that the exports are
# exactly the functions the header declares with SNAPMAP_API.
#
#   .ci/check-exports.sh build/lib/.libs/libsnapmap.so include/snapmap.h
#
# NM may name another nm (e.g. llvm-nm).
set -euo pipefail

me=check-exports
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 LIB.so [HEADER]" >&2
	exit 2
fi
lib=$1
header=${2:-}
nm=${NM:-nm}

if [ ! -f "$lib" ]; then
	echo "$me: $lib: no such file (build the library first)" >&2
	exit 2
fi

# "ADDRESS TYPE NAME" for every defined dynamic symbol; drop symbol
# versions (NAME@@VER) and the linker-provided names.
if ! table=$("$nm" -D --defined-only "$lib"); then
	echo "$me: $nm -D failed on $lib" >&2
	exit 2
fi
exports=$(awk 'NF >= 2 { sub(/@.*/, "", $NF); print $NF }' <<<"$table" |
	grep -v -x -E '_init|_fini|_edata|_end|__bss_start' | sort -u || true)

total=$(grep -c . <<<"$exports" || true)
if [ "$total" -eq 0 ]; then
	echo "$me: $lib exports no symbol at all: wrong file?" >&2
	exit 1
fi

status=0
leaks=$(grep -v '^snapmap_' <<<"$exports" || true)
if [ -n "$leaks" ]; then
	echo "$me: $lib exports $(grep -c . <<<"$leaks") symbol(s) outside the snapmap_ namespace:" >&2
	sed 's/^/  /' <<<"$leaks" >&2
	status=1
fi

if [ -n "$header" ]; then
	# The function name on the line after each "SNAPMAP_API".
	declared=$(awk 'prev == "SNAPMAP_API" && match($0, /snapmap_[a-z0-9_]*\(/) {
			print substr($0, RSTART, RLENGTH - 1) }
		{ prev = $0 }' "$header" | sort -u)
	if [ -z "$declared" ]; then
		echo "$me: no SNAPMAP_API declaration found in $header" >&2
		exit 2
	fi
	extra=$(comm -23 <(grep '^snapmap_' <<<"$exports") <(echo "$declared"))
	missing=$(comm -13 <(grep '^snapmap_' <<<"$exports") <(echo "$declared"))
	if [ -n "$extra" ]; then
		echo "$me: exported but not declared SNAPMAP_API in $header:" >&2
		sed 's/^/  /' <<<"$extra" >&2
		status=1
	fi
	if [ -n "$missing" ]; then
		echo "$me: declared SNAPMAP_API in $header but not exported:" >&2
		sed 's/^/  /' <<<"$missing" >&2
		status=1
	fi
fi

if [ $status -eq 0 ]; then
	echo "$me: $lib: $total exported symbols, all snapmap_${header:+, exactly the SNAPMAP_API functions of $header}"
fi
exit $status
