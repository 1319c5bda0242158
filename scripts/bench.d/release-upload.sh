#!/usr/bin/env bash
# relkit-release-upload vs plain curl, both against relkit-fake-github on
# loopback (a fresh fake for every measurement, its blobs on disk).
#   large set: 10 assets of 50 MB;  small set: 200 assets of 100 KB.
# curl is the floor: one request per file in sequence (`curl -T`, which
# streams from disk), plus the create and publish calls a release needs.
# relkit does the whole job: list releases (drafts included), create the
# draft, list again to converge, list assets, upload (4 at once, streaming,
# hashing as it sends), list and verify every digest, publish.
# Targets: relkit's peak RSS under 64 MB; large set within 1.25x of curl;
# small set faster than curl's loop.
set -euo pipefail
cd "$(dirname "$0")/../.."

up=target/release/relkit-release-upload
fake=target/release/relkit-fake-github
for b in "$up" "$fake"; do
  [ -x "$b" ] || { echo "build first: cargo build --release --workspace --bins" >&2; exit 1; }
done
for t in curl /usr/bin/time bc python3; do
  command -v "$t" >/dev/null || { echo "$t is not installed: run scripts/install-test-tools" >&2; exit 1; }
done

large_n=${BENCH_LARGE_N:-10}
large_mb=${BENCH_LARGE_MB:-50}
small_n=${BENCH_SMALL_N:-200}
small_kb=${BENCH_SMALL_KB:-100}
token=bench-token

mkdir -p target/bench-tmp
tmp=$(mktemp -d target/bench-tmp/release-upload.XXXXXX)
fake_pid=""
stop_fake() {
  if [ -n "$fake_pid" ]; then
    kill "$fake_pid" 2>/dev/null || true
    wait "$fake_pid" 2>/dev/null || true
    fake_pid=""
  fi
  rm -rf "$tmp/blobs"
}
trap 'stop_fake; rm -rf "$tmp"' EXIT

mkdir -p "$tmp/large" "$tmp/small"
for ((i = 1; i <= large_n; i++)); do
  head -c "$((large_mb * 1024 * 1024))" /dev/urandom >"$tmp/large/large-$i.bin"
done
for ((i = 1; i <= small_n; i++)); do
  head -c "$((small_kb * 1024))" /dev/urandom >"$tmp/small/small-$i.bin"
done
sync

# Start a fresh fake; sets $api.
start_fake() {
  stop_fake
  mkdir -p "$tmp/blobs"
  "$fake" --addr 127.0.0.1:0 --token "$token" --blob-dir "$tmp/blobs" >"$tmp/fake.url" 2>"$tmp/fake.log" &
  fake_pid=$!
  for _ in $(seq 1 100); do
    [ -s "$tmp/fake.url" ] && break
    sleep 0.05
  done
  api=$(head -n1 "$tmp/fake.url")
  [ -n "$api" ] || { echo "relkit-fake-github did not start: $(cat "$tmp/fake.log")" >&2; exit 1; }
}

now() { date +%s.%N; }

# Each run_* starts its own fake and stops it before returning, in this
# shell (not a subshell, so the fake's pid is known), and sets $result.
# relkit: result="seconds peak_kb".
run_relkit() {
  local set=$1
  start_fake
  local t0 t1
  t0=$(now)
  GITHUB_TOKEN=$token /usr/bin/time -v -o "$tmp/time.txt" \
    "$up" --repo octo/demo --api-url "$api" --tag "v1.0.0" "$tmp/$set"/*.bin >/dev/null 2>"$tmp/relkit.log" || {
    echo "relkit-release-upload failed:" >&2
    cat "$tmp/relkit.log" >&2
    exit 1
  }
  t1=$(now)
  local rss
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
  stop_fake
  result="$(echo "$t1 - $t0" | bc -l) $rss"
}

# curl: create the draft, upload each file in sequence, publish.
run_curl() {
  local set=$1
  start_fake
  local auth=(-H "Authorization: Bearer $token" -H "Accept: application/vnd.github+json")
  local t0 t1
  t0=$(now)
  local release
  release=$(curl -sS -f "${auth[@]}" -X POST "$api/repos/octo/demo/releases" \
    -d '{"tag_name":"v1.0.0","name":"v1.0.0","draft":true}')
  local id upload
  id=$(printf '%s' "$release" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  upload=$(printf '%s' "$release" | python3 -c 'import json,sys; print(json.load(sys.stdin)["upload_url"].split("{")[0])')
  for f in "$tmp/$set"/*.bin; do
    curl -sS -f "${auth[@]}" -H "Content-Type: application/octet-stream" \
      -X POST -T "$f" "$upload?name=$(basename "$f")" -o /dev/null
  done
  curl -sS -f "${auth[@]}" -X PATCH "$api/repos/octo/demo/releases/$id" -d '{"draft":false}' -o /dev/null
  t1=$(now)
  stop_fake
  result=$(echo "$t1 - $t0" | bc -l)
}

printf '%-34s %9s %9s %13s\n' "set" "curl s" "relkit s" "relkit RSS MB"
worst_rss=0
for set in large small; do
  if [ "$set" = large ]; then label="large ($large_n x $large_mb MB)"; else label="small ($small_n x $small_kb KB)"; fi
  run_curl "$set"
  curl_s=$result
  run_relkit "$set"
  read -r relkit_s rss_kb <<<"$result"
  rss_mb=$(echo "scale=1; $rss_kb / 1024" | bc -l)
  [ "$rss_kb" -gt "$worst_rss" ] && worst_rss=$rss_kb
  printf '%-34s %9.2f %9.2f %13s\n' "$label" "$curl_s" "$relkit_s" "$rss_mb"
  ratio=$(echo "scale=2; $relkit_s / $curl_s" | bc -l)
  if [ "$set" = large ]; then
    echo "  ratio relkit/curl: ${ratio}x (target: <= 1.25x)"
  else
    echo "  ratio relkit/curl: ${ratio}x (target: < 1.00x)"
  fi
done
echo "peak RSS of relkit-release-upload: $(echo "scale=1; $worst_rss / 1024" | bc -l) MB (target: < 64 MB)"
