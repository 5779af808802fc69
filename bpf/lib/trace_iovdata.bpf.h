/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the iovecs of readv/writev (and their p- and 2 forms) and of a
 * sendmsg/recvmsg msghdr held at exit, under --capture-buffers: strace shows
 * each element as iov_base="...". One CGS_ARG_IOVDATA section (struct
 * cgs_iov_data, then the bytes) after the call's other sections, in global
 * functions: verified once, and no stack of their own beyond a few scalars (the
 * iovec being read is copied into the section, not onto the stack, which 6.1
 * counts together with the exit hook's). No bpf_loop: it needs 5.17.
 */
#ifndef CGSCOPE_BPF_TRACE_IOVDATA_H
#define CGSCOPE_BPF_TRACE_IOVDATA_H

/* Per-call: where the iovecs are (CGS_IOV_DATA_*; 0: the call has none). */
const volatile __u8 iov_data_arg[CGS_MAX_SLOTS] = {};

/*
 * Element i of the iovec array at `vec` into the section at `off`, which has
 * `total` bytes kept so far: at most `left` bytes of it (what a read call's
 * return leaves; for a write call all of it), cut at --capture-buffers. Global,
 * so that the verifier checks one element, not sixteen unrolled with every path
 * through each (that took the exit hook past its million instructions). Writes
 * e[i] and returns 0, or 1 to stop: the array could not be read (FAULT in the
 * header's pad), or the section has no room left (TRUNCATED there).
 */
__noinline int cgs_iov_element(__u32 off, __u32 i, __u64 vec, __u64 left, __u32 total)
{
	struct scratch *s = get_scratch();
	struct cgs_iov_data *d;
	__u64 want;
	__u32 n;

	if (!s || i >= CGS_IOV_DATA_MAX || total > CGS_IOV_DATA_BYTES ||
	    off > CGS_SCRATCH_SIZE - sizeof(struct cgs_var) - sizeof(*d) - CGS_IOV_DATA_BYTES - 16)
		return 1;
	d = (struct cgs_iov_data *)at(s, off + sizeof(struct cgs_var));
	if (bpf_probe_read_user(d->tmp, 16, (const void *)(vec + 16 * (__u64)i)) < 0) {
		d->pad |= CGS_VAR_F_FAULT;
		return 1;
	}
	want = d->tmp[1] < left ? d->tmp[1] : left;
	n = want < capture_bytes ? (__u32)want : capture_bytes;
	if (n > CGS_IOV_DATA_BYTES - total) {
		d->pad |= CGS_VAR_F_TRUNCATED;
		return 1;
	}
	/* n <= CGS_BUF_MAX already: the mask shows the verifier. */
	barrier_var(n);
	n &= CGS_COPY_MASK;
	if (n && bpf_probe_read_user(at(s, off + sizeof(struct cgs_var) + sizeof(*d) + total), n,
				     (const void *)d->tmp[0]) < 0) {
		d->pad |= CGS_VAR_F_FAULT;
		return 1;
	}
	/* Each cut element is a cut value, as a cut write buffer is one. */
	if (n < want)
		count_drop(CGS_DROP_TRUNCATED);
	barrier_var(i);
	i &= CGS_IOV_DATA_MAX - 1;
	/* An element of 4 GiB or more: its length as far as a u32 holds. */
	d->e[i].want = want > 0xffffffffULL ? 0xffffffffU : (__u32)want;
	d->e[i].kept = n;
	return 0;
}

/*
 * Appends the section for the call in this CPU's scratch slot at `off`, which
 * returned `ret`; `which` is iov_data_arg[nr]. A write call's elements are kept
 * whatever it returned (strace shows what it was given); a read call's up to
 * what it read, the elements past that empty. Returns the new end.
 */
__noinline int cgs_put_iov_data(__u32 off, __u32 which, __s64 ret)
{
	struct scratch *s = get_scratch();
	struct cgs_iov_data *d;
	struct cgs_record *r;
	struct cgs_var *v;
	__u32 arg = (which - 1) & 7, total = 0, i, n = 0;
	__u64 vec, vlen, left;

	if (!s || !which || off > CGS_SCRATCH_SIZE - sizeof(*v) - sizeof(*d) - CGS_IOV_DATA_BYTES - 16)
		return off;
	if (!(which & CGS_IOV_DATA_WRITE) && ret < 0)
		return off;
	left = (which & CGS_IOV_DATA_WRITE) ? ~0ULL : (__u64)ret;
	r = (struct cgs_record *)s->data;
	v = var_at(s, off);
	d = (struct cgs_iov_data *)at(s, off + sizeof(*v));
	d->pad = 0;
	if (which & CGS_IOV_DATA_MSGHDR) {
		/* msg_iov and msg_iovlen, at 16 and 24 of the user's struct msghdr. */
		if (bpf_probe_read_user(d->tmp, 16, (const void *)(r->args[arg] + 16)) < 0)
			return off;
		vec = d->tmp[0];
		vlen = d->tmp[1];
	} else {
		vec = r->args[arg];
		vlen = r->args[(arg + 1) & 7];
	}
	for (i = 0; i < CGS_IOV_DATA_MAX && i < vlen; i++) {
		if (cgs_iov_element(off, i, vec, left, total))
			break;
		n = i + 1;
		d = (struct cgs_iov_data *)at(s, off + sizeof(*v));
		left -= d->e[i & (CGS_IOV_DATA_MAX - 1)].want;
		total += d->e[i & (CGS_IOV_DATA_MAX - 1)].kept;
		barrier_var(total);
		total &= 0xffff;
	}
	d = (struct cgs_iov_data *)at(s, off + sizeof(*v));
	/* Elements past those this section has room for (finish_var counts it as
	 * one cut value), unless a read's data ended before them. */
	if (n == CGS_IOV_DATA_MAX && vlen > CGS_IOV_DATA_MAX && left)
		d->pad |= CGS_VAR_F_TRUNCATED;
	d->n = n;
	d->tmp[0] = d->tmp[1] = 0;
	i = d->pad;
	d->pad = 0;
	return finish_var(r, v, off, arg, CGS_ARG_IOVDATA, sizeof(*d) + total, (__u16)i);
}

#endif
