/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * UDP flows, for `cgscope trace --flows` (and the udp_peer/udp_close events).
 * UDP has no states to trace: what a flow is made of is its datagrams. With no
 * kprobes, the one place that sees every datagram of a socket with its socket
 * is the cgroup_skb hooks; they are attached to the cgroup v2 root, so that
 * every socket of the machine passes them, and they count, per (socket, remote
 * address and port) pair, the payload bytes and datagrams each way in
 * udp_pairs (struct cgs_udp_key/count). The first datagram of a pair sends a
 * udp_peer record with both addresses as the IP and UDP headers have them; a
 * socket with pairs sends udp_close when it is released (cgroup/sock_release).
 * User space reads the counters then (and for pairs idle a while, and at the
 * end) and deletes them: the ring carries two records per pair, not one per
 * datagram.
 *
 * Who. An ingress datagram is taken in softirq, on whatever task the CPU was
 * on; an egress one leaves in the sender's own send call (udp_sendmsg builds
 * and sends it there). A datagram names its task only when it is an egress one
 * and the current task is no kernel thread and is in the cgroup of the socket
 * (bpf_skb_cgroup_id: the cgroup the socket was made in), so that a datagram
 * sent by the kernel for a socket (a tunnel's, say) is never credited to the
 * task it interrupted. Such a send also names the pair's owner in its counters.
 *
 * Scope, as for tcp_state (trace_net.bpf.h): a datagram sent by a task counts
 * when the task is in scope; any other datagram counts for a socket
 * remembered (udp_known, from the pairs it made), or with no scope filter, or,
 * for a scope of cgroups alone, when the socket's cgroup is in one of them.
 * With -p, --uid or --comm, the datagrams a socket receives before its first
 * send in scope are therefore not counted.
 *
 * Included at the end of trace.bpf.c, after trace_net.bpf.h (its record helpers).
 * User space loads and attaches these programs only when a UDP event is selected.
 */
#ifndef CGSCOPE_BPF_TRACE_UDP_H
#define CGSCOPE_BPF_TRACE_UDP_H

#define CGS_ETH_P_IP 0x0800
#define CGS_ETH_P_IPV6 0x86DD
#define CGS_IP_MF_OFFSET 0x3fff /* more fragments, fragment offset: a fragment */

/* Set by user space when the kernel lets cgroup_skb programs call
 * bpf_get_netns_cookie (6.1 does not): without it a pair's namespace is not
 * known (0), and the call is dead code the verifier never checks. */
const volatile __u8 udp_netns_cookie = 0;

/* Not preallocated: an element user space deletes is freed after an RCU grace
 * period, so a program still holding a pointer to it adds to a dead element
 * (lost), never to the pair that would reuse a preallocated one at once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cgs_udp_key);
	__type(value, struct cgs_udp_count);
} udp_pairs SEC(".maps");

/* Sockets with pairs, in scope: their later datagrams count whoever handles
 * them, and their release is reported. A plain hash, not an LRU one (which may
 * evict a long-lived socket early): the release deletes the entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct cgs_tcp_owner);
} udp_known SEC(".maps");

/* A datagram's two ends, from its headers, as the socket sees them. */
struct cgs_udp_ends {
	__u32 local[4], remote[4]; /* network order; IPv4 in [0] */
	__u16 local_port, remote_port; /* host order */
	__u16 family;
	__u16 pad;
	__u32 payload;
};

struct cgs_udp_rec4 {
	struct cgs_record r;
	struct cgs_ends4 e;
	struct cgs_udp_info info;
};
struct cgs_udp_rec6 {
	struct cgs_record r;
	struct cgs_ends6 e;
	struct cgs_udp_info info;
};

/* The ends of a UDP datagram; 0 for anything else (a fragment past the
 * first, extension headers before UDP, a short packet). cgroup_skb programs
 * see the packet from its network header on. */
static __always_inline int udp_ends(struct __sk_buff *skb, int egress, struct cgs_udp_ends *e)
{
	__u16 ports[2];
	__u32 hdr;

	if (skb->protocol == bpf_htons(CGS_ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP ||
		    (ip.frag_off & bpf_htons(CGS_IP_MF_OFFSET) && ip.frag_off & bpf_htons(0x1fff)))
			return 0;
		hdr = ip.ihl * 4;
		e->family = CGS_AF_INET;
		e->local[0] = egress ? ip.saddr : ip.daddr;
		e->remote[0] = egress ? ip.daddr : ip.saddr;
	} else if (skb->protocol == bpf_htons(CGS_ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_UDP)
			return 0;
		hdr = sizeof(ip6);
		e->family = CGS_AF_INET6;
		__builtin_memcpy(e->local, egress ? &ip6.saddr : &ip6.daddr, 16);
		__builtin_memcpy(e->remote, egress ? &ip6.daddr : &ip6.saddr, 16);
	} else {
		return 0;
	}
	if (hdr < 20 || hdr > 60 || bpf_skb_load_bytes(skb, hdr, ports, sizeof(ports)))
		return 0;
	e->local_port = bpf_ntohs(egress ? ports[0] : ports[1]);
	e->remote_port = bpf_ntohs(egress ? ports[1] : ports[0]);
	e->payload = skb->len > hdr + 8 ? skb->len - hdr - 8 : 0;
	return 1;
}

/* Whether the current task sent this datagram (see the top of the file). */
static __always_inline int udp_by_task(struct __sk_buff *skb, struct task_struct *task, int egress)
{
	return egress && !(task->flags & CGS_PF_KTHREAD) && task->cgroups->dfl_cgrp->kn->id == bpf_skb_cgroup_id(skb);
}

/* Whether a datagram is in scope, and its owner. The socket's cgroup is tested
 * first, by udp_count: with a cgroup filter it must be in scope whatever else
 * holds (a task that sends in scope is in its socket's cgroup, and so is every
 * socket remembered from one), which is all a datagram of another cgroup costs. */
static __always_inline int udp_in_scope(struct __sk_buff *skb, struct task_struct *task, int by_task, __u64 cookie,
					struct cgs_tcp_owner *owner)
{
	struct cgs_tcp_owner *known;

	owner->cgroup_id = bpf_skb_cgroup_id(skb);
	if (by_task)
		return task->tgid != self_tgid && task_scope_ok(task, task->tgid);
	if (scope_is_everything() || (filter_cgroup_on && !filter_pid_on && !filter_uid_on && !filter_comm_on))
		return 1;
	known = bpf_map_lookup_elem(&udp_known, &cookie);
	if (!known)
		return 0;
	*owner = *known;
	return 1;
}

/* 0 when the record went into the ring. */
static __always_inline int send_udp_peer(struct __sk_buff *skb, struct task_struct *task, int by_task,
					 const struct cgs_tcp_owner *owner, __u64 cookie, int egress,
					 const struct cgs_udp_ends *e)
{
	void *mem = bpf_ringbuf_reserve(&events, sizeof(struct cgs_udp_rec6), 0);
	struct cgs_record *r = mem;
	__u64 netns = udp_netns_cookie ? bpf_get_netns_cookie(skb) : 0;

	if (!mem) {
		count_drop(CGS_DROP_RINGBUF_FULL);
		return -1;
	}
	net_header(r, task, by_task, owner->cgroup_id, CGS_EV_UDP_PEER, cookie);
	r->nvar = 3;
	r->args[0] = egress ? CGS_UDP_DIR_SEND : CGS_UDP_DIR_RECV;
	r->args[1] = e->payload;
	if (e->family == CGS_AF_INET6) {
		struct cgs_udp_rec6 *t = mem;

		t->r.size = sizeof(*t);
		put_ends6(&t->e, bpf_htons(e->local_port), (const struct in6_addr *)e->local, bpf_htons(e->remote_port),
			  (const struct in6_addr *)e->remote, sizeof(t->info));
		t->info = (struct cgs_udp_info){.netns_cookie = netns};
	} else {
		struct cgs_udp_rec4 *t = mem;

		t->r.size = sizeof(*t);
		put_ends4(&t->e, bpf_htons(e->local_port), e->local[0], bpf_htons(e->remote_port), e->remote[0],
			  sizeof(t->info));
		t->info = (struct cgs_udp_info){.netns_cookie = netns};
	}
	bpf_ringbuf_submit(mem, wake_flag());
	return 0;
}

static __always_inline int udp_count(struct __sk_buff *skb, int egress)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgs_tcp_owner owner = {};
	struct cgs_udp_ends e = {};
	struct cgs_udp_count *c;
	struct cgs_udp_key key = {};
	struct bpf_sock *sk = skb->sk;
	__u64 segs, cookie;
	int by_task;

	if (sk)
		sk = bpf_sk_fullsock(sk); /* protocol is a full socket's field */
	if (!sk || sk->protocol != IPPROTO_UDP || (filter_cgroup_on && !skb_cgroup_in_scope(skb)))
		return 1;
	cookie = bpf_get_socket_cookie(skb);
	by_task = udp_by_task(skb, task, egress);
	if (!udp_in_scope(skb, task, by_task, cookie, &owner) || !udp_ends(skb, egress, &e))
		return 1;
	key.cookie = cookie;
	__builtin_memcpy(key.addr, e.remote, sizeof(key.addr));
	key.port = e.remote_port;
	key.family = e.family;
	c = bpf_map_lookup_elem(&udp_pairs, &key);
	if (!c) {
		struct cgs_udp_count fresh = {};
		long err = bpf_map_update_elem(&udp_pairs, &key, &fresh, BPF_NOEXIST);

		if (err && err != -17 /* EEXIST: another CPU made it */) {
			count_drop(CGS_DROP_UDP_FULL);
			return 1;
		}
		if (!err) { /* this datagram made the pair: it alone reports it */
			if (send_udp_peer(skb, task, by_task, &owner, cookie, egress, &e) != 0) {
				/* Unreported, the pair would be counted for no one: the
				 * next datagram makes it again. */
				bpf_map_delete_elem(&udp_pairs, &key);
				return 1;
			}
			bpf_map_update_elem(&udp_known, &cookie, &owner, BPF_ANY);
		}
		c = bpf_map_lookup_elem(&udp_pairs, &key);
		if (!c)
			return 1;
	}
	segs = skb->gso_segs > 1 ? skb->gso_segs : 1;
	if (egress) {
		__sync_fetch_and_add(&c->bytes_sent, e.payload);
		__sync_fetch_and_add(&c->dgrams_sent, segs);
	} else {
		__sync_fetch_and_add(&c->bytes_received, e.payload);
		__sync_fetch_and_add(&c->dgrams_received, segs);
	}
	c->last_ns = bpf_ktime_get_ns();
	if (by_task && !c->tgid) {
		__builtin_memcpy(c->comm, task->comm, sizeof(c->comm));
		c->tgid = task->tgid;
	}
	return 1;
}

SEC("cgroup_skb/egress")
int on_udp_egress(struct __sk_buff *skb)
{
	return udp_count(skb, 1);
}

SEC("cgroup_skb/ingress")
int on_udp_ingress(struct __sk_buff *skb)
{
	return udp_count(skb, 0);
}

SEC("cgroup/sock_release")
int on_udp_release(struct bpf_sock *sk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgs_tcp_owner *known;
	struct cgs_record *r;
	__u64 cookie;
	int by_task;

	if (sk->protocol != IPPROTO_UDP)
		return 1;
	cookie = bpf_get_socket_cookie(sk);
	known = bpf_map_lookup_elem(&udp_known, &cookie);
	if (!known)
		return 1;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop(CGS_DROP_RINGBUF_FULL);
	} else {
		/* Named, as a datagram's sender is, only when it is no kernel thread,
		 * is in the cgroup of the socket's owner, and passes the filters on
		 * the task (-p, --uid, --comm); the cgroup filter passed with the
		 * owner's cgroup. Any other releaser (a thread --comm leaves out, a
		 * process the socket was passed to) is not shown. */
		by_task = !(task->flags & CGS_PF_KTHREAD) && task->tgid != self_tgid &&
			  task->cgroups->dfl_cgrp->kn->id == known->cgroup_id && task_scope_ok(task, task->tgid);
		net_header(r, task, by_task, known->cgroup_id, CGS_EV_UDP_CLOSE, cookie);
		r->args[0] = cookie;
		r->args[1] = r->args[5];
		r->args[4] = 0;
		r->args[5] = 0;
		r->size = sizeof(*r);
		bpf_ringbuf_submit(r, wake_flag());
	}
	bpf_map_delete_elem(&udp_known, &cookie);
	return 1;
}

#endif
