#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a bounded time:
#   soap_response_fuzz  the SOAP response decoder (src/vsphere/soap.cc)
#   rest_reply_fuzz     the vAPI REST client's reply decoding, any status and body
#   config_load_fuzz    the cluster config loader (YAML, Ray's and vsray's keys)
# FUZZ_SECONDS=N per target (default 60); FUZZ_TARGETS="a b" to run some only; FUZZ_SEED=N the
# mutation seed (default 1, so that a run, CI's included, is reproducible: a failure found with
# it is found again; FUZZ_SEED=0 draws a new seed each run, for exploring). Seeds come from
# fuzz/corpus/<kind>/ (soap, rest, config); each run's corpus grows in $VSRAY_FUZZ_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${VSRAY_FUZZ_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
seed=${FUZZ_SEED:-1}
targets=${FUZZ_TARGETS:-soap_response_fuzz rest_reply_fuzz config_load_fuzz}
jobs=${VSRAY_JOBS:-2}
cxx=(clang++)
command -v ccache >/dev/null && cxx=(ccache clang++)
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined
  -fno-sanitize-recover=undefined -I"$root/src"
  -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL -DSPDLOG_SHARED_LIB -DFMT_SHARED)
libs=(-lcurl -lssl -lcrypto -lpugixml -lyaml -lssh -lspdlog -lfmt -lpthread)
mkdir -p "$out/obj"

# The library code, compiled once (again only when a source is newer than its object).
sources=("$root"/src/common/*.cc "$root"/src/vsphere/*.cc "$root"/src/config/*.cc)
objects=()
for src in "${sources[@]}"; do
  rel=${src#"$root/src/"}
  objects+=("$out/obj/${rel//\//_}.o")
done
compile() {
  local src=$1 obj=$2
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
    "${cxx[@]}" "${flags[@]}" -c "$src" -o "$obj"
  fi
}
pids=()
for i in "${!sources[@]}"; do
  compile "${sources[$i]}" "${objects[$i]}" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$jobs" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "$pid"; done

corpus_of() {
  case $1 in
    soap_response_fuzz) echo soap ;;
    rest_reply_fuzz) echo rest ;;
    config_load_fuzz) echo config ;;
  esac
}

status=0
for target in $targets; do
  kind=$(corpus_of "$target")
  "${cxx[@]}" "${flags[@]}" -fsanitize=fuzzer "$root/fuzz/$target.cc" "${objects[@]}" \
    "${libs[@]}" -o "$out/$target"
  mkdir -p "$out/corpus-$kind"
  cp -n "$root/fuzz/corpus/$kind"/* "$out/corpus-$kind/" 2>/dev/null || true
  echo "=== $target: ${seconds} s"
  if ! "$out/$target" -max_total_time="$seconds" -seed="$seed" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$out/$target-" "$out/corpus-$kind" >"$out/$target.log" 2>&1; then
    status=1
    echo "$target FAILED; see $out/$target.log (the input that failed: $out/$target-crash-*)"
  fi
  tail -n 12 "$out/$target.log"
done
exit $status
