// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgscope lb, kernel side: TCP load balancing at connect().
 *
 * cgroup/connect4|6 look the destination up in the frontend map and, for a
 * service address and port, rewrite it to a backend (or a waypoint) once, before
 * the kernel routes anything: no proxy, no per-packet NAT, no rule walk. The
 * destination the application dialled goes into the socket's sk_storage, where
 * cgroup/getpeername4|6 find it to answer with the service address, and sockops
 * publishes it for waypoints by client address:port.
 *
 * The entry programs are thin: they read the socket address, call lb_balance()
 * (which returns 0 or -errno) and write the result. A service with no usable
 * endpoint fails the connect with ECONNREFUSED through bpf_set_retval(); any
 * internal inconsistency (a map entry removed mid-lookup) lets the connect
 * through unchanged and is counted.
 */
#include "vmlinux/x86/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "cgscope/abi/lb.h"
#include "lib/lb_maps.bpf.h"
#include "lib/lb_select.bpf.h"
#include "lib/orig_dst.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define LB_SOCK_OK 1
#define LB_SOCK_REJECT 0

/* Only what the configuration asks for; everything else returns -ENOENT early. */
static __always_inline int lb_in_scope(struct bpf_sock_addr *ctx)
{
	__u32 zero = 0;
	struct cgs_lb_config *cfg = bpf_map_lookup_elem(&lb_config, &zero);
	__u64 cookie;

	if (cfg && cfg->netns_filter_on) {
		cookie = bpf_get_netns_cookie(ctx);
		if (!bpf_map_lookup_elem(&lb_netns, &cookie)) {
			lb_count_stat(CGS_LB_STAT_OTHER_NETNS);
			return 0;
		}
	}
	/* Measured at ~200 ns a balanced connect (bpf_stats): skipped until some
	 * socket has been exempted. */
	if (!cfg || !cfg->exempt_on)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	if (bpf_map_lookup_elem(&lb_exempt, &cookie)) {
		lb_count_stat(CGS_LB_STAT_EXEMPT);
		return 0;
	}
	return 1;
}

/* The worker: 0 with *out filled when the connect is to be rewritten, -ENOENT
 * when it is not ours, -ECONNREFUSED when it must fail, other -errno on an
 * internal inconsistency. Cheapest test first: most connects miss the frontend. */
static __always_inline int lb_balance(struct bpf_sock_addr *ctx, const struct cgs_addr *dst,
				      struct lb_choice *out)
{
	struct cgs_lb_frontend_value *f;
	int ret;

	if (ctx->protocol != IPPROTO_TCP)
		return -LB_ENOENT;
	f = bpf_map_lookup_elem(&lb_frontend, dst);
	if (!f)
		return -LB_ENOENT;
	if (!lb_in_scope(ctx))
		return -LB_ENOENT;
	if (f->kind == CGS_LB_KIND_SERVICE) {
		ret = lb_from_service(ctx, f->id, (__u16)ctx->user_port, out);
		if (ret == 0 || ret == -LB_ECONNREFUSED)
			lb_count_service(f->id, ret != 0);
		return ret;
	}
	if (f->kind == CGS_LB_KIND_BACKEND) {
		ret = lb_from_backend(f->id, out);
		if (ret == 0)
			lb_count_stat(CGS_LB_STAT_WORKLOAD);
		return ret;
	}
	return -LB_EINVAL;
}

/* The socket's record (bpf/lib/orig_dst.bpf.h): kept when this connect is
 * balanced and keeps it, cleared otherwise. A service's connect also owes its
 * counters an outcome, which sockops finds through the record. */
static __always_inline void lb_record(struct bpf_sock_addr *ctx, const struct cgs_addr *orig,
				      const struct lb_choice *c, int balanced)
{
	int keep = balanced && c->keep_orig;
	__u32 flags = (c->waypoint ? CGS_ORIG_F_PUBLISH : 0) | (c->service_id ? CGS_LB_SOCK_F_OUTCOME : 0);
	struct cgs_orig_dst *o = orig_dst_record(&lb_orig, ctx, keep, orig, &c->addr, c->port, flags);

	if (o)
		((struct cgs_lb_sock *)o)->service_id = c->service_id;
	else if (keep)
		lb_count_stat(CGS_LB_STAT_NO_STORAGE);
}

/* What the entry program returns for a worker's result that is not 0. */
static __always_inline int lb_verdict(int ret)
{
	if (ret == -LB_ECONNREFUSED) {
		/* Fail now instead of sending a SYN nowhere. */
		bpf_set_retval(-LB_ECONNREFUSED);
		return LB_SOCK_REJECT;
	}
	if (ret != -LB_ENOENT)
		lb_count_stat(CGS_LB_STAT_INTERNAL);
	return LB_SOCK_OK;
}

SEC("cgroup/connect4")
int lb_connect4(struct bpf_sock_addr *ctx)
{
	struct cgs_addr dst = {.a = {0, 0, bpf_htonl(0xffff), ctx->user_ip4}};
	struct lb_choice c = {};
	int ret;

	ret = lb_balance(ctx, &dst, &c);
	/* An IPv4 socket can only go to an IPv4 address; the config check makes
	 * this impossible, the test keeps it harmless. */
	if (!ret && !lb_addr_is_mapped4(&c.addr))
		ret = -LB_EINVAL;
	lb_record(ctx, &dst, &c, ret == 0);
	if (ret)
		return lb_verdict(ret);
	ctx->user_ip4 = c.addr.a[3];
	ctx->user_port = c.port;
	return LB_SOCK_OK;
}

SEC("cgroup/connect6")
int lb_connect6(struct bpf_sock_addr *ctx)
{
	struct cgs_addr dst = {.a = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
					ctx->user_ip6[3]}};
	struct lb_choice c = {};
	int ret;

	/* ::ffff:a.b.c.d finds the IPv4 service as is: frontends are in mapped form.
	 * An IPv4 backend is reached as ::ffff:backend, which a dual-stack socket
	 * connects to over IPv4. */
	ret = lb_balance(ctx, &dst, &c);
	lb_record(ctx, &dst, &c, ret == 0);
	if (ret)
		return lb_verdict(ret);
	ctx->user_ip6[0] = c.addr.a[0];
	ctx->user_ip6[1] = c.addr.a[1];
	ctx->user_ip6[2] = c.addr.a[2];
	ctx->user_ip6[3] = c.addr.a[3];
	ctx->user_port = c.port;
	return LB_SOCK_OK;
}

SEC("cgroup/getpeername4")
int lb_getpeername4(struct bpf_sock_addr *ctx)
{
	orig_dst_getpeername4(&lb_orig, ctx);
	return LB_SOCK_OK;
}

SEC("cgroup/getpeername6")
int lb_getpeername6(struct bpf_sock_addr *ctx)
{
	orig_dst_getpeername6(&lb_orig, ctx);
	return LB_SOCK_OK;
}

/* sockops, for sockets with a record: once a connection is established its
 * client port is known, so a waypoint's is published by client address:port;
 * and a service's connect gets its outcome. A refused or timed-out connect
 * never reaches ESTABLISHED, so its SYN_SENT -> CLOSE is watched through the
 * state callback, asked for at the SYN of exactly these sockets and dropped
 * once the outcome is counted (every later state change would cost a call). */
static __always_inline void lb_publish(struct bpf_sock_ops *skops, const struct cgs_orig_dst *o)
{
	struct cgs_conn_key k = {};
	struct cgs_conn_orig v = {};

	orig_conn_key(skops, &k);
	v.addr = o->orig_addr;
	v.port = bpf_ntohs(o->orig_port);
	bpf_map_update_elem(&lb_waypoint_orig, &k, &v, BPF_ANY);
}

static __always_inline void lb_outcome(struct bpf_sock_ops *skops, struct cgs_lb_sock *ls, int established)
{
	lb_count_outcome(ls->service_id, established);
	/* Off again only if lb turned it on: another sockops program may want it. */
	if (ls->orig.flags & CGS_LB_SOCK_F_OWN_STATE_CB)
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_STATE_CB_FLAG);
	ls->orig.flags &= ~(CGS_LB_SOCK_F_OUTCOME | CGS_LB_SOCK_F_OWN_STATE_CB);
}

SEC("sockops")
int lb_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	struct cgs_lb_sock *ls;
	struct bpf_sock *sk;

	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_STATE_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	ls = bpf_sk_storage_get(&lb_orig, sk, 0, 0);
	if (!ls)
		return 1;
	if (op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		__u32 cb = skops->bpf_sock_ops_cb_flags;

		if ((ls->orig.flags & CGS_LB_SOCK_F_OUTCOME) && !(cb & BPF_SOCK_OPS_STATE_CB_FLAG)) {
			ls->orig.flags |= CGS_LB_SOCK_F_OWN_STATE_CB;
			bpf_sock_ops_cb_flags_set(skops, cb | BPF_SOCK_OPS_STATE_CB_FLAG);
		}
		return 1;
	}
	if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		if (ls->orig.flags & CGS_ORIG_F_PUBLISH)
			lb_publish(skops, &ls->orig);
		if (ls->orig.flags & CGS_LB_SOCK_F_OUTCOME)
			lb_outcome(skops, ls, 1);
		return 1;
	}
	/* STATE_CB: args[0] the old state, args[1] the new. */
	if ((ls->orig.flags & CGS_LB_SOCK_F_OUTCOME) && skops->args[0] == TCP_SYN_SENT && skops->args[1] == TCP_CLOSE)
		lb_outcome(skops, ls, 0);
	return 1;
}
