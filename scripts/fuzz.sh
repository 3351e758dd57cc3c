#!/usr/bin/env bash
# Builds the libFuzzer target for the SOAP response decoder with clang (ASan+UBSan) and runs it
# for a bounded time (default 60 s): FUZZ_SECONDS=N to change.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${VSRAY_FUZZ_DIR:-$root/build-fuzz}
mkdir -p "$out/corpus"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/src" "$root/fuzz/soap_response_fuzz.cc" "$root/src/vsphere/xml.cc" \
  "$root/src/vsphere/soap.cc" "$root/src/common/status.cc" -lpugixml -o "$out/soap_response_fuzz"
cp -n "$root"/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
"$out/soap_response_fuzz" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 \
  -print_final_stats=1 "$out/corpus" 2>&1 | tail -n 20
