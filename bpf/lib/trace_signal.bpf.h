/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The `signals` events: signal_generate (a signal is sent to a task) and
 * signal_deliver (a task takes one), as tp_btf programs (both tracepoints exist
 * with these arguments on 6.1 and later). Loaded only when selected. The record
 * layout is in include/cgscope/abi/trace.h (CGS_EV_SIGNAL_*).
 */
#ifndef CGSCOPE_BPF_TRACE_SIGNAL_H
#define CGSCOPE_BPF_TRACE_SIGNAL_H

/* The kernel's SEND_SIG_NOINFO (0) and SEND_SIG_PRIV (1): no siginfo behind. */
#define CGS_SEND_SIG_PRIV 1
#define CGS_SI_USER 0
#define CGS_SI_KERNEL 0x80

/* The cgroup part of the scope for a task other than the current one (the
 * receiver of signal_generate runs in the sender's context): its cgroup and
 * ancestors against the scope, walking up at most CGS_MAX_CGROUP_LEVEL. */
static __always_inline int task_cgroup_in_scope(struct task_struct *t)
{
	struct cgroup *cg;
	int i;

	if (!filter_cgroup_on)
		return 1;
	cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	for (i = 0; i < CGS_MAX_CGROUP_LEVEL && cg; i++) {
		__u64 id = BPF_CORE_READ(cg, kn, id);
		__u64 single = scope_single_id;

		if (single ? id == single : bpf_map_lookup_elem(&scope_cgroups, &id) != NULL)
			return 1;
		/* self (a cgroup_subsys_state) is the first member of struct cgroup. */
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return 0;
}

static __always_inline void signal_fill(struct cgs_record *r, int sig, struct kernel_siginfo *info)
{
	r->args[0] = sig;
	if ((unsigned long)info <= CGS_SEND_SIG_PRIV) {
		r->args[2] = info ? CGS_SI_KERNEL : CGS_SI_USER;
		return;
	}
	r->args[1] = (__u32)BPF_CORE_READ(info, si_errno);
	r->args[2] = (__u32)BPF_CORE_READ(info, si_code);
	bpf_probe_read_kernel(&r->args[3], 2 * sizeof(__u64), &info->_sifields);
}

static __always_inline int signal_send(struct task_struct *task, __u32 nr, int sig,
				       struct kernel_siginfo *info, __u64 extra, long ret)
{
	struct cgs_record *r = reserve_fixed(task, nr);

	if (!r)
		return 0;
	__builtin_memset(r->args, 0, sizeof(r->args));
	signal_fill(r, sig, info);
	r->args[5] = extra;
	r->ret = ret;
	bpf_ringbuf_submit(r, wake_flag());
	return 0;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(on_signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *task, int group,
	     int result)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (tgid == self_tgid || !task_cgroup_in_scope(task) || !task_scope_ok(task, tgid))
		return 0;
	return signal_send(task, CGS_EV_SIGNAL_GENERATE, sig, info, bpf_get_current_pid_tgid() >> 32, result);
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(on_signal_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid;

	if (tgid == self_tgid || !in_scope(task, tgid))
		return 0;
	return signal_send(task, CGS_EV_SIGNAL_DELIVER, sig, info, (__u64)BPF_CORE_READ(ka, sa.sa_handler), 0);
}

#endif
