/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --no-relay (--via direct only): the connect is not rewritten, so no byte
 * passes through cgscope; the socket is watched instead, and reported to
 * proxy_flows when it closes, for the access log.
 *
 *   watch_connect()  at connect: who dialled, and when, into the sk_storage
 *   watch_sockops()  TCP_CONNECT: ask for state callbacks on this socket only,
 *                    and enter it in proxy_open; ACTIVE_ESTABLISHED: mark it;
 *                    STATE: note it in proxy_open; to TCP_CLOSE: report, and
 *                    take it out of proxy_open
 *
 * proxy_open is what a stop reads to log the connections still open then (a
 * stop detaches these programs first, so nothing changes it while it is read).
 * An entry the full map refuses is counted: that connection is logged only if
 * it closes before the stop.
 *
 * Every full TCP socket ends with a move to TCP_CLOSE (tcp_done, tcp_close,
 * tcp_disconnect), whatever the path (FIN either side, RST, timeout, a close in
 * SYN_SENT), so each watched connection is reported once; the watch is cleared
 * then, so a socket connected again (after AF_UNSPEC) starts afresh.
 */
#ifndef CGSCOPE_BPF_PROXY_WATCH_H
#define CGSCOPE_BPF_PROXY_WATCH_H

#include "proxy_maps.bpf.h"

/* Who is in process context at connect; sockops runs later, often in softirq. */
static __always_inline void record_who(struct cgs_proxy_sock *s)
{
	s->who.cgroup_id = bpf_get_current_cgroup_id();
	s->who.pid = bpf_get_current_pid_tgid() >> 32;
	s->who.uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(s->who.comm, sizeof(s->who.comm));
}

/* 0: the connect goes on unchanged, watched; -1: refuse it (no storage for the
 * record: every connection of the cgroup is logged, or it does not happen). */
static __always_inline int watch_connect(struct bpf_sock_addr *ctx, const struct cgs_addr *dst)
{
	struct cgs_proxy_sock *s;

	s = (struct cgs_proxy_sock *)orig_dst_record(&proxy_orig, ctx, 1, dst, dst, (__u16)ctx->user_port, 0);
	if (!s)
		return -1;
	record_who(s);
	s->start_ns = bpf_ktime_get_ns();
	s->watch = CGS_PROXY_WATCH;
	proxy_count(CGS_PROXY_STAT_WATCHED);
	return 0;
}

/* The socket's error as the application would read it (SO_ERROR): refused,
 * timed out, reset. */
static __always_inline __s32 watch_sk_err(struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	return tp ? tp->inet_conn.icsk_inet.sk.sk_err : 0;
}

/* What the socket's record says of the connection; the caller adds the rest. */
static __always_inline void flow_from(struct cgs_proxy_flow *f, const struct cgs_proxy_sock *s, __u16 state)
{
	f->who = s->who;
	f->dst = s->orig.orig_addr;
	f->dst_port = s->orig.orig_port;
	f->start_ns = s->start_ns;
	f->old_state = state;
	f->watch = s->watch;
	f->pad0 = 0;
}

static __always_inline void watch_report(struct bpf_sock_ops *skops, struct bpf_sock *sk, struct cgs_proxy_sock *s)
{
	struct cgs_proxy_flow *f = bpf_ringbuf_reserve(&proxy_flows, sizeof(*f), 0);

	if (!f) {
		proxy_count(CGS_PROXY_STAT_FLOWS_LOST);
		return;
	}
	flow_from(f, s, (__u16)skops->args[0]);
	f->end_ns = bpf_ktime_get_ns();
	f->bytes_acked = skops->bytes_acked;
	f->bytes_received = skops->bytes_received;
	f->err = watch_sk_err(sk);
	bpf_ringbuf_submit(f, 0);
}

/* At TCP_CONNECT: the connection enters proxy_open, in SYN_SENT. */
static __always_inline void watch_open(struct bpf_sock_ops *skops, const struct cgs_proxy_sock *s)
{
	struct cgs_proxy_flow f = {};
	__u64 cookie = bpf_get_socket_cookie(skops);

	flow_from(&f, s, BPF_TCP_SYN_SENT);
	if (bpf_map_update_elem(&proxy_open, &cookie, &f, BPF_ANY) != 0)
		proxy_count(CGS_PROXY_STAT_OPEN_UNTRACKED);
}

/* A state change short of TCP_CLOSE: proxy_open says where the connection is. */
static __always_inline void watch_state(struct bpf_sock_ops *skops, const struct cgs_proxy_sock *s)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct cgs_proxy_flow *f = bpf_map_lookup_elem(&proxy_open, &cookie);

	if (!f)
		return;
	f->old_state = (__u16)skops->args[1];
	/* The move to ESTABLISHED comes before ACTIVE_ESTABLISHED marks it. */
	f->watch = s->watch | (skops->args[1] == BPF_TCP_ESTABLISHED ? CGS_PROXY_WATCH_ESTABLISHED : 0);
}

/* The sockops side; the caller's program has run its own part first. */
static __always_inline void watch_sockops(struct bpf_sock_ops *skops)
{
	struct cgs_proxy_sock *s;
	struct bpf_sock *sk;
	__u32 op = skops->op;

	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_STATE_CB)
		return;
	sk = skops->sk;
	if (!sk)
		return;
	s = bpf_sk_storage_get(&proxy_orig, sk, 0, 0);
	if (!s || !(s->watch & CGS_PROXY_WATCH))
		return;
	if (op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		/* A later connect that went direct (a bypass) cleared peer_port, not
		 * the watch of a connect that failed before it reached TCP. */
		if (!s->orig.peer_port) {
			s->watch = 0;
			return;
		}
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
		watch_open(skops, s);
	} else if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		s->watch |= CGS_PROXY_WATCH_ESTABLISHED;
	} else if (skops->args[1] == BPF_TCP_CLOSE) {
		__u64 cookie = bpf_get_socket_cookie(skops);

		watch_report(skops, sk, s);
		bpf_map_delete_elem(&proxy_open, &cookie);
		s->watch = 0;
	} else {
		watch_state(skops, s);
	}
}

#endif
