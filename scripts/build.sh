#!/usr/bin/env bash
# Installs the build dependencies (Debian packages, idempotent) and builds cgscope
# into build/. Prints the path of the binary last.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh "$@"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
echo "$PWD/build/cgscope"
