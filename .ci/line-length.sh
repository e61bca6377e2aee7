#!/usr/bin/env bash
# Fails when any given file has a line longer than 120 characters.
set -euo pipefail
status=0
for f in "$@"; do
    # shellcheck disable=SC2016 # the awk program is single-quoted on purpose
    prog='length > 120 { printf "%s:%d: %d characters\n", f, FNR, length; bad = 1 } END { exit bad }'
    awk -v f="$f" "$prog" "$f" || status=1
done
exit "$status"
