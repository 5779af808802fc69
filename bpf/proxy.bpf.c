// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgscope proxy, kernel side: every TCP connect of the cgroup goes to the relay.
 *
 * connect4|6 rewrites the destination to the relay and keeps the original in
 * the socket's sk_storage with who dialled (bpf/lib/orig_dst.bpf.h). Once the
 * connection is established, sockops publishes client addr:port -> original in
 * proxy_conns, where the relay looks up what it accepts (a connection to the
 * relay with no entry is not forwarded). getpeername answers with what was dialled.
 *
 * Fail closed: when the proxy is off, the family has no relay, or the record
 * cannot be kept, the connect is refused (ECONNREFUSED), never let through
 * around the upstream. Only loopback, the relay, the upstream and the bypass
 * prefixes go direct.
 *
 * Sockets of other network namespaces cannot reach the host's loopback: they go
 * to the relay's other address (relay4_ns), found by the netns cookie.
 *
 * --no-relay (--via direct): TCP connects go on unchanged and are watched, to
 * be logged at close (bpf/lib/proxy_watch.bpf.h).
 *
 * DNS (--dns): UDP to port 53, connected (connect4|6) or not (sendmsg4|6), goes
 * to the forwarder, one port per nameserver (a slot), and recvmsg4|6 gives the
 * replies back the nameserver's address. Other UDP is not touched. The cgroup's
 * egress hook writes down each datagram it sends to the forwarder, which
 * answers only those (proxy_dns_clients).
 */
#include "vmlinux/x86/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "cgscope/abi/proxy.h"
#include "lib/orig_dst.bpf.h"
#include "lib/proxy_maps.bpf.h"
#include "lib/proxy_dns.bpf.h"
#include "lib/proxy_watch.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PROXY_ECONNREFUSED 111
#define PROXY_SOCK_OK 1
#define PROXY_SOCK_REJECT 0
#define PROXY_ETH_P_IP 0x0800
#define PROXY_IP_OFFSET 0x1fff

/* Whether dst:port goes direct. */
static __always_inline int goes_direct(const struct cgs_proxy_config *cfg, const struct cgs_addr *dst, __u16 port)
{
	struct cgs_proxy_prefix k = {.prefixlen = 128, .addr = *dst};

	if (is_loopback(dst))
		return 1;
	if (cfg->upstream_port && port == cfg->upstream_port && addr_eq(dst, &cfg->upstream))
		return 1;
	if ((port == cfg->relay4_port && addr_eq(dst, &cfg->relay4)) ||
	    (cfg->relay4_ns_port && port == cfg->relay4_ns_port && addr_eq(dst, &cfg->relay4_ns)) ||
	    (cfg->relay6_port && port == cfg->relay6_port && addr_eq(dst, &cfg->relay6)))
		return 1;
	return bpf_map_lookup_elem(&proxy_bypass, &k) != 0;
}

static __always_inline int refuse(void)
{
	proxy_count(CGS_PROXY_STAT_REFUSED);
	bpf_set_retval(-PROXY_ECONNREFUSED);
	return PROXY_SOCK_REJECT;
}

/* The worker of both entry programs: 1 with relay and relay_port set when the
 * connect is to be sent to the relay, 0 when it goes unchanged, -1 to refuse. */
static __always_inline int proxy_route(struct bpf_sock_addr *ctx, const struct cgs_addr *dst,
				       struct cgs_addr *relay, __u16 *relay_port)
{
	struct cgs_proxy_config *cfg;
	struct cgs_proxy_sock *s;
	__u64 cookie;
	__u16 port = (__u16)ctx->user_port;
	int r;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 0;
	cookie = bpf_get_socket_cookie(ctx);
	if (bpf_map_lookup_elem(&proxy_exempt, &cookie)) {
		proxy_count(CGS_PROXY_STAT_EXEMPT);
		return 0;
	}
	cfg = proxy_cfg();
	if (!cfg || !cfg->on)
		return ctx->protocol == IPPROTO_TCP ? -1 : 0;
	if (ctx->protocol == IPPROTO_UDP) {
		/* A connected UDP socket: its getpeername answers with the nameserver. */
		r = dns_route(ctx, cfg, dst, port, relay, relay_port);
		if (r > 0 && !orig_dst_record(&proxy_orig, ctx, 1, dst, relay, *relay_port, 0))
			return -1;
		if (r < 0)
			proxy_count(CGS_PROXY_STAT_DNS_REFUSED);
		return r;
	}
	if (goes_direct(cfg, dst, port)) {
		orig_dst_record(&proxy_orig, ctx, 0, dst, dst, 0, 0);
		proxy_count(CGS_PROXY_STAT_BYPASSED);
		return 0;
	}
	if (cfg->no_relay)
		return watch_connect(ctx, dst);
	if (is_mapped4(dst) && other_netns(cfg, ctx)) {
		if (!cfg->relay4_ns_port) {
			proxy_count(CGS_PROXY_STAT_NS_REFUSED);
			return -1;
		}
		*relay = cfg->relay4_ns;
		*relay_port = cfg->relay4_ns_port;
	} else if (is_mapped4(dst)) {
		*relay = cfg->relay4;
		*relay_port = cfg->relay4_port;
	} else {
		*relay = cfg->relay6;
		*relay_port = cfg->relay6_port;
	}
	if (!*relay_port)
		return -1;
	s = (struct cgs_proxy_sock *)orig_dst_record(&proxy_orig, ctx, 1, dst, relay, *relay_port,
						     CGS_ORIG_F_PUBLISH);
	if (!s)
		return -1;
	record_who(s);
	proxy_count(CGS_PROXY_STAT_REDIRECTED);
	return 1;
}

/* The destination of a sock_addr context in the ABI form, and back. */
static __always_inline struct cgs_addr dst4(const struct bpf_sock_addr *ctx)
{
	struct cgs_addr a = {.a = {0, 0, bpf_htonl(0xffff), ctx->user_ip4}};

	return a;
}

static __always_inline struct cgs_addr dst6(const struct bpf_sock_addr *ctx)
{
	struct cgs_addr a = {.a = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]}};

	return a;
}

static __always_inline void set_dst4(struct bpf_sock_addr *ctx, const struct cgs_addr *a, __u16 port)
{
	ctx->user_ip4 = a->a[3];
	ctx->user_port = port;
}

/* ::ffff:a.b.c.d goes to an IPv4 relay as ::ffff:relay (a dual-stack socket). */
static __always_inline void set_dst6(struct bpf_sock_addr *ctx, const struct cgs_addr *a, __u16 port)
{
	ctx->user_ip6[0] = a->a[0];
	ctx->user_ip6[1] = a->a[1];
	ctx->user_ip6[2] = a->a[2];
	ctx->user_ip6[3] = a->a[3];
	ctx->user_port = port;
}

SEC("cgroup/connect4")
int proxy_connect4(struct bpf_sock_addr *ctx)
{
	struct cgs_addr dst = dst4(ctx), relay = {};
	__u16 relay_port = 0;
	int r = proxy_route(ctx, &dst, &relay, &relay_port);

	/* An IPv4 socket reaches only an IPv4 relay. */
	if (r < 0 || (r > 0 && !is_mapped4(&relay)))
		return refuse();
	if (r > 0)
		set_dst4(ctx, &relay, relay_port);
	return PROXY_SOCK_OK;
}

SEC("cgroup/connect6")
int proxy_connect6(struct bpf_sock_addr *ctx)
{
	struct cgs_addr dst = dst6(ctx), relay = {};
	__u16 relay_port = 0;
	int r = proxy_route(ctx, &dst, &relay, &relay_port);

	if (r < 0)
		return refuse();
	if (r > 0)
		set_dst6(ctx, &relay, relay_port);
	return PROXY_SOCK_OK;
}

SEC("cgroup/sendmsg4")
int proxy_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct cgs_addr dst = dst4(ctx), fwd = {};
	__u16 fwd_port = 0;
	int r = dns_sendmsg(ctx, &dst, &fwd, &fwd_port);

	if (r > 0)
		set_dst4(ctx, &fwd, fwd_port);
	return r < 0 ? PROXY_SOCK_REJECT : PROXY_SOCK_OK;
}

SEC("cgroup/sendmsg6")
int proxy_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct cgs_addr dst = dst6(ctx), fwd = {};
	__u16 fwd_port = 0;
	int r = dns_sendmsg(ctx, &dst, &fwd, &fwd_port);

	if (r > 0)
		set_dst6(ctx, &fwd, fwd_port);
	return r < 0 ? PROXY_SOCK_REJECT : PROXY_SOCK_OK;
}

SEC("cgroup/recvmsg4")
int proxy_recvmsg4(struct bpf_sock_addr *ctx)
{
	struct cgs_addr src = dst4(ctx);
	__u64 server = dns_server_of(ctx, &src, (__u16)ctx->user_port);

	if (server) {
		ctx->user_ip4 = (__u32)(server >> 16);
		ctx->user_port = (__u16)server;
	}
	return PROXY_SOCK_OK;
}

SEC("cgroup/recvmsg6")
int proxy_recvmsg6(struct bpf_sock_addr *ctx)
{
	struct cgs_addr src = dst6(ctx);
	__u64 server = dns_server_of(ctx, &src, (__u16)ctx->user_port);

	if (server) {
		ctx->user_ip6[3] = (__u32)(server >> 16);
		ctx->user_port = (__u16)server;
	}
	return PROXY_SOCK_OK;
}

SEC("cgroup/getpeername4")
int proxy_getpeername4(struct bpf_sock_addr *ctx)
{
	orig_dst_getpeername4(&proxy_orig, ctx);
	return PROXY_SOCK_OK;
}

SEC("cgroup/getpeername6")
int proxy_getpeername6(struct bpf_sock_addr *ctx)
{
	orig_dst_getpeername6(&proxy_orig, ctx);
	return PROXY_SOCK_OK;
}

/* --dns: every packet the cgroup sends passes here; a UDP datagram to a
 * forwarder slot is written down for the forwarder (dns_note_client). A TCP
 * segment leaves at the protocol byte. Never drops: the verdict is the other
 * hooks'. */
SEC("cgroup_skb/egress")
int proxy_dns_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data;
	struct udphdr *udp;

	if (skb->protocol != bpf_htons(PROXY_ETH_P_IP))
		return 1;
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(PROXY_IP_OFFSET)))
		return 1;
	udp = data + ip->ihl * 4;
	if ((void *)(udp + 1) > end)
		return 1;
	dns_note_client(skb, ip->saddr, ip->daddr, udp->source, udp->dest);
	return 1;
}

/* Once established, the client end is known: publish it for the relay. With
 * --no-relay, the watch of the connection instead (proxy_watch.bpf.h). */
SEC("sockops")
int proxy_sockops(struct bpf_sock_ops *skops)
{
	struct cgs_conn_key k = {};
	struct cgs_proxy_conn v = {};
	struct cgs_proxy_sock *s;
	struct bpf_sock *sk;

	watch_sockops(skops);
	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	s = bpf_sk_storage_get(&proxy_orig, sk, 0, 0);
	if (!s || !(s->orig.flags & CGS_ORIG_F_PUBLISH))
		return 1;
	orig_conn_key(skops, &k);
	v.dst.addr = s->orig.orig_addr;
	v.dst.port = bpf_ntohs(s->orig.orig_port);
	v.who = s->who;
	bpf_map_update_elem(&proxy_conns, &k, &v, BPF_ANY);
	return 1;
}
