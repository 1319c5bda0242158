#!/bin/sh
# Installer for relkit 0.1.0, written by relkit 0.1.0 for this release.
#
#   curl -fsSL https://github.com/relkit/relkit/releases/download/v0.1.0/relkit-installer.sh | sh
#   curl -fsSL https://github.com/relkit/relkit/releases/download/v0.1.0/relkit-installer.sh | sh -s -- --to ~/bin
#
# It picks the archive for this machine, downloads it with SHA256SUMS and
# SHA256SUMS.minisig, checks the signature with the public key below (with
# minisign, else OpenSSL 3), then the archive's sha256 against SHA256SUMS,
# and only then unpacks it and installs the binaries. Any mismatch stops it
# before anything is installed.
#
# Options (or environment variables):
#   --to DIR           RELKIT_INSTALL_DIR       where to install [default: ~/.local/bin]
#   --target TARGET    RELKIT_INSTALL_TARGET    the build to install [default: this machine's]
#   --version VERSION  RELKIT_INSTALL_VERSION   another release, named and signed alike
#   --base-url URL     RELKIT_INSTALL_BASE_URL  where the release files are
#   --verifier WHICH   RELKIT_INSTALL_VERIFIER  minisign or openssl [default: the first found]
#   --public-key-file F  RELKIT_INSTALL_PUBLIC_KEY  check with this minisign key instead
#
# Exit status: 0 installed; 1 refused or failed (nothing installed); 4 the
# release or its archive for this machine is not there (HTTP 404). Works with sh (dash, bash, busybox
# ash), curl or wget, and sha256sum, shasum or openssl.
set -u

NAME='relkit'
VERSION='0.1.0'
TAG='v0.1.0'
BASE_URL='https://github.com/relkit/relkit/releases/download/v0.1.0'
# The minisign public key SHA256SUMS is signed with (empty: this release is
# not signed, and only the checksums are checked).
PUBLIC_KEY='RWTRAYBFeghG5505BNMwCntWcf+KG9h2GqA96KLxkO1rj3K7BIImrBtD'
# One build per line: target, os, arch, C library (gnu, musl or any), the
# oldest glibc it runs on (- when none), the archive, then the binaries.
BUILDS='
aarch64-apple-darwin darwin arm64 any - relkit-0.1.0-aarch64-apple-darwin.tar.gz relkit-0.1.0-aarch64-apple-darwin/relkit
aarch64-unknown-linux-gnu linux arm64 gnu - relkit-0.1.0-aarch64-unknown-linux-gnu.tar.gz relkit-0.1.0-aarch64-unknown-linux-gnu/relkit
x86_64-apple-darwin darwin amd64 any - relkit-0.1.0-x86_64-apple-darwin.tar.gz relkit-0.1.0-x86_64-apple-darwin/relkit
x86_64-pc-windows-msvc windows amd64 any - relkit-0.1.0-x86_64-pc-windows-msvc.zip relkit-0.1.0-x86_64-pc-windows-msvc/relkit.exe
x86_64-unknown-linux-gnu linux amd64 gnu - relkit-0.1.0-x86_64-unknown-linux-gnu.tar.gz relkit-0.1.0-x86_64-unknown-linux-gnu/relkit
'

say() { printf '%s installer: %s\n' "$NAME" "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

to=${RELKIT_INSTALL_DIR:-}
want_target=${RELKIT_INSTALL_TARGET:-}
base=${RELKIT_INSTALL_BASE_URL:-}
verifier=${RELKIT_INSTALL_VERIFIER:-}
version=${RELKIT_INSTALL_VERSION:-$VERSION}
key_file=${RELKIT_INSTALL_PUBLIC_KEY:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --to) [ $# -ge 2 ] || die "--to needs a folder"; to=$2; shift 2 ;;
    --target) [ $# -ge 2 ] || die "--target needs a target"; want_target=$2; shift 2 ;;
    --base-url) [ $# -ge 2 ] || die "--base-url needs a URL"; base=$2; shift 2 ;;
    --version) [ $# -ge 2 ] || die "--version needs a version"; version=${2#v}; shift 2 ;;
    --public-key-file) [ $# -ge 2 ] || die "--public-key-file needs a file"; key_file=$2; shift 2 ;;
    --verifier) [ $# -ge 2 ] || die "--verifier needs minisign or openssl"; verifier=$2; shift 2 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" 2>/dev/null
      exit 0
      ;;
    *) die "unknown option \`$1\` (see --help)" ;;
  esac
done
case "$version" in
  *[!0-9A-Za-z.+-]* | '') die "\`$version\` is not a version" ;;
esac
# Another release of the same project: its files are named alike.
tag=$TAG
if [ "$version" != "$VERSION" ]; then
  case "$TAG" in
    "v$VERSION") tag="v$version" ;;
    "$VERSION") tag=$version ;;
    *) die "--version needs the release tags to be VERSION or vVERSION (this one is $TAG)" ;;
  esac
fi
if [ -z "$base" ]; then
  [ -n "$BASE_URL" ] || die "no download location: pass --base-url (or set RELKIT_INSTALL_BASE_URL)"
  base=${BASE_URL%/"$TAG"}/$tag
fi
base=${base%/}
if [ -z "$to" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set: pass --to DIR"
  to=$HOME/.local/bin
fi
if [ -n "$key_file" ]; then
  [ -f "$key_file" ] || die "the public key file $key_file does not exist"
  PUBLIC_KEY=$(grep -v '^untrusted comment:' "$key_file" | head -n 1 | tr -d '\r')
  [ -n "$PUBLIC_KEY" ] || die "$key_file holds no minisign public key"
fi

# This machine, in the words the builds use.
os=$(uname -s)
case "$os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  FreeBSD) os=freebsd ;;
  NetBSD) os=netbsd ;;
  OpenBSD) os=openbsd ;;
  MINGW* | MSYS* | CYGWIN* | Windows_NT) os=windows ;;
esac
arch=$(uname -m)
case "$arch" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  i386 | i486 | i586 | i686 | x86) arch=386 ;;
  armv6* | armv7* | armhf | arm) arch=arm ;;
  riscv64) arch=riscv64 ;;
  ppc64le) arch=ppc64le ;;
  s390x) arch=s390x ;;
esac
# Apple silicon runs x86_64 builds under Rosetta 2; a shell running under
# Rosetta reports x86_64, so ask the kernel.
if [ "$os" = darwin ] && [ "$arch" = amd64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null)" = 1 ]; then
  arch=arm64
fi
libc=none
glibc=
if [ "$os" = linux ]; then
  glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed -n 's/^glibc \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
  if [ -n "$glibc" ]; then
    libc=gnu
  elif ls /lib/ld-musl-* /usr/lib/ld-musl-* >/dev/null 2>&1; then
    libc=musl
  else
    libc=unknown
  fi
fi

# Whether glibc $1 is older than $2 (both MAJOR.MINOR).
older() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, "."); split(b, y, ".")
    exit !((x[1] + 0 < y[1] + 0) || (x[1] + 0 == y[1] + 0 && x[2] + 0 < y[2] + 0))
  }'
}

# How well a build fits this machine: lower is better, nothing when it cannot run.
rank() { # target os arch libc glibc
  r=
  [ "$2" = "$os" ] || return 0
  if [ "$3" = "$arch" ]; then
    r=0
  elif [ "$arch" = arm64 ] && [ "$3" = amd64 ] && { [ "$os" = darwin ] || [ "$os" = windows ]; }; then
    r=10
  else
    return 0
  fi
  if [ "$os" = linux ]; then
    case "$libc:$4" in
      gnu:gnu | musl:musl | unknown:any) ;;
      gnu:any | musl:any | unknown:musl) r=$((r + 1)) ;;
      gnu:musl | unknown:gnu) r=$((r + 2)) ;;
      *) r= ; return 0 ;;
    esac
    if [ "$4" = gnu ] && [ "$5" != - ] && [ -n "$glibc" ] && older "$glibc" "$5"; then
      say "skipping $1: it needs glibc $5, this machine has $glibc"
      r=
    fi
  elif [ "$os" = windows ]; then
    case "$1" in *-gnu*) r=$((r + 1)) ;; esac
  fi
}

best=
best_rank=
build=
while read -r b_target b_os b_arch b_libc b_glibc b_archive b_bins; do
  [ -n "$b_target" ] || continue
  if [ -n "$want_target" ]; then
    [ "$b_target" = "$want_target" ] || continue
    r=0
  else
    rank "$b_target" "$b_os" "$b_arch" "$b_libc" "$b_glibc"
  fi
  [ -n "$r" ] || continue
  if [ -z "$best_rank" ] || [ "$r" -lt "$best_rank" ]; then
    best_rank=$r
    best=$b_target
    build="$b_archive $b_bins"
  fi
done <<BUILDS_END
$BUILDS
BUILDS_END
if [ -z "$best" ]; then
  if [ -n "$want_target" ]; then
    die "$NAME $VERSION has no build for \`$want_target\`"
  fi
  die "$NAME $VERSION has no build for this machine ($os/$arch${glibc:+, glibc $glibc})"
fi
archive=${build%% *}
bins=${build#* }
if [ "$version" != "$VERSION" ]; then
  # NAME-VERSION-TARGET.EXT and NAME-VERSION-TARGET/BIN, for the other version.
  swap() { printf '%s\n' "$NAME-$version-${1#"$NAME-$VERSION-"}"; }
  archive=$(swap "$archive")
  new_bins=
  for b in $bins; do new_bins="$new_bins $(swap "$b")"; done
  bins=${new_bins# }
fi

need() { command -v "$1" >/dev/null 2>&1; }
# fetch URL FILE: 0, or 4 for HTTP 404, or 1.
if need curl; then
  fetch() {
    code=$(curl -sSL --proto '=https,http' --retry 3 -o "$2" -w '%{http_code}' "$1") || return 1
    case "$code" in
      200) return 0 ;;
      404) return 4 ;;
      *) say "$1: HTTP $code"; return 1 ;;
    esac
  }
elif need wget; then
  fetch() {
    wget -q -S -O "$2" "$1" 2>"$2.headers" && return 0
    if grep -q '^ *HTTP/[0-9.]* 404' "$2.headers"; then return 4; fi
    return 1
  }
else
  die "neither curl nor wget is installed"
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t relkit-install) || die "cannot make a temporary folder"
trap 'rm -rf "$tmp"' EXIT
trap 'rm -rf "$tmp"; exit 130' INT TERM

get() { # name [missing-is-absent]
  rc=0
  fetch "$base/$1" "$tmp/$1" || rc=$?
  case "$rc" in
    0) ;;
    4)
      if [ -n "${2:-}" ]; then
        say "error: $base/$1 is not there (HTTP 404)"
        exit 4
      fi
      die "$base/$1 is missing (HTTP 404); installing nothing"
      ;;
    *) die "downloading $base/$1 failed" ;;
  esac
}

sha256_of() {
  if need sha256sum; then
    sha256sum "$1" | cut -d' ' -f1
  elif need shasum; then
    shasum -a 256 "$1" | cut -d' ' -f1
  elif need openssl; then
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else
    die "no sha256sum, shasum or openssl to check the download with"
  fi
}

# minisign's format, checked with OpenSSL 3: the signature is Ed25519 over
# the file's BLAKE2b-512 hash (prehashed, "ED") or the file ("Ed"); the
# global signature covers the signature and the trusted comment.
b64d() { openssl base64 -d -A; }
openssl_verify() { # file sig
  t=$tmp/openssl
  mkdir -p "$t" || return 1
  printf '%s' "$PUBLIC_KEY" | b64d >"$t/pk" || return 1
  sed -n 2p "$2" | tr -d '\r' | b64d >"$t/sig" || return 1
  sed -n 3p "$2" | tr -d '\r' | sed 's/^trusted comment: //' | tr -d '\n' >"$t/comment"
  sed -n 4p "$2" | tr -d '\r' | b64d >"$t/global" || return 1
  [ "$(wc -c <"$t/pk" | tr -d ' ')" -eq 42 ] || return 1
  [ "$(wc -c <"$t/sig" | tr -d ' ')" -eq 74 ] || return 1
  [ "$(wc -c <"$t/global" | tr -d ' ')" -eq 64 ] || return 1
  [ "$(dd if="$t/pk" bs=1 skip=2 count=8 2>/dev/null | od -An -tx1)" = "$(dd if="$t/sig" bs=1 skip=2 count=8 2>/dev/null | od -An -tx1)" ] || return 1
  { printf '\060\052\060\005\006\003\053\145\160\003\041\000'; dd if="$t/pk" bs=1 skip=10 count=32 2>/dev/null; } >"$t/pk.der"
  dd if="$t/sig" bs=1 skip=10 count=64 2>/dev/null >"$t/ed"
  case "$(head -c 2 "$t/sig")" in
    ED) openssl dgst -blake2b512 -binary "$1" >"$t/msg" || return 1 ;;
    Ed) cp "$1" "$t/msg" ;;
    *) return 1 ;;
  esac
  openssl pkeyutl -verify -pubin -keyform DER -inkey "$t/pk.der" -rawin -in "$t/msg" -sigfile "$t/ed" >/dev/null 2>&1 || return 1
  cat "$t/ed" "$t/comment" >"$t/gmsg"
  openssl pkeyutl -verify -pubin -keyform DER -inkey "$t/pk.der" -rawin -in "$t/gmsg" -sigfile "$t/global" >/dev/null 2>&1
}

get SHA256SUMS absent
if [ -n "$PUBLIC_KEY" ]; then
  get SHA256SUMS.minisig
  if [ -z "$verifier" ]; then
    if need minisign; then
      verifier=minisign
    elif openssl version 2>/dev/null | grep -q '^OpenSSL [3-9]'; then
      verifier=openssl
    else
      die "cannot check the signature: install minisign, or OpenSSL 3 or later"
    fi
  fi
  case "$verifier" in
    minisign) minisign -V -q -P "$PUBLIC_KEY" -m "$tmp/SHA256SUMS" -x "$tmp/SHA256SUMS.minisig" >/dev/null 2>&1 ;;
    openssl) openssl_verify "$tmp/SHA256SUMS" "$tmp/SHA256SUMS.minisig" ;;
    *) die "unknown verifier \`$verifier\` (minisign or openssl)" ;;
  esac || die "bad signature: SHA256SUMS.minisig from $base does not verify with $NAME's public key; installing nothing"
  say "SHA256SUMS: good signature ($verifier)"
else
  say "warning: this release is not signed; checking its SHA256SUMS only"
fi

want=$(awk -v n="$archive" '$2 == n || $2 == "*" n { print $1; exit }' "$tmp/SHA256SUMS")
[ -n "$want" ] || die "SHA256SUMS does not list $archive; installing nothing"
get "$archive" absent
got=$(sha256_of "$tmp/$archive")
[ "$got" = "$want" ] || die "checksum mismatch: $archive has sha256 $got, but SHA256SUMS says $want; installing nothing"
say "$archive: sha256 matches"

mkdir "$tmp/x" || die "cannot make a temporary folder"
case "$archive" in
  *.tar.gz) gzip -dc "$tmp/$archive" | tar -xf - -C "$tmp/x" ;;
  *.tar.xz) xz -dc "$tmp/$archive" | tar -xf - -C "$tmp/x" ;;
  *.tar.zst) zstd -dcq "$tmp/$archive" | tar -xf - -C "$tmp/x" ;;
  *.zip) unzip -q "$tmp/$archive" -d "$tmp/x" ;;
  *) false ;;
esac || die "cannot unpack $archive"
for b in $bins; do
  [ -f "$tmp/x/$b" ] || die "$archive holds no $b; installing nothing"
done
mkdir -p "$to" || die "cannot create $to"
installed=
for b in $bins; do
  name=${b##*/}
  if ! { cp "$tmp/x/$b" "$to/.$name.relkit-new" && chmod 755 "$to/.$name.relkit-new" &&
    mv -f "$to/.$name.relkit-new" "$to/$name"; }; then
    rm -f "$to/.$name.relkit-new"
    die "cannot install $to/$name"
  fi
  installed="$installed $to/$name"
done
say "installed $NAME $version ($best):$installed"
case ":${PATH:-}:" in
  *":$to:"*) ;;
  *) say "note: $to is not on your PATH" ;;
esac
