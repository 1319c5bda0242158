#!/usr/bin/env bash
# relkit-provider-bundle vs `zip -6`: a 6-platform Terraform provider bundle
# of 30 MB binaries. Both produce one zip per platform holding the binary
# `terraform-provider-bench_v1.0.0` (+.exe); `zip -6 -X` runs one platform
# after another, as a release script would. relkit additionally writes the
# SHA256SUMS, the manifest, both mirrors (copies of every binary and zip)
# and the lock hashes inside the time measured.
# Target: relkit faster than zip -6, its zips no more than 2% larger.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=target/release/relkit-provider-bundle
[ -x "$bin" ] || { echo "build first: cargo build --release --workspace --bins" >&2; exit 1; }
command -v zip >/dev/null || { echo "zip is not installed: run scripts/install-test-tools" >&2; exit 1; }

size_mb=${BENCH_SIZE_MB:-30}
mkdir -p target/bench-tmp
tmp=$(mktemp -d target/bench-tmp/provider-bundle.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Realistic input: executable code and data, 30 MB per platform, cut from
# the machine's own binaries and libraries in a different order per platform.
mapfile -t sources < <(find /usr/bin /usr/lib /usr/libexec -type f -size +200k 2>/dev/null | LC_ALL=C sort)
platforms=(linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64 freebsd_amd64)
args=()
for i in "${!platforms[@]}"; do
  p=${platforms[$i]}
  n=${#sources[@]}
  { for ((k = 0; k < n; k++)); do cat "${sources[$(((k * 7 + i * 13) % n))]}"; done; } 2>/dev/null |
    head -c "$((size_mb * 1024 * 1024))" >"$tmp/$p.bin" || true
  args+=(--binary "$p=$tmp/$p.bin")
done
sync

# Wall and CPU seconds of a command, via GNU time (the machine may be
# shared: CPU seconds show the cost per byte whatever the load).
timed() { local out=$1; shift; /usr/bin/time -f '%e %U %S' -o "$out" "$@"; }

# zip -6, one platform after another, as a release script does it.
zip_all() {
  for p in "${platforms[@]}"; do
    d="$tmp/zip/$p"
    mkdir -p "$d"
    exe=terraform-provider-bench_v1.0.0
    [[ $p == windows_* ]] && exe+=.exe
    cp "$tmp/$p.bin" "$d/$exe"
    chmod 0755 "$d/$exe"
    (cd "$d" && zip -6 -X -q "../terraform-provider-bench_1.0.0_$p.zip" "$exe")
  done
}
export -f zip_all
export tmp
export PLATFORMS="${platforms[*]}"
timed "$tmp/zip.time" bash -c 'platforms=($PLATFORMS); zip_all'
timed "$tmp/relkit.time" env SOURCE_DATE_EPOCH=1700000000 "$bin" --name bench --version 1.0.0 \
  --namespace bench "${args[@]}" --output-dir "$tmp/relkit" >/dev/null 2>&1
read -r zip_s zip_u zip_sys <"$tmp/zip.time"
read -r relkit_s relkit_u relkit_sys <"$tmp/relkit.time"
calc() { awk "BEGIN { print $1 }"; }
zip_cpu=$(calc "$zip_u + $zip_sys")
relkit_cpu=$(calc "$relkit_u + $relkit_sys")

zip_bytes=$(cat "$tmp"/zip/*.zip | wc -c)
relkit_bytes=$(cat "$tmp"/relkit/terraform-provider-bench_1.0.0_*.zip | wc -c)
input_mb=$((size_mb * ${#platforms[@]}))

printf '%-28s %8s %8s %12s\n' "tool (${#platforms[@]} x ${size_mb} MB)" wall-s cpu-s "zip bytes"
printf '%-28s %8.2f %8.2f %12d\n' "zip -6 (sequential)" "$zip_s" "$zip_cpu" "$zip_bytes"
printf '%-28s %8.2f %8.2f %12d\n' "relkit-provider-bundle" "$relkit_s" "$relkit_cpu" "$relkit_bytes"
printf 'speed: relkit is %.2fx zip -6 (%.0f MB/s vs %.0f MB/s of input)\n' \
  "$(calc "$zip_s / $relkit_s")" "$(calc "$input_mb / $relkit_s")" "$(calc "$input_mb / $zip_s")"
printf 'size:  relkit zips are %+.2f%% vs zip -6 (target: at most +2%%)\n' \
  "$(calc "($relkit_bytes - $zip_bytes) * 100 / $zip_bytes")"
printf 'cpu:   relkit uses %.2fx the CPU time of zip -6\n' "$(calc "$relkit_cpu / $zip_cpu")"
echo "cores: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
