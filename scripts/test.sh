#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests, root integration tests (real
# BPF programs, cgroups, network namespaces, processes, proxies), a short run of each
# fuzzer, and a smoke run of every subcommand on Debian 12's own kernel (6.1) in a
# qemu guest (scripts/kernel-matrix.sh). Needs root. CI runs exactly this.
#   scripts/test.sh                    all of the above
#   scripts/test.sh --kernels all      and the root integration tests in the guest, on
#                                      every kernel of the matrix (Debian 12's 6.1, the
#                                      newest built for 12, the newest of all)
#   scripts/test.sh --kernels LIST     the same on those (scripts/kernel-matrix.sh --list)
#   scripts/test.sh --no-kernels       this machine's kernel only
set -uo pipefail
cd "$(dirname "$0")/.."
# CI: the smoke run on Debian 12's 6.1 (the integration tests in a guest without KVM
# are slow and their timing-sensitive cases less reliable: they run with --kernels).
kernels=bookworm
smoke=(--smoke-only)
while (($#)); do
  case $1 in
    --kernels) kernels=${2:?--kernels needs a list, or all}; smoke=(); shift ;;
    --no-kernels) kernels= ;;
    *) echo "test.sh: unknown option '$1' (--kernels LIST|all, --no-kernels)" >&2; exit 2 ;;
  esac
  shift
done
scripts/build.sh >/dev/null || { echo "build failed"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir build --output-on-failure --timeout 600 | tee "$log"
ctest_rc=${PIPESTATUS[0]}
scripts/fuzz.sh "${CGSCOPE_FUZZ_SECONDS:-15}" | tee -a "$log"
fuzz_rc=${PIPESTATUS[0]}
matrix_rc=0
if [[ -n $kernels ]]; then
  args=("${smoke[@]}")
  [[ $kernels != all ]] && args+=(--kernels "$kernels")
  scripts/kernel-matrix.sh "${args[@]}" | tee -a "$log"
  matrix_rc=${PIPESTATUS[0]}
fi
# One closing line for everything: ctest's counts, one per fuzz target, one per kernel.
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n 1)
fz_ok=$(grep -c '^fuzz .*: ok' "$log")
fz_bad=$(grep -c '^fuzz .*: FAILED' "$log")
k_ok=$(sed -n 's/^kernel-matrix: \([0-9]*\) passed, [0-9]* failed$/\1/p' "$log" | tail -n 1)
k_bad=$(sed -n 's/^kernel-matrix: [0-9]* passed, \([0-9]*\) failed$/\1/p' "$log" | tail -n 1)
# A matrix that failed without its closing line (no image, no qemu) counts as one failure.
[[ $matrix_rc -ne 0 && -z $k_bad ]] && k_bad=1
echo "cgscope: $(( ${total:-0} - ${failed:-0} + fz_ok + ${k_ok:-0} )) passed, $(( ${failed:-0} + fz_bad + ${k_bad:-0} )) failed"
[[ $ctest_rc -eq 0 && $fuzz_rc -eq 0 && $matrix_rc -eq 0 ]]
