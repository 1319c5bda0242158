#!/usr/bin/env bash
# Installs relkit's helpers for the action and prints the folder holding
# them (the last line of stdout; logs go to stderr).
#
#   install.sh MODE ACTION_PATH [VERSION] [ACTION_REPOSITORY] [ACTION_REF]
#
# MODE prebuilt: download relkit-VERSION-TARGET.tar.gz (.zip on Windows) of
#   the action's own release with its SHA256SUMS and SHA256SUMS.minisig,
#   verify the signature with the minisign public key committed in the
#   action (relkit.pub) and the archive's sha256, unpack into the tool cache.
# MODE source: `cargo install --locked --path` from the action's checkout.
# MODE auto: prebuilt when there is one to get (a version was asked for, or
#   the action runs from a version tag of the upstream repository), falling
#   back to source only when the release has no such archive (HTTP 404): a
#   SHA ref, a branch, a fork, `uses: ./`. A bad signature or checksum stops
#   the job; it never falls back.
#
# Environment:
#   RELKIT_INSTALL_BASE_URL    folder URL of the release files
#                              [default: $GITHUB_SERVER_URL/REPO/releases/download/vVERSION]
#   RELKIT_INSTALL_PUBLIC_KEY  minisign public key file [default: ACTION_PATH/relkit.pub]
#   RELKIT_INSTALL_TARGET      target triple to download [default: this machine's]
#   RELKIT_INSTALL_VERIFIER    minisign | openssl | relkit [default: the first available]
#   RUNNER_TOOL_CACHE          cache root [default: $TMPDIR/relkit-tool-cache]
set -euo pipefail

die() {
  local msg="$*"
  msg=${msg//'%'/'%25'}
  msg=${msg//$'\r'/'%0D'}
  msg=${msg//$'\n'/'%0A'}
  printf '::error title=relkit install::%s\n' "$msg" >&2
  exit 1
}
log() { printf 'relkit install: %s\n' "$*" >&2; }

mode=${1:-}
action_path=${2:-}
version=${3:-}
action_repository=${4:-}
action_ref=${5:-}
upstream=relkit/relkit

case "$mode" in auto | prebuilt | source) ;; *) die "install mode \`$mode\` is not auto, prebuilt or source" ;; esac
[ -n "$action_path" ] && [ -d "$action_path" ] || die "the action's folder \`$action_path\` does not exist"
action_path=$(cd "$action_path" && pwd)
cache_root=${RUNNER_TOOL_CACHE:-${TMPDIR:-/tmp}/relkit-tool-cache}
mkdir -p "$cache_root" || die "cannot create the tool cache \`$cache_root\`"

host_target() {
  if [ -n "${RELKIT_INSTALL_TARGET:-}" ]; then
    printf '%s\n' "$RELKIT_INSTALL_TARGET"
    return
  fi
  local os arch
  arch=$(uname -m)
  case "$arch" in x86_64 | amd64) arch=x86_64 ;; aarch64 | arm64) arch=aarch64 ;; *) die "no prebuilt relkit for the CPU \`$arch\`" ;; esac
  case "$(uname -s)" in
    Linux) os=unknown-linux-gnu ;;
    Darwin) os=apple-darwin ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT) os=pc-windows-msvc ;;
    *) die "no prebuilt relkit for the OS \`$(uname -s)\`" ;;
  esac
  printf '%s-%s\n' "$arch" "$os"
}

cargo_version() {
  sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$action_path/Cargo.toml" | head -n1
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  fi
}

# Download $1 to $2. Returns 0, or 4 for HTTP 404; anything else is fatal.
fetch() {
  local code
  code=$(curl -sS -L --retry 3 --retry-delay 2 --proto '=https,http' -o "$2" -w '%{http_code}' "$1") ||
    die "downloading \`$1\` failed (curl exit $?)"
  case "$code" in
    200) return 0 ;;
    404) return 4 ;;
    *) die "downloading \`$1\` failed: HTTP $code" ;;
  esac
}

# minisign verification without trusting anything downloaded: the system
# minisign CLI, else openssl 3 (Ed25519 over the BLAKE2b-512 prehash, as
# minisign does), else relkit-sign built from the action's own source.
verify_minisig() { # file sig pubkey
  local file=$1 sig=$2 pub=$3 how=${RELKIT_INSTALL_VERIFIER:-}
  if [ -z "$how" ]; then
    if command -v minisign >/dev/null 2>&1; then
      how=minisign
    elif openssl version 2>/dev/null | grep -q '^OpenSSL [3-9]'; then
      how=openssl
    else
      how=relkit
    fi
  fi
  log "verifying $(basename "$file") with $how"
  case "$how" in
    minisign) minisign -V -q -p "$pub" -m "$file" -x "$sig" >&2 ;;
    openssl) verify_with_openssl "$file" "$sig" "$pub" ;;
    relkit)
      (cd "$action_path" && cargo run --quiet --locked --release -p relkit-sign -- verify --public-key "$pub" "$file") >&2 ||
        return 1
      # relkit-sign reads FILE.minisig next to the file.
      ;;
    *) die "RELKIT_INSTALL_VERIFIER \`$how\` is not minisign, openssl or relkit" ;;
  esac
}

b64d() { openssl base64 -d -A; }

verify_with_openssl() { # file sig pubkey
  local t rc=0
  t=$(mktemp -d)
  openssl_check "$1" "$2" "$3" "$t" || rc=$?
  rm -rf "$t"
  return "$rc"
}

openssl_check() { # file sig pubkey tmpdir
  local file=$1 sig=$2 pub=$3 t=$4
  sed -n 2p "$pub" | tr -d '\r' | b64d >"$t/pk" || return 1
  sed -n 2p "$sig" | tr -d '\r' | b64d >"$t/sig" || return 1
  sed -n 3p "$sig" | tr -d '\r' | sed 's/^trusted comment: //' | tr -d '\n' >"$t/comment"
  sed -n 4p "$sig" | tr -d '\r' | b64d >"$t/global" || return 1
  [ "$(wc -c <"$t/pk")" -eq 42 ] && [ "$(wc -c <"$t/sig")" -eq 74 ] && [ "$(wc -c <"$t/global")" -eq 64 ] || return 1
  # Key ids (bytes 3-10) must match.
  [ "$(dd if="$t/pk" bs=1 skip=2 count=8 2>/dev/null | od -An -tx1)" = "$(dd if="$t/sig" bs=1 skip=2 count=8 2>/dev/null | od -An -tx1)" ] || return 1
  { printf '\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00'; dd if="$t/pk" bs=1 skip=10 count=32 2>/dev/null; } >"$t/pk.der"
  dd if="$t/sig" bs=1 skip=10 count=64 2>/dev/null >"$t/ed"
  case "$(head -c 2 "$t/sig")" in
    ED) openssl dgst -blake2b512 -binary "$file" >"$t/msg" ;;
    Ed) cp "$file" "$t/msg" ;;
    *) return 1 ;;
  esac
  openssl pkeyutl -verify -pubin -keyform DER -inkey "$t/pk.der" -rawin -in "$t/msg" -sigfile "$t/ed" >/dev/null 2>&1 || return 1
  cat "$t/ed" "$t/comment" >"$t/gmsg"
  openssl pkeyutl -verify -pubin -keyform DER -inkey "$t/pk.der" -rawin -in "$t/gmsg" -sigfile "$t/global" >/dev/null 2>&1 || return 1
}

# relkit is one multi-call binary: `relkit-package` (a link to it) runs
# `relkit package`. Make the links, or copies where links are not possible.
link_helpers() { # bin-dir
  local h exe=""
  [ -f "$1/relkit.exe" ] && exe=.exe
  for h in checksum package manifest provider-bundle sign release-upload; do
    rm -f "$1/relkit-$h$exe"
    ln -s "relkit$exe" "$1/relkit-$h$exe" 2>/dev/null || cp "$1/relkit$exe" "$1/relkit-$h$exe"
  done
}

# Sets prebuilt_missing=1 when the release has no prebuilt archive (HTTP 404).
install_prebuilt() {
  local ext archive dest base pub t stem want got rc
  case "$target" in *windows*) ext=zip ;; *) ext=tar.gz ;; esac
  stem="relkit-$version-$target"
  archive="$stem.$ext"
  dest="$cache_root/relkit/$version/$target"
  if [ -f "$dest.complete" ] && { [ -x "$dest/bin/relkit" ] || [ -f "$dest/bin/relkit.exe" ]; }; then
    log "using cached relkit $version ($dest)"
    printf '%s\n' "$dest/bin"
    return 0
  fi
  base=${RELKIT_INSTALL_BASE_URL:-${GITHUB_SERVER_URL:-https://github.com}/${action_repository:-$upstream}/releases/download/v$version}
  base=${base%/}
  pub=${RELKIT_INSTALL_PUBLIC_KEY:-$action_path/relkit.pub}
  [ -f "$pub" ] || die "the minisign public key \`$pub\` does not exist"
  t=$(mktemp -d "$cache_root/.relkit-download.XXXXXX")
  # shellcheck disable=SC2064 # expand now
  trap "rm -rf '$t'" EXIT
  log "downloading $base/$archive"
  rc=0
  fetch "$base/$archive" "$t/$archive" || rc=$?
  if [ "$rc" -eq 4 ]; then
    prebuilt_missing=1
    return 0
  fi
  fetch "$base/SHA256SUMS" "$t/SHA256SUMS" || die "\`$base/SHA256SUMS\` is missing: cannot verify \`$archive\`"
  fetch "$base/SHA256SUMS.minisig" "$t/SHA256SUMS.minisig" ||
    die "\`$base/SHA256SUMS.minisig\` is missing: cannot verify \`$archive\`"
  verify_minisig "$t/SHA256SUMS" "$t/SHA256SUMS.minisig" "$pub" ||
    die "bad signature: \`SHA256SUMS.minisig\` from \`$base\` does not verify with the public key \`$pub\`; refusing to install"
  want=$(awk -v n="$archive" '$2 == n || $2 == "*" n { print $1 }' "$t/SHA256SUMS" | head -n1)
  [ -n "$want" ] || die "\`SHA256SUMS\` from \`$base\` does not list \`$archive\`; refusing to install"
  got=$(sha256_of "$t/$archive")
  [ "$got" = "$want" ] ||
    die "checksum mismatch: \`$archive\` has sha256 $got but the signed SHA256SUMS says $want; refusing to install"
  mkdir -p "$t/x"
  if [ "$ext" = zip ]; then
    unzip -q "$t/$archive" -d "$t/x" || die "cannot unpack \`$archive\`"
  else
    tar -xzf "$t/$archive" -C "$t/x" || die "cannot unpack \`$archive\`"
  fi
  [ -d "$t/x/$stem" ] || die "\`$archive\` has no top-level folder \`$stem\`"
  mkdir -p "$t/x/$stem/bin"
  find "$t/x/$stem" -maxdepth 1 -type f -name 'relkit*' -exec mv {} "$t/x/$stem/bin/" \;
  [ -f "$t/x/$stem/bin/relkit" ] || [ -f "$t/x/$stem/bin/relkit.exe" ] || die "\`$archive\` holds no \`relkit\` binary"
  link_helpers "$t/x/$stem/bin"
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest" "$dest.complete"
  mv "$t/x/$stem" "$dest"
  : >"$dest.complete"
  log "installed relkit $version to $dest"
  printf '%s\n' "$dest/bin"
}

install_source() {
  local key dest
  command -v cargo >/dev/null 2>&1 || die "building relkit from source needs cargo on PATH (or use a released version of the action)"
  [ -f "$action_path/Cargo.lock" ] || die "\`$action_path\` is not a relkit source tree (no Cargo.lock)"
  # Key the cache by the source itself, so any change rebuilds.
  key=$(cd "$action_path" && find Cargo.toml Cargo.lock crates -type f ! -path '*/target/*' -print | LC_ALL=C sort |
    while IFS= read -r f; do sha256_of "$f"; done | sha256_of /dev/stdin | cut -c1-16)
  dest="$cache_root/relkit/source-$key/$(uname -s)-$(uname -m)"
  if [ -f "$dest.complete" ]; then
    log "using relkit built from source ($dest)"
    printf '%s\n' "$dest/bin"
    return 0
  fi
  log "building relkit from source in $action_path (no prebuilt for this ref)"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache_root/relkit/.build}"
  cargo install --locked --quiet --force --root "$dest" --path "$action_path/crates/relkit" >&2 ||
    die "\`cargo install --locked --path crates/relkit\` failed"
  link_helpers "$dest/bin"
  : >"$dest.complete"
  printf '%s\n' "$dest/bin"
}

if [ "$mode" = auto ] && [ -z "$version" ]; then
  # Only a version tag of the upstream action has a prebuilt that matches its source.
  if [ "${action_repository:-}" = "$upstream" ] && [[ "$action_ref" =~ ^v[0-9]+(\.[0-9]+){0,2}$ ]]; then
    version=$(cargo_version)
  else
    log "action ref \`${action_ref:-local}\` of \`${action_repository:-this repository}\` has no prebuilt; building from source"
    mode=source
  fi
fi
if [ "$mode" != source ]; then
  version=${version#v}
  [ -n "$version" ] || version=$(cargo_version)
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] || die "relkit-version \`$version\` is not a version like 1.2.3"
  target=$(host_target)
  prebuilt_missing=0
  install_prebuilt
  [ "$prebuilt_missing" -eq 1 ] || exit 0
  [ "$mode" = auto ] || die "no prebuilt relkit $version for $target (HTTP 404) and install is \`prebuilt\`"
  printf '::notice title=relkit install::no prebuilt relkit %s for %s; building from source\n' "$version" "$target" >&2
fi
install_source
