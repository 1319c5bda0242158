#!/usr/bin/env bash
# relkit-checksum against sha256sum and openssl on one 1 GiB file and on 64
# files of 16 MiB (page cache warm; fastest of 3 runs each).
set -euo pipefail
source scripts/bench-lib.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/relkit-bench-checksum.XXXXXX")
trap 'rm -rf "$work"' EXIT

head -c 1073741824 /dev/urandom >"$work/one.bin"
mkdir "$work/many"
for i in $(seq -w 1 64); do head -c 16777216 /dev/urandom >"$work/many/f$i"; done
cat "$work/one.bin" "$work"/many/* >/dev/null   # warm the page cache

echo "one 1 GiB file:"
measure "relkit-checksum" "$BIN/relkit-checksum" -o "$work/SUMS" "$work/one.bin"; ours=$SECS
measure "sha256sum" sha256sum "$work/one.bin"; gnu=$SECS
measure "openssl dgst -sha256" openssl dgst -sha256 "$work/one.bin"; ossl=$SECS
echo "  speed vs openssl: $(ratio "$ossl" "$ours")x (target >= 0.9)   vs sha256sum: $(ratio "$gnu" "$ours")x"

echo "64 files of 16 MiB:"
measure "relkit-checksum" "$BIN/relkit-checksum" -o "$work/SUMS" "$work"/many/*; ours=$SECS; ours_cpu=$CPU
measure "sha256sum" sha256sum "$work"/many/*; gnu=$SECS
measure "openssl dgst -sha256" openssl dgst -sha256 "$work"/many/*; ossl=$SECS
echo "  speed vs openssl: $(ratio "$ossl" "$ours")x   vs sha256sum: $(ratio "$gnu" "$ours")x   relkit CPU: ${ours_cpu}% of one core on $(nproc) cores"
