#!/usr/bin/env bash
# relkit-image: build and push a two-platform image of a ~90 MB binary
# (terraform; BENCH_IMAGE_BINARY to change) to a local docker-registry with
# TLS and htpasswd, as a release would, beside
#   - `skopeo copy --all` of the very same OCI layout (push only), and
#   - buildah (vfs storage, no daemon): from scratch, copy, config, commit
#     into a manifest list, `manifest push --all` (build and push).
# Every run pushes to a fresh repository, so every run uploads every blob;
# skopeo and buildah get a fresh blob-info cache each run, else they
# remember where they pushed a blob before and mount it from that
# repository instead of uploading it (that is how an earlier version of
# this script measured skopeo at a third of relkit's time).
# Runs are interleaved (relkit, skopeo, buildah, relkit, …; BENCH_RUNS,
# default 3) and medians reported. A counting TCP proxy in front of the
# registry measures the bytes a second push of the same image sends.
# Targets: relkit's peak RSS under 64 MB; push within 1.25x of skopeo;
# a second push sends only manifests (no blob upload).
set -euo pipefail
source scripts/bench-lib.sh

bin=$(realpath "$BIN/relkit-image" 2>/dev/null || true)
[ -x "$bin" ] || { echo "build first: cargo build --release -p relkit-image" >&2; exit 1; }
for t in docker-registry skopeo htpasswd openssl python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "$t is not installed: run scripts/install-test-tools" >&2; exit 1; }
done
binary=${BENCH_IMAGE_BINARY:-/usr/local/bin/terraform}
[ -f "$binary" ] || { echo "$binary is missing (set BENCH_IMAGE_BINARY to a ~90 MB executable)" >&2; exit 1; }
runs=${BENCH_RUNS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/relkit-bench-image.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
echo "  machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# Two platforms: the binary, and the binary with a trailer (another layer
# of the same size, so both blobs are uploaded).
cp "$binary" "$work/app-amd64"
cp "$binary" "$work/app-arm64"
printf 'arm64 stand-in\n' >>"$work/app-arm64"
chmod 755 "$work"/app-*
mb=$(($(stat -c %s "$work/app-amd64") / 1024 / 1024))

# A CA, a server certificate for 127.0.0.1, a bcrypt htpasswd entry.
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out server.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >ext.cnf
openssl x509 -req -days 2 -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -extfile ext.cnf -out cert.pem 2>/dev/null
mkdir certs && cp ca.pem certs/ca.crt
password=bench-$RANDOM$RANDOM
htpasswd -Bbn bench "$password" >users.htpasswd 2>/dev/null
cd - >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }
port=$(free_port)
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
  secret: bench
  tls:
    certificate: $work/cert.pem
    key: $work/key.pem
auth:
  htpasswd:
    realm: bench
    path: $work/users.htpasswd
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
wait_port "$port"

# The counting proxy: forwards TCP (TLS passes through untouched) and
# keeps the bytes each way and the connections in a JSON file.
cat >"$work/count.py" <<'EOF'
import asyncio, json, os, sys
listen, target, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
stats = {"connections": 0, "sent": 0, "received": 0}
def dump():
    with open(out + ".tmp", "w") as f:
        json.dump(stats, f)
    os.replace(out + ".tmp", out)
async def pipe(r, w, key):
    try:
        while data := await r.read(1 << 18):
            stats[key] += len(data)
            w.write(data)
            await w.drain()
    except OSError:
        pass
    finally:
        w.close()
async def handle(cr, cw):
    stats["connections"] += 1
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pipe(cr, uw, "sent"), pipe(ur, cw, "received"))
    dump()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", listen)
    dump()
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
EOF
proxy_port=$(free_port)
python3 "$work/count.py" "$proxy_port" "$port" "$work/count.json" &
pids+=($!)
wait_port "$proxy_port"

export SOURCE_DATE_EPOCH=1700000000
export RELKIT_REGISTRY_USERNAME=bench RELKIT_REGISTRY_PASSWORD=$password
reg=127.0.0.1:$port
build_args=(--version 1.0.0 --name app
  --binary "x86_64-unknown-linux-musl=$work/app-amd64" --binary "aarch64-unknown-linux-musl=$work/app-arm64")
"$bin" build --out "$work/layout" "${build_args[@]}" >/dev/null 2>&1
layers=$(du -sk "$work/layout/blobs" | cut -f1)

# skopeo and buildah keep a blob-info cache (as root in
# /var/lib/containers/cache): give each run its own. containers/image
# takes the cache folder from XDG_DATA_HOME only for a non-root user, and
# takes "non-root" from _CONTAINERS_ROOTLESS_UID when that is set.
# shellcheck disable=SC2016 # expanded by the generated scripts, each run
fresh_cache='export XDG_DATA_HOME=$(mktemp -d "'"$work"'/cache.XXXXXX"); [ "$(id -u)" -ne 0 ] || export _CONTAINERS_ROOTLESS_UID=65534'
cat >"$work/relkit-all.sh" <<EOF
#!/usr/bin/env bash
set -e
out=\$(mktemp -d "$work/layout.XXXXXX")
"$bin" build --out "\$out/layout" $(printf '%q ' "${build_args[@]}")
"$bin" push --ca-file "$work/ca.pem" --layout "\$out/layout" --image "$reg/bench/r\$RANDOM\$RANDOM" --tag v1.0.0
rm -rf "\$out"
EOF
cat >"$work/relkit-push.sh" <<EOF
#!/usr/bin/env bash
exec "$bin" push --ca-file "$work/ca.pem" --layout "$work/layout" --image "$reg/bench/p\$RANDOM\$RANDOM" --tag v1.0.0
EOF
cat >"$work/skopeo.sh" <<EOF
#!/usr/bin/env bash
$fresh_cache
exec skopeo --insecure-policy copy --all --dest-cert-dir "$work/certs" --dest-creds "bench:$password" \
  "oci:$work/layout:1.0.0" "docker://$reg/bench/s\$RANDOM\$RANDOM:v1.0.0"
EOF
cat >"$work/buildah.sh" <<EOF
#!/usr/bin/env bash
set -e
$fresh_cache
st=\$(mktemp -d "$work/buildah.XXXXXX")
b() { buildah --storage-driver vfs --root "\$st/root" --runroot "\$st/run" "\$@"; }
for arch in amd64 arm64; do
  c=\$(b from --arch "\$arch" --os linux scratch)
  b copy --chmod 0755 "\$c" "$work/app-\$arch" /usr/local/bin/app
  b config --entrypoint '["/usr/local/bin/app"]' --user 65532:65532 "\$c"
  b commit -q --manifest app-list "\$c"
done
b manifest push --all --cert-dir "$work/certs" --creds "bench:$password" app-list "docker://$reg/bench/b\$RANDOM\$RANDOM:v1.0.0"
b rm -a >/dev/null 2>&1 || true
rm -rf "\$st" 2>/dev/null || true
EOF
chmod +x "$work"/*.sh

# buildah is compared when it runs here; when it does not, say why.
buildah_runs=""
if ! command -v buildah >/dev/null; then
  buildah_why="buildah is not installed (apt package buildah)"
elif ! "$work/buildah.sh" >"$work/buildah-try.log" 2>&1; then
  buildah_why="buildah failed: $(grep -m1 -i 'error' "$work/buildah-try.log" || tail -n1 "$work/buildah-try.log")"
else
  buildah_runs=yes
fi

echo "two platforms of a $mb MB binary ($(basename "$binary")), ${layers} KB of layers; TLS + htpasswd registry; $runs interleaved runs, medians:"
cmds=("relkit image build + push" "$work/relkit-all.sh" -- "relkit image push" "$work/relkit-push.sh" -- "skopeo copy --all (same layout)" "$work/skopeo.sh")
[ -z "$buildah_runs" ] || cmds+=(-- "buildah from/copy/commit + manifest push" "$work/buildah.sh")
interleave "$runs" "${cmds[@]}"
all_s=${MED_SECS[0]} all_rss=${MED_RSS_KB[0]} push_s=${MED_SECS[1]} push_rss=${MED_RSS_KB[1]}
skopeo_s=${MED_SECS[2]} skopeo_rss=${MED_RSS_KB[2]}
buildah_s=${MED_SECS[3]:-} buildah_rss=${MED_RSS_KB[3]:-}
# Did every skopeo/buildah run upload (not mount) its blobs? The registry log says.
mounts=$(grep -c 'blobs/uploads/?from=' "$work/registry.log" || true)

# Second push of the same image through the counting proxy.
via=127.0.0.1:$proxy_port
second() { # LABEL CMD...: run CMD twice, print the bytes the second run sent
  local label=$1; shift
  "$@" >/dev/null 2>&1
  local before after c0 c1 u0 u1
  before=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$work/count.json")
  c0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connections"])' "$work/count.json")
  u0=$(grep -c 'POST /v2/[^ ]*/blobs/uploads/' "$work/registry.log" || true)
  "$@" >/dev/null 2>&1
  sleep 0.2
  after=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$work/count.json")
  c1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connections"])' "$work/count.json")
  u1=$(grep -c 'POST /v2/[^ ]*/blobs/uploads/' "$work/registry.log" || true)
  SENT=$((after - before)) CONNS=$((c1 - c0)) UPLOADS=$((u1 - u0))
  printf '  second push, %-28s %8d bytes sent (TLS included), %d connections, %d blob uploads started\n' "$label:" "$SENT" "$CONNS" "$UPLOADS"
}
second "relkit" "$bin" push --ca-file "$work/ca.pem" --layout "$work/layout" --image "$via/bench/again" --tag v1.0.0
r_sent=$SENT r_uploads=$UPLOADS
second "skopeo" env "XDG_DATA_HOME=$work/skopeo-again" bash -c "[ \"\$(id -u)\" -ne 0 ] || export _CONTAINERS_ROOTLESS_UID=65534; exec skopeo --insecure-policy copy --all --dest-cert-dir '$work/certs' --dest-creds 'bench:$password' 'oci:$work/layout:1.0.0' 'docker://$via/bench/again-s:v1.0.0'"
s_sent=$SENT
# The floor: the image manifests and the index, PUT by digest and once per tag.
manifests=$(python3 -c '
import json, sys
top = json.load(open(sys.argv[1] + "/index.json"))["manifests"][0]
index = json.load(open(sys.argv[1] + "/blobs/sha256/" + top["digest"][7:]))
print(sum(m["size"] for m in index["manifests"]) + 2 * top["size"])' "$work/layout")

echo
echo "| what | median time | peak RSS | ratio |"
echo "| --- | ---: | ---: | --- |"
printf '| relkit image build + push | %s s | %d MB | |\n' "$all_s" $((all_rss / 1024))
[ -z "$buildah_runs" ] || printf '| buildah build + push | %s s | %d MB | relkit %sx buildah'"'"'s time |\n' "$buildah_s" $((buildah_rss / 1024)) "$(ratio "$all_s" "$buildah_s")"
printf '| relkit image push | %s s | %d MB | relkit %sx skopeo'"'"'s time (target <= 1.25) |\n' "$push_s" $((push_rss / 1024)) "$(ratio "$push_s" "$skopeo_s")"
printf '| skopeo copy --all | %s s | %d MB | |\n' "$skopeo_s" $((skopeo_rss / 1024))
printf '| second push, relkit | %d bytes sent | | %d blob uploads; the %d bytes of manifests and index (PUT by digest and by tag) are the floor |\n' "$r_sent" "$r_uploads" "$manifests"
printf '| second push, skopeo | %d bytes sent | | |\n' "$s_sent"
[ -n "$buildah_runs" ] || echo "buildah not compared: $buildah_why"
[ "$mounts" -eq 0 ] || echo "warning: $mounts blob mounts in the registry log: some runs did not upload every blob"
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
