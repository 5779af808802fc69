/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Choosing where a connect goes: frontend -> service -> tier -> endpoint ->
 * backend, or frontend -> backend for a workload reached by its own address.
 * Every function returns 0 or -errno and writes no socket context: the entry
 * programs alone read and write the socket address (affinity reads the
 * socket's netns cookie, and only for a service that asks for it).
 */
#ifndef CGSCOPE_BPF_LB_SELECT_H
#define CGSCOPE_BPF_LB_SELECT_H

#define LB_ENOENT 2
#define LB_EINVAL 22
#define LB_ECONNREFUSED 111

/* Where a balanced connect goes. */
struct lb_choice {
	struct cgs_addr addr; /* new destination */
	__u16 port;              /* new port, network order */
	__u16 waypoint;          /* 1: addr:port is a waypoint */
	__u32 service_id;        /* 0 for a workload reached directly */
	__u32 keep_orig;         /* 1: record the original destination on the socket */
};

static __always_inline int lb_addr_is_mapped4(const struct cgs_addr *a)
{
	return a->a[0] == 0 && a->a[1] == 0 && a->a[2] == bpf_htonl(0xffff);
}

/* The tier a policy draws from, or -1 when none has an endpoint. */
static __always_inline int lb_pick_tier(const struct cgs_lb_service_value *s)
{
	int i;

	if (s->policy != CGS_LB_POLICY_FAILOVER)
		return s->count[0] ? 0 : -1;
#pragma unroll
	for (i = 0; i < CGS_LB_TIERS; i++)
		if (s->count[i])
			return i;
	return -1;
}

/* The target port of service port `port`, or 0 when the service does not serve it. */
static __always_inline __u16 lb_target_port(const struct cgs_lb_service_value *s, __u16 port)
{
	int i;

#pragma unroll
	for (i = 0; i < CGS_LB_MAX_PORTS; i++) {
		if (!s->port[i])
			break;
		if (s->port[i] == port)
			return s->target_port[i];
	}
	return 0;
}

/* The endpoint for `ek` (service and tier set) under session affinity: the
 * client's last one while it is fresh and its slot still holds the same
 * backend in this tier, else a random one, remembered. */
static __always_inline struct cgs_lb_endpoint_value *lb_affine_endpoint(struct bpf_sock_addr *ctx,
									 const struct cgs_lb_service_value *s,
									 struct cgs_lb_endpoint_key *ek)
{
	struct cgs_lb_affinity_key ak = {.client = bpf_get_netns_cookie(ctx), .service_id = ek->service_id};
	struct cgs_lb_affinity_value *a = bpf_map_lookup_elem(&lb_affinity, &ak);
	struct cgs_lb_affinity_value nv = {};
	struct cgs_lb_endpoint_value *e;
	__u64 now = bpf_ktime_get_ns();
	__u32 count = s->count[ek->tier & 7];

	if (a && now - a->last_ns < (__u64)s->affinity_timeout * 1000000000ull && a->tier == ek->tier &&
	    a->index < count) {
		ek->index = a->index;
		e = bpf_map_lookup_elem(&lb_endpoint, ek);
		if (e && e->backend_id == a->backend_id) {
			a->last_ns = now;
			return e;
		}
	}
	ek->index = bpf_get_prandom_u32() % count;
	e = bpf_map_lookup_elem(&lb_endpoint, ek);
	if (!e)
		return 0;
	nv.last_ns = now;
	nv.tier = ek->tier;
	nv.index = ek->index;
	nv.backend_id = e->backend_id;
	bpf_map_update_elem(&lb_affinity, &ak, &nv, BPF_ANY);
	return e;
}

static __always_inline int lb_from_service(struct bpf_sock_addr *ctx, __u32 id, __u16 port, struct lb_choice *out)
{
	struct cgs_lb_service_key sk = {.id = id};
	struct cgs_lb_endpoint_key ek = {.service_id = id};
	struct cgs_lb_backend_key bk = {};
	struct cgs_lb_service_value *s;
	struct cgs_lb_endpoint_value *e;
	struct cgs_lb_backend_value *b;
	__u16 target;
	int tier;

	s = bpf_map_lookup_elem(&lb_service, &sk);
	if (!s)
		return -LB_EINVAL; /* a frontend without its service: only mid-removal */
	target = lb_target_port(s, port);
	if (!target) {
		lb_count_stat(CGS_LB_STAT_PORT_MISS);
		return -LB_ENOENT;
	}
	out->service_id = id;
	out->keep_orig = 1;
	if (s->wp_port) {
		out->addr = s->wp_addr;
		out->port = s->wp_port;
		out->waypoint = 1;
		return 0;
	}
	tier = lb_pick_tier(s);
	if (tier < 0)
		return -LB_ECONNREFUSED;
	ek.tier = tier;
	if (s->flags & CGS_LB_SERVICE_F_AFFINITY)
		e = lb_affine_endpoint(ctx, s, &ek);
	else {
		ek.index = bpf_get_prandom_u32() % s->count[tier & 7];
		e = bpf_map_lookup_elem(&lb_endpoint, &ek);
	}
	if (!e)
		return -LB_EINVAL;
	bk.id = e->backend_id;
	b = bpf_map_lookup_elem(&lb_backend, &bk);
	if (!b)
		return -LB_EINVAL;
	if (b->wp_port) {
		/* The backend itself is behind a waypoint. */
		out->addr = b->wp_addr;
		out->port = b->wp_port;
		out->waypoint = 1;
		return 0;
	}
	out->addr = b->addr;
	out->port = target;
	out->waypoint = 0;
	out->keep_orig = !(s->flags & CGS_LB_SERVICE_F_NO_ORIG);
	return 0;
}

/* A workload reached by its own address: only its waypoint changes anything. */
static __always_inline int lb_from_backend(__u32 id, struct lb_choice *out)
{
	struct cgs_lb_backend_key bk = {.id = id};
	struct cgs_lb_backend_value *b = bpf_map_lookup_elem(&lb_backend, &bk);

	if (!b)
		return -LB_EINVAL;
	if (!b->wp_port)
		return -LB_ENOENT;
	out->addr = b->wp_addr;
	out->port = b->wp_port;
	out->waypoint = 1;
	out->service_id = 0;
	out->keep_orig = 1;
	return 0;
}

#endif
