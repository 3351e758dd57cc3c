"""The README's VI-admin role table is the output of `vsray role show --markdown` (the one
list in code); regenerate it with scripts/update-readme-role.sh."""

import os
import pathlib
import subprocess

from simharness import vsray_binary

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_role_table_matches_the_list_in_code():
    readme = pathlib.Path(os.environ.get("VSRAY_README", ROOT / "README.md")).read_text()
    begin, end = "<!-- role-table: begin -->\n", "<!-- role-table: end -->"
    assert begin in readme and end in readme
    in_readme = readme.split(begin, 1)[1].split(end, 1)[0]
    generated = subprocess.run(
        [vsray_binary(), "role", "show", str(ROOT / "examples" / "ray-full.yaml"), "--markdown"],
        capture_output=True, text=True, check=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent",
             "VSPHERE_PASSWORD": "unused"}).stdout
    assert generated.count("\n") > 5
    assert in_readme == generated, "README.md is stale: run scripts/update-readme-role.sh"
