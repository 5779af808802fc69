/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ia32 syscalls: `int 0x80` from a 64-bit program, or any syscall of a 32-bit
 * one. They reach the same sys_enter/sys_exit tracepoints with the i386 number
 * in orig_ax, which would otherwise read as some x86_64 call (5 is fstat, not
 * open): the task's TS_COMPAT (task_in_compat_syscall) tells them apart. Records
 * carry nr = CGS_IA32_NR_BASE + the i386 number; the per-syscall tables hold
 * them at CGS_IA32_SLOT + that number (include/cgscope/abi/trace.h).
 *
 * Not done for them: fd paths, close paths, path generations and in-kernel file
 * sums (user space asks for none: the fd table is x86_64's only).
 *
 * Included at the end of bpf/trace.bpf.c: it uses its helpers.
 */
#ifndef CGSCOPE_BPF_TRACE_IA32_H
#define CGSCOPE_BPF_TRACE_IA32_H

/* i386 fork, clone, vfork, clone3: the child's own return (0) is not a call it
 * made (as sum_count does for the x86_64 numbers). */
static __always_inline int ia32_child_return(__u32 nr, long ret)
{
	return ret == 0 && (nr == 2 || nr == 120 || nr == 190 || nr == 435);
}

/* sys_exit of an ia32 call; `nr` is its i386 number (orig_ax). */
static __noinline int ia32_exit(struct pt_regs *regs, __u32 nr, long ret)
{
	struct task_struct *task;
	struct cgs_record *r;
	struct scratch *s;
	__u32 slot, rnr, tgid, end;
	__u64 ns;

	if (nr >= CGS_IA32_MAX_SYSCALLS)
		return 0;
	slot = nr;
	barrier_var(slot); /* masked where the verifier sees it */
	slot = CGS_IA32_SLOT + (slot & (CGS_IA32_MAX_SYSCALLS - 1));
	if (!(wanted[slot] & (CGS_WANT_EMIT | CGS_WANT_COUNT | CGS_WANT_EXEC_EXIT)))
		return 0;
	if (only_failed && ret >= 0)
		return 0;
	rnr = CGS_IA32_NR_BASE + nr;
	task = bpf_get_current_task_btf();
	tgid = task->tgid;
	if (nr == CGS_IA32_NR_EXECVE || nr == CGS_IA32_NR_EXECVEAT) {
		/* Counted apart: the exit record goes by exec_pending, not the scope. */
		ns = syscall_duration(task);
		if ((wanted[slot] & CGS_WANT_COUNT) && tgid != self_tgid && in_scope(task, tgid))
			sum_count(rnr, ret, ns);
		return wanted[slot] & (CGS_WANT_EMIT | CGS_WANT_EXEC_EXIT) ? exec_exit(rnr, ret, ns) : 0;
	}
	if (!cgroup_scope_ok())
		return 0;
	if (tgid == self_tgid || !task_scope_ok(task, tgid))
		return 0;
	ns = syscall_duration(task);
	if (wanted[slot] & CGS_WANT_COUNT) {
		if (!ia32_child_return(nr, ret))
			sum_count(rnr, ret, ns);
		if (!(wanted[slot] & CGS_WANT_EMIT))
			return 0;
	}
	if (!has_sections[slot])
		return record_durations ? send_fixed_timed(task, regs, rnr, ret, ns, 1)
					: send_fixed(task, regs, rnr, ret, 1);
	r = start_scratch(&s, task, regs, rnr, ret, 1);
	if (!r)
		return 0;
	end = capture_args(s, r, slot, ret, 0);
	end = put_duration(s, end, ns);
	send_scratch(s, end, CGS_DROP_RINGBUF_FULL);
	return 0;
}

/* The entries of the ia32 calls that need one (execve/execveat: their memory is
 * gone at exit; exit/exit_group: no exit). The per-syscall tracepoints never
 * fire for ia32 calls, so this is on the generic hook (present on 6.1 too);
 * user space loads it only when one of those four ia32 calls is wanted. */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_ia32_enter, struct pt_regs *regs, long id)
{
	switch (id) {
	case CGS_IA32_NR_EXECVE:
	case CGS_IA32_NR_EXECVEAT:
	case CGS_IA32_NR_EXIT:
	case CGS_IA32_NR_EXIT_GROUP:
		break;
	default:
		return 0;
	}
	if (!task_in_compat_syscall(bpf_get_current_task_btf()))
		return 0;
	if (id == CGS_IA32_NR_EXECVE) {
		__u64 raw[CGS_NARGS] = {(__u32)regs->bx, (__u32)regs->cx, (__u32)regs->dx, 0, 0, 0};

		return exec_entry(CGS_IA32_NR_BASE + CGS_IA32_NR_EXECVE, CGS_IA32_SLOT + CGS_IA32_NR_EXECVE, 4,
				  0, raw);
	}
	if (id == CGS_IA32_NR_EXECVEAT) {
		__u64 raw[CGS_NARGS] = {(__u32)regs->bx, (__u32)regs->cx, (__u32)regs->dx,
					(__u32)regs->si, (__u32)regs->di, 0};

		return exec_entry(CGS_IA32_NR_BASE + CGS_IA32_NR_EXECVEAT, CGS_IA32_SLOT + CGS_IA32_NR_EXECVEAT,
				  4, 1, raw);
	}
	/* Constants, not `id`: older verifiers (6.1) do not bound it from the switch. */
	if (id == CGS_IA32_NR_EXIT)
		return entry_only((__u32)regs->bx, CGS_IA32_NR_BASE + CGS_IA32_NR_EXIT,
				  CGS_IA32_SLOT + CGS_IA32_NR_EXIT);
	return entry_only((__u32)regs->bx, CGS_IA32_NR_BASE + CGS_IA32_NR_EXIT_GROUP,
			  CGS_IA32_SLOT + CGS_IA32_NR_EXIT_GROUP);
}

#endif
