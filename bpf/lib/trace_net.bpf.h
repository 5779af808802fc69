/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TCP state changes (CGS_EV_TCP_STATE), from the inet_sock_set_state BTF
 * tracepoint: one record per transition of a TCP socket, with both addresses,
 * the socket cookie that joins the states of one connection and, at every
 * state, the payload counts of the tcp_sock (final at CLOSE, where flows read them).
 *
 * Who did it. Many transitions run in softirq (a SYN-ACK, a FIN or an ACK
 * arriving, a timer firing), on whatever task the CPU happened to interrupt.
 * Such a record names no task (pid, tid, uid 0, comm empty, context "softirq")
 * and carries the cgroup of the process that owns the connection instead.
 * A record names its task only for the transitions that the kernel makes
 * nowhere but in a socket call of that task, and never in softirq:
 * CLOSE->SYN_SENT (connect), CLOSE->LISTEN (listen), LISTEN->CLOSE,
 * ESTABLISHED->FIN_WAIT1 and CLOSE_WAIT->LAST_ACK (close, shutdown); and not
 * when the current task is a kernel thread (a close deferred to a kworker, an
 * in-kernel TCP user). The rule is one of construction, not of luck: the
 * preempt count would tell process context from softirq for every transition,
 * but reading it (the __preempt_count per-CPU ksym) needs CONFIG_KALLSYMS_ALL,
 * which this project's kernels lack, and a process-context transition such as
 * SYN_SENT->ESTABLISHED run from connect()'s backlog is then merely left
 * unattributed, never attributed wrongly.
 *
 * Scope. A transition made by a task is reported when the task is in scope,
 * exactly as its syscalls would be, and its socket is then remembered
 * (tcp_known, by cookie); a listening socket is remembered by netns and port
 * (tcp_listeners). A softirq transition is reported only for a remembered
 * socket, for the child a remembered listener is cloning (LISTEN->SYN_RECV,
 * and SYN_RECV->ESTABLISHED: on 6.1 the first under the child's own cookie),
 * which is remembered from then on, or, when the scope is cgroups alone, for a
 * socket made in one of them (older than the trace, say): sockets of processes
 * out of scope are never reported. With no scope filter every socket is in scope.
 *
 * Included at the end of trace.bpf.c: it uses the ring, the scope filters and
 * the record helpers defined there. User space loads the program only when
 * tcp_state is selected (-e tcp_state, --flows).
 */
#ifndef CGSCOPE_BPF_TRACE_NET_H
#define CGSCOPE_BPF_TRACE_NET_H

#include <bpf/bpf_endian.h>

#define CGS_AF_INET 2
#define CGS_AF_INET6 10
#define CGS_PF_KTHREAD 0x00200000
#define CGS_SOCK_DONE 1 /* enum sock_flags: the peer's FIN was received */

/* The connection's owner, for records that name no task. */
struct cgs_tcp_owner {
	__u64 cgroup_id;
};

struct cgs_listen_key {
	__u32 netns; /* inode number of the listener's network namespace */
	__u16 port;  /* local port, host order */
	__u16 pad;
};

/* Sockets in scope, by cookie: their softirq transitions are reported. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct cgs_tcp_owner);
} tcp_known SEC(".maps");

/* Listening sockets in scope: the children they clone in softirq are too. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct cgs_listen_key);
	__type(value, struct cgs_tcp_owner);
} tcp_listeners SEC(".maps");

/* struct sockaddr_in and sockaddr_in6 as user space lays them out (UAPI), so
 * that the decoder's sockaddr rendering applies unchanged. */
struct cgs_sin {
	__u16 family;
	__u16 port; /* network order */
	__u32 addr;
	__u8 zero[8];
};
struct cgs_sin6 {
	__u16 family;
	__u16 port;
	__u32 flowinfo;
	__u32 addr[4];
	__u32 scope_id;
	__u32 pad; /* to the section's 8-byte alignment; not part of its length */
};

/* What follows the header of a socket record (tcp_state, udp_peer): the local
 * (section 2) and the remote address (3), and the header of an AUX section (5)
 * whose data, of the event's own type, comes last. */
struct cgs_ends4 {
	struct cgs_var vs;
	struct cgs_sin s;
	struct cgs_var vd;
	struct cgs_sin d;
	struct cgs_var vi;
};
struct cgs_ends6 {
	struct cgs_var vs;
	struct cgs_sin6 s;
	struct cgs_var vd;
	struct cgs_sin6 d;
	struct cgs_var vi;
};

struct cgs_tcp_rec4 {
	struct cgs_record r;
	struct cgs_ends4 e;
	struct cgs_tcp_info info;
};
struct cgs_tcp_rec6 {
	struct cgs_record r;
	struct cgs_ends6 e;
	struct cgs_tcp_info info;
};

static __always_inline int syscall_transition(int old, int new)
{
	return (old == TCP_CLOSE && (new == TCP_SYN_SENT || new == TCP_LISTEN)) ||
	       (old == TCP_LISTEN && new == TCP_CLOSE) || (old == TCP_ESTABLISHED && new == TCP_FIN_WAIT1) ||
	       (old == TCP_CLOSE_WAIT && new == TCP_LAST_ACK);
}

/* Whether the current task made this transition (see the top of the file). */
static __always_inline int made_by_task(struct task_struct *task, int old, int new)
{
	return !(task->flags & CGS_PF_KTHREAD) && syscall_transition(old, new);
}

static __always_inline int scope_is_everything(void)
{
	return !filter_cgroup_on && !filter_pid_on && !filter_uid_on && !filter_comm_on;
}

/* The local port, network order. inet_sport rather than skc_num: the kernel
 * clears skc_num when it releases the port, before the CLOSE transition is
 * reported (and a child being cloned has its listener's). */
static __always_inline __u16 sock_sport(const struct sock *sk)
{
	return BPF_CORE_READ((const struct inet_sock *)sk, inet_sport);
}

static __always_inline __u32 sock_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* The socket's own cgroup (that of the process that made it), where the kernel
 * keeps a pointer to it (5.15+); 0 elsewhere. */
static __always_inline __u64 sock_cgroup_id(const struct sock *sk)
{
	if (!bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		return 0;
	return BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
}

/* Whether the socket was made in a cgroup in scope, for a scope that is cgroups
 * alone: so that connections (and listeners) older than the trace are seen too.
 * Needs the socket's cgroup pointer (5.15+) and cgroup->ancestors (6.0+). */
static __always_inline int sock_cgroup_in_scope(const struct sock *sk)
{
	__u32 mask = scope_level_mask;
	struct cgroup *cg = NULL;
	int level, lvl;

	if (!filter_cgroup_on || filter_pid_on || filter_uid_on || filter_comm_on)
		return 0;
	if (!bpf_core_field_exists(sk->sk_cgrp_data.cgroup) || !bpf_core_field_exists(cg->ancestors))
		return 0;
	cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	if (!cg)
		return 0;
	level = BPF_CORE_READ(cg, level);
	for (lvl = 0; lvl < CGS_MAX_CGROUP_LEVEL; lvl++) {
		struct cgroup *anc = NULL;
		__u64 id;

		if (!(mask & (1U << lvl)) || lvl > level)
			continue;
		bpf_core_read(&anc, sizeof(anc), &cg->ancestors[lvl]);
		id = BPF_CORE_READ(anc, kn, id);
		if (scope_single_id ? id == scope_single_id : bpf_map_lookup_elem(&scope_cgroups, &id) != NULL)
			return 1;
	}
	return 0;
}

/* The owner of a transition no task made, or 0 when the socket is out of scope. */
static __always_inline int softirq_owner(const struct sock *sk, __u64 cookie, int old, int new,
					 struct cgs_tcp_owner *owner)
{
	struct cgs_tcp_owner *known = bpf_map_lookup_elem(&tcp_known, &cookie);

	if (known) {
		*owner = *known;
		return 1;
	}
	/* A child being cloned still has its listener's local port; so has one
	 * completing its handshake, which on 6.1 is the first transition under its
	 * own cookie (its LISTEN->SYN_RECV carries the listener's, copied with it). */
	if ((old == TCP_LISTEN && new == TCP_SYN_RECV) || old == TCP_SYN_RECV) {
		struct cgs_listen_key key = {.netns = sock_netns(sk), .port = bpf_ntohs(sock_sport(sk))};

		known = bpf_map_lookup_elem(&tcp_listeners, &key);
		if (known) {
			*owner = *known;
			bpf_map_update_elem(&tcp_known, &cookie, owner, BPF_ANY);
			return 1;
		}
	}
	if (!scope_is_everything() && !sock_cgroup_in_scope(sk))
		return 0;
	owner->cgroup_id = sock_cgroup_id(sk);
	return 1;
}

/* Keeps tcp_known and tcp_listeners in step with a transition in scope. */
static __always_inline void remember(const struct sock *sk, __u64 cookie, int old, int new,
				     struct cgs_tcp_owner *owner, int by_task)
{
	if (new == TCP_LISTEN || old == TCP_LISTEN) {
		struct cgs_listen_key key = {.netns = sock_netns(sk), .port = bpf_ntohs(sock_sport(sk))};

		if (new == TCP_LISTEN)
			bpf_map_update_elem(&tcp_listeners, &key, owner, BPF_ANY);
		else if (new == TCP_CLOSE)
			bpf_map_delete_elem(&tcp_listeners, &key);
	}
	if (by_task && new != TCP_CLOSE)
		bpf_map_update_elem(&tcp_known, &cookie, owner, BPF_ANY);
}

static __always_inline void put_sin(struct cgs_var *v, struct cgs_sin *s, __u8 arg, __u16 port_be, __u32 addr)
{
	*v = (struct cgs_var){.arg = arg, .kind = CGS_ARG_SOCKADDR, .len = sizeof(*s)};
	*s = (struct cgs_sin){.family = CGS_AF_INET, .port = port_be, .addr = addr};
}

static __always_inline void put_sin6(struct cgs_var *v, struct cgs_sin6 *s, __u8 arg, __u16 port_be,
				     const struct in6_addr *addr)
{
	*v = (struct cgs_var){.arg = arg, .kind = CGS_ARG_SOCKADDR, .len = 28};
	*s = (struct cgs_sin6){.family = CGS_AF_INET6, .port = port_be};
	bpf_core_read(s->addr, sizeof(s->addr), addr);
}

static __always_inline void put_ends4(struct cgs_ends4 *e, __u16 lport_be, __u32 laddr, __u16 rport_be, __u32 raddr,
				     __u32 aux_len)
{
	put_sin(&e->vs, &e->s, 2, lport_be, laddr);
	put_sin(&e->vd, &e->d, 3, rport_be, raddr);
	e->vi = (struct cgs_var){.arg = 5, .kind = CGS_ARG_AUX, .len = aux_len};
}

static __always_inline void put_ends6(struct cgs_ends6 *e, __u16 lport_be, const struct in6_addr *laddr,
				     __u16 rport_be, const struct in6_addr *raddr, __u32 aux_len)
{
	put_sin6(&e->vs, &e->s, 2, lport_be, laddr);
	put_sin6(&e->vd, &e->d, 3, rport_be, raddr);
	e->vi = (struct cgs_var){.arg = 5, .kind = CGS_ARG_AUX, .len = aux_len};
}

/* Payload only: bytes_acked would count the SYN and FIN, bytes_received the
 * peer's FIN (tcp_fin() sets SOCK_DONE as it takes it). */
static __always_inline void put_info(struct cgs_tcp_info *info, const struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	*info = (struct cgs_tcp_info){.netns = sock_netns(sk)};
	if (tp) {
		info->bytes_sent = tp->bytes_sent - tp->bytes_retrans;
		info->bytes_received = tp->bytes_received - !!(sk->__sk_common.skc_flags & (1UL << CGS_SOCK_DONE));
	}
}

/* The fixed part of a socket record (tcp_state, udp_peer, udp_close): who, when,
 * which socket. A record made in softirq names the socket's owner's cgroup and no task. */
static __always_inline void net_header(struct cgs_record *r, struct task_struct *task, int by_task,
				       __u64 owner_cgroup, __u32 nr, __u64 cookie)
{
	if (by_task) {
		fill_task_header(r, task, nr);
	} else {
		__builtin_memset(r, 0, sizeof(*r));
		r->ts_ns = bpf_ktime_get_ns();
		r->nr = nr;
		r->cgroup_id = owner_cgroup;
	}
	r->ret = 0;
	r->args[0] = 0;
	r->args[1] = 0;
	r->args[2] = 0;
	r->args[3] = 0;
	r->args[4] = cookie;
	r->args[5] = by_task ? CGS_TCP_CTX_TASK : CGS_TCP_CTX_SOFTIRQ;
}

/* The fixed part of a tcp_state record. */
static __always_inline void tcp_header(struct cgs_record *r, struct task_struct *task, int by_task,
				       const struct cgs_tcp_owner *owner, __u64 cookie, int old, int new)
{
	net_header(r, task, by_task, owner->cgroup_id, CGS_EV_TCP_STATE, cookie);
	r->nvar = 3;
	r->args[0] = old;
	r->args[1] = new;
}

static __always_inline void send_tcp_state(const struct sock *sk, struct task_struct *task, int by_task,
					   const struct cgs_tcp_owner *owner, __u64 cookie, int old, int new)
{
	const struct sock_common *c = &sk->__sk_common;
	__u16 sport = sock_sport(sk), dport = c->skc_dport;
	void *mem = bpf_ringbuf_reserve(&events, sizeof(struct cgs_tcp_rec6), 0);

	if (!mem) {
		count_drop(CGS_DROP_RINGBUF_FULL);
		return;
	}
	tcp_header(mem, task, by_task, owner, cookie, old, new);
	if (c->skc_family == CGS_AF_INET6) {
		struct cgs_tcp_rec6 *t = mem;

		t->r.size = sizeof(*t);
		put_ends6(&t->e, sport, &c->skc_v6_rcv_saddr, dport, &c->skc_v6_daddr, sizeof(t->info));
		put_info(&t->info, sk);
	} else {
		struct cgs_tcp_rec4 *t = mem;

		t->r.size = sizeof(*t);
		put_ends4(&t->e, sport, c->skc_rcv_saddr, dport, c->skc_daddr, sizeof(t->info));
		put_info(&t->info, sk);
	}
	bpf_ringbuf_submit(mem, wake_flag());
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgs_tcp_owner owner = {};
	__u64 cookie;
	int by_task;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	cookie = bpf_get_socket_cookie((void *)sk);
	/* A socket that closes is forgotten whoever closes it (its cookie is not reused). */
	if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&tcp_known, &cookie);
	by_task = made_by_task(task, oldstate, newstate);
	if (by_task) {
		if (task->tgid == self_tgid || !in_scope(task, task->tgid))
			return 0;
		owner.cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	} else if (!softirq_owner(sk, cookie, oldstate, newstate, &owner)) {
		return 0;
	}
	remember(sk, cookie, oldstate, newstate, &owner, by_task);
	send_tcp_state(sk, task, by_task, &owner, cookie, oldstate, newstate);
	return 0;
}

#endif
