#!/usr/bin/env bash
# How long the `ferryman` command takes to start, with hyperfine: `--help`, and the publish
# client's `--help` (what a CI runner pays before it uploads anything). Not a test.
#     bench/startup.sh [path/to/ferryman]
set -euo pipefail
ferryman="${1:-$(dirname "${BASH_SOURCE[0]}")/../.venv/bin/ferryman}"
command -v hyperfine >/dev/null || { echo "needs hyperfine (Debian: apt-get install hyperfine)" >&2; exit 2; }
.venv/bin/python -c "import sys; sys.path.insert(0, 'bench'); from machine import machine; print(machine())"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# Named, so the table shows the commands rather than where this checkout lives.
table="$(mktemp)"
trap 'rm -f "$table"' EXIT
hyperfine --warmup 3 --runs 20 --style none --export-markdown "$table" \
    -n "ferryman --help" "$ferryman --help" \
    -n "ferryman publish --help" "$ferryman publish --help"
cat "$table"
