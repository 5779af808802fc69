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

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define LB_AF_INET 2
#define LB_AF_INET6 10
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
static __always_inline int lb_balance(struct bpf_sock_addr *ctx, const struct cgs_lb_addr *dst,
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
		ret = lb_from_service(f->id, (__u16)ctx->user_port, out);
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

/* The socket's record of where it meant to go. Written when this connect is
 * balanced and keeps it. Otherwise an earlier record is cleared: a socket can
 * connect again after connect(AF_UNSPEC), and getpeername and sockops must not
 * answer for the new connection from the old one. Clearing only looks up: a
 * socket without storage costs one load. */
static __always_inline void lb_record(struct bpf_sock_addr *ctx, const struct cgs_lb_addr *orig,
				      const struct lb_choice *c, int balanced)
{
	struct cgs_lb_orig *o;

	if (!balanced || !c->keep_orig) {
		if (ctx->protocol != IPPROTO_TCP)
			return;
		o = bpf_sk_storage_get(&lb_orig, ctx->sk, 0, 0);
		if (o) {
			o->peer_port = 0; /* matches no connected peer */
			o->flags = 0;
		}
		return;
	}
	o = bpf_sk_storage_get(&lb_orig, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o) {
		lb_count_stat(CGS_LB_STAT_NO_STORAGE);
		return;
	}
	o->orig_addr = *orig;
	o->orig_port = (__u16)ctx->user_port;
	o->peer_addr = c->addr;
	o->peer_port = c->port;
	o->flags = c->waypoint ? CGS_LB_ORIG_F_WAYPOINT : 0;
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
	struct cgs_lb_addr dst = {.a = {0, 0, bpf_htonl(0xffff), ctx->user_ip4}};
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
	struct cgs_lb_addr dst = {.a = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
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

/* The peer a balanced socket reports is the one it dialled, as long as it is
 * still connected where we sent it (a socket can disconnect and connect again). */
static __always_inline struct cgs_lb_orig *lb_orig_of(struct bpf_sock_addr *ctx)
{
	if (!ctx->sk)
		return 0;
	return bpf_sk_storage_get(&lb_orig, ctx->sk, 0, 0);
}

SEC("cgroup/getpeername4")
int lb_getpeername4(struct bpf_sock_addr *ctx)
{
	struct cgs_lb_orig *o = lb_orig_of(ctx);

	if (!o || o->peer_addr.a[3] != ctx->user_ip4 || o->peer_port != (__u16)ctx->user_port)
		return LB_SOCK_OK;
	ctx->user_ip4 = o->orig_addr.a[3];
	ctx->user_port = o->orig_port;
	return LB_SOCK_OK;
}

SEC("cgroup/getpeername6")
int lb_getpeername6(struct bpf_sock_addr *ctx)
{
	struct cgs_lb_orig *o = lb_orig_of(ctx);

	if (!o || o->peer_port != (__u16)ctx->user_port || o->peer_addr.a[0] != ctx->user_ip6[0] ||
	    o->peer_addr.a[1] != ctx->user_ip6[1] || o->peer_addr.a[2] != ctx->user_ip6[2] ||
	    o->peer_addr.a[3] != ctx->user_ip6[3])
		return LB_SOCK_OK;
	ctx->user_ip6[0] = o->orig_addr.a[0];
	ctx->user_ip6[1] = o->orig_addr.a[1];
	ctx->user_ip6[2] = o->orig_addr.a[2];
	ctx->user_ip6[3] = o->orig_addr.a[3];
	ctx->user_port = o->orig_port;
	return LB_SOCK_OK;
}

/* Once a connection to a waypoint is established its client port is known:
 * publish client address:port -> original destination for the waypoint. */
SEC("sockops")
int lb_sockops(struct bpf_sock_ops *skops)
{
	struct cgs_lb_conn_key k = {};
	struct cgs_lb_conn_orig v = {};
	struct bpf_sock *sk;
	struct cgs_lb_orig *o;
	__u32 ip4;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	o = bpf_sk_storage_get(&lb_orig, sk, 0, 0);
	if (!o || !(o->flags & CGS_LB_ORIG_F_WAYPOINT))
		return 1;
	/* Every context field read at a constant offset, outside any branch: the
	 * verifier refuses a context pointer the compiler has offset. */
	k.addr.a[0] = skops->local_ip6[0];
	k.addr.a[1] = skops->local_ip6[1];
	k.addr.a[2] = skops->local_ip6[2];
	k.addr.a[3] = skops->local_ip6[3];
	ip4 = skops->local_ip4;
	barrier_var(ip4);
	if (skops->family == LB_AF_INET) {
		k.addr.a[0] = 0;
		k.addr.a[1] = 0;
		k.addr.a[2] = bpf_htonl(0xffff);
		k.addr.a[3] = ip4;
	}
	k.port = skops->local_port;
	v.addr = o->orig_addr;
	v.port = bpf_ntohs(o->orig_port);
	bpf_map_update_elem(&lb_waypoint_orig, &k, &v, BPF_ANY);
	return 1;
}
