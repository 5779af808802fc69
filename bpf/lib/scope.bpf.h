/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Who is traced: the scope filters, cheapest first. Set before load (rodata) except
 * scope_level_mask and hold_tgid, which user space changes while running. */
#ifndef CGSCOPE_BPF_SCOPE_H
#define CGSCOPE_BPF_SCOPE_H

const volatile __u32 self_tgid = 0;       /* cgscope never traces itself */
const volatile __u8 filter_cgroup_on = 0; /* scope_cgroups applies */
const volatile __u8 filter_pid_on = 0;    /* scope_pids applies */
const volatile __u8 follow_children = 0;  /* children of scope_pids join it at fork */
const volatile __u8 filter_uid_on = 0;
const volatile __u32 filter_uid = 0;
const volatile __u8 filter_comm_on = 0;
const volatile char filter_comm[CGS_COMM_LEN] = {};

/* Bit n set: scope_cgroups holds a cgroup at level n (root is level 0). */
__u32 scope_level_mask = 0;
/* When the scope is exactly one cgroup: its id and level, compared without a map
 * lookup (the common case: -c PATH, --container ID, -- CMD). 0: use the map. */
__u64 scope_single_id = 0;
__u32 scope_single_level = 0;
/* The `-- CMD` child between fork and its execve: still cgscope's code, not CMD's. */
__u32 hold_tgid = 0;

#define CGS_MAX_CGROUP_LEVEL 16

static __always_inline int cgroup_in_scope(void)
{
	__u32 mask = scope_level_mask;
	int lvl;

	if (scope_single_id)
		return bpf_get_current_ancestor_cgroup_id(scope_single_level) == scope_single_id;
	for (lvl = 0; lvl < CGS_MAX_CGROUP_LEVEL; lvl++) {
		__u64 id;

		if (!(mask & (1U << lvl)))
			continue;
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (id && bpf_map_lookup_elem(&scope_cgroups, &id))
			return 1;
	}
	return 0;
}

static __always_inline int comm_matches(struct task_struct *task)
{
	char comm[CGS_COMM_LEN];
	int i;

	bpf_get_current_comm(comm, sizeof(comm));
	for (i = 0; i < CGS_COMM_LEN; i++) {
		if (comm[i] != filter_comm[i])
			return 0;
		if (!comm[i])
			break;
	}
	return 1;
}

/* Everything but the event selection and the self check, which callers do first. */
static __always_inline int in_scope(struct task_struct *task, __u32 tgid)
{
	if (tgid == hold_tgid)
		return 0;
	if (filter_cgroup_on && !cgroup_in_scope())
		return 0;
	if (filter_pid_on && !bpf_map_lookup_elem(&scope_pids, &tgid))
		return 0;
	if (filter_uid_on && task->real_cred->uid.val != filter_uid)
		return 0;
	if (filter_comm_on && !comm_matches(task))
		return 0;
	return 1;
}

#endif
