#!/usr/bin/env bash
# Runs `strata render`, `validate` or `diff` over INPUT_PATHS, from the repository root.
# strata's exit code is an output (exit-code), not this step's status, so that the SARIF
# upload and the PR comment still run after findings; finish.sh passes it on at the end.
#
# Inputs (environment):
#   INPUT_COMMAND      render | validate | diff
#   INPUT_PATHS        overlay directories or globs, separated by spaces or newlines
#   INPUT_ARGS         extra arguments for strata, separated by spaces (no quoting)
#   INPUT_OUT_DIR      render: the --out-dir tree
#   INPUT_SARIF        validate: the SARIF file to write (empty: none)
#   INPUT_ANNOTATIONS  validate: also report findings as workflow annotations
#   INPUT_BASE_REF     diff: the base revision (default origin/$GITHUB_BASE_REF)
#   INPUT_SPLIT        diff: several comments instead of one trimmed to the size limit
#   INPUT_SUMMARY      diff: append the Markdown to the job summary
#   STRATA             the strata binary (default: strata on PATH)
# Outputs: exit-code; out-dir (render); sarif (validate); markdown, markdown-dir,
# markdown-parts (diff).
set -euo pipefail
# shellcheck source=action/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

strata=${STRATA:-strata}
command -v "$strata" >/dev/null 2>&1 || die "strata is not installed (the install step puts it on PATH)"

# Split on spaces and newlines, without glob expansion (render and validate expand globs
# below; strata diff expands them itself, against both revisions).
set -f
# shellcheck disable=SC2206 # splitting is the point
paths=(${INPUT_PATHS:-})
# shellcheck disable=SC2206
args=(${INPUT_ARGS:-})
set +f

# GitHub's limit for one comment is 65536 characters; the rest is room for the hidden marker
# comment.sh adds.
max_bytes=65000

absolute() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$PWD/$1" ;;
  esac
}

# render and validate take directories, not patterns: expand globs here (a pattern that
# matches nothing is an error, not a silently smaller run).
expand_paths() {
  local p matches
  expanded=()
  [ "${#paths[@]}" -gt 0 ] || die "the paths input is required for strata $INPUT_COMMAND (overlay directories or globs)"
  for p in "${paths[@]}"; do
    case "$p" in
      *[*?[]*)
        mapfile -t matches < <(compgen -G "$p" || true)
        [ "${#matches[@]}" -gt 0 ] || die "paths: '$p' matches nothing in $PWD"
        expanded+=("${matches[@]}")
        ;;
      *) expanded+=("$p") ;;
    esac
  done
}

run() {
  echo "+ ${*@Q}" >&2
  set +e
  "$@"
  code=$?
  set -e
}

code=
case "${INPUT_COMMAND:-}" in
  render)
    expand_paths
    out=$(absolute "${INPUT_OUT_DIR:-rendered}")
    run "$strata" render --out-dir "$out" "${expanded[@]}" "${args[@]}"
    [ "$code" -ne 0 ] || set_output out-dir "$out"
    ;;

  validate)
    expand_paths
    sarif=${INPUT_SARIF:-}
    result=
    if [ -n "$sarif" ]; then
      sarif=$(absolute "$sarif")
      mkdir -p "$(dirname "$sarif")"
      run "$strata" validate "${expanded[@]}" "${args[@]}" --format sarif >"$sarif.tmp"
      result=$code
      if [ "$code" -le 1 ] && [ -s "$sarif.tmp" ]; then
        mv -f "$sarif.tmp" "$sarif"
        set_output sarif "$sarif"
        echo "wrote $sarif"
      else
        rm -f "$sarif.tmp"
      fi
    fi
    # The findings in the log too: as annotations on the PR's files, or as strata prints them.
    if is_true "${INPUT_ANNOTATIONS:-true}"; then
      format=github
    else
      format=human
    fi
    if [ -z "$result" ] || [ "$result" -le 1 ]; then
      run "$strata" validate "${expanded[@]}" "${args[@]}" --format "$format"
    fi
    code=${result:-$code}
    ;;

  diff)
    need git "strata diff reads the base revision from git"
    base=${INPUT_BASE_REF:-}
    if [ -z "$base" ]; then
      [ -n "${GITHUB_BASE_REF:-}" ] ||
        die "base-ref is required outside pull_request events (GITHUB_BASE_REF is not set)"
      base="origin/$GITHUB_BASE_REF"
    fi
    if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
      # A shallow checkout (actions/checkout's default) lacks the base branch; its tip is
      # all strata needs.
      if [[ $base == origin/* ]]; then
        echo "fetching $base"
        git fetch --no-tags --depth=1 origin "+refs/heads/${base#origin/}:refs/remotes/$base" || true
      fi
      git rev-parse --verify --quiet "$base^{commit}" >/dev/null ||
        die "the base revision '$base' is not in the clone: use actions/checkout with fetch-depth: 0, or set base-ref"
    fi
    if [ -n "${RUNNER_TEMP:-}" ]; then
      dir="$RUNNER_TEMP/strata-diff"
      rm -rf "$dir"
    else
      dir=$(mktemp -d)
      rmdir "$dir"
    fi
    if is_true "${INPUT_SPLIT:-false}"; then
      out=(--split "$dir")
    else
      mkdir -p "$dir"
      out=(-o "$dir/comment-001.md")
    fi
    run "$strata" diff --base "$base" "${paths[@]}" "${args[@]}" \
      --format markdown --max-bytes "$max_bytes" "${out[@]}"
    # Exit 2 with a report: an overlay no longer renders; the report names it and diffs the
    # others, so it is posted and the finish step fails the job. Exit 2 without one: nothing
    # could be compared.
    parts=("$dir"/comment-*.md)
    if [ "$code" -le 1 ] && [ ! -f "${parts[0]}" ]; then
      die "strata diff wrote no Markdown into $dir"
    fi
    if [ -f "${parts[0]}" ]; then
      set_output markdown-dir "$dir"
      set_output markdown "${parts[0]}"
      set_output markdown-parts "${#parts[@]}"
      echo "::group::Markdown (${#parts[@]} comment(s), $dir)"
      cat "${parts[@]}"
      echo "::endgroup::"
      if is_true "${INPUT_SUMMARY:-true}" && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
        cat "${parts[@]}" >>"$GITHUB_STEP_SUMMARY"
      fi
    fi
    ;;

  *)
    die "command '${INPUT_COMMAND:-}' is not one of install, render, validate, diff"
    ;;
esac

set_output exit-code "$code"
echo "strata ${INPUT_COMMAND} exited $code"
