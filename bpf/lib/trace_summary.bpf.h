/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --summary and -T: per-syscall counters summed in the kernel, and the time each
 * call spent between sys_enter and sys_exit.
 *
 * The counters live in a per-CPU array indexed by syscall number, so they are
 * exact whatever the ring buffer loses and cost no record when only the summary
 * is asked. A call's duration needs its entry time: a tp_btf/sys_enter program
 * stamps the task (task storage), and it is loaded only with -T or --summary
 * (user space turns its autoload off otherwise), so the default path pays nothing.
 */
#ifndef CGSCOPE_BPF_TRACE_SUMMARY_H
#define CGSCOPE_BPF_TRACE_SUMMARY_H

const volatile __u8 times_on = 0; /* on_sys_enter_time is loaded: durations exist */
const volatile __u8 record_durations = 0; /* -T: records carry CGS_REC_F_DURATION */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CGS_SUM_MAX_NR);
	__type(key, __u32);
	__type(value, struct cgs_sum_stat);
} sum_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sys_entry_ts SEC(".maps");

/* Every syscall of the tasks in the cgroup and pid scope (so that -p does not
 * stamp the whole machine); the rest of the scope is decided at exit. Not the
 * hold test: the `-- CMD` child's execve begins held and must be stamped. */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter_time, struct pt_regs *regs, long id)
{
	struct task_struct *task;
	__u64 *ts;

	if (!cgroup_scope_ok())
		return 0;
	task = bpf_get_current_task_btf();
	if (filter_pid_on) {
		__u32 tgid = task->tgid;

		if (!bpf_map_lookup_elem(&scope_pids, &tgid))
			return 0;
	}
	ts = bpf_task_storage_get(&sys_entry_ts, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
	return 0;
}

/* ns since this task's sys_enter, 0 when unknown (the call began before the
 * programs were attached, or times are off). The stamp is used once. */
static __always_inline __u64 syscall_duration(struct task_struct *task)
{
	__u64 *ts, d = 0;

	if (!times_on)
		return 0;
	ts = bpf_task_storage_get(&sys_entry_ts, task, 0, 0);
	if (ts && *ts) {
		d = bpf_ktime_get_ns() - *ts;
		*ts = 0;
	}
	return d;
}

/* clone, fork, vfork, clone3: the child's own return (0) is not a call it made. */
#define CGS_SUM_NR_CLONE 56
#define CGS_SUM_NR_FORK 57
#define CGS_SUM_NR_VFORK 58
#define CGS_SUM_NR_CLONE3 435

static __always_inline void sum_count(__u32 nr, long ret, __u64 ns)
{
	struct cgs_sum_stat *st;

	if (nr >= CGS_SUM_MAX_NR)
		return;
	if (ret == 0 && (nr == CGS_SUM_NR_CLONE || nr == CGS_SUM_NR_FORK || nr == CGS_SUM_NR_VFORK || nr == CGS_SUM_NR_CLONE3))
		return;
	st = bpf_map_lookup_elem(&sum_stats, &nr);
	if (!st)
		return;
	st->calls++;
	if (ret < 0 && ret >= -4095)
		st->errors++;
	st->ns += ns;
}

/* execve/execveat at exit, which return before the main path's scope tests. */
static __always_inline void sum_count_exec(__u32 nr, long ret, __u64 ns)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid;

	if (tgid == self_tgid || !in_scope(task, tgid) || task_in_compat_syscall(task))
		return;
	sum_count(nr, ret, ns);
}

struct cgs_timed_record {
	struct cgs_record r;
	__u64 ns;
};

/* A fixed record with its duration after the header, built in place; NULL,
 * counted, when the ring is full. The caller fills ret/args and submits. */
static __always_inline struct cgs_timed_record *reserve_timed(struct task_struct *task, __u32 nr, __u64 ns)
{
	struct cgs_timed_record *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec) {
		count_drop(CGS_DROP_RINGBUF_FULL);
		return NULL;
	}
	fill_task_header(&rec->r, task, nr);
	rec->r.size = sizeof(*rec);
	rec->r.flags = CGS_REC_F_DURATION;
	rec->ns = ns;
	return rec;
}

static __always_inline int send_fixed_timed(struct task_struct *task, struct pt_regs *regs, __u32 nr,
					    long ret, __u64 ns, int ia32)
{
	struct cgs_timed_record *rec = reserve_timed(task, nr, ns);

	if (!rec)
		return 0;
	rec->r.ret = ret;
	read_args(rec->r.args, regs, ia32);
	bpf_ringbuf_submit(rec, wake_flag());
	return 0;
}

/* The exit half of an execve (only its return value), with its duration. */
static __always_inline int send_exec_exit_timed(struct task_struct *task, __u32 nr, long ret, __u64 ns)
{
	struct cgs_timed_record *rec = reserve_timed(task, nr, ns);

	if (!rec)
		return 0;
	rec->r.ret = ret;
	__builtin_memset(rec->r.args, 0, sizeof(rec->r.args));
	bpf_ringbuf_submit(rec, wake_flag());
	return 0;
}

/* Appends the duration to a record built in the scratch slot; the new end. */
static __always_inline __u32 put_duration(struct scratch *s, __u32 end, __u64 ns)
{
	struct cgs_record *r = (struct cgs_record *)s->data;
	__u64 off = end;

	if (!record_durations)
		return end;
	/* Check and use the very same register, or the verifier loses the bound. */
	barrier_var(off);
	if (off > CGS_SCRATCH_SIZE - sizeof(ns))
		return end;
	__builtin_memcpy(&s->data[off], &ns, sizeof(ns));
	r->flags |= CGS_REC_F_DURATION;
	return off + sizeof(ns);
}

#endif
