#!/usr/bin/env bash
# Fails when any given file has a line longer than 120 characters (Unicode characters, not bytes).
# Markdown table rows are exempt: Markdown cannot wrap a table row.
set -euo pipefail
exec python3 - "$@" <<'PY'
import sys

bad = False
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if len(line) <= 120 or (path.endswith(".md") and line.lstrip().startswith("|")):
                continue
            print(f"{path}:{number}: {len(line)} characters")
            bad = True
sys.exit(1 if bad else 0)
PY
