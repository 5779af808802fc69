/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The original destination of a rewritten connect, shared by every BPF object
 * whose cgroup/connect4|6 program sends a socket somewhere else than it dialled
 * (lb: to a backend or a waypoint; proxy: to the relay), and by C++. Helpers
 * that read and write these live in bpf/lib/orig_dst.bpf.h.
 *
 * Every address is 16 bytes: IPv6 as is, IPv4 as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d), network byte order. Fixed-width types, explicit padding.
 */
#ifndef CGSCOPE_ABI_ORIG_DST_H
#define CGSCOPE_ABI_ORIG_DST_H

#ifdef __cplusplus
#include <linux/types.h>
#endif

struct cgs_addr {
	__u32 a[4]; /* IPv6, or ::ffff:IPv4 (a[2] = htonl(0xffff), a[3] = IPv4) */
};

/* In a rewritten socket's sk_storage (first member of a job's value): what the
 * application dialled and where the connect went instead. getpeername answers
 * with the first while the socket is still connected to the second. */
#define CGS_ORIG_F_PUBLISH 0x1 /* publish client addr:port -> original once established */
struct cgs_orig_dst {
	struct cgs_addr orig_addr; /* what the application dialled, in the socket's family form */
	struct cgs_addr peer_addr; /* where the connect was sent */
	__u16 orig_port;           /* network order */
	__u16 peer_port;           /* network order */
	__u32 flags;               /* CGS_ORIG_F_* */
};

/* The client end of a rewritten connection as the receiving end (a waypoint, the
 * relay) sees it in accept()/getpeername(): the key it looks the original up by. */
struct cgs_conn_key {
	struct cgs_addr addr; /* client address (mapped form for IPv4) */
	__u32 port;           /* client port, host order */
};

/* Where that client meant to go. */
struct cgs_conn_orig {
	struct cgs_addr addr; /* original destination (mapped form for IPv4) */
	__u32 port;           /* original port, host order */
};

#endif
