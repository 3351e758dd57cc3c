#!/usr/bin/env bash
# Style and static analysis: clang-format (Google style, .clang-format) on every C++ file and
# clang-tidy (.clang-tidy, warnings are errors) on the library and CLI sources.
# Needs a configured build dir (for compile_commands.json): build/ or $VSRAY_BUILD_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VSRAY_BUILD_DIR:-$root/build}
cd "$root"
mapfile -t cxx < <(git ls-files '*.cc' '*.h')
clang-format --dry-run --Werror "${cxx[@]}"
mapfile -t sources < <(git ls-files 'src/*.cc')
if [ ! -f "$build/compile_commands.json" ]; then
  echo "lint: no $build/compile_commands.json; run scripts/build.sh first" >&2
  exit 1
fi
printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>/dev/null
echo "lint: clang-format and clang-tidy clean (${#cxx[@]} files formatted, ${#sources[@]} analysed)"
