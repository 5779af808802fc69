#!/usr/bin/env bash
# Runs a command as a host without the usual mounts would: in a private mount
# namespace (nothing here touches the host's mounts; they all end with the
# command), with some of tracefs, bpffs and cgroup2 unmounted or made impossible
# to mount. The integration tests and bench/ use it to show that cgscope needs
# nothing mounted by hand.
#
#   scripts/without-mounts.sh [OPTIONS] -- CMD ARGS...
#     --no-tracefs     tracefs and debugfs unmounted (cgscope may mount tracefs)
#     --ro-tracefs     ... and /sys/kernel a read-only copy holding only btf/, so
#                      that tracefs cannot be mounted (a container's read-only /sys)
#     --no-bpffs       the bpf filesystem at /sys/fs/bpf unmounted
#     --ro-bpffs       ... and /sys/fs a read-only copy holding only the cgroup
#                      mounts, so that bpffs cannot be mounted
#     --no-cgroup2     every cgroup2 mount unmounted
# Needs root and unshare(1) from util-linux.
set -euo pipefail

if [[ ${CGSCOPE_IN_PRIVATE_NS:-} != 1 ]]; then
  CGSCOPE_IN_PRIVATE_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
unset CGSCOPE_IN_PRIVATE_NS

no_tracefs=0 ro_tracefs=0 no_bpffs=0 ro_bpffs=0 no_cgroup2=0
while [[ $# -gt 0 && $1 != -- ]]; do
  case $1 in
    --no-tracefs) no_tracefs=1 ;;
    --ro-tracefs) no_tracefs=1 ro_tracefs=1 ;;
    --no-bpffs) no_bpffs=1 ;;
    --ro-bpffs) no_bpffs=1 ro_bpffs=1 ;;
    --no-cgroup2) no_cgroup2=1 ;;
    *) echo "without-mounts: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ ${1:-} == -- ]] && shift
[[ $# -gt 0 ]] || { echo "without-mounts: give the command after --" >&2; exit 2; }

# Mount points of one filesystem type, deepest first (so that nested ones go first).
mounts_of() { awk -v t="$1" '{for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == t) print $5; break }}' \
  /proc/self/mountinfo | sort -r; }
umount_all() { local m; for m in $(mounts_of "$1"); do umount -l "$m"; done; }

# A read-only tmpfs over DIR that keeps only the mounts/dirs named (moved back in).
readonly_copy() {
  local dir=$1
  shift
  local keep=() stash d
  stash=$(mktemp -d /tmp/cgscope-without-mounts.XXXXXX)
  for d in "$@"; do
    [[ -e $dir/$d ]] || continue
    mkdir -p "$stash/$d"
    mount --rbind "$dir/$d" "$stash/$d"
    keep+=("$d")
  done
  mount -t tmpfs -o size=64k,mode=755 tmpfs "$dir"
  for d in "${keep[@]}"; do
    mkdir -p "$dir/$d"
    mount --move "$stash/$d" "$dir/$d"
  done
  mount -o remount,ro,bind "$dir"
  rm -rf "$stash"
}

if ((no_tracefs)); then umount_all tracefs; umount_all debugfs; fi
((ro_tracefs)) && readonly_copy /sys/kernel btf
((no_bpffs)) && umount_all bpf
((ro_bpffs)) && readonly_copy /sys/fs cgroup
((no_cgroup2)) && umount_all cgroup2
exec "$@"
