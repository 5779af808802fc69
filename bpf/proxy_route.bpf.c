// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgscope proxy route, kernel side: every socket created in the cgroup is
 * marked, so that cgscope's policy rule ("fwmark M lookup N") sends its traffic
 * to a routing table of its own.
 *
 * sock_create, not connect: the mark is in place before the socket does
 * anything, so TCP and UDP, connected or not (sendto), the first SYN and every
 * reply the kernel sends for the socket take the same route, and the program
 * runs once per socket rather than once per connect or datagram. The mark lives
 * in a one-entry map so that the program is the same code whatever the mark
 * (and a later run can swap it into the pinned link without a change).
 *
 * Sockets are never refused here: a missing config leaves them unmarked.
 */
#include "vmlinux/x86/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/counter.bpf.h"

#include "cgscope/abi/proxy_route.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ROUTE_SOCK_OK 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_route_config);
} route_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CGS_ROUTE_STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} route_stats SEC(".maps");

static __always_inline void route_count(__u32 stat)
{
	cgs_count(&route_stats, stat);
}

SEC("cgroup/sock_create")
int route_sock_create(struct bpf_sock *sk)
{
	__u32 zero = 0;
	struct cgs_route_config *cfg = bpf_map_lookup_elem(&route_config, &zero);

	if (!cfg || !cfg->mark) {
		route_count(CGS_ROUTE_STAT_UNMARKED);
		return ROUTE_SOCK_OK;
	}
	sk->mark = cfg->mark;
	route_count(CGS_ROUTE_STAT_MARKED);
	return ROUTE_SOCK_OK;
}
