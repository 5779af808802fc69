/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Maps of trace.bpf.c: output ring, scratch area, drop counters and scope sets. */
#ifndef CGSCOPE_BPF_MAPS_H
#define CGSCOPE_BPF_MAPS_H

#include "counter.bpf.h"

/* Sized by user space before load (bpf_map__set_max_entries); this is a default. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct scratch {
	__u8 data[2 * CGS_SCRATCH_SIZE];
	/* The file the record's fd argument 0 was walked from (cgs_put_path): a
	 * shown call's slot is armed only if its fd still holds that very file
	 * (trace_fsum.bpf.h, cgs_fsum_arm_shown). */
	__u64 walked_file, walked_dentry, walked_mnt;
};

/* One slot per CPU, indexed by bpf_get_smp_processor_id(): a per-CPU array would
 * be simpler but caps values at 32 KiB. User space sets max_entries to the number
 * of possible CPUs. Programs here do not nest on one CPU (tracepoints with
 * migration disabled), so a slot is never shared by two records at once. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CGS_DROP_NR_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Cgroups in scope, by id: an event is in scope when the current task's ancestor
 * at one of the levels in scope_level_mask is in this set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct cgs_scope_value);
} scope_cgroups SEC(".maps");

/* Processes in scope, by tgid; with `follow`, children join at fork. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct cgs_scope_value);
} scope_pids SEC(".maps");

/* Processes between an execve entry record and its exit, by tgid: the exit record
 * is sent exactly when the entry was, whatever the filters say after the exec
 * (comm and uid may change across it). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} exec_pending SEC(".maps");

static __always_inline void count_drop(__u32 reason)
{
	cgs_count(&drops, reason);
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch_map, &cpu);
}

#endif
