# shellcheck shell=bash
# Shared by the action's scripts (sourced, not run). The scripts read their inputs from
# INPUT_<NAME> environment variables, set by action.yml from `${{ inputs.<name> }}`, and run
# the same way outside GitHub Actions (tests/action.rs runs them on a fixture repository).

# An error: a workflow annotation on GitHub, a plain line elsewhere (stderr); then exit.
die() {
  printf '::error title=strata action::%s\n' "$*" >&2
  exit 1
}

warn() {
  printf '::warning title=strata action::%s\n' "$*" >&2
}

# A step output (`steps.<id>.outputs.<name>`); printed when not on a runner.
set_output() {
  case "$2" in
    *$'\n'*) die "internal: output $1 has a newline" ;;
  esac
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  else
    printf 'output %s=%s\n' "$1" "$2"
  fi
}

# True for the spellings of yes that action inputs use.
is_true() {
  case "${1,,}" in
    true | yes | 1 | on) return 0 ;;
    false | no | 0 | off | '') return 1 ;;
    *) die "expected true or false, got '$1'" ;;
  esac
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required on the runner ($2) but is not on PATH"
}
