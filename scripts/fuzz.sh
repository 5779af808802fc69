#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz with clang (ASan + UBSan) into
# build-fuzz/ and runs each for SECONDS (default 60). A crash fails the script and
# leaves the reproducer in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCGSCOPE_TESTS=OFF -DCGSCOPE_FUZZ=ON >/dev/null
if ! cmake --build build-fuzz --target fuzzers -j"$(nproc)" >build-fuzz.log 2>&1; then
  tail -n 30 build-fuzz.log
  echo "fuzz build: FAILED (full log in build-fuzz.log)"
  exit 1
fi
passed=0
failed=0
for src in tests/fuzz/*.cc; do
  name=$(basename "$src" .cc)
  corpus=build-fuzz/corpus-$name
  mkdir -p "$corpus"
  if (cd build-fuzz && "./$name" -max_total_time="$secs" -print_final_stats=0 "corpus-$name" >"$name.log" 2>&1); then
    echo "fuzz $name: ok ($(ls "$corpus" | wc -l) corpus inputs, ${secs}s)"
    passed=$((passed + 1))
  else
    echo "fuzz $name: FAILED, see build-fuzz/$name.log"
    tail -n 30 "build-fuzz/$name.log"
    failed=$((failed + 1))
  fi
done
echo "fuzz targets: $passed clean, $failed crashed"
[[ $failed -eq 0 ]]
