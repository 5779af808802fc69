#!/usr/bin/env bash
# Regenerates the vendored vmlinux.h from the running kernel's BTF.
# Run by hand when a newer kernel type is needed; the build itself never runs it,
# so building does not depend on the build host's kernel (CO-RE relocates at load).
set -euo pipefail
cd "$(dirname "$0")/.."
btf=${1:-/sys/kernel/btf/vmlinux}
bpftool btf dump file "$btf" format c > bpf/vmlinux/x86/vmlinux.h
echo "wrote bpf/vmlinux/x86/vmlinux.h from $btf ($(wc -l < bpf/vmlinux/x86/vmlinux.h) lines)"
