#!/usr/bin/env bash
# Quick start: sets everything up, builds, and runs cgscope with the given
# arguments (default: `trace`, every process of the machine, default events).
#   sudo scripts/run.sh                 # cgscope trace
#   sudo scripts/run.sh trace -e set:net --container all
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/build.sh | tail -n 1)
[[ $# -eq 0 ]] && set -- trace
exec "$bin" "$@"
