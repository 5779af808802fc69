/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The original destination of a rewritten connect (cgscope/abi/orig_dst.h), for
 * every BPF object whose connect hook sends sockets elsewhere (lb, proxy):
 *
 *   orig_dst_record()        at connect: keep or clear the socket's record
 *   orig_dst_getpeername4|6  at getpeername: answer with what was dialled
 *   orig_conn_key()          at sockops ESTABLISHED: the client end as the
 *                            receiving end sees it, to publish the record by
 *
 * Each object declares its own sk_storage map (value: struct cgs_orig_dst first)
 * and passes it in; these are inlined, so the map stays a constant for the verifier.
 */
#ifndef CGSCOPE_BPF_ORIG_DST_H
#define CGSCOPE_BPF_ORIG_DST_H

#include "cgscope/abi/orig_dst.h"

#define ORIG_AF_INET 2

/* The socket's record of where it meant to go, or NULL (no storage yet, or none
 * could be made). Written when a connect is rewritten and keeps its original;
 * otherwise (`keep` 0) an earlier record is cleared: a socket can connect again
 * after connect(AF_UNSPEC), and getpeername and sockops must not answer for the
 * new connection from the old one (a UDP socket too: proxy's DNS keeps records
 * for them). Clearing only looks up: a socket without storage costs one load.
 * The caller fills what its own value adds. */
static __always_inline struct cgs_orig_dst *orig_dst_record(void *storage, struct bpf_sock_addr *ctx, int keep,
							    const struct cgs_addr *orig, const struct cgs_addr *peer,
							    __u16 peer_port, __u32 flags)
{
	/* ctx->sk read once, one call for both cases: the verifier refuses a ctx
	 * load at an offset the compiler picked per path. */
	struct bpf_sock *sk = ctx->sk;
	struct cgs_orig_dst *o;

	if (!sk)
		return 0;
	o = bpf_sk_storage_get(storage, sk, 0, keep ? BPF_SK_STORAGE_GET_F_CREATE : 0);
	if (!o)
		return 0;
	if (!keep) {
		o->peer_port = 0; /* matches no connected peer */
		o->flags = 0;
		return 0;
	}
	o->orig_addr = *orig;
	o->orig_port = (__u16)ctx->user_port;
	o->peer_addr = *peer;
	o->peer_port = peer_port;
	o->flags = flags;
	return o;
}

/* The peer a rewritten socket reports is the one it dialled, as long as it is
 * still connected where it was sent. */
static __always_inline struct cgs_orig_dst *orig_dst_of(void *storage, struct bpf_sock_addr *ctx)
{
	if (!ctx->sk)
		return 0;
	return bpf_sk_storage_get(storage, ctx->sk, 0, 0);
}

static __always_inline void orig_dst_getpeername4(void *storage, struct bpf_sock_addr *ctx)
{
	struct cgs_orig_dst *o = orig_dst_of(storage, ctx);

	if (!o || o->peer_addr.a[3] != ctx->user_ip4 || o->peer_port != (__u16)ctx->user_port)
		return;
	ctx->user_ip4 = o->orig_addr.a[3];
	ctx->user_port = o->orig_port;
}

static __always_inline void orig_dst_getpeername6(void *storage, struct bpf_sock_addr *ctx)
{
	struct cgs_orig_dst *o = orig_dst_of(storage, ctx);

	if (!o || o->peer_port != (__u16)ctx->user_port || o->peer_addr.a[0] != ctx->user_ip6[0] ||
	    o->peer_addr.a[1] != ctx->user_ip6[1] || o->peer_addr.a[2] != ctx->user_ip6[2] ||
	    o->peer_addr.a[3] != ctx->user_ip6[3])
		return;
	ctx->user_ip6[0] = o->orig_addr.a[0];
	ctx->user_ip6[1] = o->orig_addr.a[1];
	ctx->user_ip6[2] = o->orig_addr.a[2];
	ctx->user_ip6[3] = o->orig_addr.a[3];
	ctx->user_port = o->orig_port;
}

/* The local end of an established active connection, mapped form for IPv4.
 * Every context field is read at a constant offset, outside any branch: the
 * verifier refuses a context pointer the compiler has offset. */
static __always_inline void orig_conn_key(struct bpf_sock_ops *skops, struct cgs_conn_key *k)
{
	__u32 ip4;

	k->addr.a[0] = skops->local_ip6[0];
	k->addr.a[1] = skops->local_ip6[1];
	k->addr.a[2] = skops->local_ip6[2];
	k->addr.a[3] = skops->local_ip6[3];
	ip4 = skops->local_ip4;
	barrier_var(ip4);
	if (skops->family == ORIG_AF_INET) {
		k->addr.a[0] = 0;
		k->addr.a[1] = 0;
		k->addr.a[2] = bpf_htonl(0xffff);
		k->addr.a[3] = ip4;
	}
	k->port = skops->local_port;
}

#endif
