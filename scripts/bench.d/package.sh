#!/usr/bin/env bash
# relkit-package, every format, against the best peer setting in the same
# run: tar.gz vs `tar czf` and `tar | pigz` at relkit's level (5) and at 6;
# tar.zst vs `tar -I 'zstd -3 -T0'` (and, with BENCH_SLOW=1, relkit --level
# 19 vs `zstd -19 -T0`); tar.xz vs `tar -I 'xz -6 -T0'`; zip vs `zip -6`.
# Input: a real ~90 MB binary (terraform, else the largest in /usr/bin).
# Each comparison runs its commands interleaved BENCH_RUNS times (default
# 5) and prints medians: the machine may be shared and noisy. Peak RSS is
# the largest process of each command (a pipeline's largest member).
set -euo pipefail
source scripts/bench-lib.sh
runs=${BENCH_RUNS:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/relkit-bench-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1700000000

big=/usr/local/bin/terraform
[ -x "$big" ] || big=$(ls -S /usr/bin/* | head -n 1)
name=$(basename "$big")
pkg=$(realpath "$BIN/relkit-package")
mkdir -p "$work/in"; cp "$big" "$work/in/$name"
cd "$work/in"
size=$(stat -c %s "$name")
echo "$name ($((size / 1048576)) MiB), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
relkit() { echo "$pkg --name b --version 1.0.0 --target linux/amd64 -o out-$1 --format $1 ${2:-} $name"; }
bytes() { stat -c %s "$1"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%+.2f%%", (a-b)*100/b}'; }

row() { # format ours_secs ours_bytes ours_rss peer_label peer_secs peer_bytes ours_cpu peer_cpu
  printf '  => %-8s relkit %.2f s %d bytes %d MB RSS | %s %.2f s %d bytes | speed %sx, size %s, CPU time %sx\n' \
    "$1" "$2" "$3" "$(($4 / 1024))" "$5" "$6" "$7" "$(ratio "$6" "$2")" "$(pct "$3" "$7")" "$(ratio "$9" "$8")"
}

echo "tar.gz (level 5):"
interleave "$runs" "relkit-package tar.gz" sh -c "$(relkit tar.gz)" \
  -- "tar cf - | pigz -5" sh -c "tar cf - $name | pigz -5 > pigz5.tar.gz" \
  -- "tar cf - | pigz -6" sh -c "tar cf - $name | pigz -6 > pigz6.tar.gz" \
  -- "tar czf (gzip -6)" tar czf gzip6.tar.gz "$name"
s=("${MED_SECS[@]}"); r=("${MED_RSS_KB[@]}"); c=("${MED_CPU_SECS[@]}")
ours=$(bytes out-tar.gz/b-1.0.0-linux-amd64.tar.gz)
row tar.gz "${s[0]}" "$ours" "${r[0]}" "pigz -5" "${s[1]}" "$(bytes pigz5.tar.gz)" "${c[0]}" "${c[1]}"
row tar.gz "${s[0]}" "$ours" "${r[0]}" "pigz -6" "${s[2]}" "$(bytes pigz6.tar.gz)" "${c[0]}" "${c[2]}"
row tar.gz "${s[0]}" "$ours" "${r[0]}" "tar czf" "${s[3]}" "$(bytes gzip6.tar.gz)" "${c[0]}" "${c[3]}"

echo "tar.zst (level 3):"
interleave "$runs" "relkit-package tar.zst" sh -c "$(relkit tar.zst)" \
  -- "tar -I 'zstd -3 -T0'" tar -I 'zstd -3 -T0' -cf zstd3.tar.zst "$name"
s=("${MED_SECS[@]}"); r=("${MED_RSS_KB[@]}"); c=("${MED_CPU_SECS[@]}")
row tar.zst "${s[0]}" "$(bytes out-tar.zst/b-1.0.0-linux-amd64.tar.zst)" "${r[0]}" "zstd -3 -T0" "${s[1]}" "$(bytes zstd3.tar.zst)" "${c[0]}" "${c[1]}"

if [ -n "${BENCH_SLOW:-}" ]; then
  echo "tar.zst --level 19 (slow; BENCH_SLOW is set):"
  interleave "${BENCH_SLOW_RUNS:-1}" "relkit-package tar.zst --level 19" sh -c "$(relkit tar.zst '--level 19')" \
    -- "tar -I 'zstd -19 -T0'" tar -I 'zstd -19 -T0' -cf zstd19.tar.zst "$name"
  s=("${MED_SECS[@]}"); r=("${MED_RSS_KB[@]}"); c=("${MED_CPU_SECS[@]}")
  row tar.zst "${s[0]}" "$(bytes out-tar.zst/b-1.0.0-linux-amd64.tar.zst)" "${r[0]}" "zstd -19 -T0" "${s[1]}" "$(bytes zstd19.tar.zst)" "${c[0]}" "${c[1]}"
fi

echo "tar.xz (preset 6, 1 MiB dictionary):"
interleave "${BENCH_XZ_RUNS:-$runs}" "relkit-package tar.xz" sh -c "$(relkit tar.xz)" \
  -- "tar -I 'xz -6 -T0'" tar -I 'xz -6 -T0' -cf xz6.tar.xz "$name"
s=("${MED_SECS[@]}"); r=("${MED_RSS_KB[@]}"); c=("${MED_CPU_SECS[@]}")
row tar.xz "${s[0]}" "$(bytes out-tar.xz/b-1.0.0-linux-amd64.tar.xz)" "${r[0]}" "xz -6 -T0" "${s[1]}" "$(bytes xz6.tar.xz)" "${c[0]}" "${c[1]}"

echo "zip (deflate 6, every core):"
interleave "$runs" "relkit-package zip" sh -c "$(relkit zip)" \
  -- "zip -6 -X" zip -6 -X -q zip6.zip "$name"
s=("${MED_SECS[@]}"); r=("${MED_RSS_KB[@]}"); c=("${MED_CPU_SECS[@]}")
row zip "${s[0]}" "$(bytes out-zip/b-1.0.0-linux-amd64.zip)" "${r[0]}" "zip -6" "${s[1]}" "$(bytes zip6.zip)" "${c[0]}" "${c[1]}"
cd "$OLDPWD"
