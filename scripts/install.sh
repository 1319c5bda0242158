#!/usr/bin/env bash
# Installs relkit's helpers for the action and prints the folder holding
# them (the last line of stdout; logs go to stderr).
#
#   install.sh MODE ACTION_PATH [VERSION] [ACTION_REPOSITORY] [ACTION_REF]
#
# MODE prebuilt: install relkit VERSION of the action's own release with
#   scripts/relkit-installer.sh, the installer relkit generates for every
#   release (this one is relkit's own, with relkit.pub written in): it
#   downloads relkit-VERSION-TARGET.tar.gz (.zip on Windows) with SHA256SUMS
#   and SHA256SUMS.minisig, checks the signature and the archive's sha256,
#   and unpacks it; this script puts it in the tool cache.
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
#   RELKIT_INSTALL_VERIFIER    minisign | openssl | relkit [default: the first available;
#                              relkit = relkit-sign built from the action's source]
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

# Without minisign or OpenSSL 3 (macOS runners ship LibreSSL), a `minisign`
# on PATH that checks with relkit-sign built from the action's own source.
relkit_minisign() { # dir
  cat >"$1/minisign" <<SH
#!/bin/sh
# minisign -V -P KEY -m FILE [-x FILE.minisig], through relkit-sign.
while [ \$# -gt 0 ]; do
  case "\$1" in
    -P) key=\$2; shift 2 ;;
    -m) file=\$2; shift 2 ;;
    *) shift ;;
  esac
done
exec cargo run --quiet --locked --release --manifest-path '$action_path/Cargo.toml' -p relkit-sign -- verify --public-key-string "\$key" "\$file"
SH
  chmod 755 "$1/minisign"
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
# The download and every check are relkit's generated installer's:
# scripts/relkit-installer.sh is the installer of relkit's own release
# (the same template every relkit release publishes, with relkit.pub in it).
install_prebuilt() {
  local dest base t rc pub
  dest="$cache_root/relkit/$version/$target"
  if [ -f "$dest.complete" ] && { [ -x "$dest/bin/relkit" ] || [ -f "$dest/bin/relkit.exe" ]; }; then
    log "using cached relkit $version ($dest)"
    printf '%s\n' "$dest/bin"
    return 0
  fi
  base=${RELKIT_INSTALL_BASE_URL:-${GITHUB_SERVER_URL:-https://github.com}/${action_repository:-$upstream}/releases/download/v$version}
  pub=${RELKIT_INSTALL_PUBLIC_KEY:-$action_path/relkit.pub}
  [ -f "$pub" ] || die "the minisign public key \`$pub\` does not exist"
  t=$(mktemp -d "$cache_root/.relkit-download.XXXXXX")
  # shellcheck disable=SC2064 # expand now
  trap "rm -rf '$t'" EXIT
  if [ "${RELKIT_INSTALL_VERIFIER:-}" = relkit ] ||
    { [ -z "${RELKIT_INSTALL_VERIFIER:-}" ] && ! command -v minisign >/dev/null 2>&1 &&
      ! openssl version 2>/dev/null | grep -q '^OpenSSL [3-9]'; }; then
    mkdir -p "$t/verifier"
    relkit_minisign "$t/verifier"
    export PATH="$t/verifier:$PATH" RELKIT_INSTALL_VERIFIER=minisign
  fi
  log "installing relkit $version for $target from $base"
  rc=0
  RELKIT_INSTALL_VERSION=$version RELKIT_INSTALL_PUBLIC_KEY=$pub \
    sh "$action_path/scripts/relkit-installer.sh" --to "$t/bin" --target "$target" --base-url "$base" 2>"$t/log" || rc=$?
  sed 's/^/  /' "$t/log" >&2
  case "$rc" in
    0) ;;
    4)
      prebuilt_missing=1
      return 0
      ;;
    *) die "$(sed -n 's/^relkit installer: error: //p' "$t/log" | tail -n 1)" ;;
  esac
  link_helpers "$t/bin"
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest" "$dest.complete"
  mkdir -p "$dest"
  mv "$t/bin" "$dest/bin"
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
