#!/usr/bin/env bash
# relkit-release-upload vs the tools people use, all against the same
# relkit-fake-github on loopback (a fresh fake for every measurement, its
# blobs on disk):
#   curl      the floor: one request per file in sequence (`curl -T`), plus
#             the create and publish calls a release needs;
#   gh        Debian's `gh release create TAG FILES` (a draft, the uploads,
#             then publish), through its `http_unix_socket` setting, which
#             socat bridges to the fake's TCP port (gh then makes plain
#             HTTP requests, one connection each). The fake serves GitHub
#             Enterprise Server's paths (/api/v3, /api/uploads) to everyone,
#             because gh sends its token only to its own host: GH_HOST is the
#             fake's host:port, so the upload URL the fake returns is on it;
#   softprops softprops/action-gh-release's built dist/index.js run by node
#             with INPUT_* variables, read from $RELKIT_BENCH_SOFTPROPS (a
#             folder holding dist/index.js; skipped, and said so, when unset
#             or absent; its code is never part of this repository). v3
#             needs node 24; on node 20 use v2.6.2, the last node20 build.
# Sets: large (10 x 50 MB), small (200 x 100 KB), and rerun (each tool run
# a second time over the small set: relkit skips what matches; gh's re-run
# is `gh release upload --clobber`, which first asks the fake's GraphQL
# endpoint for the release by tag). For each: wall time, peak RSS, HTTP
# requests the fake saw, and whether it ended with one published release
# holding every asset. Targets: relkit's RSS under 64 MB; at least 2x
# faster than gh and softprops on the small set; no slower than gh on the
# large set.
set -euo pipefail
cd "$(dirname "$0")/../.."

up=${RELKIT_BIN_DIR:-target/release}/relkit-release-upload
fake=${RELKIT_BIN_DIR:-target/release}/relkit-fake-github
for b in "$up" "$fake"; do
  [ -x "$b" ] || { echo "build first: cargo build --release --workspace --bins" >&2; exit 1; }
done
for t in curl /usr/bin/time bc python3 gh socat node; do
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
  # The previous fake's URL must not be read as this one's (issue 15: under
  # load the loop below read the old file before the new fake truncated
  # it, then reported that the fake did not start).
  rm -f "$tmp/fake.url"
  "$fake" --addr 127.0.0.1:0 --token "$token" --blob-dir "$tmp/blobs" \
    --api-prefix /api/v3 --upload-prefix /api/uploads >"$tmp/fake.url.new" 2>"$tmp/fake.log" &
  fake_pid=$!
  for _ in $(seq 1 200); do
    [ "$(wc -l <"$tmp/fake.url.new")" -ge 1 ] && break
    sleep 0.05
  done
  mv "$tmp/fake.url.new" "$tmp/fake.url" 2>/dev/null || true
  api=$(head -n1 "$tmp/fake.url" 2>/dev/null || true)
  [ -n "$api" ] || { echo "relkit-fake-github did not start: $(cat "$tmp/fake.log")" >&2; exit 1; }
}

now() { date +%s.%N; }

softprops=${RELKIT_BENCH_SOFTPROPS:-}
if [ -z "$softprops" ] || [ ! -f "$softprops/dist/index.js" ]; then
  echo "softprops/action-gh-release: skipped (set RELKIT_BENCH_SOFTPROPS to a folder holding its built dist/index.js)"
  softprops=""
fi

# gh talks to the fake through a unix socket that socat bridges to its port.
socat_pid=""
gh_host=""
start_bridge() {
  stop_bridge
  gh_host=${api#http://}; gh_host=${gh_host%%/*}
  local port=${gh_host##*:}
  rm -f "$tmp/gh.sock"
  socat "UNIX-LISTEN:$tmp/gh.sock,fork" "TCP:127.0.0.1:$port" &
  socat_pid=$!
  for _ in $(seq 1 100); do [ -S "$tmp/gh.sock" ] && break; sleep 0.02; done
  mkdir -p "$tmp/gh-config"
  printf 'http_unix_socket: %s\n' "$tmp/gh.sock" >"$tmp/gh-config/config.yml"
}
stop_bridge() {
  if [ -n "$socat_pid" ]; then kill "$socat_pid" 2>/dev/null || true; wait "$socat_pid" 2>/dev/null || true; socat_pid=""; fi
}
trap 'stop_bridge; stop_fake; rm -rf "$tmp"' EXIT

# One tool's command for a set: tool_cmd TOOL SET [rerun]
tool_run() {
  local tool=$1 set=$2 again=${3:-}
  local files=("$tmp/$set"/*.bin)
  case $tool in
    relkit)
      GITHUB_TOKEN=$token "$up" --repo octo/demo --api-url "$api" --tag v1.0.0 "${files[@]}" ;;
    gh)
      if [ -n "$again" ]; then
        GH_HOST=$gh_host GH_ENTERPRISE_TOKEN=$token GH_CONFIG_DIR=$tmp/gh-config GH_PROMPT_DISABLED=1 gh release upload v1.0.0 --clobber -R "$gh_host/octo/demo" "${files[@]}"
      else
        GH_HOST=$gh_host GH_ENTERPRISE_TOKEN=$token GH_CONFIG_DIR=$tmp/gh-config GH_PROMPT_DISABLED=1 gh release create v1.0.0 --title v1.0.0 --notes "" -R "$gh_host/octo/demo" "${files[@]}"
      fi ;;
    softprops)
      GITHUB_API_URL=$api GITHUB_REPOSITORY=octo/demo GITHUB_REF=refs/tags/v1.0.0 GITHUB_WORKSPACE=$tmp/$set \
        INPUT_TOKEN=$token INPUT_TAG_NAME=v1.0.0 INPUT_FILES="$tmp/$set/*.bin" INPUT_DRAFT=false INPUT_PRERELEASE=false \
        INPUT_OVERWRITE_FILES=true INPUT_FAIL_ON_UNMATCHED_FILES=true INPUT_GENERATE_RELEASE_NOTES=false \
        INPUT_PRESERVE_ORDER=false INPUT_MAKE_LATEST=true node "$softprops/dist/index.js" ;;
    curl)
      local auth=(-H "Authorization: Bearer $token" -H "Accept: application/vnd.github+json")
      local release id upload
      release=$(curl -sS -f "${auth[@]}" -X POST "$api/repos/octo/demo/releases" -d '{"tag_name":"v1.0.0","name":"v1.0.0","draft":true}')
      id=$(printf '%s' "$release" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
      upload=$(printf '%s' "$release" | python3 -c 'import json,sys; print(json.load(sys.stdin)["upload_url"].split("{")[0])')
      for f in "${files[@]}"; do
        curl -sS -f "${auth[@]}" -H "Content-Type: application/octet-stream" -X POST -T "$f" "$upload?name=$(basename "$f")" -o /dev/null
      done
      curl -sS -f "${auth[@]}" -X PATCH "$api/repos/octo/demo/releases/$id" -d '{"draft":false}' -o /dev/null ;;
  esac
}

# measure_tool TOOL SET: sets result="seconds rss_kb requests verdict".
measure_tool() {
  local tool=$1 set=$2 mode=${3:-}
  start_fake
  [ "$tool" = gh ] && start_bridge
  if [ "$mode" = rerun ]; then
    tool_run "$tool" "$set" >/dev/null 2>&1 || true
  fi
  local before
  before=$(curl -sS "$api/_fake/log" | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if not e["path"].startswith("/_fake")))')
  local t0 t1 rc=0
  t0=$(now)
  export -f tool_run
  export tmp token up api softprops gh_host
  /usr/bin/time -f '%M' -o "$tmp/time.txt" bash -c "tool_run $tool $set $mode" >"$tmp/$tool.log" 2>&1 || rc=$?
  t1=$(now)
  local rss requests verdict
  rss=$(tail -n1 "$tmp/time.txt")
  requests=$(curl -sS "$api/_fake/log" | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if not e["path"].startswith("/_fake")) - int(sys.argv[1]))' "$before")
  verdict=$(curl -sS "$api/_fake/state" | python3 -c '
import json, os, sys
want = sorted(os.listdir(sys.argv[1]))
rels = [r for r in json.load(sys.stdin)["releases"] if r.get("tag_name") == "v1.0.0"]
pub = [r for r in rels if not r.get("draft")]
if len(rels) != 1 or len(pub) != 1:
    print(f"NO:{len(rels)}-releases,{len(pub)}-published")
else:
    have = sorted(a["name"] for a in pub[0].get("assets", []) if a.get("state", "uploaded") == "uploaded")
    print("yes" if have == want else f"NO:{len(have)}/{len(want)}-assets")
' "$tmp/$set")
  [ "$rc" -eq 0 ] || verdict="FAILED(exit-$rc)"
  stop_bridge
  stop_fake
  result="$(echo "$t1 - $t0" | bc -l) $rss $requests $verdict"
}

# BENCH_TOOLS picks a subset (e.g. "relkit gh"); softprops joins when found.
read -r -a tools <<<"${BENCH_TOOLS:-relkit gh curl}"
[ -n "$softprops" ] && tools+=(softprops)
runs=${BENCH_RUNS:-3}
printf '%-22s %-10s %9s %9s %9s  %s\n' "set" "tool" "median s" "RSS MB" "requests" "one published release with every asset"
for set in large small rerun; do
  case $set in
    large) label="large ($large_n x $large_mb MB)"; dir=large; mode="" ;;
    small) label="small ($small_n x $small_kb KB)"; dir=small; mode="" ;;
    rerun) label="re-run (small set)"; dir=small; mode=rerun ;;
  esac
  declare -A secs=() rss=() reqs=() verdicts=()
  for ((k = 0; k < runs; k++)); do
    for tool in "${tools[@]}"; do
      [ "$tool" = curl ] && [ "$set" = rerun ] && continue
      measure_tool "$tool" "$dir" "$mode"
      read -r s r q v <<<"$result"
      secs[$tool]+="$s "; rss[$tool]="$r"; reqs[$tool]="$q"; verdicts[$tool]="$v"
    done
  done
  for tool in "${tools[@]}"; do
    [ -n "${secs[$tool]:-}" ] || continue
    med=$(echo "${secs[$tool]}" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    printf '%-22s %-10s %9.2f %9.1f %9s  %s\n' "$label" "$tool" "$med" "$(echo "${rss[$tool]} / 1024" | bc -l)" "${reqs[$tool]}" "${verdicts[$tool]}"
    eval "med_$tool=$med"
  done
  # shellcheck disable=SC2154 # med_TOOL are set by the eval above.
  echo "  => relkit is $(echo "scale=2; $med_gh / $med_relkit" | bc -l)x faster than gh$([ -n "$softprops" ] && echo ", $(echo "scale=2; $med_softprops / $med_relkit" | bc -l)x faster than softprops")"
  unset secs rss reqs verdicts
done
echo "($runs runs per tool and set, interleaved; medians. $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
