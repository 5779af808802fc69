/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * close()'s path, resolved at syscall entry. By sys_exit the fd is gone, so the
 * walk every other fd call gets at exit (cgs_put_path) runs here, at entry, on
 * the per-syscall tracepoint (which costs nothing for other syscalls), and its
 * record waits in a per-thread slot for the exit, which sends it with the return
 * value. Where the slot is missing (the entry ran before the trace attached, the
 * slot was evicted) user space falls back to its fd table and the generation
 * (trace_fd.bpf.h).
 *
 * A slot holds a whole record (header, one CGS_ARG_FDPATH section on argument 0,
 * a path of up to CGS_PATH_MAX): too big for the stack and for a per-CPU scratch
 * slot shared with other tasks (close may sleep and migrate between entry and
 * exit), hence a map keyed by tid. An LRU map never refuses a thread, and reuses
 * a slot's memory as soon as it evicts it: the exit checks the copy it took
 * still names its own thread and fd, so a reused slot is never sent as its own.
 */
#ifndef CGSCOPE_BPF_TRACE_CLOSE_H
#define CGSCOPE_BPF_TRACE_CLOSE_H

/* Set before load: close is shown and its paths come from its entry. */
const volatile __u8 close_at_entry = 0;

struct cgs_close_slot {
	struct cgs_record r; /* r.size 0: consumed (or never filled) */
	struct cgs_var v;
	struct cgs_fd_path fp;
	char path[CGS_PATH_MAX];
};

/* Only threads between a close's entry and exit need a slot; more entries only
 * keep slots of idle threads. User space shrinks it to one when unused. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct cgs_close_slot);
} close_slots SEC(".maps");

/* At close's entry: resolves fd into the scratch slot, then keeps the record. */
static __always_inline int close_entry(__s64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgs_close_slot *slot;
	struct cgs_record *r;
	struct scratch *s;
	__u32 tid = task->pid;
	__u64 end;

	if (!close_at_entry || task->tgid == self_tgid || !in_scope(task, task->tgid))
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	r = (struct cgs_record *)s->data;
	fill_task_ids(r, task, CGS_NR_CLOSE);
	r->ts_ns = 0; /* set at the exit (send_close_taken) */
	r->ret = 0;
	__builtin_memset(r->args, 0, sizeof(r->args));
	r->args[0] = fd;
	/* Check and use the very same 64-bit register, or the verifier loses the
	 * bound (the compiler keeps the unextended copy otherwise). */
	end = (__u32)cgs_put_path(sizeof(*r), 0, CGS_KIND_BYTE(CGS_ARG_FDPATH, 0), 0);
	barrier_var(end);
	if (end < sizeof(*r) || end > sizeof(*slot))
		return 0;
	r->size = end;
	/* A thread's slot stays between its closes: only what the walk wrote is
	 * copied into it, not the whole 4 KiB a map update would copy. */
	slot = bpf_map_lookup_elem(&close_slots, &tid);
	if (slot)
		bpf_probe_read_kernel(slot, end, s->data);
	else
		bpf_map_update_elem(&close_slots, &tid, s->data, BPF_ANY);
	return 0;
}

/* At close's exit, whatever the filters say next: takes this thread's slot into
 * the scratch slot (and consumes it). Returns the record's size, 0 when there is
 * none for this call. */
static __always_inline __u32 close_entry_take(__u32 tid, __s32 fd)
{
	struct cgs_close_slot *slot = bpf_map_lookup_elem(&close_slots, &tid);
	struct cgs_record *r;
	struct scratch *s;
	__u64 size;

	if (!slot)
		return 0;
	size = slot->r.size;
	barrier_var(size);
	if (size < sizeof(slot->r) || size > sizeof(*slot))
		return 0;
	slot->r.size = 0;
	s = get_scratch();
	if (!s || bpf_probe_read_kernel(s->data, size, slot) != 0)
		return 0;
	r = (struct cgs_record *)s->data;
	if (r->tid != tid || (__s32)r->args[0] != fd || r->nr != CGS_NR_CLOSE)
		return 0;
	return size;
}

SEC("tracepoint/syscalls/sys_enter_close")
int cgs_close_enter(struct trace_event_raw_sys_enter *ctx)
{
	return close_entry((__s32)ctx->args[0]);
}

#endif
