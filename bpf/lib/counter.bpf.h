/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One more in slot `idx` of a per-CPU array of __u64 counters: how every object
 * counts what it did and why it dropped something. Per-CPU, so no atomics; user
 * space sums the CPUs' values.
 */
#ifndef CGSCOPE_BPF_COUNTER_H
#define CGSCOPE_BPF_COUNTER_H

static __always_inline void cgs_count(void *counters, __u32 idx)
{
	__u64 *n = bpf_map_lookup_elem(counters, &idx);

	if (n)
		*n += 1;
}

#endif
