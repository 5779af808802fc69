/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sendmsg/recvmsg's struct msghdr, read at exit with the three buffers it points
 * to that strace shows: the address (msg_name), the iovec array and the control
 * data (SCM_RIGHTS fds, credentials). One CGS_ARG_MSGHDR section
 * (struct cgs_msghdr, then the parts); the iovecs' contents are not read (the
 * same as readv/writev's). In one global function, verified once: three
 * bounded user reads inlined into each of the six unrolled argument slots of
 * capture_args would cost the exit hook's verification far more.
 */
#ifndef CGSCOPE_BPF_TRACE_MSGHDR_H
#define CGSCOPE_BPF_TRACE_MSGHDR_H

/* Appends `want` bytes (cut at `max`, a constant below CGS_COPY_MASK) from the
 * user pointer `src` at `off`; returns the bytes kept and sets the part's bits. */
static __always_inline __u32 msg_part(struct scratch *s, __u32 off, __u64 src, __u64 want, __u32 max,
				      __u16 cut_bit, __u16 fault_bit, __u16 *cut)
{
	__u32 n = want > max ? max : (__u32)want;

	if (want > max)
		*cut |= cut_bit;
	if (!src || !n)
		return 0;
	barrier_var(n);
	n &= CGS_COPY_MASK;
	if (bpf_probe_read_user(at(s, off), n, (const void *)src) < 0) {
		*cut |= fault_bit;
		return 0;
	}
	return n;
}

/* The section for argument `arg` of the record in this CPU's scratch slot at
 * `off`, of the header alone when `header_only`; returns the new end. */
__noinline int cgs_put_msghdr(__u32 off, __u32 arg, __u32 header_only)
{
	struct scratch *s = get_scratch();
	struct cgs_msghdr *m;
	struct cgs_record *r;
	struct cgs_var *v;
	__u32 used = sizeof(*m), n;
	__u16 cut = 0;

	if (!s || off > CGS_SCRATCH_SIZE - sizeof(*v) - sizeof(*m) - CGS_MSG_NAME_MAX -
			      CGS_MSG_IOV_MAX * 16 - CGS_MSG_CONTROL_MAX - 32 ||
	    arg >= CGS_NARGS)
		return off;
	barrier_var(arg);
	arg &= 7;
	r = (struct cgs_record *)s->data;
	v = var_at(s, off);
	m = (struct cgs_msghdr *)at(s, off + sizeof(*v));
	if (!r->args[arg])
		return off;
	if (bpf_probe_read_user(m, 56, (const void *)r->args[arg]) < 0)
		return finish_var(r, v, off, arg, CGS_ARG_MSGHDR, 0, CGS_VAR_F_FAULT);
	if (header_only) {
		m->name_kept = m->iov_kept = m->control_kept = 0;
		m->cut = CGS_MSG_HEADER_ONLY;
		return finish_var(r, v, off, arg, CGS_ARG_MSGHDR, used, 0);
	}
	n = msg_part(s, off + sizeof(*v) + used, m->msg_name, m->msg_namelen, CGS_MSG_NAME_MAX, CGS_MSG_NAME_CUT,
		     CGS_MSG_NAME_FAULT, &cut);
	m->name_kept = n;
	used += ALIGN8(n);
	/* Clamped before the product, which a huge count would wrap. */
	n = msg_part(s, off + sizeof(*v) + used, m->msg_iov,
		     m->msg_iovlen > CGS_MSG_IOV_MAX ? CGS_MSG_IOV_MAX * 16 + 1 : m->msg_iovlen * 16, CGS_MSG_IOV_MAX * 16,
		     CGS_MSG_IOV_CUT, CGS_MSG_IOV_FAULT, &cut);
	m->iov_kept = n;
	used += ALIGN8(n);
	n = msg_part(s, off + sizeof(*v) + used, m->msg_control, m->msg_controllen, CGS_MSG_CONTROL_MAX,
		     CGS_MSG_CONTROL_CUT, CGS_MSG_CONTROL_FAULT, &cut);
	m->control_kept = n;
	used += ALIGN8(n);
	m->cut = cut;
	if (cut & (CGS_MSG_NAME_CUT | CGS_MSG_IOV_CUT | CGS_MSG_CONTROL_CUT))
		count_drop(CGS_DROP_TRUNCATED);
	if (cut & (CGS_MSG_NAME_FAULT | CGS_MSG_IOV_FAULT | CGS_MSG_CONTROL_FAULT))
		count_drop(CGS_DROP_FAULT);
	return finish_var(r, v, off, arg, CGS_ARG_MSGHDR, used, 0);
}

#endif
