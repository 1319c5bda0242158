#!/usr/bin/env bash
# .deb of a ~90 MB binary (/usr/local/bin/terraform, or BENCH_DEB_BINARY):
# `relkit dist` of a one-target project with [package] (deb) beside the
# same dist without [package] (the difference is the .deb's cost: relkit
# has no stand-alone deb command), and `dpkg-deb --build` of a tree holding
# the same file with the same gzip data member (-Zgzip -z6, root owner).
# Prints times, peak RSS and the size ratio. Target: relkit's peak RSS
# under 64 MB.
set -euo pipefail
source scripts/bench-lib.sh

relkit=$(realpath "$BIN/relkit")
[ -x "$relkit" ] || { echo "build first: cargo build --release -p relkit" >&2; exit 1; }
for t in dpkg-deb /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "$t is not installed: run scripts/install-test-tools" >&2; exit 1; }
done
src=${BENCH_DEB_BINARY:-/usr/local/bin/terraform}
[ -f "$src" ] || { echo "$src does not exist (set BENCH_DEB_BINARY)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/relkit-bench-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$src" "$work/app"
cat "$work/app" >/dev/null # warm the page cache
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), binary $(stat -c %s "$work/app") bytes"

project() { # DIR EXTRA_TOML
  mkdir -p "$1"
  cat >"$1/relkit.toml" <<EOF
name = "app"
version = "1.0.0"
binaries = ["app"]
targets = ["x86_64-unknown-linux-gnu"]
[installer]
enabled = false
[build]
command = "mkdir -p out && cp $work/app out/app"
binary-dir = "out"
$2
EOF
}
project "$work/with" '[package]
maintainer = "Bench <bench@example.org>"
description = "Benchmark package"
license = "MPL-2.0"'
project "$work/without" ''

tree=$work/tree
install -D -m 0755 "$work/app" "$tree/usr/bin/app"
mkdir -p "$tree/DEBIAN"
cat >"$tree/DEBIAN/control" <<'EOF'
Package: app
Version: 1.0.0
Architecture: amd64
Maintainer: Bench <bench@example.org>
Description: Benchmark package
EOF

export SOURCE_DATE_EPOCH=1700000000
echo "package the binary as .deb (median of ${BENCH_RUNS:-3}):"
interleave "${BENCH_RUNS:-3}" \
  "relkit dist (archive + deb)" bash -c "cd '$work/with' && rm -rf dist && '$relkit' dist" \
  -- "relkit dist (archive only)" bash -c "cd '$work/without' && rm -rf dist && '$relkit' dist" \
  -- "dpkg-deb --build -Zgzip -z6" dpkg-deb --root-owner-group -Zgzip -z6 --build "$tree" "$work/dpkg.deb"
s=("${MED_SECS[@]}") r=("${MED_RSS_KB[@]}")
deb_secs=$(awk -v a="${s[0]}" -v b="${s[1]}" 'BEGIN{printf "%.2f", a-b}')
ours=$(stat -c %s "$work"/with/dist/*.deb)
theirs=$(stat -c %s "$work/dpkg.deb")
echo "  => relkit's .deb share: ${deb_secs} s vs dpkg-deb ${s[2]} s (ratio $(ratio "${s[2]}" "$deb_secs")x)"
echo "  => size: relkit $ours bytes, dpkg-deb $theirs bytes (relkit/dpkg-deb $(ratio "$ours" "$theirs"))"
echo "  => relkit peak RSS $((r[0] / 1024)) MB (target < 64 MB), dpkg-deb $((r[2] / 1024)) MB"
dpkg-deb --info "$work"/with/dist/*.deb >/dev/null
