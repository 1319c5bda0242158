#!/usr/bin/env bash
# .rpm of a ~90 MB binary (/usr/local/bin/terraform, or BENCH_RPM_BINARY):
# `relkit dist` of a one-target project with [package] formats = ["rpm"]
# beside the same dist without [package] (the difference is the .rpm's
# cost: relkit has no stand-alone rpm command), and `rpmbuild -bb` of a
# spec installing the same file with the same gzip payload and no
# debuginfo, brp scripts or strip (so both package the same bytes).
# Prints times, peak RSS and the size ratio. Target: relkit's peak RSS
# under 64 MB.
set -euo pipefail
source scripts/bench-lib.sh

relkit=$(realpath "$BIN/relkit")
[ -x "$relkit" ] || { echo "build first: cargo build --release -p relkit" >&2; exit 1; }
for t in rpmbuild rpm /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "$t is not installed: run scripts/install-test-tools" >&2; exit 1; }
done
src=${BENCH_RPM_BINARY:-/usr/local/bin/terraform}
[ -f "$src" ] || { echo "$src does not exist (set BENCH_RPM_BINARY)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/relkit-bench-rpm.XXXXXX")
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
formats = ["rpm"]
maintainer = "Bench <bench@example.org>"
description = "Benchmark package"
license = "MPL-2.0"'
project "$work/without" ''

mkdir -p "$work/rpmbuild/SPECS" "$work/rpmbuild/SOURCES"
cp "$work/app" "$work/rpmbuild/SOURCES/app"
cat >"$work/rpmbuild/SPECS/app.spec" <<'EOF'
Name: app
Version: 1.0.0
Release: 1
Summary: Benchmark package
License: MPL-2.0
Source0: app
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _binary_payload w6.gzdio
%description
Benchmark package.
%install
install -D -m 0755 %{SOURCE0} %{buildroot}/usr/bin/app
%files
/usr/bin/app
EOF

export SOURCE_DATE_EPOCH=1700000000
echo "package the binary as .rpm (median of ${BENCH_RUNS:-3}):"
interleave "${BENCH_RUNS:-3}" \
  "relkit dist (archive + rpm)" bash -c "cd '$work/with' && rm -rf dist && '$relkit' dist" \
  -- "relkit dist (archive only)" bash -c "cd '$work/without' && rm -rf dist && '$relkit' dist" \
  -- "rpmbuild -bb" rpmbuild --quiet --define "_topdir $work/rpmbuild" --nodeps -bb "$work/rpmbuild/SPECS/app.spec"
s=("${MED_SECS[@]}") r=("${MED_RSS_KB[@]}")
rpm_secs=$(awk -v a="${s[0]}" -v b="${s[1]}" 'BEGIN{printf "%.2f", a-b}')
ours=$(stat -c %s "$work"/with/dist/*.rpm)
theirs=$(stat -c %s "$work"/rpmbuild/RPMS/*/*.rpm)
echo "  => relkit's .rpm share: ${rpm_secs} s vs rpmbuild ${s[2]} s (ratio $(ratio "${s[2]}" "$rpm_secs")x)"
echo "  => size: relkit $ours bytes, rpmbuild $theirs bytes (relkit/rpmbuild $(ratio "$ours" "$theirs"))"
echo "  => relkit peak RSS $((r[0] / 1024)) MB (target < 64 MB), rpmbuild $((r[2] / 1024)) MB"
rpm -K --nosignature "$work"/with/dist/*.rpm
