#!/usr/bin/env bash
# The body of action.yml: validate the inputs (INPUT_* environment
# variables), install relkit, run one helper, write the step outputs.
#
# Inputs are data, never code: each value reaches the helper as its own
# argv element (bash arrays; no eval, no sh -c), so `"; touch x; echo "` or
# `$(…)` in an input stays a literal string. Secrets are read once, masked,
# removed from the environment and handed only to the helper that needs them.
set -euo pipefail

escape() {
  local s=$1
  s=${s//'%'/'%25'}
  s=${s//$'\r'/'%0D'}
  s=${s//$'\n'/'%0A'}
  printf '%s' "$s"
}
fail() {
  printf '::error title=relkit::%s\n' "$(escape "$*")"
  exit 1
}

# ---------------------------------------------------------------- secrets
token=${INPUT_GITHUB_TOKEN-}
minisign_key=${INPUT_MINISIGN_KEY-}
minisign_password=${INPUT_MINISIGN_PASSWORD-}
gpg_private_key=${INPUT_GPG_PRIVATE_KEY-}
gpg_passphrase=${INPUT_GPG_PASSPHRASE-}
registry_password=${INPUT_REGISTRY_PASSWORD-}
unset INPUT_GITHUB_TOKEN INPUT_MINISIGN_KEY INPUT_MINISIGN_PASSWORD INPUT_GPG_PRIVATE_KEY INPUT_GPG_PASSPHRASE \
  INPUT_REGISTRY_PASSWORD
mask() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    [ -n "${line//[[:space:]]/}" ] && printf '::add-mask::%s\n' "$(escape "$line")"
  done <<<"$1"
  return 0
}
for secret in "$token" "$minisign_key" "$minisign_password" "$gpg_private_key" "$gpg_passphrase" "$registry_password"; do
  [ -z "$secret" ] || mask "$secret"
done
unset secret

# ---------------------------------------------------------------- input helpers
input() { # NAME -> value of INPUT_NAME
  local var="INPUT_$1"
  printf '%s' "${!var-}"
}
one_line() { # input-name value
  case "$2" in *$'\n'* | *$'\r'*) fail "input \`$1\` must be one line" ;; esac
}
need() { # input-name value command
  [ -n "$2" ] || fail "input \`$1\` is required for command \`$3\`"
}
# These helpers return through REPLY / ITEMS (no namerefs: macOS runners
# may run bash 3.2).
bool() { # input-name value -> REPLY=true|false
  case "$2" in
    true | True | TRUE) REPLY=true ;;
    false | False | FALSE | '') REPLY=false ;;
    *) fail "input \`$1\` is \`$2\`; expected true or false" ;;
  esac
}
one_of() { # input-name value allowed...
  local name=$1 value=$2 a
  shift 2
  for a in "$@"; do [ "$value" = "$a" ] && return 0; done
  fail "input \`$name\` is \`$value\`; expected one of: $*"
}
matches() { # input-name value regex what
  [[ "$2" =~ $3 ]] || fail "input \`$1\` is \`$2\`, which is not $4"
}
# Split a multi-line input into ITEMS: one item per line, surrounding
# whitespace trimmed, blank lines skipped.
split_lines() {
  local line
  ITEMS=()
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -n "$line" ] && ITEMS+=("$line")
  done <<<"$1"
  return 0
}
glob_one() { # pattern -> GLOB
  # With IFS empty the pattern is globbed, never word-split or evaluated.
  local IFS=
  # shellcheck disable=SC2206 # globbing is the point
  GLOB=($1)
}
# Like split_lines, but a line holding * ? or [ is a glob that must match.
split_files() { # text input-name -> ITEMS
  local lines=() result=() pat had_nullglob=false
  split_lines "$1"
  lines=(${ITEMS[@]+"${ITEMS[@]}"})
  shopt -q nullglob && had_nullglob=true
  for pat in ${lines[@]+"${lines[@]}"}; do
    if [[ "$pat" == *[\*\?\[]* ]]; then
      shopt -s nullglob
      glob_one "$pat"
      [ "$had_nullglob" = true ] || shopt -u nullglob
      [ "${#GLOB[@]}" -gt 0 ] || fail "\`$pat\` in input \`$2\` matches no file"
      result+=("${GLOB[@]}")
    else
      result+=("$pat")
    fi
  done
  ITEMS=(${result[@]+"${result[@]}"})
  return 0
}
json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}
json_array() {
  local first=1 x
  printf '['
  for x in "$@"; do
    [ $first -eq 1 ] || printf ','
    first=0
    json_string "$x"
  done
  printf ']'
}
set_output() { # name value (single line)
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

# ---------------------------------------------------------------- validate
command=$(input COMMAND)
one_of command "$command" package checksum manifest provider-bundle sign release-upload dist plan build finalize image-push
install=$(input INSTALL)
install=${install:-auto}
one_of install "$install" auto prebuilt source none
relkit_version=$(input RELKIT_VERSION)
one_line relkit-version "$relkit_version"
[ -z "$relkit_version" ] ||
  matches relkit-version "$relkit_version" '^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$' 'a version like 1.2.3'
workdir=$(input WORKING_DIRECTORY)
workdir=${workdir:-.}
one_line working-directory "$workdir"
[ -d "$workdir" ] || fail "input \`working-directory\` is \`$workdir\`, which is not a folder"

mode=$(input MODE)
name=$(input NAME)
version=$(input VERSION)
target=$(input TARGET)
format=$(input FORMAT)
output_dir=$(input OUTPUT_DIR)
output=$(input OUTPUT)
algo=$(input ALGO)
check=$(input CHECK)
manifest=$(input MANIFEST)
tag=$(input TAG)
config=$(input CONFIG)
build_tool=$(input BUILD_TOOL)
public_key=$(input PUBLIC_KEY)
gpg_key_id=$(input GPG_KEY_ID)
provider_name=$(input PROVIDER_NAME)
provider_namespace=$(input PROVIDER_NAMESPACE)
provider_protocol=$(input PROVIDER_PROTOCOL)
repo=$(input REPO)
api_url=$(input API_URL)
release_id=$(input RELEASE_ID)
prerelease=$(input PRERELEASE)
make_latest=$(input MAKE_LATEST)
notes_file=$(input NOTES_FILE)
changelog=$(input CHANGELOG)
cargo_args=$(input CARGO_ARGS)
go_package=$(input GO_PACKAGE)
go_version_variable=$(input GO_VERSION_VARIABLE)
registry_username=$(input REGISTRY_USERNAME)
for pair in name:"$name" version:"$version" target:"$target" format:"$format" output-dir:"$output_dir" \
  output:"$output" algo:"$algo" check:"$check" manifest:"$manifest" tag:"$tag" config:"$config" \
  build-tool:"$build_tool" public-key:"$public_key" gpg-key-id:"$gpg_key_id" provider-name:"$provider_name" \
  provider-namespace:"$provider_namespace" provider-protocol:"$provider_protocol" repo:"$repo" \
  api-url:"$api_url" release-id:"$release_id" prerelease:"$prerelease" make-latest:"$make_latest" \
  notes-file:"$notes_file" mode:"$mode" changelog:"$changelog" cargo-args:"$cargo_args" \
  go-package:"$go_package" go-version-variable:"$go_version_variable" registry-username:"$registry_username"; do
  one_line "${pair%%:*}" "${pair#*:}"
done
unset pair
bool strip "$(input STRIP)"
strip=$REPLY
bool sidecar "$(input SIDECAR)"
sidecar=$REPLY
bool no-build "$(input NO_BUILD)"
no_build=$REPLY
bool draft "$(input DRAFT)"
draft=$REPLY
bool generate-notes "$(input GENERATE_NOTES)"
generate_notes=$REPLY
bool replace "$(input REPLACE)"
replace=$REPLY
bool keep-published "$(input KEEP_PUBLISHED)"
keep_published=$REPLY
bool check-access "$(input CHECK_ACCESS)"
check_access=$REPLY
[ -z "$version" ] || matches version "$version" '^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$' 'a semver version like 1.2.3'
[ -z "$format" ] || one_of format "$format" tar.gz tar.xz tar.zst zip
[ -z "$algo" ] || one_of algo "$algo" sha256 sha512 blake3
[ -z "$build_tool" ] || one_of build-tool "$build_tool" cargo cargo-zigbuild go
[ -z "$release_id" ] || matches release-id "$release_id" '^[0-9]+$' 'a release id (digits)'
[ -z "$repo" ] || matches repo "$repo" '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$' 'OWNER/NAME'
[ -z "$api_url" ] || matches api-url "$api_url" '^https?://[^[:space:]]+$' 'an http(s) URL'
[ -z "$tag" ] || matches tag "$tag" '^[^[:space:][:cntrl:]]+$' 'a tag name (no spaces)'
[ -z "$prerelease" ] || one_of prerelease "$prerelease" auto true false
[ -z "$make_latest" ] || one_of make-latest "$make_latest" true false legacy

cd "$workdir"
split_files "$(input FILES)" files
files=(${ITEMS[@]+"${ITEMS[@]}"})
split_files "$(input INCLUDE)" include
includes=(${ITEMS[@]+"${ITEMS[@]}"})
split_files "$(input ADD)" add
adds=(${ITEMS[@]+"${ITEMS[@]}"})
split_lines "$(input RUNNERS)"
runners=(${ITEMS[@]+"${ITEMS[@]}"})
split_lines "$(input ARGS)"
extra=(${ITEMS[@]+"${ITEMS[@]}"})
binaries_raw=$(input BINARIES)
split_lines "${binaries_raw//[,[:blank:]]/$'\n'}"
binaries=(${ITEMS[@]+"${ITEMS[@]}"})
targets_raw=$(input TARGETS)
split_lines "${targets_raw//[,[:blank:]]/$'\n'}"
targets=(${ITEMS[@]+"${ITEMS[@]}"})

# The signing keys of dist and finalize reach relkit in variables it is told
# the names of (whatever relkit.toml's [sign] says); gpg keys sign the
# Terraform provider's SHA256SUMS through relkit's default variables.
pass_keys() {
  if [ -n "$minisign_key" ]; then
    env_for_helper+=("RELKIT_ACTION_MINISIGN_KEY=$minisign_key")
    args+=(--minisign-key-env RELKIT_ACTION_MINISIGN_KEY)
    if [ -n "$minisign_password" ]; then
      env_for_helper+=("RELKIT_ACTION_MINISIGN_PASSWORD=$minisign_password")
      args+=(--minisign-password-env RELKIT_ACTION_MINISIGN_PASSWORD)
    fi
  fi
  [ -z "$gpg_private_key" ] || env_for_helper+=("RELKIT_GPG_PRIVATE_KEY=$gpg_private_key")
  [ -z "$gpg_passphrase" ] || env_for_helper+=("RELKIT_GPG_PASSPHRASE=$gpg_passphrase")
  return 0
}

# ---------------------------------------------------------------- build argv
args=() # flags for the helper
pos=()  # positional arguments, after `--`
env_for_helper=()
sub=()
case "$command" in
  package)
    need name "$name" package
    need version "$version" package
    need target "$target" package
    [ "${#files[@]}" -gt 0 ] || fail "input \`files\` (the binaries to package) is required for command \`package\`"
    args+=(--name "$name" --version "$version" --target "$target")
    [ -z "$format" ] || args+=(--format "$format")
    for f in ${includes[@]+"${includes[@]}"}; do args+=(--include "$f"); done
    [ "$strip" = false ] || args+=(--strip)
    [ -z "$output_dir" ] || args+=(--output-dir "$output_dir")
    pos=("${files[@]}")
    ;;
  checksum)
    [ -z "$algo" ] || args+=(--algo "$algo")
    if [ -n "$check" ]; then
      [ "${#files[@]}" -eq 0 ] || fail "inputs \`check\` and \`files\` cannot be used together"
      args+=(--check "$check")
    else
      [ "${#files[@]}" -gt 0 ] || fail "input \`files\` (or \`check\`) is required for command \`checksum\`"
      [ -z "$output" ] || args+=(--output "$output")
      [ "$sidecar" = false ] || args+=(--sidecar)
      pos=("${files[@]}")
    fi
    ;;
  manifest)
    mode=${mode:-merge}
    one_of mode "$mode" merge create verify
    sub=("$mode")
    case "$mode" in
      merge)
        [ "${#files[@]}" -gt 0 ] || fail "input \`files\` (the manifest parts) is required for \`manifest\` mode \`merge\`"
        [ -z "$output" ] || args+=(--output "$output")
        for f in ${adds[@]+"${adds[@]}"}; do args+=(--add "$f"); done
        [ -z "$tag" ] || args+=(--tag "$tag")
        pos=("${files[@]}")
        ;;
      create)
        need name "$name" 'manifest create'
        need version "$version" 'manifest create'
        [ "${#files[@]}" -gt 0 ] || fail "input \`files\` is required for \`manifest\` mode \`create\`"
        args+=(--name "$name" --version "$version")
        [ -z "$output" ] || args+=(--output "$output")
        [ -z "$tag" ] || args+=(--tag "$tag")
        pos=("${files[@]}")
        ;;
      verify)
        need manifest "$manifest" 'manifest verify'
        [ -z "$public_key" ] || args+=(--public-key "$public_key")
        pos=("$manifest")
        ;;
    esac
    ;;
  provider-bundle)
    need provider-name "$provider_name" provider-bundle
    need version "$version" provider-bundle
    [ "${#files[@]}" -gt 0 ] || fail "input \`files\` (TARGET=PATH lines) is required for command \`provider-bundle\`"
    args+=(--name "$provider_name" --version "$version")
    for f in "${files[@]}"; do
      [[ "$f" == ?*=?* ]] || fail "\`$f\` in input \`files\` is not TARGET=PATH"
      args+=(--binary "$f")
    done
    [ -z "$provider_namespace" ] || args+=(--namespace "$provider_namespace")
    [ -z "$provider_protocol" ] || args+=(--protocol "$provider_protocol")
    [ -z "$output_dir" ] || args+=(--output-dir "$output_dir")
    [ -z "$gpg_key_id" ] || args+=(--gpg-key-id "$gpg_key_id")
    if [ -n "$gpg_private_key" ]; then
      args+=(--gpg-import-key-env RELKIT_ACTION_GPG_KEY)
      env_for_helper+=("RELKIT_ACTION_GPG_KEY=$gpg_private_key")
    fi
    if [ -n "$gpg_passphrase" ]; then
      args+=(--gpg-passphrase-env RELKIT_ACTION_GPG_PASSPHRASE)
      env_for_helper+=("RELKIT_ACTION_GPG_PASSPHRASE=$gpg_passphrase")
    fi
    ;;
  sign)
    mode=${mode:-minisign}
    one_of mode "$mode" minisign verify gpg
    sub=("$mode")
    [ "${#files[@]}" -gt 0 ] || fail "input \`files\` is required for command \`sign\`"
    case "$mode" in
      minisign)
        need minisign-key "$minisign_key" 'sign minisign'
        args+=(--secret-key-env RELKIT_ACTION_MINISIGN_KEY)
        env_for_helper+=("RELKIT_ACTION_MINISIGN_KEY=$minisign_key")
        if [ -n "$minisign_password" ]; then
          args+=(--password-env RELKIT_ACTION_MINISIGN_PASSWORD)
          env_for_helper+=("RELKIT_ACTION_MINISIGN_PASSWORD=$minisign_password")
        fi
        ;;
      verify)
        need public-key "$public_key" 'sign verify'
        args+=(--public-key "$public_key")
        ;;
      gpg)
        [ -z "$gpg_key_id" ] || args+=(--key-id "$gpg_key_id")
        if [ -n "$gpg_private_key" ]; then
          args+=(--import-key-env RELKIT_ACTION_GPG_KEY)
          env_for_helper+=("RELKIT_ACTION_GPG_KEY=$gpg_private_key")
        fi
        if [ -n "$gpg_passphrase" ]; then
          args+=(--passphrase-env RELKIT_ACTION_GPG_PASSPHRASE)
          env_for_helper+=("RELKIT_ACTION_GPG_PASSPHRASE=$gpg_passphrase")
        fi
        ;;
    esac
    pos=("${files[@]}")
    ;;
  release-upload)
    mode=${mode:-upload}
    one_of mode "$mode" upload create-draft publish
    [ "$mode" = upload ] || sub=("$mode")
    [ -n "$token" ] || fail "input \`github-token\` is empty; release-upload needs a token with contents: write"
    env_for_helper+=("GITHUB_TOKEN=$token")
    args+=(--token-env GITHUB_TOKEN)
    [ -z "$repo" ] || args+=(--repo "$repo")
    [ -z "$tag" ] || args+=(--tag "$tag")
    [ -z "$api_url" ] || args+=(--api-url "$api_url")
    [ -z "$release_id" ] || args+=(--release-id "$release_id")
    if [ "$mode" != create-draft ]; then
      if [ -n "$manifest" ]; then
        [ "${#files[@]}" -eq 0 ] || fail "inputs \`manifest\` and \`files\` cannot be used together"
        args+=(--manifest "$manifest")
      else
        [ "${#files[@]}" -gt 0 ] || fail "input \`files\` or \`manifest\` is required for \`release-upload\` mode \`$mode\`"
        pos=("${files[@]}")
      fi
    fi
    [ "$draft" = false ] || args+=(--draft)
    [ -z "$prerelease" ] || args+=(--prerelease "$prerelease")
    [ -z "$make_latest" ] || args+=(--make-latest "$make_latest")
    [ -z "$notes_file" ] || args+=(--notes-file "$notes_file")
    [ "$generate_notes" = false ] || args+=(--generate-notes)
    [ "$replace" = false ] || args+=(--replace)
    ;;
  dist)
    [ -z "$config" ] || args+=(--config "$config")
    [ -z "$name" ] || args+=(--name "$name")
    [ -z "$version" ] || args+=(--version "$version")
    for t in ${targets[@]+"${targets[@]}"}; do args+=(--target "$t"); done
    for f in ${files[@]+"${files[@]}"}; do args+=(--binary "$f"); done
    for f in ${includes[@]+"${includes[@]}"}; do args+=(--include "$f"); done
    [ -z "$format" ] || args+=(--format "$format")
    [ "$strip" = false ] || args+=(--strip)
    [ -z "$output_dir" ] || args+=(--output-dir "$output_dir")
    [ "$no_build" = false ] || args+=(--no-build)
    [ -z "$tag" ] || args+=(--tag "$tag")
    pass_keys
    ;;
  build)
    need target "$target" build
    args+=(--target "$target")
    [ -z "$config" ] || args+=(--config "$config")
    [ -z "$name" ] || args+=(--name "$name")
    [ -z "$version" ] || args+=(--version "$version")
    [ -z "$build_tool" ] || args+=(--build-tool "$build_tool")
    for b in ${binaries[@]+"${binaries[@]}"}; do args+=(--binary "$b"); done
    [ -z "$cargo_args" ] || args+=("--cargo-args=$cargo_args")
    [ -z "$go_package" ] || args+=(--go-package "$go_package")
    [ -z "$go_version_variable" ] || args+=(--go-version-variable "$go_version_variable")
    ;;
  finalize)
    [ -z "$config" ] || args+=(--config "$config")
    for f in ${files[@]+"${files[@]}"}; do args+=(--input "$f"); done
    [ -z "$output_dir" ] || args+=(--output-dir "$output_dir")
    [ -z "$tag" ] || args+=(--tag "$tag")
    [ -z "$provider_name" ] || args+=(--provider "$provider_name")
    [ -z "$provider_namespace" ] || args+=(--provider-namespace "$provider_namespace")
    [ -z "$provider_protocol" ] || args+=(--provider-protocol "$provider_protocol")
    if [ -n "$changelog" ]; then
      args+=(--changelog "$changelog")
    elif [ -n "$notes_file" ]; then
      args+=(--notes-file "$notes_file")
    fi
    if [ "$keep_published" = true ]; then
      [ -n "$token" ] || fail "input \`github-token\` is empty; keep-published reads the release with it"
      env_for_helper+=("GITHUB_TOKEN=$token")
      args+=(--keep-published --token-env GITHUB_TOKEN)
      [ -z "$repo" ] || args+=(--repo "$repo")
    fi
    pass_keys
    ;;
  image-push)
    # After the release is published: push the image finalize recorded in
    # output-dir (relkit decides what, where and whether).
    sub=(push)
    args+=(--release "${output_dir:-dist}")
    [ -z "$registry_username" ] || env_for_helper+=("RELKIT_REGISTRY_USERNAME=$registry_username")
    [ -z "$registry_password" ] || env_for_helper+=("RELKIT_REGISTRY_PASSWORD=$registry_password")
    # ghcr.io: GITHUB_TOKEN (packages: write) and GITHUB_ACTOR stand in.
    [ -z "$token" ] || env_for_helper+=("GITHUB_TOKEN=$token")
    ;;
  plan)
    [ -z "$config" ] || args+=(--config "$config")
    for t in ${targets[@]+"${targets[@]}"}; do args+=(--target "$t"); done
    [ -z "$name" ] || args+=(--name "$name")
    [ -z "$version" ] || args+=(--version "$version")
    [ -z "$tag" ] || args+=(--tag "$tag")
    for f in ${includes[@]+"${includes[@]}"}; do args+=(--include "$f"); done
    if [ "$check_access" = true ]; then
      [ -n "$token" ] || fail "input \`github-token\` is empty; check-access needs it"
      env_for_helper+=("GITHUB_TOKEN=$token")
      args+=(--check-access)
    fi
    [ -z "$build_tool" ] || args+=(--build-tool "$build_tool")
    for r in ${runners[@]+"${runners[@]}"}; do
      [[ "$r" == ?*=?* ]] || fail "\`$r\` in input \`runners\` is not TARGET=LABEL"
      args+=(--runner "$r")
    done
    ;;
esac
args+=(${extra[@]+"${extra[@]}"})
unset token minisign_key minisign_password gpg_private_key gpg_passphrase registry_password

# ---------------------------------------------------------------- install
if [ "$install" != none ]; then
  [ -n "${RELKIT_ACTION_PATH:-}" ] || fail "RELKIT_ACTION_PATH is not set (run this script through action.yml)"
  bin=$(bash "$RELKIT_ACTION_PATH/scripts/install.sh" "$install" "$RELKIT_ACTION_PATH" "$relkit_version" \
    "${RELKIT_ACTION_REPOSITORY:-}" "${RELKIT_ACTION_REF:-}" | tail -n1)
  [ -n "$bin" ] && [ -d "$bin" ] || fail "installing relkit did not produce a folder of binaries"
  PATH="$bin:$PATH"
  [ -z "${GITHUB_PATH:-}" ] || printf '%s\n' "$bin" >>"$GITHUB_PATH"
else
  relkit_path=$(command -v relkit) || fail "install is \`none\` but \`relkit\` is not on PATH"
  bin=$(dirname "$relkit_path")
fi
set_output relkit-bin "$bin"

case "$command" in
  dist | plan | build | finalize) helper=(relkit "$command") ;;
  image-push) helper=(relkit image) ;;
  *)
    if command -v "relkit-$command" >/dev/null 2>&1; then
      helper=("relkit-$command")
    else
      helper=(relkit "$command")
    fi
    ;;
esac
cmd=("${helper[@]}" ${sub[@]+"${sub[@]}"} ${args[@]+"${args[@]}"})
[ "${#pos[@]}" -eq 0 ] || cmd+=(-- "${pos[@]}")

# ---------------------------------------------------------------- run
printf 'relkit: running %s\n' "${helper[*]} ${sub[*]-}" >&2
status=0
if [ "${#env_for_helper[@]}" -gt 0 ]; then
  env "${env_for_helper[@]}" "${cmd[@]}" || status=$?
else
  "${cmd[@]}" || status=$?
fi
unset env_for_helper
[ "$status" -eq 0 ] || exit "$status"

# ---------------------------------------------------------------- outputs
last_output() { # name -> last single-line value the helper wrote
  [ -n "${GITHUB_OUTPUT:-}" ] && [ -f "$GITHUB_OUTPUT" ] || return 0
  sed -n "s/^$1=//p" "$GITHUB_OUTPUT" | tail -n1
}
case "$command" in
  package)
    set_output archives "$(json_array "$(last_output archive)")"
    ;;
esac
