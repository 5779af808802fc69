/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps of bpf/proxy.bpf.c (layouts: cgscope/abi/proxy.h) and the small
 * address tests its programs share. Included by that one object only.
 */
#ifndef CGSCOPE_BPF_PROXY_MAPS_H
#define CGSCOPE_BPF_PROXY_MAPS_H

#include "cgscope/abi/proxy.h"
#include "counter.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_proxy_config);
} proxy_config SEC(".maps");

/* Destinations that go direct (--bypass), one trie for both families. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CGS_PROXY_MAX_BYPASS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cgs_proxy_prefix);
	__type(value, __u32);
} proxy_bypass SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgs_proxy_sock);
} proxy_orig SEC(".maps");

/* Established connections to the relay by client end; the relay deletes what it
 * has read, and LRU bounds what a relay that died left. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CGS_PROXY_MAX_CONNS);
	__type(key, struct cgs_conn_key);
	__type(value, struct cgs_proxy_conn);
} proxy_conns SEC(".maps");

/* cgscope's own sockets, by cookie: never redirected. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CGS_PROXY_MAX_EXEMPT);
	__type(key, __u64);
	__type(value, struct cgs_proxy_exempt_value);
} proxy_exempt SEC(".maps");

/* The nameserver of each forwarder slot; claimed here, read by the forwarder. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CGS_PROXY_DNS_SLOTS);
	__type(key, __u32);
	__type(value, struct cgs_proxy_dns_slot);
} proxy_dns_slots SEC(".maps");

/* The cgroup's datagrams to the forwarder (--dns), by four-tuple: the forwarder
 * answers only what it finds here, fresh. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CGS_PROXY_DNS_CLIENTS);
	__type(key, struct cgs_proxy_dns_client_key);
	__type(value, struct cgs_proxy_dns_client);
} proxy_dns_clients SEC(".maps");

/* --no-relay: each watched connection as it closes, for the access log. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CGS_PROXY_FLOWS_BYTES);
} proxy_flows SEC(".maps");

/* --no-relay: each watched connection while it lives, by socket cookie, so
 * that a stop logs those still open (the ring has only the closed ones). Not
 * preallocated: the relay mode never fills it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CGS_PROXY_MAX_OPEN);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct cgs_proxy_flow);
} proxy_open SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CGS_PROXY_STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} proxy_stats SEC(".maps");

static __always_inline void proxy_count(__u32 stat)
{
	cgs_count(&proxy_stats, stat);
}

static __always_inline int addr_eq(const struct cgs_addr *a, const struct cgs_addr *b)
{
	return a->a[0] == b->a[0] && a->a[1] == b->a[1] && a->a[2] == b->a[2] && a->a[3] == b->a[3];
}

static __always_inline int is_mapped4(const struct cgs_addr *a)
{
	return a->a[0] == 0 && a->a[1] == 0 && a->a[2] == bpf_htonl(0xffff);
}

static __always_inline int is_loopback(const struct cgs_addr *a)
{
	if (is_mapped4(a))
		return (a->a[3] & bpf_htonl(0xff000000)) == bpf_htonl(0x7f000000);
	return a->a[0] == 0 && a->a[1] == 0 && a->a[2] == 0 && a->a[3] == bpf_htonl(1);
}

static __always_inline struct cgs_proxy_config *proxy_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&proxy_config, &zero);
}

/* Whether the socket lives in another network namespace than cgscope's, where
 * the host's loopback is not the host's. */
static __always_inline int other_netns(const struct cgs_proxy_config *cfg, void *ctx)
{
	return bpf_get_netns_cookie(ctx) != cfg->host_netns;
}

#endif
