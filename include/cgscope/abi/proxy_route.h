/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user ABI of bpf/proxy_route.bpf.c (`cgscope proxy route`): every
 * socket created in a cgroup gets a mark, and a policy rule of cgscope's sends
 * marked traffic to a routing table of its own ("fwmark M lookup N").
 *
 *   cgroup/sock_create   sk->mark = route_config.mark, for every new AF_INET and
 *                        AF_INET6 socket of the cgroup and the cgroups below it
 *
 * The one entry of `route_config` is also the run's record: what it added to the
 * kernel's routing (the rule, the route), pinned beside the link, so that
 * `--remove` after a killed run deletes exactly that and nothing else.
 * Fixed-width types, explicit padding.
 */
#ifndef CGSCOPE_ABI_PROXY_ROUTE_H
#define CGSCOPE_ABI_PROXY_ROUTE_H

#ifdef __cplusplus
#include <linux/types.h>
#endif

/* The default mark: "cs" in the upper 16 bits, the table in the lower ones. */
#define CGS_ROUTE_MARK_BASE 0x63730000u
/* The protocol tag (rtm_protocol, FRA_PROTOCOL) of the rule and the route: they
 * show as "proto 197" in `ip rule` / `ip route`, and a delete matches only ours. */
#define CGS_ROUTE_PROTOCOL 197

struct cgs_route_config {
	__u32 mark;          /* written to sk->mark; 0: sockets are left alone */
	/* The rest is user space's record; the program reads only `mark`. */
	__u32 table;         /* the routing table of the rule and the route */
	__u32 priority;      /* the rule's priority */
	__u32 ifindex;       /* the route's device; 0: the kernel chose it */
	__u8 family;         /* AF_INET or AF_INET6: the gateway's, the rule's, the route's */
	__u8 pad0[3];
	__u32 owner_pid;     /* the cgscope that runs the route; 0: none */
	__u64 owner_start;   /* its start time (/proc/PID/stat field 22): a reused pid is not it */
	__u8 gateway[16];    /* network order; IPv4 in the first 4 bytes */
};

/* Indices of the per-CPU `route_stats` array. */
enum cgs_route_stat {
	CGS_ROUTE_STAT_MARKED = 0,   /* sockets given the mark */
	CGS_ROUTE_STAT_UNMARKED = 1, /* sockets created while the mark was 0 */
	CGS_ROUTE_STAT_NR = 2,
};

#endif
