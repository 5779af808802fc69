/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps of lb.bpf.c. All of them are pinned by user space under the lb pin dir
 * (by map name), so they outlive the process that loaded them and a re-apply or
 * a new binary reuses them. The lookup maps are hash maps without preallocation:
 * memory follows the number of services, and an element replaced by an update is
 * freed only after an RCU grace period, so a connect never reads a half-reused one.
 */
#ifndef CGSCOPE_BPF_LB_MAPS_H
#define CGSCOPE_BPF_LB_MAPS_H

#include "counter.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CGS_LB_MAX_FRONTENDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cgs_lb_frontend_key);
	__type(value, struct cgs_lb_frontend_value);
} lb_frontend SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CGS_LB_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cgs_lb_service_key);
	__type(value, struct cgs_lb_service_value);
} lb_service SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CGS_LB_MAX_ENDPOINTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cgs_lb_endpoint_key);
	__type(value, struct cgs_lb_endpoint_value);
} lb_endpoint SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CGS_LB_MAX_BACKENDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cgs_lb_backend_key);
	__type(value, struct cgs_lb_backend_value);
} lb_backend SEC(".maps");

/* Service names, for status and the planner; never read by the programs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CGS_LB_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cgs_lb_service_key);
	__type(value, struct cgs_lb_name_value);
} lb_name SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, CGS_LB_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cgs_lb_service_key);
	__type(value, struct cgs_lb_counters);
} lb_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CGS_LB_STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} lb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_lb_config);
} lb_config SEC(".maps");

/* Enrolled network namespaces, by netns cookie (when config.netns_filter_on). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CGS_LB_MAX_NETNS);
	__type(key, __u64);
	__type(value, __u32);
} lb_netns SEC(".maps");

/* Sockets never rewritten, by socket cookie: cgscope's own. Cookies are never
 * reused within a boot, so an entry left by a crash is harmless, and LRU lets
 * old ones go without anyone cleaning up. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CGS_LB_MAX_EXEMPT);
	__type(key, __u64);
	__type(value, struct cgs_lb_exempt_value);
} lb_exempt SEC(".maps");

/* The original destination of each balanced socket, and its service. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgs_lb_sock);
} lb_orig SEC(".maps");

/* Connections sent to a waypoint, by client address:port: the waypoint looks up
 * where the client meant to go. LRU: nobody has to clean up. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CGS_LB_MAX_WAYPOINT_CONNS);
	__type(key, struct cgs_conn_key);
	__type(value, struct cgs_conn_orig);
} lb_waypoint_orig SEC(".maps");

/* Session affinity: each client's last endpoint of each service that asks for
 * it. LRU: entries of gone clients or services age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CGS_LB_MAX_AFFINITY);
	__type(key, struct cgs_lb_affinity_key);
	__type(value, struct cgs_lb_affinity_value);
} lb_affinity SEC(".maps");

static __always_inline void lb_count_stat(__u32 stat)
{
	cgs_count(&lb_stats, stat);
}

static __always_inline void lb_count_service(__u32 id, int refused)
{
	struct cgs_lb_service_key k = {.id = id};
	struct cgs_lb_counters *c = bpf_map_lookup_elem(&lb_counters, &k);

	if (!c) {
		struct cgs_lb_counters zero = {};

		bpf_map_update_elem(&lb_counters, &k, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&lb_counters, &k);
		if (!c)
			return;
	}
	if (refused)
		c->refused += 1;
	else
		c->balanced += 1;
}

/* A balanced connect's outcome, from sockops. Never creates the entry: one
 * that is missing belongs to a service removed since its connect, and a new
 * service given that id later must not inherit it. */
static __always_inline void lb_count_outcome(__u32 id, int established)
{
	struct cgs_lb_service_key k = {.id = id};
	struct cgs_lb_counters *c = bpf_map_lookup_elem(&lb_counters, &k);

	if (!c)
		return;
	if (established)
		c->established += 1;
	else
		c->failed += 1;
}

#endif
