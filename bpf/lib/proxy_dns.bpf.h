/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS of bpf/proxy.bpf.c (--dns): UDP to port 53 goes to the forwarder, one port
 * per nameserver (a slot), and replies are shown from the nameserver asked. The
 * programs that call these are in proxy.bpf.c.
 */
#ifndef CGSCOPE_BPF_PROXY_DNS_H
#define CGSCOPE_BPF_PROXY_DNS_H

#include "proxy_maps.bpf.h"

/* The forwarder slot of an IPv4 nameserver, claimed if it has none; -1 when all
 * are taken by others. A bounded loop over a handful of slots. */
static __always_inline int dns_slot(__u64 server)
{
	for (__u32 i = 0; i < CGS_PROXY_DNS_SLOTS; i++) {
		__u32 k = i;
		struct cgs_proxy_dns_slot *slot = bpf_map_lookup_elem(&proxy_dns_slots, &k);
		__u64 seen;

		if (!slot)
			return -1;
		seen = slot->server;
		if (seen == server)
			return i;
		if (seen == 0) {
			seen = __sync_val_compare_and_swap(&slot->server, 0, server);
			if (seen == 0 || seen == server)
				return i;
		}
	}
	return -1;
}

/* DNS over UDP: 1 with fwd and fwd_port set when the datagram (or connected
 * socket) is to go to the forwarder, 0 when it is not DNS or DNS is off, -1 to
 * refuse (IPv6 nameservers, all slots taken, no forwarder for the namespace).
 * A loopback nameserver (a local stub resolver) is the host's and stays. */
static __always_inline int dns_route(void *ctx, const struct cgs_proxy_config *cfg, const struct cgs_addr *dst,
				     __u16 port, struct cgs_addr *fwd, __u16 *fwd_port)
{
	int ns, slot;

	if (!cfg->dns_on || port != bpf_htons(CGS_PROXY_DNS_PORT) || is_loopback(dst))
		return 0;
	/* 0.0.0.0 is this host, as loopback is. */
	if (is_mapped4(dst) && dst->a[3] == 0)
		return 0;
	if (!is_mapped4(dst))
		return -1;
	/* The namespace first: a query that is refused must not take a slot. */
	ns = other_netns(cfg, ctx);
	if (ns && !cfg->relay4_ns_port)
		return -1;
	slot = dns_slot(((__u64)dst->a[3] << 16) | port);
	if (slot < 0 || slot >= CGS_PROXY_DNS_SLOTS)
		return -1;
	*fwd = ns ? cfg->relay4_ns : cfg->relay4;
	*fwd_port = ns ? cfg->dns_ns_port[slot] : cfg->dns_port[slot];
	proxy_count(CGS_PROXY_STAT_DNS);
	return *fwd_port ? 1 : -1;
}

/* Unconnected UDP: each datagram to a nameserver goes to the forwarder. A
 * datagram cannot be refused with an errno of our choosing: 0 is EPERM. */
static __always_inline int dns_sendmsg(struct bpf_sock_addr *ctx, const struct cgs_addr *dst, struct cgs_addr *fwd,
				       __u16 *fwd_port)
{
	struct cgs_proxy_config *cfg = proxy_cfg();
	__u64 cookie = bpf_get_socket_cookie(ctx);
	int r;

	if (bpf_map_lookup_elem(&proxy_exempt, &cookie))
		return 0;
	/* These programs are attached only for --dns: with the proxy off (not yet
	 * configured), a query to a nameserver is refused, not let around it. */
	if (!cfg || !cfg->on)
		return (__u16)ctx->user_port == bpf_htons(CGS_PROXY_DNS_PORT) && !is_loopback(dst) ? -1 : 0;
	r = dns_route(ctx, cfg, dst, (__u16)ctx->user_port, fwd, fwd_port);
	if (r < 0)
		proxy_count(CGS_PROXY_STAT_DNS_REFUSED);
	return r;
}

/* The nameserver behind a forwarder address:port, or 0: a reply from the
 * forwarder is shown as coming from the server the program asked. */
static __always_inline __u64 dns_server_of(void *ctx, const struct cgs_addr *src, __u16 port)
{
	struct cgs_proxy_config *cfg = proxy_cfg();
	int ns;

	if (!cfg || !cfg->dns_on)
		return 0;
	/* Only the forwarder address of the socket's own namespace: another
	 * namespace's 127.0.0.1 is not cgscope's. */
	ns = other_netns(cfg, ctx);
	if (ns && !cfg->relay4_ns_port)
		return 0;
	for (__u32 i = 0; i < CGS_PROXY_DNS_SLOTS; i++) {
		if ((!ns && port == cfg->dns_port[i] && addr_eq(src, &cfg->relay4)) ||
		    (ns && port == cfg->dns_ns_port[i] && addr_eq(src, &cfg->relay4_ns))) {
			__u32 k = i;
			struct cgs_proxy_dns_slot *slot = bpf_map_lookup_elem(&proxy_dns_slots, &k);

			return slot ? slot->server : 0;
		}
	}
	return 0;
}

/* Whether daddr:dport (network order) is one of the forwarder's slots. */
static __always_inline int dns_is_forwarder(const struct cgs_proxy_config *cfg, __u32 daddr, __u16 dport)
{
	for (__u32 i = 0; i < CGS_PROXY_DNS_SLOTS; i++) {
		if ((cfg->dns_port[i] && dport == cfg->dns_port[i] && daddr == cfg->relay4.a[3]) ||
		    (cfg->dns_ns_port[i] && dport == cfg->dns_ns_port[i] && daddr == cfg->relay4_ns.a[3]))
			return 1;
	}
	return 0;
}

/* A datagram of the cgroup's to the forwarder, as the forwarder will receive
 * it: written down with the sending socket's cgroup, so that the forwarder can
 * tell it from a datagram sent to its address by anyone else. Keyed by what the
 * forwarder reads from recvfrom, which sendmsg4 and connect4 cannot know yet
 * (the source address is picked by routing after them, and connect4 runs
 * before a connected UDP socket gets its port). */
static __always_inline void dns_note_client(struct __sk_buff *skb, __u32 saddr, __u32 daddr, __u16 sport,
					    __u16 dport)
{
	struct cgs_proxy_config *cfg = proxy_cfg();
	struct cgs_proxy_dns_client_key k = {.src = saddr, .dst = daddr, .src_port = sport, .dst_port = dport};
	struct cgs_proxy_dns_client v = {};

	if (!cfg || !cfg->on || !cfg->dns_on || !dns_is_forwarder(cfg, daddr, dport))
		return;
	v.cgroup_id = bpf_skb_cgroup_id(skb);
	v.seen_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&proxy_dns_clients, &k, &v, BPF_ANY);
}

#endif
