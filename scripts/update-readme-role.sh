#!/usr/bin/env bash
# Regenerates the role table of README.md ("For VI admins") from `vsray role show --markdown`
# of examples/ray-full.yaml (tests/role/test_readme.py checks that it is current).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
vsray=${VSRAY_BIN:-$root/build/bin/vsray}
table=$(VSPHERE_PASSWORD=unused "$vsray" role show "$root/examples/ray-full.yaml" --markdown)
python3 - "$root/README.md" "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- role-table: begin -->\n", "<!-- role-table: end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(head + begin + table.rstrip("\n") + "\n" + end + tail)
PY
