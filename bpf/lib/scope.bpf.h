/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Who is traced: the scope filters, cheapest first. Set before load (rodata) except
 * the scope_* variables and hold_tgid (.bss), which user space sets after load. */
#ifndef CGSCOPE_BPF_SCOPE_H
#define CGSCOPE_BPF_SCOPE_H

const volatile __u32 self_tgid = 0;       /* cgscope never traces itself */
const volatile __u8 filter_cgroup_on = 0; /* scope_cgroups applies */
const volatile __u8 filter_pid_on = 0;    /* scope_pids applies */
const volatile __u8 follow_children = 0;  /* children of scope_pids join it at fork */
const volatile __u8 filter_uid_on = 0;
const volatile __u32 filter_uid = 0;
const volatile __u8 filter_comm_on = 0;
const volatile __u64 filter_comm[CGS_COMM_LEN / 8] = {}; /* NUL-padded name */

/* Bit n set: scope_cgroups holds a cgroup at level n (root is level 0). */
__u32 scope_level_mask = 0;
/* When the scope is exactly one cgroup: its id and level, compared without a map
 * lookup (the common case: -c PATH, --container ID, -- CMD). 0: use the map. */
__u64 scope_single_id = 0;
__u32 scope_single_level = 0;
/* The `-- CMD` child between fork and its execve: still cgscope's code, not CMD's. */
__u32 hold_tgid = 0;

#define CGS_MAX_CGROUP_LEVEL 16

/* The id of the ancestor at `lvl` of the current task's cgroup, or with
 * `of_skb` of the cgroup of the packet's socket (cgroup_skb programs, which run
 * for whatever task the CPU was on, and which 6.1 does not give the first
 * helper). `of_skb` is a constant at every call: the other helper's call is not
 * compiled in (a test of the pointer would be, and 6.1's verifier walks it). */
static __always_inline __u64 scope_ancestor_id(const int of_skb, struct __sk_buff *skb, int lvl)
{
	return of_skb ? bpf_skb_ancestor_cgroup_id(skb, lvl) : bpf_get_current_ancestor_cgroup_id(lvl);
}

static __always_inline int cgroup_in_scope_by(const int of_skb, struct __sk_buff *skb)
{
	__u32 mask = scope_level_mask;
	int lvl;

	if (scope_single_id)
		return scope_ancestor_id(of_skb, skb, scope_single_level) == scope_single_id;
	for (lvl = 0; lvl < CGS_MAX_CGROUP_LEVEL; lvl++) {
		__u64 id;

		if (!(mask & (1U << lvl)))
			continue;
		id = scope_ancestor_id(of_skb, skb, lvl);
		if (id && bpf_map_lookup_elem(&scope_cgroups, &id))
			return 1;
	}
	return 0;
}

static __always_inline int cgroup_in_scope(void)
{
	return cgroup_in_scope_by(0, NULL);
}

/* cgroup_in_scope for the socket of a packet (cgroup_skb programs). */
static __always_inline int skb_cgroup_in_scope(struct __sk_buff *skb)
{
	return cgroup_in_scope_by(1, skb);
}

/* Two 8-byte compares against the rodata name; no helper call. */
static __always_inline int comm_matches(struct task_struct *task)
{
	__u64 have[2];

	__builtin_memcpy(have, task->comm, sizeof(have));
	return have[0] == filter_comm[0] && have[1] == filter_comm[1];
}

/* The cgroup part of the scope: needs no task pointer, so the sys_exit hook runs
 * it before fetching one. An event filtered out here costs one helper call. */
static __always_inline int cgroup_scope_ok(void)
{
	return !filter_cgroup_on || cgroup_in_scope();
}

/* The identity filters: uid and command name. */
static __always_inline int identity_ok(struct task_struct *task)
{
	if (filter_uid_on && task->real_cred->uid.val != filter_uid)
		return 0;
	if (filter_comm_on && !comm_matches(task))
		return 0;
	return 1;
}

/* The rest of the scope, for a task already known to pass cgroup_scope_ok(). */
static __always_inline int task_scope_ok(struct task_struct *task, __u32 tgid)
{
	if (tgid == hold_tgid)
		return 0;
	if (filter_pid_on && !bpf_map_lookup_elem(&scope_pids, &tgid))
		return 0;
	return identity_ok(task);
}

static __always_inline int in_scope(struct task_struct *task, __u32 tgid)
{
	return cgroup_scope_ok() && task_scope_ok(task, tgid);
}

/* in_scope for a process already found in scope_pids. */
static __always_inline int in_scope_except_pid(struct task_struct *task, __u32 tgid)
{
	return tgid != hold_tgid && cgroup_scope_ok() && identity_ok(task);
}

#endif
