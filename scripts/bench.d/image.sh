#!/usr/bin/env bash
# relkit-image: build a two-platform image of a ~90 MB binary, push it to a
# local docker-registry (plain HTTP on loopback, no auth, so only the
# transfer is compared), beside `skopeo copy --all` of the very same OCI
# layout to the same registry. buildah is not compared: it needs a
# container storage driver (fuse-overlayfs or root overlay) this machine's
# CI does not offer.
# Targets: relkit's peak RSS under 64 MB; push within 1.25x of skopeo;
# a second push sends only manifests (no blob bytes).
set -euo pipefail
source scripts/bench-lib.sh

bin=$BIN/relkit-image
[ -x "$bin" ] || { echo "build first: cargo build --release -p relkit-image" >&2; exit 1; }
for t in docker-registry skopeo /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "$t is not installed: run scripts/install-test-tools" >&2; exit 1; }
done
mb=${BENCH_IMAGE_MB:-90}
work=$(mktemp -d "${TMPDIR:-/tmp}/relkit-bench-image.XXXXXX")
reg_pid=""
trap '[ -z "$reg_pid" ] || kill "$reg_pid" 2>/dev/null; rm -rf "$work"' EXIT

# Stand-ins for real binaries: machine code compresses like machine code,
# so concatenate the machine's own executables (a different slice per arch).
find /usr/bin /usr/lib -type f -size +500k -print0 2>/dev/null | sort -z | xargs -0 cat 2>/dev/null \
  | head -c "$((mb * 2 * 1024 * 1024))" >"$work/pool" || true
head -c "$((mb * 1024 * 1024))" "$work/pool" >"$work/app-amd64"
tail -c "$((mb * 1024 * 1024))" "$work/pool" >"$work/app-arm64"
rm "$work/pool"
chmod 755 "$work"/app-*

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done

export SOURCE_DATE_EPOCH=1700000000
echo "two platforms of $mb MB each:"
measure "relkit image build" "$bin" build --out "$work/layout" --version 1.0.0 --name app \
  --binary "x86_64-unknown-linux-musl=$work/app-amd64" --binary "aarch64-unknown-linux-musl=$work/app-arm64"
build=$SECS
"$bin" build --out "$work/layout" --version 1.0.0 --name app \
  --binary "x86_64-unknown-linux-musl=$work/app-amd64" --binary "aarch64-unknown-linux-musl=$work/app-arm64" >/dev/null 2>&1
layers=$(du -sk "$work/layout/blobs" | cut -f1)
echo "  layout: ${layers} KB of blobs"

# Each run pushes to a fresh repository, so every run uploads every blob.
cat >"$work/push.sh" <<EOF
#!/usr/bin/env bash
exec "$bin" push --plain-http ${BENCH_PUSH_ARGS:-} --layout "$work/layout" --image "127.0.0.1:$port/bench/r\$RANDOM\$RANDOM" --tag v1.0.0
EOF
cat >"$work/skopeo.sh" <<EOF
#!/usr/bin/env bash
exec skopeo --insecure-policy copy --all --dest-tls-verify=false "oci:$work/layout:1.0.0" "docker://127.0.0.1:$port/bench/s\$RANDOM\$RANDOM:v1.0.0"
EOF
chmod +x "$work"/*.sh
measure "relkit image push (fresh repo)" "$work/push.sh"; ours=$SECS; ours_rss=$RSS_KB
measure "skopeo copy --all (fresh repo)" "$work/skopeo.sh"; theirs=$SECS
echo "  push time vs skopeo: $(ratio "$ours" "$theirs")x (target <= 1.25)   relkit peak RSS: $((ours_rss / 1024)) MB (target < 64)"

"$bin" push --plain-http --layout "$work/layout" --image "127.0.0.1:$port/bench/again" --tag v1.0.0 >/dev/null 2>&1
before=$(grep -c '/blobs/uploads/' "$work/registry.log" || true)
"$bin" push --plain-http --layout "$work/layout" --image "127.0.0.1:$port/bench/again" --tag v1.0.0 >"$work/again.json" 2>/dev/null
after=$(grep -c '/blobs/uploads/' "$work/registry.log" || true)
sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["uploaded_bytes"])' "$work/again.json")
manifests=$(find "$work/layout/blobs/sha256" -size -64k -type f -exec du -b {} + | awk '{s+=$1} END {print s}')
echo "  second push: $sent blob bytes sent, $((after - before)) upload requests in the registry log (target: 0, only manifests of <= $manifests bytes)"
echo "  build: ${build} s for $((mb * 2)) MB of binaries"
