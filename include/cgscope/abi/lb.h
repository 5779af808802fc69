/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user ABI of bpf/lb.bpf.c: map keys and values of the connect-time
 * load balancer. Included as-is by the BPF program and by C++ (src/lb/), so only
 * fixed-width types, explicit padding, no bitfields, no bool.
 *
 * The lookup chain of a connect() to ADDR:PORT:
 *
 *   frontend[ADDR]            -> {kind, id}            a service, or a backend reached directly
 *   service[id]               -> tier counts, policy, port pairs, waypoint
 *   endpoint[{id, tier, i}]   -> backend id            i < service.count[tier]
 *   backend[backend id]       -> address, waypoint
 *
 * Every address is 16 bytes: IPv6 as is, IPv4 as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d). So an IPv4 connect and a Java-style IPv6 connect to
 * ::ffff:a.b.c.d find the same frontend, with no conversion in the kernel.
 * Addresses and ports are in network byte order.
 */
#ifndef CGSCOPE_ABI_LB_H
#define CGSCOPE_ABI_LB_H

#ifdef __cplusplus
#include <linux/types.h>
#endif

#include "cgscope/abi/orig_dst.h"

/* Tiers of locality (priority 0 is the best); failover walks them in order. */
#define CGS_LB_TIERS 7
/* Service port -> target port pairs per service. */
#define CGS_LB_MAX_PORTS 8
/* Longest service name, NUL included. */
#define CGS_LB_NAME_LEN 64

/* Map capacities. The hash maps are not preallocated: memory follows use. */
#define CGS_LB_MAX_FRONTENDS 262144
#define CGS_LB_MAX_SERVICES 131072
#define CGS_LB_MAX_ENDPOINTS 524288
#define CGS_LB_MAX_BACKENDS 262144
#define CGS_LB_MAX_NETNS 1024
#define CGS_LB_MAX_EXEMPT 4096
#define CGS_LB_MAX_WAYPOINT_CONNS 16384
#define CGS_LB_MAX_AFFINITY 65536

/* service.policy */
enum cgs_lb_policy {
	CGS_LB_POLICY_RANDOM = 0,   /* uniform over tier 0, where every endpoint is */
	CGS_LB_POLICY_STRICT = 1,   /* tier 0 only; empty -> refused */
	CGS_LB_POLICY_FAILOVER = 2, /* the first non-empty tier */
};

/* service.flags */
enum cgs_lb_service_flag {
	/* Keep no original destination for this service's connects: getpeername()
	 * reports the backend. The per-socket storage is most of what a balanced
	 * connect costs (docs/lb.md), so a service whose clients never ask may skip it.
	 * Ignored when the connect goes to a waypoint, which needs it. */
	CGS_LB_SERVICE_F_NO_ORIG = 0x1,
	/* Session affinity by client: a client's connects within affinity_timeout
	 * seconds of its last one go to the same endpoint while it is still one
	 * (lb_affinity). The client is the socket's network namespace. */
	CGS_LB_SERVICE_F_AFFINITY = 0x2,
};

/* frontend.kind */
enum cgs_lb_kind {
	CGS_LB_KIND_SERVICE = 1, /* id is a service id */
	CGS_LB_KIND_BACKEND = 2, /* id is a backend id: a workload reached by its own address */
};

/* Indices of the per-CPU `stats` array: what happened outside any one service. */
enum cgs_lb_stat {
	CGS_LB_STAT_INTERNAL = 0,      /* a dangling id or an impossible address: passed unchanged */
	CGS_LB_STAT_NO_STORAGE = 1,    /* sk_storage could not be created: balanced, getpeername untranslated */
	CGS_LB_STAT_EXEMPT = 2,        /* a frontend hit from an exempt socket: passed unchanged */
	CGS_LB_STAT_OTHER_NETNS = 3,   /* a frontend hit from a netns not enrolled: passed unchanged */
	CGS_LB_STAT_WORKLOAD = 4,      /* a direct connect to a workload sent to its waypoint */
	CGS_LB_STAT_PORT_MISS = 5,     /* a service address with a port it does not serve: unchanged */
	CGS_LB_STAT_NR = 6,
};

struct cgs_lb_frontend_key {
	struct cgs_addr addr; /* the address the application dials */
};

struct cgs_lb_frontend_value {
	__u32 kind; /* enum cgs_lb_kind */
	__u32 id;   /* service id or backend id, by kind; never 0 */
};

struct cgs_lb_service_key {
	__u32 id; /* service id, from 1 */
};

struct cgs_lb_service_value {
	__u32 count[CGS_LB_TIERS];         /* endpoints in each tier: indices 0..count-1 are valid */
	__u32 policy;                      /* enum cgs_lb_policy */
	__u16 port[CGS_LB_MAX_PORTS];      /* service ports, network order; 0 ends the list */
	__u16 target_port[CGS_LB_MAX_PORTS]; /* target_port[i] serves port[i], network order */
	struct cgs_addr wp_addr;        /* waypoint address, when wp_port != 0 */
	__u16 wp_port;                     /* waypoint port, network order; 0: no waypoint */
	__u16 affinity_timeout;            /* seconds, with CGS_LB_SERVICE_F_AFFINITY */
	__u32 flags;                       /* enum cgs_lb_service_flag */
};

struct cgs_lb_endpoint_key {
	__u32 service_id; /* service id */
	__u32 tier;       /* 0..CGS_LB_TIERS-1 */
	__u32 index;      /* 0..count[tier]-1 */
};

struct cgs_lb_endpoint_value {
	__u32 backend_id; /* backend id */
};

struct cgs_lb_backend_key {
	__u32 id; /* backend id, from 1 */
};

struct cgs_lb_backend_value {
	struct cgs_addr addr;    /* the backend's address */
	struct cgs_addr wp_addr; /* waypoint address, when wp_port != 0 */
	__u16 wp_port;              /* waypoint port, network order; 0: no waypoint */
	__u16 pad0;
	__u32 pad1;
};

/* Not used by the data path: lets status and the planner name a service id. */
struct cgs_lb_name_value {
	char name[CGS_LB_NAME_LEN]; /* NUL-terminated */
};

/* Per-CPU, per service id; created by the kernel on the first connect. */
struct cgs_lb_counters {
	__u64 balanced;    /* connects rewritten to a backend or the waypoint */
	__u64 refused;     /* connects failed because no endpoint was usable */
	/* What became of the balanced ones, from sockops (only for sockets that keep
	 * their original destination: the outcome is found through that record). */
	__u64 established; /* the handshake completed */
	__u64 failed;      /* closed before it did: refused by the backend (RST),
			    * timed out, or given up by the application */
};

/* The one entry of the `config` array. */
struct cgs_lb_config {
	__u32 netns_filter_on; /* 1: only netns cookies in the `netns` map are balanced */
	__u32 exempt_on;       /* 1: lb_exempt has entries; 0 spares every connect the socket-cookie lookup */
};

/* A balanced socket's sk_storage (lb_orig): the original destination
 * (orig_dst.h, first, as bpf/lib/orig_dst.bpf.h expects) and the service whose
 * counters get the connect's outcome. A connection sent to a waypoint is
 * published by client address:port (lb_waypoint_orig, orig_dst.h too). */
/* orig.flags, besides CGS_ORIG_F_*: sockops still owes this connect an outcome. */
#define CGS_LB_SOCK_F_OUTCOME 0x10000
/* lb asked for the state callback (nobody had): lb turns it off again. */
#define CGS_LB_SOCK_F_OWN_STATE_CB 0x20000
struct cgs_lb_sock {
	struct cgs_orig_dst orig;
	__u32 service_id; /* with CGS_LB_SOCK_F_OUTCOME */
	__u32 pad0;
};

/* Connects of sockets whose cookie is in `exempt` are never rewritten. */
/* Session affinity (CGS_LB_SERVICE_F_AFFINITY), LRU: a client's last pick of a
 * service. Used only while the slot still holds that backend. */
struct cgs_lb_affinity_key {
	__u64 client;     /* netns cookie of the connecting socket */
	__u32 service_id;
	__u32 pad0;
};

struct cgs_lb_affinity_value {
	__u64 last_ns;    /* bpf_ktime_get_ns() of the client's last connect */
	__u32 tier;
	__u32 index;
	__u32 backend_id;
	__u32 pad0;
};

struct cgs_lb_exempt_value {
	__u32 present; /* 1 */
	__u32 pad0;
};

#endif
