#!/usr/bin/env bash
# Installs the released strata binary of INPUT_VERSION, verified against the release's
# SHA256SUMS (and INPUT_SHA256 when given), into the runner's tool cache, and puts it on
# PATH for the job's later steps.
#
# Inputs (environment):
#   INPUT_VERSION      release version, `0.1.0` or `v0.1.0` (required)
#   INPUT_RELEASE_URL  base URL of the releases: <base>/v<version>/<asset>; default
#                      $GITHUB_SERVER_URL/<action repository>/releases/download
#   INPUT_SHA256       optional: the binary's expected SHA-256, pinned in the workflow
#   ACTION_REPOSITORY  github.action_repository (empty in some composite-action contexts:
#                      then taken from GITHUB_ACTION_PATH, .../_actions/<owner>/<repo>/<ref>)
#   RUNNER_TOOL_CACHE or RUNNER_TEMP   where to install
# Outputs: bin (the directory holding `strata`), version.
set -euo pipefail
# shellcheck source=action/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

os=$(uname -s)
arch=$(uname -m)
if [ "$os" != Linux ] || [ "$arch" != x86_64 ]; then
  die "strata's action runs on Linux x86_64 runners only (this runner is $os $arch); use runs-on: ubuntu-latest"
fi
need curl "downloads the release"
need sha256sum "verifies the download"

version=${INPUT_VERSION:-}
version=${version#v}
[ -n "$version" ] || die "the version input is required (a release, e.g. 0.1.0)"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] ||
  die "version '$INPUT_VERSION' is not a release version such as 0.1.0"

pinned=${INPUT_SHA256:-}
pinned=${pinned,,}
if [ -n "$pinned" ] && ! [[ $pinned =~ ^[0-9a-f]{64}$ ]]; then
  die "sha256 '$INPUT_SHA256' is not a SHA-256 (64 hex digits)"
fi

target=x86_64-unknown-linux-gnu
asset="strata-v$version-$target"

if [ -n "${RUNNER_TOOL_CACHE:-}" ]; then
  dest="$RUNNER_TOOL_CACHE/strata/$version/x64"
elif [ -n "${RUNNER_TEMP:-}" ]; then
  dest="$RUNNER_TEMP/strata/$version/bin"
else
  die "neither RUNNER_TOOL_CACHE nor RUNNER_TEMP is set: nowhere to install"
fi
# The tool cache's convention: <tool>/<version>/<arch>.complete once an install finished.
# It holds the binary's SHA-256, checked again on reuse.
complete="$dest.complete"

publish() {
  if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n' "$dest" >>"$GITHUB_PATH"
  fi
  set_output bin "$dest"
  set_output version "$version"
  "$dest/strata" --version
}

if [ -x "$dest/strata" ] && [ -f "$complete" ]; then
  cached=$(sha256sum "$dest/strata" | cut -d' ' -f1)
  if [ "$cached" = "$(cat "$complete")" ] && { [ -z "$pinned" ] || [ "$pinned" = "$cached" ]; } &&
    [ "$("$dest/strata" --version)" = "strata $version" ]; then
    echo "strata $version is already installed in $dest"
    publish
    exit 0
  fi
  echo "the strata $version in $dest does not match its record; installing it again"
fi

base=${INPUT_RELEASE_URL:-}
if [ -z "$base" ]; then
  repo=${ACTION_REPOSITORY:-}
  if [ -z "$repo" ] && [[ ${GITHUB_ACTION_PATH:-} =~ /_actions/([^/]+)/([^/]+)/ ]]; then
    repo="${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
  fi
  [ -n "$repo" ] || die "cannot tell which repository publishes strata's releases: set the release-url input"
  base="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download"
fi
base=${base%/}
url="$base/v$version"

tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/strata-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fetch() {
  echo "downloading $url/$1"
  curl --fail --location --silent --show-error --retry 3 --retry-delay 2 \
    --connect-timeout 20 --output "$tmp/$1" "$url/$1" ||
    die "could not download $url/$1 (is v$version released, with this asset?)"
}
fetch SHA256SUMS
fetch "$asset"

# sha256sum's format: "<hash>  <name>" (or "<hash> *<name>" for binary mode).
expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print tolower($1) }' "$tmp/SHA256SUMS" | sort -u)
[ -n "$expected" ] || die "SHA256SUMS of v$version has no entry for $asset: refusing to install"
[ "$(printf '%s\n' "$expected" | wc -l)" -eq 1 ] ||
  die "SHA256SUMS of v$version has conflicting entries for $asset: refusing to install"
[[ $expected =~ ^[0-9a-f]{64}$ ]] || die "SHA256SUMS of v$version has a malformed entry for $asset"
actual=$(sha256sum "$tmp/$asset" | cut -d' ' -f1)
[ "$actual" = "$expected" ] ||
  die "checksum mismatch for $asset: SHA256SUMS says $expected, the download is $actual; refusing to install"
if [ -n "$pinned" ] && [ "$actual" != "$pinned" ]; then
  die "checksum mismatch for $asset: the sha256 input says $pinned, the download is $actual; refusing to install"
fi
echo "$asset: checksum verified ($actual)"

chmod 0755 "$tmp/$asset"
reported=$("$tmp/$asset" --version) || die "the downloaded $asset does not run on this runner"
[ "$reported" = "strata $version" ] ||
  die "the downloaded $asset reports '$reported', not 'strata $version': refusing to install"

mkdir -p "$dest"
rm -f "$complete"
# Copied beside its place, then renamed: a concurrent job never runs a half-written file.
cp "$tmp/$asset" "$dest/.strata.$$"
mv -f "$dest/.strata.$$" "$dest/strata"
printf '%s\n' "$actual" >"$complete"
publish
