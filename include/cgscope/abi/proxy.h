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
/* --no-relay: connections watched at once that a stop can still log (proxy_open). */
#define CGS_PROXY_MAX_OPEN 65536
/* Nameservers the DNS forwarder answers for at once: one forwarder port each, so
 * that a reply can be given back the server's address (recvmsg) and a connected
 * UDP socket, whose own port is not bound yet at connect, needs no lookup by it. */
#define CGS_PROXY_DNS_SLOTS 8
#define CGS_PROXY_DNS_PORT 53
/* Datagrams to the forwarder the cgroup's egress hook has written down at once
 * (LRU: a record is only read within CGS_PROXY_DNS_FRESH_NS of being written). */
#define CGS_PROXY_DNS_CLIENTS 8192
#define CGS_PROXY_DNS_FRESH_NS 2000000000ULL

/* The one entry of `proxy_config`. No entry (or on == 0): every connect is refused. */
struct cgs_proxy_config {
	struct cgs_addr relay4;   /* relay for IPv4 destinations (mapped form) */
	struct cgs_addr relay6;   /* relay for IPv6 destinations; relay6_port 0: they are refused */
	struct cgs_addr upstream; /* the upstream proxy: always direct */
	__u16 relay4_port;        /* network order */
	__u16 relay6_port;        /* network order */
	__u16 upstream_port;      /* network order; 0: no upstream (direct relay) */
	__u16 on;                 /* 1 once the relay listens */
	/* Sockets of other network namespaces (a bridged container, a build step)
	 * cannot reach the host's loopback: they are sent to relay4_ns instead, a host
	 * address routed from them (an explicit --relay-addr is both relays).
	 * relay4_ns_port 0: there is none, and their connects are refused. */
	struct cgs_addr relay4_ns;
	__u64 host_netns;         /* netns cookie of the host (cgscope's own) namespace */
	__u16 relay4_ns_port;     /* network order */
	/* DNS (--dns): UDP to port 53 goes to the forwarder, slot by nameserver. */
	__u16 dns_on;
	/* --no-relay (direct only): TCP connects go unchanged to their destination;
	 * the socket is watched (sockops state callbacks) and reported to
	 * proxy_flows when it closes, for the access log. No byte passes cgscope. */
	__u16 no_relay;
	__u16 pad0;
	__u16 dns_port[CGS_PROXY_DNS_SLOTS];    /* forwarder on relay4's address, network order */
	__u16 dns_ns_port[CGS_PROXY_DNS_SLOTS]; /* forwarder on relay4_ns's address */
};

/* A value of `proxy_dns_slots`: the nameserver a slot forwards to, as
 * (IPv4 address << 16 | port), both network order; 0: free. Claimed by the hooks
 * with a compare-and-swap, so two CPUs never give one slot two servers. */
struct cgs_proxy_dns_slot {
	__u64 server;
};

/* Key of `proxy_dns_clients`: a datagram to a forwarder slot as the forwarder
 * receives it (IPv4, all network order). Written by the cgroup's egress hook
 * from the packet itself, so only the cgroup's sockets make records. */
struct cgs_proxy_dns_client_key {
	__u32 src;       /* the client's address */
	__u32 dst;       /* the forwarder address it was sent to */
	__u16 src_port;
	__u16 dst_port;  /* the slot's port */
};

/* Value of `proxy_dns_clients`: whose socket sent it, and when. */
struct cgs_proxy_dns_client {
	__u64 cgroup_id; /* the sending socket's cgroup */
	__u64 seen_ns;   /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the last datagram */
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

/* cgs_proxy_sock.watch: a --no-relay socket, reported to proxy_flows at close. */
#define CGS_PROXY_WATCH 0x1
#define CGS_PROXY_WATCH_ESTABLISHED 0x2 /* it reached ESTABLISHED */

/* A proxied socket's sk_storage: the shared record, then who dialled. */
struct cgs_proxy_sock {
	struct cgs_orig_dst orig;
	struct cgs_proxy_who who;
	__u64 start_ns; /* --no-relay: bpf_ktime_get_ns() at connect */
	__u32 watch;    /* CGS_PROXY_WATCH* */
	__u32 pad0;
};

/* A record of the `proxy_flows` ring buffer: a --no-relay connection that
 * closed (its socket went to TCP_CLOSE). Byte counts are the kernel's own
 * (payload only): acked by the peer, and received. */
#define CGS_PROXY_FLOWS_BYTES (256 * 1024)
struct cgs_proxy_flow {
	struct cgs_proxy_who who;
	struct cgs_addr dst; /* as dialled (mapped form for IPv4) */
	__u64 start_ns;      /* CLOCK_MONOTONIC */
	__u64 end_ns;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u16 dst_port;      /* network order */
	__u16 old_state;     /* the TCP state it closed from (BPF_TCP_*) */
	__u32 watch;         /* CGS_PROXY_WATCH* at close */
	__s32 err;           /* the socket's error at close (sk_err), 0 if none */
	__u32 pad0;
};
/* The same record is the value of `proxy_open` (key: the socket cookie) while
 * the connection lives, so that a stop can log what is still open: end_ns and
 * the byte counts are 0 there (the kernel gives them at close only), and
 * old_state is the state the socket is in now. */

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
	CGS_PROXY_STAT_DNS = 4,        /* UDP DNS datagrams/connects sent to the forwarder */
	CGS_PROXY_STAT_DNS_REFUSED = 5, /* DNS with every slot taken, or over IPv6: refused */
	CGS_PROXY_STAT_NS_REFUSED = 6, /* from another network namespace with no relay for it */
	CGS_PROXY_STAT_WATCHED = 7,    /* --no-relay: connects let through, watched for the log */
	CGS_PROXY_STAT_FLOWS_LOST = 8, /* --no-relay: a closed connection the full ring could not take */
	CGS_PROXY_STAT_OPEN_UNTRACKED = 9, /* --no-relay: a connection the full proxy_open could not hold */
	CGS_PROXY_STAT_NR = 10,
};

struct cgs_proxy_exempt_value {
	__u32 present; /* 1 */
	__u32 pad0;
};

#endif
