/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user ABI of bpf/proxy.bpf.c: every TCP connect of a cgroup is sent
 * to cgscope's relay, which finds where the connection meant to go by the client
 * end it accepts (proxy_conns) and forwards it through the upstream.
 *
 *   connect4|6   destination -> relay; the socket keeps its original (sk_storage)
 *   sockops      once established: client addr:port -> original + who dialled
 *   getpeername  the application sees the address it dialled
 *
 * Destinations that go direct: loopback, the relay itself, the upstream, and the
 * bypass prefixes. Anything the program cannot do right is refused, never sent
 * around the upstream (fail closed). Fixed-width types, explicit padding.
 */
#ifndef CGSCOPE_ABI_PROXY_H
#define CGSCOPE_ABI_PROXY_H

#ifdef __cplusplus
#include <linux/types.h>
#endif

#include "cgscope/abi/orig_dst.h"

#define CGS_PROXY_MAX_BYPASS 1024
#define CGS_PROXY_MAX_CONNS 65536
#define CGS_PROXY_MAX_EXEMPT 4096

/* The one entry of `proxy_config`. No entry (or on == 0): every connect is refused. */
struct cgs_proxy_config {
	struct cgs_addr relay4;   /* relay for IPv4 destinations (mapped form) */
	struct cgs_addr relay6;   /* relay for IPv6 destinations; relay6_port 0: they are refused */
	struct cgs_addr upstream; /* the upstream proxy: always direct */
	__u16 relay4_port;        /* network order */
	__u16 relay6_port;        /* network order */
	__u16 upstream_port;      /* network order; 0: no upstream (direct relay) */
	__u16 on;                 /* 1 once the relay listens */
};

/* Key of the bypass LPM tries: prefix length, then the address (mapped form for
 * IPv4, so one trie holds both families; an IPv4 /n is a mapped /96+n). */
struct cgs_proxy_prefix {
	__u32 prefixlen;
	struct cgs_addr addr;
};

/* Who made a connection, captured at connect (process context). */
struct cgs_proxy_who {
	__u64 cgroup_id;
	__u32 pid; /* tgid */
	__u32 uid;
	char comm[16];
};

/* A proxied socket's sk_storage: the shared record, then who dialled. */
struct cgs_proxy_sock {
	struct cgs_orig_dst orig;
	struct cgs_proxy_who who;
};

/* Value of `proxy_conns` (key: struct cgs_conn_key, the client end). */
struct cgs_proxy_conn {
	struct cgs_conn_orig dst;
	struct cgs_proxy_who who;
};

/* Indices of the per-CPU `proxy_stats` array. */
enum cgs_proxy_stat {
	CGS_PROXY_STAT_REDIRECTED = 0, /* connects sent to the relay */
	CGS_PROXY_STAT_BYPASSED = 1,   /* loopback, relay, upstream or a bypass prefix: direct */
	CGS_PROXY_STAT_REFUSED = 2,    /* refused: no relay for the family, no storage, proxy off */
	CGS_PROXY_STAT_EXEMPT = 3,     /* cgscope's own sockets */
	CGS_PROXY_STAT_NR = 4,
};

struct cgs_proxy_exempt_value {
	__u32 present; /* 1 */
	__u32 pad0;
};

#endif
