#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests, root integration tests (real
# BPF programs, cgroups, network namespaces, processes) and a short run of each fuzzer.
# Needs root for the integration tests. CI runs exactly this.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null || { echo "build failed"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir build --output-on-failure --timeout 600 | tee "$log"
ctest_rc=${PIPESTATUS[0]}
scripts/fuzz.sh "${CGSCOPE_FUZZ_SECONDS:-15}" | tee -a "$log"
fuzz_rc=${PIPESTATUS[0]}
# One closing line for everything: ctest's counts plus one per fuzz target.
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n 1)
fz_ok=$(grep -c '^fuzz .*: ok' "$log")
fz_bad=$(grep -c '^fuzz .*: FAILED' "$log")
echo "cgscope: $(( ${total:-0} - ${failed:-0} + fz_ok )) passed, $(( ${failed:-0} + fz_bad )) failed"
[[ $ctest_rc -eq 0 && $fuzz_rc -eq 0 ]]
