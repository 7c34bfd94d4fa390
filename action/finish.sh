#!/usr/bin/env bash
# The action's last step: strata's exit code, saved by run.sh, becomes the action's result
# now that the SARIF upload and the PR comment have run. strata's conventions: 0 clean;
# 1 validation errors (render, validate) or differences (diff, not a failure); 2 an input
# that could not be read or rendered.
#
# Inputs (environment):
#   INPUT_COMMAND           render | validate | diff
#   INPUT_FAIL_ON_FINDINGS  render/validate: fail the step on error-level findings (exit 1)
#   STRATA_EXIT_CODE        run.sh's exit-code output
set -euo pipefail
# shellcheck source=action/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

code=${STRATA_EXIT_CODE:-}
command=${INPUT_COMMAND:-}
[[ $code =~ ^[0-9]+$ ]] || die "strata $command did not run (no exit code): see the steps above"

case "$code" in
  0) echo "strata $command: clean" ;;
  1)
    if [ "$command" = diff ]; then
      echo "strata diff: the pull request changes the rendered manifests"
    elif is_true "${INPUT_FAIL_ON_FINDINGS:-true}"; then
      printf '::error title=strata %s::error-level findings (see the annotations or the SARIF upload)\n' "$command" >&2
      exit 1
    else
      warn "strata $command found errors; fail-on-findings is false"
    fi
    ;;
  *)
    printf '::error title=strata %s::strata exited %s: the input could not be read or rendered (the message is in the run step above)\n' "$command" "$code" >&2
    exit "$code"
    ;;
esac
