/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * select/pselect6's fd sets and timeout, which the call overwrites: strace shows
 * the sets it was given, and after the return the ready ones and the time left
 * (`= 1 (in [3], left {...})`). The entry programs keep what the call was given
 * by thread (select_pending); the exit takes it before any filter (so that no
 * entry outlives its call to be taken by a later one: a call seccomp refused has
 * an exit and no entry), and its CGS_ARG_SELECT section (struct cgs_select)
 * joins it to what the call left. Only for selected calls in scope: nothing
 * else pays for it.
 */
#ifndef CGSCOPE_BPF_TRACE_SELECT_H
#define CGSCOPE_BPF_TRACE_SELECT_H

/* What a thread's select was given, until its exit. An LRU, so that an entry
 * whose exit never came (the tracer stopped between the two) is evicted, never
 * a full map; stamped with the call's number and thread. Sized down by user
 * space when select is not traced. */
struct select_pending {
	__u32 nr;
	__u32 tid;
	struct cgs_select_part in;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct select_pending);
} select_pending_map SEC(".maps");

/* The entry the exit took, from before its filters to its record (one per CPU:
 * an exit hook runs to its end on the CPU it started on). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct select_pending);
} select_taken SEC(".maps");

/* The sets and the timeout at the user pointers, into `p`. */
static __always_inline void select_read(struct cgs_select_part *p, __s64 nfds, const __u64 *sets, __u64 timeout)
{
	__u32 n = nfds < 0 ? 0 : (__u32)nfds, bytes;
	int i;

	p->flags = 0;
	p->nfds = n;
	if (n > CGS_SELECT_WORDS * 64) {
		p->flags |= CGS_SEL_NFDS_CUT;
		n = CGS_SELECT_WORDS * 64;
	}
	bytes = (n + 63) / 64 * 8;
	/* bytes <= sizeof(p->sets[i]) already: the mask shows the verifier. */
	barrier_var(bytes);
	bytes &= 0xff;
#pragma unroll
	for (i = 0; i < 3; i++) {
		/* With no fds the call reads nothing: strace shows the address. */
		if (!sets[i] || !bytes)
			continue;
		if (bpf_probe_read_user(p->sets[i], bytes, (const void *)sets[i]) == 0)
			p->flags |= CGS_SEL_SET(i);
		else
			p->flags |= CGS_SEL_FAULT;
	}
	if (!timeout)
		return;
	if (bpf_probe_read_user(p->timeout, sizeof(p->timeout), (const void *)timeout) == 0)
		p->flags |= CGS_SEL_TIMEOUT;
	else
		p->flags |= CGS_SEL_FAULT;
}

/* At entry (nr a constant): keep what the call was given. The scratch slot is
 * free at entry (records are built in it at exit, and at exec's entry, which is
 * another call), so the value is built there, not on the stack. */
static __always_inline int select_entry(__u32 nr, __u64 nfds, __u64 in, __u64 out, __u64 ex, __u64 timeout)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid, tid = (__u32)bpf_get_current_pid_tgid();
	__u64 sets[3] = {in, out, ex};
	struct select_pending *p;
	struct scratch *s;

	if (!(wanted[nr] & CGS_WANT_EMIT) || tgid == self_tgid || !in_scope(task, tgid))
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	p = (struct select_pending *)s->data;
	p->nr = nr;
	p->tid = tid;
	select_read(&p->in, (__s32)nfds, sets, timeout);
	bpf_map_update_elem(&select_pending_map, &tid, p, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_select")
int on_enter_select(struct trace_event_raw_sys_enter *ctx)
{
	return select_entry(CGS_NR_SELECT, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3], ctx->args[4]);
}

SEC("tracepoint/syscalls/sys_enter_pselect6")
int on_enter_pselect6(struct trace_event_raw_sys_enter *ctx)
{
	return select_entry(CGS_NR_PSELECT6, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3], ctx->args[4]);
}

/* At exit, before any filter (nr a select's): moves the thread's entry, if it
 * is this call's, to select_taken, or leaves none there. Global: its keys are
 * on its own stack, not the exit hook's. */
__noinline int cgs_select_take(__u32 nr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0;
	struct select_pending *p, *t;

	t = bpf_map_lookup_elem(&select_taken, &zero);
	if (!t)
		return 0;
	t->nr = 0;
	p = bpf_map_lookup_elem(&select_pending_map, &tid);
	if (!p)
		return 0;
	if (p->nr == nr && p->tid == tid && bpf_probe_read_kernel(t, sizeof(*t), p) != 0)
		t->nr = 0;
	bpf_map_delete_elem(&select_pending_map, &tid);
	return 0;
}

/* One cut value for each set shown cut at FD_SETSIZE (the arguments, and the
 * ready sets of the return's text). */
static __always_inline void select_count_cuts(const struct cgs_select_part *p)
{
	int i;

	if (!(p->flags & CGS_SEL_NFDS_CUT))
		return;
#pragma unroll
	for (i = 0; i < 3; i++)
		if (p->flags & CGS_SEL_SET(i))
			count_drop(CGS_DROP_TRUNCATED);
}

/*
 * At exit: the section for the record in this CPU's scratch slot at `off`, of
 * syscall `nr` that returned `ret`. Global: verified once.
 */
__noinline int cgs_put_select(__u32 off, __u32 nr, __s64 ret)
{
	struct scratch *s = get_scratch();
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0;
	struct select_pending *t;
	struct cgs_select *d;
	struct cgs_record *r;
	struct cgs_var *v;
	__u64 sets[3];

	if (!s || off > CGS_SCRATCH_SIZE - sizeof(*v) - sizeof(*d) - 16)
		return off;
	r = (struct cgs_record *)s->data;
	v = var_at(s, off);
	d = (struct cgs_select *)at(s, off + sizeof(*v));
	d->have_entry = 0;
	d->pad = 0;
	t = bpf_map_lookup_elem(&select_taken, &zero);
	if (t && t->nr == nr && t->tid == tid && bpf_probe_read_kernel(&d->in, sizeof(d->in), &t->in) == 0)
		d->have_entry = 1;
	if (t)
		t->nr = 0;
	if (d->have_entry)
		select_count_cuts(&d->in);
	else
		d->in.flags = 0;
	d->out.flags = 0;
	d->out.nfds = 0;
	if (ret >= 0) {
		sets[0] = r->args[1];
		sets[1] = r->args[2];
		sets[2] = r->args[3];
		select_read(&d->out, (__s32)r->args[0], sets, r->args[4]);
		if (ret > 0)
			select_count_cuts(&d->out);
	}
	return finish_var(r, v, off, 0, CGS_ARG_SELECT, sizeof(*d), 0);
}

#endif
