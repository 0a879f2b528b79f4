#!/bin/sh
# plot.sh - draw the bench figures from bench-summary.csv with gnuplot.
#
# usage: plot.sh [SUMMARY_CSV [OUTDIR]]
# GNUPLOT names the gnuplot program (configure's value; default: gnuplot
# from PATH).  Writes OUTDIR/bench-*.png:
#   bench-read-N<n>-<keys>.png  reader throughput per workload and subject
#   bench-writer-rate.png       readers and writes achieved vs writer rate
#   bench-latency.png           read latency p50/p99/p99.9
#   bench-memory.png            heap bytes per entry after the build
#   bench-write-latency.png     single put and batch of 1000 vs N
#   bench-storm.png             peak RSS growth during the write storm
# Only POSIX sh and awk (mawk is enough) besides gnuplot.

set -u
csv=${1:-bench-summary.csv}
out=${2:-.}
gp=${GNUPLOT:-}
if [ -z "$gp" ]; then
	gp=$(command -v gnuplot 2>/dev/null || true)
fi
if [ -z "$gp" ] || ! "$gp" --version >/dev/null 2>&1; then
	echo "plot.sh: gnuplot not found: no PNG plots drawn (install gnuplot-nox" \
	     "and re-run configure); the numbers are in $csv" >&2
	exit 0
fi
if [ ! -r "$csv" ]; then
	echo "plot.sh: cannot read $csv" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/snapbench-plot.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# Awk prelude: split_csv() handles quoted fields; the header row fills
# col[name]; keep() applies KIND and FILTER ("col=value;col=value").
prelude='
function split_csv(line, f,    n, i, c, q, cur, len) {
	n = 0; cur = ""; q = 0; len = length(line)
	for (i = 1; i <= len; i++) {
		c = substr(line, i, 1)
		if (q) {
			if (c == "\"") {
				if (substr(line, i + 1, 1) == "\"") { cur = cur c; i++ }
				else q = 0
			} else cur = cur c
		} else if (c == "\"") q = 1
		else if (c == ",") { f[++n] = cur; cur = "" }
		else cur = cur c
	}
	f[++n] = cur
	return n
}
function keep(f,    i, kv) {
	if (f[col["kind"]] != kind) return 0
	for (i = 1; i <= nf; i++) {
		split(fl[i], kv, "=")
		if (f[col[kv[1]]] != kv[2]) return 0
	}
	return 1
}
NR == 1 { nh = split_csv($0, h); for (i = 1; i <= nh; i++) col[h[i]] = i
	  nf = split(filter, fl, ";"); next }
'

# pivot KIND FILTER ROW VALUE SCALE > file
#   ROW: a column name, or "wl" for a workload label such as U2w1000.
#   Prints "row subject1 subject2 ..." then one line per ROW value, "?"
#   where a subject has no value; fails when nothing matched.
pivot() {
	awk -v kind="$1" -v filter="$2" -v rowc="$3" -v valc="$4" \
	    -v scale="$5" "$prelude"'
	{
		split_csv($0, f)
		if (!keep(f) || f[col[valc]] == "") next
		if (rowc == "wl") {
			r = toupper(substr(f[col["dist"]], 1, 1)) f[col["readers"]]
			if (f[col["write_rate"]] != "none") r = r "w" f[col["write_rate"]]
		} else r = f[col[rowc]]
		s = f[col["subject"]]
		if (!(r in seenr)) { seenr[r] = 1; rows[++nr] = r }
		if (!(s in seens)) { seens[s] = 1; subs[++ns] = s }
		val[r, s] = f[col[valc]] * scale
	}
	END {
		if (nr == 0) exit 1
		printf "row"; for (j = 1; j <= ns; j++) printf " %s", subs[j]; print ""
		for (i = 1; i <= nr; i++) {
			printf "%s", rows[i]
			for (j = 1; j <= ns; j++) {
				k = rows[i] SUBSEP subs[j]
				printf " %s", (k in val) ? val[k] : "?"
			}
			print ""
		}
	}' "$csv"
}

# columns KIND FILTER COL... > file: "subject COL..." per matching row.
columns() {
	kind=$1 filter=$2
	shift 2
	awk -v kind="$kind" -v filter="$filter" -v cols="$*" "$prelude"'
	{
		split_csv($0, f)
		if (!keep(f)) next
		if (!done++) print "subject", cols
		n = split(cols, c, " ")
		line = f[col["subject"]]
		for (i = 1; i <= n; i++) line = line " " (f[col[c[i]]] == "" ? "?" : f[col[c[i]]])
		print line
	}
	END { if (!done) exit 1 }' "$csv"
}

# first COL: the value of COL in the first data row.
first() {
	awk -v want="$1" "$prelude"'{ split_csv($0, f); print f[col[want]]; exit }' "$csv"
}

ncols() { head -n 1 "$1" | awk '{ print NF }'; }

drawn=0
common='set terminal pngcairo size 1100,600 noenhanced font ",10"
set datafile missing "?"
set key outside right top
set grid ytics'

histogram() { # data out title ylabel [logscale]
	nc=$(ncols "$1")
	"$gp" <<EOF
$common
set output "$2"
set title "$3"
set ylabel "$4"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
${5:-}
plot for [i=2:$nc] "$1" using i:xtic(1) title columnheader(i)
EOF
	drawn=$((drawn + 1))
}

cpu=$(first cpu)
for size in 1000 100000 1000000; do
	for k in str int; do
		d="$tmp/read-$size-$k.dat"
		if pivot read "n=$size;keytype=$k" wl ops_per_s 1e-6 >"$d"; then
			histogram "$d" "$out/bench-read-N$size-$k.png" \
				"Reader throughput, N=$size $k keys (U/Z = uniform/Zipf, digit = readers, w = writer/s) - $cpu" \
				"Mops/s, all readers"
		fi
	done
done

cores=$(first cores)
f="n=100000;keytype=str;dist=uniform;readers=$cores"
d="$tmp/rate.dat"
if pivot read "$f" write_rate ops_per_s 1e-6 | awk 'NR == 1 || $1 != "none"' \
	>"$d" && [ "$(wc -l <"$d")" -gt 1 ]; then
	pivot read "$f" write_rate writes_per_s 1 |
		awk 'NR == 1 || $1 != "none"' >"$tmp/wrate.dat"
	nc=$(ncols "$d")
	"$gp" <<EOF
$common
set output "$out/bench-writer-rate.png"
set multiplot layout 1,2 title "N=100000 str keys, uniform, $cores readers + 1 writer at a target rate"
set logscale x
set xlabel "writer target, writes/s"
unset key
set ylabel "reader Mops/s (all readers)"
plot for [i=2:$nc] "$d" using 1:i with linespoints lw 2 title columnheader(i)
set logscale y
set key outside right top
set ylabel "writes/s achieved"
plot for [i=2:$nc] "$tmp/wrate.dat" using 1:i with linespoints lw 2 title columnheader(i), x with lines dt 2 lc "gray" title "target"
unset multiplot
EOF
	drawn=$((drawn + 1))
fi

d="$tmp/lat.dat"
if columns read "n=100000;keytype=str;dist=uniform;readers=1;write_rate=none" \
	p50_ns p99_ns p999_ns >"$d"; then
	histogram "$d" "$out/bench-latency.png" \
		"Read latency (one lookup in 64 timed), N=100000 str keys, uniform, 1 reader" \
		"ns (log scale)" "set logscale y"
fi

d="$tmp/mem.dat"
if pivot memory "keytype=str" n bytes_per_entry 1 >"$d"; then
	histogram "$d" "$out/bench-memory.png" \
		"Heap bytes per entry after the build (mallinfo2 delta / N), str keys (payload 22 B)" \
		"bytes/entry"
fi

d="$tmp/put.dat"
if pivot put "keytype=str" n put_p50_ns 1e-3 >"$d"; then
	pivot put "keytype=str" n batch1000_ns 1e-3 >"$tmp/batch.dat"
	nc=$(ncols "$d")
	"$gp" <<EOF
$common
set output "$out/bench-write-latency.png"
set multiplot layout 1,2 title "Write latency without readers, str keys (median)"
set logscale xy
set xlabel "N keys"
set key inside left top
set ylabel "single put, us"
plot for [i=2:$nc] "$d" using 1:i with linespoints lw 2 title columnheader(i)
set ylabel "batch of 1000 puts, us"
plot for [i=2:$nc] "$tmp/batch.dat" using 1:i with linespoints lw 2 title columnheader(i)
unset multiplot
EOF
	drawn=$((drawn + 1))
fi

d="$tmp/storm.dat"
if pivot storm "" n rss_delta_mb 1 >"$d"; then
	histogram "$d" "$out/bench-storm.png" \
		"Peak RSS growth during the write storm (writer flat out + all cores reading)" \
		"MB above the RSS before the storm"
fi

echo "plot.sh: $drawn PNG plots in $out (bench-*.png)" >&2
