/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Readers of the current task. The task pointer comes from
 * bpf_get_current_task_btf() and is trusted, so fields are read with plain
 * (fault-safe) loads, not bpf_probe_read_kernel calls: on the per-syscall path
 * every helper call shows up in the benchmark.
 */
#ifndef CGSCOPE_BPF_TASK_H
#define CGSCOPE_BPF_TASK_H

/* The pid namespace the task lives in: the one its own pid was allocated in.
 * (nsproxy would be simpler but is already gone when sched_process_exit fires.) */
static __always_inline __u32 task_pidns_inum(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid upid = {};

	bpf_core_read(&upid, sizeof(upid), &pid->numbers[level & 31]);
	return BPF_CORE_READ(upid.ns, ns.inum);
}

static __always_inline __u32 task_pidns_level(struct task_struct *task)
{
	return BPF_CORE_READ(task, thread_pid, level);
}

/* The part of a record header that describes the current task, all but the
 * time: a record made at a syscall's entry (close) takes its time at the exit,
 * and each bpf_ktime_get_ns is a clock read that shows in a storm's profile. */
static __always_inline void fill_task_ids(struct cgs_record *r, struct task_struct *task, __u32 nr)
{
	const struct cred *cred = task->real_cred;

	r->cgroup_id = task->cgroups->dfl_cgrp->kn->id; /* what bpf_get_current_cgroup_id() reads, without the call */
	r->nr = nr;
	r->pid = task->tgid;
	r->tid = task->pid;
	r->ppid = task->real_parent->tgid;
	r->uid = cred->uid.val;
	r->gid = cred->gid.val;
	r->flags = 0;
	r->nvar = 0;
	__builtin_memcpy(r->comm, task->comm, sizeof(r->comm)); /* loads, not a helper call */
}

/* Fills the part of a record header that describes the current task, now. */
static __always_inline void fill_task_header(struct cgs_record *r, struct task_struct *task, __u32 nr)
{
	r->ts_ns = bpf_ktime_get_ns();
	fill_task_ids(r, task, nr);
}

/* A 32-bit (int 0x80 / ia32) syscall: its numbers are another table's. */
#define CGS_TS_COMPAT 0x0002
static __always_inline int task_in_compat_syscall(struct task_struct *task)
{
	return task->thread_info.status & CGS_TS_COMPAT;
}

#endif
