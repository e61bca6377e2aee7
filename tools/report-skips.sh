#!/usr/bin/env bash
# After `make test`: name the tests that skipped because a tool was missing (lines the tests appended to the file
# given as $1, "test name<TAB>reason") and fail, unless ALLOW_SKIPS=1. A run that skipped nothing prints nothing.
set -euo pipefail
file=${1:?usage: report-skips.sh FILE}
[[ -s $file ]] || exit 0
n=$(sort -u "$file" | wc -l)
reasons=$(cut -f2 "$file" | sort -u | paste -sd';' | sed 's/;/; /g')
echo "skipped tests:" >&2
sort -u "$file" | sed 's/^/  /; s/\t/: /' >&2
echo "$n skipped: $reasons — run make deps" >&2
[[ ${ALLOW_SKIPS:-0} == 1 ]] || exit 1
