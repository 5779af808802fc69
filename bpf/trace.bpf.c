// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgscope trace, kernel side.
 *
 * One record per syscall, sent at sys_exit with the arguments read back from the
 * saved user registers (they are still there at exit) and the return value: one
 * hook on the hot path instead of an entry/exit pair joined through a map, which
 * measured 1.65x against 2.1x on an open/close storm. execve/execveat are the
 * exception: after a successful exec their pointers point into a dead address
 * space, so their arguments are captured by the per-syscall entry tracepoints
 * (which cost nothing for other syscalls) and user space joins the entry record
 * with the exit record. Process lifecycle comes from the scheduler tracepoints.
 */
#include "vmlinux/x86/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "cgscope/abi/trace.h"
#include "lib/maps.bpf.h"
#include "lib/task.bpf.h"
#include "lib/scope.bpf.h"


char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space from the syscall table and -e before load. */
/* Indexed by slot: the x86_64 number, or CGS_IA32_SLOT + the i386 number. */
const volatile __u8 wanted[CGS_MAX_SLOTS] = {};            /* 1: emit this syscall */
const volatile __u8 arg_kinds[CGS_MAX_SLOTS][CGS_NARGS] = {}; /* CGS_KIND_BYTE per argument */
const volatile __u8 has_sections[CGS_MAX_SLOTS] = {};      /* any kind besides RAW */
const volatile __u8 only_failed = 0;                          /* -x: only ret < 0 */
const volatile __u32 capture_bytes = 0;                       /* BUF kinds: 0 = off */
const volatile __u8 capture_envp = 0;
/* CGS_ARG_STRUCT/ARRAY: the struct's (an element's) size per argument. */
const volatile __u16 struct_size[CGS_MAX_SLOTS][CGS_NARGS] = {};
/* --argv-max, and -s for each argv/envp element (0: elements are cut only by
 * the array's byte limit). */
const volatile __u32 argv_elems = CGS_ARGV_MAX_ELEMS;
const volatile __u32 elem_keep = 0;
const volatile __u8 wanted_fork = 0, wanted_exec = 0, wanted_exit = 0, wanted_mkdir = 0;

#include "lib/capture.bpf.h" /* after the limits above, which it reads */

#include "lib/trace_fd.bpf.h"
#include "lib/trace_msghdr.bpf.h"
#include "lib/trace_iovdata.bpf.h"
#include "lib/trace_select.bpf.h"

/* Batched wake-ups: user space drains on a timer, so a record only wakes the
 * reader when the ring is filling up. */
const volatile __u64 wakeup_bytes = 1 << 20;

static __always_inline __u64 wake_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									      : BPF_RB_NO_WAKEUP;
}

/* Sends the record built in the scratch slot; 0 when it went into the ring. */
static __always_inline int send_scratch(struct scratch *s, __u32 end, __u32 drop_reason)
{
	struct cgs_record *r = (struct cgs_record *)s->data;
	__u64 size = end;

	/* Check and use the very same register, or the verifier loses the bound. */
	barrier_var(size);
	if (size > CGS_SCRATCH_SIZE) {
		count_drop(CGS_DROP_SCRATCH);
		return -1;
	}
	r->size = size;
	if (bpf_ringbuf_output(&events, s->data, size, wake_flag()) < 0) {
		count_drop(drop_reason);
		return -1;
	}
	return 0;
}

#include "lib/trace_close.bpf.h"
#include "lib/trace_fsum.bpf.h"

/* close with the path its entry resolved (trace_close.bpf.h), taken into the
 * scratch slot at `size` bytes: the exit's part of the header, then sent. */
static __always_inline __u32 put_duration(struct scratch *s, __u32 end, __u64 ns);
static __always_inline int send_close_taken(struct pt_regs *regs, long ret, __u32 size, __u64 ns)
{
	struct scratch *s = get_scratch();
	struct cgs_record *r;

	if (!s)
		return 0;
	r = (struct cgs_record *)s->data;
	r->ts_ns = bpf_ktime_get_ns();
	r->ret = ret;
	read_regs_args(r->args, regs);
	size = put_duration(s, size, ns);
	send_scratch(s, size, CGS_DROP_RINGBUF_FULL);
	return 0;
}

/* The per-argument captures of a syscall (by its slot), into the scratch record.
 * `files` (a constant) 0 keeps only the strings (paths, names): the ia32 exit's
 * copy. Its structs have i386 layouts and it has no fd table, and with every
 * capture in both copies on_sys_exit passed the verifier's 1M-instruction
 * bound (-e all); user space makes the other kinds raw for ia32 calls. */
static __always_inline __u32 capture_args(struct scratch *s, struct cgs_record *r, __u32 nr, long ret,
					  int files)
{
	__u32 off = sizeof(*r);
	int i;

#pragma unroll
	for (i = 0; i < CGS_NARGS; i++) {
		__u8 kb = arg_kinds[nr][i];
		__u8 kind = CGS_KIND(kb);
		__u32 li = CGS_LEN_ARG(kb);
		const void *p = (const void *)r->args[i];
		__u64 len = 0;

		/* Never true (six arguments fit); it bounds `off` for the verifier. */
		if (off > CGS_SCRATCH_SIZE - sizeof(struct cgs_var) - CGS_PATH_MAX)
			break;
		if (li < CGS_NARGS)
			len = r->args[li];
		switch (kind) {
		case CGS_ARG_STR:
			/* Paths and names: -s does not cut them (strace prints file names whole). */
			off = put_str(s, r, off, i, p, CGS_STR_KEEP_MAX, 1);
			break;
		case CGS_ARG_STRUCT:
			if (files && p && (!(li & CGS_STRUCT_OUT) || ret >= 0))
				off = put_bytes(s, r, off, i, kind, p, struct_size[nr][i], CGS_STRUCT_MAX);
			break;
		case CGS_ARG_ARRAY:
			/* An empty array is a section too: strace shows "[]". A count that is
			 * the return value exists only when the call succeeded. */
			if (li == CGS_COUNT_RET)
				len = ret;
			/* len is a user count: the product is bounded (u32 * u16) before the cut. */
			if (files && p && (li != CGS_COUNT_RET || ret >= 0))
				off = put_bytes(s, r, off, i, kind, p, (len & 0xffffffff) * struct_size[nr][i],
						CGS_STRUCT_MAX);
			break;
		case CGS_ARG_MSGHDR:
			/* recvmsg's (CGS_STRUCT_OUT) buffers hold what the call wrote only
			 * when it succeeded: otherwise the header alone. */
			if (files && p)
				off = cgs_put_msghdr(off, i, (li & CGS_STRUCT_OUT) && ret < 0);
			break;
		case CGS_ARG_SOCKADDR:
			if (files && p)
				off = put_bytes(s, r, off, i, kind, p, len, CGS_SOCKADDR_MAX);
			break;
		case CGS_ARG_SOCKADDR_PLEN: {
			int ulen = 0;

			if (files && p && ret >= 0 && len &&
			    bpf_probe_read_user(&ulen, sizeof(ulen), (const void *)len) == 0 && ulen > 0)
				off = put_bytes(s, r, off, i, kind, p, ulen, CGS_SOCKADDR_MAX);
			break;
		}
		case CGS_ARG_BUF:
			/* What was actually transferred: ret bytes, when it succeeded. */
			if (files && capture_bytes && p && ret > 0)
				off = put_bytes(s, r, off, i, kind, p, (__u64)ret < len ? (__u64)ret : len,
						capture_bytes);
			break;
		case CGS_ARG_FDPATH:
		case CGS_ARG_DIRPATH:
		case CGS_ARG_CWDPATH:
		case CGS_ARG_NEWFD:
		case CGS_ARG_FDCLOSE:
			if (files)
				off = put_file_section(s, r, off, i, kb, ret);
			break;
		default:
			break;
		}
	}
	return off;
}

/* The user registers saved at syscall entry still hold the arguments at exit. */
static __always_inline void read_regs_args(__u64 *args, struct pt_regs *regs)
{
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
}

/* An ia32 call's (lib/trace_ia32.bpf.h): the i386 argument registers, 32-bit
 * values zero-extended (user space sign-extends the signed ones). */
static __always_inline void read_ia32_args(__u64 *args, struct pt_regs *regs)
{
	args[0] = (__u32)regs->bx;
	args[1] = (__u32)regs->cx;
	args[2] = (__u32)regs->dx;
	args[3] = (__u32)regs->si;
	args[4] = (__u32)regs->di;
	args[5] = (__u32)regs->bp;
}

static __always_inline void read_args(__u64 *args, struct pt_regs *regs, int ia32)
{
	if (ia32)
		read_ia32_args(args, regs);
	else
		read_regs_args(args, regs);
}

/* A record of fixed size, built in place in the ring (no copy); NULL, counted,
 * when the ring is full. The caller sets ret/args/flags and submits. */
static __always_inline struct cgs_record *reserve_fixed(struct task_struct *task, __u32 nr)
{
	struct cgs_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	if (!r) {
		count_drop(CGS_DROP_RINGBUF_FULL);
		return NULL;
	}
	fill_task_header(r, task, nr);
	r->size = sizeof(*r);
	return r;
}

#include "lib/trace_summary.bpf.h"

/* A syscall without sections: its header, ret and arguments, in place. */
static __always_inline int send_fixed(struct task_struct *task, struct pt_regs *regs, __u32 nr, long ret,
				      int ia32)
{
	struct cgs_record *r = reserve_fixed(task, nr);

	if (!r)
		return 0;
	r->ret = ret;
	read_args(r->args, regs, ia32);
	bpf_ringbuf_submit(r, wake_flag());
	return 0;
}

/* A syscall's record begun in the scratch slot: header, ret and arguments;
 * NULL when there is no slot. */
static __always_inline struct cgs_record *start_scratch(struct scratch **sp, struct task_struct *task,
							struct pt_regs *regs, __u32 nr, long ret, int ia32)
{
	struct scratch *s = get_scratch();
	struct cgs_record *r;

	if (!s)
		return NULL;
	r = (struct cgs_record *)s->data;
	fill_task_header(r, task, nr);
	r->ret = ret;
	read_args(r->args, regs, ia32);
	*sp = s;
	return r;
}

/* The exit of an execve whose entry record was sent: only its return value. */
static __noinline int exec_exit(__u32 nr, long ret, __u64 ns)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid;
	struct cgs_record *r;

	if (bpf_map_delete_elem(&exec_pending, &tgid) != 0)
		return 0;
	if (record_durations)
		return send_exec_exit_timed(task, nr, ret, ns);
	r = reserve_fixed(task, nr);
	if (!r)
		return 0;
	r->ret = ret;
	__builtin_memset(r->args, 0, sizeof(r->args));
	bpf_ringbuf_submit(r, wake_flag());
	return 0;
}

static __noinline int ia32_exit(struct pt_regs *regs, __u32 nr, long ret); /* lib/trace_ia32.bpf.h */

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task;
	struct cgs_record *r;
	struct scratch *s;
	__u32 nr, slot32, tgid, end, close_size = 0;
	__u64 ns;

	/* Cheapest rejections first: an unselected syscall costs two loads. */
	nr = regs->orig_ax;
	if (nr >= CGS_MAX_SYSCALLS)
		return 0;
	/* The ia32 slot of the same number: masked on a copy the compiler cannot
	 * recompute from the unbounded 64-bit orig_ax (which the verifier rejects). */
	slot32 = nr;
	barrier_var(slot32);
	slot32 = CGS_IA32_SLOT + (slot32 & (CGS_IA32_MAX_SYSCALLS - 1));
	if (!wanted[nr] && !wanted[slot32])
		return 0;
	/* An ia32 call's number is the i386 table's (lib/trace_ia32.bpf.h). */
	if (task_in_compat_syscall(bpf_get_current_task_btf()))
		return ia32_exit(regs, nr, ret);
	if (!wanted[nr])
		return 0;
	if (wanted[nr] & CGS_WANT_PATHGEN) {
		path_move_end();
		if (!(wanted[nr] & (CGS_WANT_EMIT | CGS_WANT_COUNT)))
			return 0;
	}
	/* Before any filter: a slot left armed by a filtered exit could otherwise
	 * meet a later close of the same fd number whose entry did not run. */
	if (nr == CGS_NR_CLOSE && close_at_entry)
		close_size = close_entry_take((__u32)bpf_get_current_pid_tgid(), (__s32)regs->di);
	/* Before any filter too: a thread the filters leave out (another comm, uid
	 * or cgroup), or a call that succeeded under -x, may close, dup2 over or
	 * close_range a slot's fd. */
	if (fsum_on && (nr == CGS_NR_CLOSE || nr == CGS_NR_DUP2 || nr == CGS_NR_DUP3 || nr == CGS_NR_CLOSE_RANGE))
		cgs_fsum_exit(nr, ret, regs->di, regs->si);
	/* And a select's entry, which must not outlive its call (trace_select.bpf.h). */
	if ((nr == CGS_NR_SELECT || nr == CGS_NR_PSELECT6) && (wanted[nr] & CGS_WANT_EMIT))
		cgs_select_take(nr);
	if (only_failed && ret >= 0)
		return 0;
	if (nr == CGS_NR_EXECVE || nr == CGS_NR_EXECVEAT) {
		/* Counted apart: the exit record goes by exec_pending, not the scope. */
		ns = syscall_duration(bpf_get_current_task_btf());
		if (wanted[nr] & CGS_WANT_COUNT)
			sum_count_exec(nr, ret, ns);
		/* exec_exit sends only for an exec whose entry record went out. */
		return wanted[nr] & (CGS_WANT_EMIT | CGS_WANT_EXEC_EXIT) ? exec_exit(nr, ret, ns) : 0;
	}
	task = bpf_get_current_task_btf();
	tgid = task->tgid;
	if (tgid == self_tgid || !cgroup_scope_ok() || !task_scope_ok(task, tgid))
		return 0;
	ns = syscall_duration(task);
	if (wanted[nr] & CGS_WANT_COUNT) {
		sum_count(nr, ret, ns);
		if (!(wanted[nr] & CGS_WANT_EMIT))
			return 0;
	}

	if ((fsum_calls[nr] & (CGS_FSUM_READ | CGS_FSUM_WRITE)) && fsum_count(task, tgid, nr, ret, regs) == 0)
		return 0;
	if (!(wanted[nr] & CGS_WANT_EMIT))
		return 0; /* CGS_WANT_FDGONE only: for the slots above */

	if (!has_sections[nr])
		return record_durations ? send_fixed_timed(task, regs, nr, ret, ns, 0) : send_fixed(task, regs, nr, ret, 0);
	if (close_size)
		return send_close_taken(regs, ret, close_size, ns);
	/* -T: the scratch path below appends the duration. */
	if (has_sections[nr] == CGS_SECTIONS_FDCLOSE_ONLY && !record_durations)
		return send_fdclose_record(task, regs, nr, ret);

	r = start_scratch(&s, task, regs, nr, ret, 0);
	if (!r)
		return 0;
	end = capture_args(s, r, nr, ret, 1);
	if (iov_data_arg[nr])
		end = cgs_put_iov_data(end, iov_data_arg[nr], ret);
	if (nr == CGS_NR_SELECT || nr == CGS_NR_PSELECT6)
		end = cgs_put_select(end, nr, ret);
	if (fsum_calls[nr] & (CGS_FSUM_READ | CGS_FSUM_WRITE))
		fsum_arm(task, tgid, nr, ret, s);
	end = put_duration(s, end, ns);
	if (send_scratch(s, end, CGS_DROP_RINGBUF_FULL) == 0 && (fsum_calls[nr] & CGS_FSUM_SHOWN))
		cgs_fsum_arm_shown();
	return 0;
}

/* execve/execveat at entry: filename, argv and envp while their memory exists.
 * raw[fi] is the filename, raw[fi + 1] argv, raw[fi + 2] envp, arrays of
 * pointers of `psize` bytes (4 for ia32); `slot` indexes wanted. */
static __always_inline int exec_entry(__u32 nr, __u32 slot, __u32 psize, __u32 fi, __u64 *raw)
{
	const char *filename = (const char *)raw[fi];
	const void *argv = (const void *)raw[fi + 1], *envp = (const void *)raw[fi + 2];
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgs_record *r;
	struct scratch *s;
	__u32 tgid = task->tgid;
	__u32 off;
	int i;

	/* The `-- CMD` child becomes CMD here, whether or not execve is selected. */
	if (hold_tgid && tgid == hold_tgid)
		hold_tgid = 0;
	if (!(wanted[slot % CGS_MAX_SLOTS] & CGS_WANT_EMIT) || tgid == self_tgid)
		return 0;
	if (!in_scope(task, tgid))
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	r = (struct cgs_record *)s->data;
	fill_task_header(r, task, nr);
	r->flags = CGS_REC_F_ENTRY;
	r->ret = 0;
	for (i = 0; i < CGS_NARGS; i++)
		r->args[i] = raw[i];
	off = sizeof(*r);
	off = put_str(s, r, off, fi, filename, CGS_STR_KEEP_MAX, 1);
	off = put_strarr(s, r, off, fi + 1, argv, psize);
	if (capture_envp)
		off = put_strarr(s, r, off, fi + 2, envp, psize);
	if (send_scratch(s, off, CGS_DROP_ENTRY_LOST) == 0) {
		__u8 one = 1;

		bpf_map_update_elem(&exec_pending, &tgid, &one, BPF_ANY);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int on_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	__u64 raw[CGS_NARGS] = {ctx->args[0], ctx->args[1], ctx->args[2], 0, 0, 0};

	return exec_entry(CGS_NR_EXECVE, CGS_NR_EXECVE, 8, 0, raw);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int on_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	__u64 raw[CGS_NARGS] = {ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3], ctx->args[4], 0};

	return exec_entry(CGS_NR_EXECVEAT, CGS_NR_EXECVEAT, 8, 1, raw);
}

/* Syscalls that never reach sys_exit (exit, exit_group): one record at entry,
 * no ret. (rt_sigreturn reaches sys_exit with its number gone, and the kernel
 * refuses BPF on its entry tracepoint: it cannot be traced; see session.cc.) */
static __always_inline int entry_only(__u64 error_code, __u32 nr, __u32 slot)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid;
	struct cgs_record *r;

	/* Not counted by --summary: strace -c counts returns, and these never return. */
	if (!(wanted[slot % CGS_MAX_SLOTS] & CGS_WANT_EMIT) || tgid == self_tgid || !in_scope(task, tgid))
		return 0;
	r = reserve_fixed(task, nr);
	if (!r)
		return 0;
	r->flags = CGS_REC_F_ENTRY;
	r->ret = 0;
	__builtin_memset(r->args, 0, sizeof(r->args));
	r->args[0] = error_code;
	bpf_ringbuf_submit(r, wake_flag());
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_exit")
int on_enter_exit(struct trace_event_raw_sys_enter *ctx)
{
	return entry_only(ctx->args[0], CGS_NR_EXIT, CGS_NR_EXIT);
}

SEC("tracepoint/syscalls/sys_enter_exit_group")
int on_enter_exit_group(struct trace_event_raw_sys_enter *ctx)
{
	return entry_only(ctx->args[0], CGS_NR_EXIT_GROUP, CGS_NR_EXIT_GROUP);
}

/* The same entry captures (and close's, trace_close.bpf.h, and select's, trace_select.bpf.h) without tracefs: the per-syscall tracepoints
 * above are attached through tracefs (their ids live there), so where it cannot
 * be mounted user space loads this one instead. It runs for every syscall of the
 * machine, which is why it is the fallback and not the default. */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if (id == CGS_NR_CLOSE)
		return task_in_compat_syscall(bpf_get_current_task_btf()) ? 0 : close_entry((__s32)regs->di);
	if (id == CGS_NR_SELECT || id == CGS_NR_PSELECT6) {
		if (task_in_compat_syscall(bpf_get_current_task_btf()))
			return 0;
		/* Constants, not `id`, as below. */
		if (id == CGS_NR_SELECT)
			return select_entry(CGS_NR_SELECT, regs->di, regs->si, regs->dx, regs->r10, regs->r8);
		return select_entry(CGS_NR_PSELECT6, regs->di, regs->si, regs->dx, regs->r10, regs->r8);
	}
	switch (id) {
	case CGS_NR_EXECVE:
	case CGS_NR_EXECVEAT:
	case CGS_NR_EXIT:
	case CGS_NR_EXIT_GROUP:
		break;
	default:
		return path_move_sys_enter(id);
	}
	/* An ia32 syscall's numbers are another table's (the tracepoints above do
	 * not fire for them either). */
	if (task_in_compat_syscall(bpf_get_current_task_btf()))
		return 0;
	if (id == CGS_NR_EXECVE) {
		__u64 raw[CGS_NARGS] = {regs->di, regs->si, regs->dx, 0, 0, 0};

		return exec_entry(CGS_NR_EXECVE, CGS_NR_EXECVE, 8, 0, raw);
	}
	if (id == CGS_NR_EXECVEAT) {
		__u64 raw[CGS_NARGS] = {regs->di, regs->si, regs->dx, regs->r10, regs->r8, 0};

		return exec_entry(CGS_NR_EXECVEAT, CGS_NR_EXECVEAT, 8, 1, raw);
	}
	/* Constants, not `id`: older verifiers (6.1) do not bound it from the switch. */
	if (id == CGS_NR_EXIT)
		return entry_only(regs->di, CGS_NR_EXIT, CGS_NR_EXIT);
	return entry_only(regs->di, CGS_NR_EXIT_GROUP, CGS_NR_EXIT_GROUP);
}

/* Lifecycle records are sent even when -e did not ask for them (flagged
 * UNSELECTED): user space needs them to know processes and containers. */
static __always_inline struct cgs_record *lifecycle_start(struct scratch **sp, struct task_struct *task,
							  __u32 nr, __u8 selected)
{
	struct cgs_record *r;
	struct scratch *s;

	if (task->tgid == self_tgid)
		return NULL;
	s = get_scratch();
	if (!s)
		return NULL;
	r = (struct cgs_record *)s->data;
	fill_task_header(r, task, nr);
	r->ret = 0;
	__builtin_memset(r->args, 0, sizeof(r->args));
	if (!selected)
		r->flags |= CGS_REC_F_UNSELECTED;
	*sp = s;
	return r;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	struct cgs_scope_value one = {.present = 1};
	struct cgs_record *r;
	struct scratch *s;

	if (filter_pid_on && follow_children && ctgid != ptgid &&
	    bpf_map_lookup_elem(&scope_pids, &ptgid))
		bpf_map_update_elem(&scope_pids, &ctgid, &one, BPF_ANY);
	if (!in_scope(task, ptgid))
		return 0;
	r = lifecycle_start(&s, task, CGS_EV_PROCESS_FORK, wanted_fork);
	if (!r)
		return 0;
	r->args[0] = ctgid;
	r->args[1] = child->pid;
	r->args[2] = task_pidns_inum(child);
	r->args[3] = task_pidns_level(child);
	r->args[4] = child->files == parent->files;
	send_scratch(s, sizeof(*r), CGS_DROP_RINGBUF_FULL);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgs_record *r;
	struct scratch *s;
	unsigned long arg_start, arg_end;
	__u32 off;

	if (!in_scope(task, task->tgid))
		return 0;
	if (fsum_on)
		fsum_range_gone(task->tgid, 0, 0x7fffffff);
	r = lifecycle_start(&s, task, CGS_EV_PROCESS_EXEC, wanted_exec);
	if (!r)
		return 0;
	r->args[2] = old_pid;
	r->args[3] = task_pidns_inum(task);
	r->args[4] = task_pidns_level(task);
	off = put_str(s, r, sizeof(*r), 0, BPF_CORE_READ(bprm, filename), CGS_STR_KEEP_MAX, 0);
	/* The new image's argv is one NUL-separated block in its own memory. */
	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	if (arg_end > arg_start)
		off = put_bytes(s, r, off, 1, CGS_ARG_STRARR, (const void *)arg_start,
				arg_end - arg_start, CGS_ARGV_MAX_BYTES);
	send_scratch(s, off, CGS_DROP_RINGBUF_FULL);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_process_exit, struct task_struct *p)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid;
	struct cgs_record *r;
	struct scratch *s;
	int status;

	/* One record per process: when its last thread goes. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (fsum_on)
		fsum_process_gone(tgid);
	/* Whatever the other filters say: a reused pid must not inherit the scope. */
	if (filter_pid_on && follow_children) {
		int in = bpf_map_lookup_elem(&scope_pids, &tgid) != NULL;

		bpf_map_delete_elem(&scope_pids, &tgid);
		if (!in)
			return 0;
		if (!in_scope_except_pid(task, tgid))
			return 0;
	} else if (!in_scope(task, tgid)) {
		return 0;
	}
	r = lifecycle_start(&s, task, CGS_EV_PROCESS_EXIT, wanted_exit);
	if (!r)
		return 0;
	r->flags |= CGS_REC_F_GROUP_DEAD;
	/* The wait(2) status: exit_group() records it for the group, exit() only
	 * for the task. */
	status = BPF_CORE_READ(task, signal, group_exit_code) ?: task->exit_code;
	r->args[0] = (status >> 8) & 0xff;
	r->args[1] = status & 0x7f;
	r->args[2] = task_pidns_inum(task);
	r->ret = r->args[1] ? 128 + r->args[1] : r->args[0];
	send_scratch(s, sizeof(*r), CGS_DROP_RINGBUF_FULL);
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(on_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgs_record *r;
	struct scratch *s;
	__u32 off;

	/* Only the cgroup v2 hierarchy (id 0): v1 hierarchies of a hybrid host
	 * number their cgroups independently, and the ids would collide. */
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	r = lifecycle_start(&s, task, CGS_EV_CGROUP_MKDIR, wanted_mkdir);
	if (!r)
		return 0;
	r->args[0] = BPF_CORE_READ(cgrp, kn, id);
	r->args[1] = BPF_CORE_READ(cgrp, level);
	off = put_str(s, r, sizeof(*r), 2, path, CGS_STR_KEEP_MAX, 0);
	send_scratch(s, off, CGS_DROP_RINGBUF_FULL);
	return 0;
}
#include "lib/trace_net.bpf.h"
#include "lib/trace_signal.bpf.h"
#include "lib/trace_ia32.bpf.h"
#include "lib/trace_udp.bpf.h"
