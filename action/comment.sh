#!/usr/bin/env bash
# Posts strata's diff as ONE comment on the pull request, updated in place on every push.
# The comment is found again by a hidden marker, `<!-- strata-diff -->` (with a comment-key:
# `<!-- strata-diff:KEY -->`, so that matrix jobs keep one comment each). A diff split into
# several comments marks its further parts `<!-- strata-diff part=N -->`; parts a shorter
# diff no longer needs are deleted. Comments without the marker are never touched.
#
# Inputs (environment):
#   INPUT_COMMENT       false: post nothing
#   INPUT_GITHUB_TOKEN  token with pull-requests: write
#   INPUT_COMMENT_KEY   optional key that tells this job's comment from other jobs'
#   INPUT_PR_NUMBER     optional; default: the pull request of the triggering event
#   STRATA_MARKDOWN_DIR the comment-NNN.md files run.sh wrote
#   GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_API_URL   as on a runner
# Outputs: comment-id, comment-url (the first part's).
set -euo pipefail
# shellcheck source=action/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! is_true "${INPUT_COMMENT:-true}"; then
  echo "comment is false: no PR comment"
  exit 0
fi
need curl "calls GitHub's API"
need python3 "reads and writes the API's JSON"

token=${INPUT_GITHUB_TOKEN:-}
[ -n "$token" ] || die "github-token is empty: the comment needs a token with pull-requests: write"
repo=${GITHUB_REPOSITORY:-}
[ -n "$repo" ] || die "GITHUB_REPOSITORY is not set"
api=${GITHUB_API_URL:-https://api.github.com}
api=${api%/}
dir=${STRATA_MARKDOWN_DIR:-}
[ -d "$dir" ] || die "no Markdown to post (STRATA_MARKDOWN_DIR '$dir' is not a directory)"

pr=${INPUT_PR_NUMBER:-}
if [ -z "$pr" ] && [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ]; then
  pr=$(python3 - "$GITHUB_EVENT_PATH" <<'PY'
import json, sys
event = json.load(open(sys.argv[1], encoding="utf-8"))
pr = event.get("pull_request") or {}
issue = event.get("issue") or {}
number = pr.get("number") or (issue.get("number") if issue.get("pull_request") else None)
print(number or "")
PY
  )
fi
if [ -z "$pr" ]; then
  warn "not a pull request event: the diff is in the job log and summary, no comment posted"
  exit 0
fi
[[ $pr =~ ^[0-9]+$ ]] || die "pull request number '$pr' is not a number"

key=${INPUT_COMMENT_KEY:-}
# An HTML comment may not hold `--`; keep the key to a safe alphabet.
key=$(printf '%s' "$key" | tr -c 'A-Za-z0-9._/:-' '_' | sed 's/--*/-/g')
marker="strata-diff${key:+:$key}"

tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/strata-comment.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The token goes to curl in a file, never on a command line other processes can read.
(
  umask 077
  printf 'Authorization: Bearer %s\n' "$token" >"$tmp/headers"
)
cat >>"$tmp/headers" <<'EOF'
Accept: application/vnd.github+json
X-GitHub-Api-Version: 2022-11-28
Expect:
EOF

# api METHOD PATH [BODY-FILE]: the response body in $tmp/response, the status in $status.
api() {
  local data=()
  [ $# -lt 3 ] || data=(--header 'Content-Type: application/json' --data-binary "@$3")
  status=$(curl --silent --show-error --retry 3 --retry-delay 2 --connect-timeout 20 \
    --request "$1" --header "@$tmp/headers" "${data[@]}" \
    --output "$tmp/response" --write-out '%{http_code}' "$api$2") ||
    die "$1 $api$2 failed (curl could not reach the API)"
}

check() {
  case "$status" in
    2??) return 0 ;;
    403)
      # A pull request from a fork gets a read-only token, whatever the workflow asks for.
      warn "GitHub answered $status to $1: the token cannot comment on this pull request (a PR from a fork, or no pull-requests: write permission); the diff is in the job log and summary"
      exit 0
      ;;
    *) die "GitHub answered $status to $1: $(head -c 500 "$tmp/response")" ;;
  esac
}

# Every comment of the PR carrying our marker, oldest first: lines "PART ID" (part 1 is the
# comment without a part number).
: >"$tmp/existing"
page=1
while :; do
  api GET "/repos/$repo/issues/$pr/comments?per_page=100&page=$page"
  check "GET comments of #$pr"
  count=$(python3 - "$tmp/response" "$marker" "$tmp/existing" <<'PY'
import json, re, sys
comments = json.load(open(sys.argv[1], encoding="utf-8"))
mark = re.compile(r"<!-- " + re.escape(sys.argv[2]) + r"(?: part=([0-9]+))? -->")
with open(sys.argv[3], "a", encoding="utf-8") as out:
    for c in comments:
        m = mark.search(c.get("body") or "")
        if m:
            print(m.group(1) or 1, c["id"], file=out)
print(len(comments))
PY
  ) || die "the comments of #$pr are not the JSON GitHub sends"
  [ "$count" -ge 100 ] || break
  page=$((page + 1))
done

existing_id() {
  awk -v p="$1" '$1 == p { print $2; exit }' "$tmp/existing"
}

parts=("$dir"/comment-*.md)
[ -f "${parts[0]}" ] || die "no comment-*.md files in $dir"
n=0
for file in "${parts[@]}"; do
  n=$((n + 1))
  if [ "$n" -eq 1 ]; then
    head="<!-- $marker -->"
  else
    head="<!-- $marker part=$n -->"
  fi
  python3 - "$file" "$head" "$tmp/body.json" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
body = sys.argv[2] + "\n" + text
limit = 65536  # GitHub's limit for one comment, in characters
if len(body) > limit:
    note = "\n\n*(cut to GitHub's comment size limit; the whole diff is in the job log)*\n"
    body = body[: limit - len(note)] + note
json.dump({"body": body}, open(sys.argv[3], "w", encoding="utf-8"))
PY
  id=$(existing_id "$n")
  if [ -n "$id" ]; then
    api PATCH "/repos/$repo/issues/comments/$id" "$tmp/body.json"
    check "PATCH comment $id"
    echo "updated comment $id (part $n)"
  else
    api POST "/repos/$repo/issues/$pr/comments" "$tmp/body.json"
    check "POST a comment on #$pr"
    echo "posted part $n"
  fi
  if [ "$n" -eq 1 ]; then
    read -r id url < <(python3 -c '
import json, sys
c = json.load(open(sys.argv[1], encoding="utf-8"))
print(c["id"], c.get("html_url", ""))' "$tmp/response") || die "GitHub's answer is not a comment"
    set_output comment-id "$id"
    set_output comment-url "$url"
  fi
done

# Parts an earlier, longer diff needed, and duplicates (two runs that raced to post).
while read -r part id; do
  if [ "$part" -gt "$n" ] || [ "$id" != "$(existing_id "$part")" ]; then
    api DELETE "/repos/$repo/issues/comments/$id"
    check "DELETE comment $id"
    echo "deleted comment $id (part $part, no longer needed)"
  fi
done <"$tmp/existing"
