#!/usr/bin/env bash
# Quick start: sets everything up, builds, and runs cgscope with the given
# arguments (default: `trace`, every process of the machine, default events).
#   scripts/run.sh                 # cgscope trace (as root, or with sudo)
#   scripts/run.sh trace -e set:net --container all
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/build.sh | tail -n 1)
[[ $# -eq 0 ]] && set -- trace
exec "$bin" "$@"
