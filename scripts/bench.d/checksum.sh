#!/usr/bin/env bash
# relkit-checksum against sha256sum, openssl and b3sum (page cache warm):
# one 1 GiB file (sha256, and blake3 vs b3sum), 64 files of 16 MiB, and
# 5000 files of 4 KiB (the per-file cost). Commands run interleaved
# BENCH_RUNS times (default 5); medians are printed.
set -euo pipefail
source scripts/bench-lib.sh
runs=${BENCH_RUNS:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/relkit-bench-checksum.XXXXXX")
trap 'rm -rf "$work"' EXIT
sum=$BIN/relkit-checksum
command -v b3sum >/dev/null || { echo "b3sum is not installed: run scripts/install-test-tools" >&2; exit 1; }

head -c 1073741824 /dev/urandom >"$work/one.bin"
mkdir "$work/many" "$work/small"
for i in $(seq -w 1 64); do head -c 16777216 /dev/urandom >"$work/many/f$i"; done
python3 - "$work/small" <<'EOF'
import os, sys
for i in range(5000):
    with open(os.path.join(sys.argv[1], f"s{i:04}"), "wb") as f:
        f.write(os.urandom(4096))
EOF
cat "$work/one.bin" "$work"/many/* "$work"/small/* >/dev/null # warm the page cache
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "one 1 GiB file, sha256:"
interleave "$runs" "relkit-checksum" "$sum" -o "$work/SUMS" "$work/one.bin" \
  -- "sha256sum" sha256sum "$work/one.bin" \
  -- "openssl dgst -sha256" openssl dgst -sha256 "$work/one.bin"
s=("${MED_SECS[@]}")
echo "  => speed vs openssl: $(ratio "${s[2]}" "${s[0]}")x   vs sha256sum: $(ratio "${s[1]}" "${s[0]}")x"

echo "one 1 GiB file, blake3:"
interleave "$runs" "relkit-checksum --algo blake3" "$sum" --algo blake3 -o "$work/B3" "$work/one.bin" \
  -- "b3sum" b3sum "$work/one.bin"
s=("${MED_SECS[@]}")
echo "  => speed vs b3sum: $(ratio "${s[1]}" "${s[0]}")x"

echo "64 files of 16 MiB, sha256:"
interleave "$runs" "relkit-checksum" "$sum" -o "$work/SUMS" "$work"/many/* \
  -- "sha256sum" sha256sum "$work"/many/* \
  -- "openssl dgst -sha256" openssl dgst -sha256 "$work"/many/*
s=("${MED_SECS[@]}")
echo "  => speed vs openssl: $(ratio "${s[2]}" "${s[0]}")x   vs sha256sum: $(ratio "${s[1]}" "${s[0]}")x"

echo "5000 files of 4 KiB, sha256:"
# Globbed inside each command: 5000 paths in one `bash -c` string would pass
# the kernel's 128 KiB limit for one argument.
sumabs=$(realpath "$sum")
interleave "$runs" "relkit-checksum" sh -c "cd '$work/small' && '$sumabs' -o ../SUMS s*" \
  -- "sha256sum" sh -c "cd '$work/small' && sha256sum s*" \
  -- "openssl dgst -sha256" sh -c "cd '$work/small' && openssl dgst -sha256 s*"
s=("${MED_SECS[@]}")
echo "  => speed vs openssl: $(ratio "${s[2]}" "${s[0]}")x   vs sha256sum: $(ratio "${s[1]}" "${s[0]}")x"
