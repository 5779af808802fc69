/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Appending variable sections (struct cgs_var + bytes) to a record being built in
 * the scratch slot. Every function takes the current end offset and returns the
 * new one; offsets stay multiples of 8 and every index is masked, so a bad offset
 * can only produce a wrong record, never an out-of-bounds access.
 */
#ifndef CGSCOPE_BPF_CAPTURE_H
#define CGSCOPE_BPF_CAPTURE_H

#define ALIGN8(x) (((x) + 7) & ~7U)
/* Bounds any single copy for the verifier; larger than every real limit. */
#define CGS_COPY_MASK 0xffff

/* The byte at off, masked after a barrier so that the compiler cannot drop the
 * mask on the strength of checks the verifier does not see the same way. */
static __always_inline void *at(struct scratch *s, __u32 off)
{
	barrier_var(off);
	return &s->data[off & CGS_SCRATCH_MASK];
}

static __always_inline struct cgs_var *var_at(struct scratch *s, __u32 off)
{
	return (struct cgs_var *)at(s, off);
}

static __always_inline __u32 finish_var(struct cgs_record *r, struct cgs_var *v, __u32 off,
					__u8 arg, __u8 kind, __u32 len, __u16 flags)
{
	v->arg = arg;
	v->kind = kind;
	v->flags = flags;
	v->len = len;
	r->nvar += 1;
	if (flags & CGS_VAR_F_TRUNCATED)
		count_drop(CGS_DROP_TRUNCATED);
	if (flags & CGS_VAR_F_FAULT)
		count_drop(CGS_DROP_FAULT);
	return off + sizeof(*v) + ALIGN8(len);
}

/* A NUL-terminated string from user (is_user) or kernel memory, `keep` bytes of
 * it at most. It is read with room for one byte more, so that TRUNCATED means
 * exactly that the string was longer (an exact fit is not a cut); a cut one is
 * stored as its first `keep` bytes and a NUL. */
static __always_inline __u32 put_str(struct scratch *s, struct cgs_record *r, __u32 off, __u8 arg,
				     const void *src, __u32 keep, int is_user)
{
	struct cgs_var *v = var_at(s, off);
	void *dst = at(s, off + sizeof(*v));
	__u32 max = keep + 2;
	long n;
	__u16 flags = 0;

	if (max > CGS_PATH_MAX)
		max = CGS_PATH_MAX;
	if (is_user)
		n = bpf_probe_read_user_str(dst, max, src);
	else
		n = bpf_probe_read_kernel_str(dst, max, src);
	if (n < 0) {
		n = 0;
		flags = src ? CGS_VAR_F_FAULT : 0;
	} else if (n == max) {
		flags = CGS_VAR_F_TRUNCATED;
		n = max - 1;
		*(char *)at(s, off + sizeof(*v) + n - 1) = 0;
	}
	return finish_var(r, v, off, arg, CGS_ARG_STR, n, flags);
}

/* A byte range of user memory of known length, cut at max. */
static __always_inline __u32 put_bytes(struct scratch *s, struct cgs_record *r, __u32 off, __u8 arg,
				       __u8 kind, const void *src, __u64 len, __u32 max)
{
	struct cgs_var *v = var_at(s, off);
	void *dst = at(s, off + sizeof(*v));
	__u16 flags = 0;
	__u32 n = len;

	if (len > max) {
		n = max;
		flags = CGS_VAR_F_TRUNCATED;
	}
	/* n <= CGS_ARGV_MAX_BYTES already; the mask after the barrier only makes
	 * that visible to the verifier, which cannot follow the clamp above. */
	barrier_var(n);
	n &= CGS_COPY_MASK;
	if (n && bpf_probe_read_user(dst, n, src) < 0) {
		n = 0;
		flags = CGS_VAR_F_FAULT;
	}
	return finish_var(r, v, off, arg, kind, n, flags);
}

/* A NULL-terminated array of user strings, stored NUL-separated, at most
 * argv_elems elements and CGS_ARGV_MAX_BYTES bytes. Its pointers are `psize`
 * bytes each (a constant): 8, or 4 for an ia32 caller's. With elem_keep (-s) an
 * element is read with room for elem_keep + 1 bytes: one that fills it was
 * longer, is counted as cut, and user space shows its first elem_keep bytes
 * (CGS_VAR_F_ELEM_KEEP); the elements after it are kept. */
static __always_inline __u32 put_strarr(struct scratch *s, struct cgs_record *r, __u32 off, __u8 arg,
					const void *uarr, __u32 psize)
{
	const char *elems = uarr;
	struct cgs_var *v = var_at(s, off);
	__u32 base = off + sizeof(*v);
	__u32 used = 0;
	__u16 flags = elem_keep ? CGS_VAR_F_ELEM_KEEP : 0;
	int i;

	for (i = 0; i < CGS_ARGV_MAX_ELEMS; i++) {
		const char *p = NULL; /* zeroed: a 4-byte pointer fills its low half */
		__u32 rem, cap;
		int elem_cap = 0;
		long n;

		if (bpf_probe_read_user(&p, psize, elems + i * psize) < 0 || !p)
			break;
		if (used >= CGS_ARGV_MAX_BYTES || i >= argv_elems) {
			flags |= CGS_VAR_F_TRUNCATED;
			break;
		}
		rem = CGS_ARGV_MAX_BYTES - used;
		cap = rem;
		if (elem_keep && elem_keep + 2 < rem) {
			cap = elem_keep + 2;
			elem_cap = 1;
		}
		barrier_var(cap);
		cap &= CGS_COPY_MASK;
		n = bpf_probe_read_user_str(at(s, base + used), cap, p);
		if (n <= 0)
			break;
		used += n;
		/* used <= CGS_ARGV_MAX_BYTES already; saying so on the register the
		 * verifier tracks keeps its range from growing each iteration, which
		 * otherwise stops state pruning (two arrays then exceed 1M insns). */
		barrier_var(used);
		used &= CGS_COPY_MASK;
		if (n == cap) {
			if (elem_cap) {
				count_drop(CGS_DROP_TRUNCATED); /* this element; the next ones go on */
				continue;
			}
			/* Cut (or, rarely, an exact fit): either way nothing more fits. */
			flags |= CGS_VAR_F_TRUNCATED;
			break;
		}
	}
	if (i == CGS_ARGV_MAX_ELEMS) {
		const char *next = NULL;

		if (bpf_probe_read_user(&next, psize, elems + i * psize) == 0 && next)
			flags |= CGS_VAR_F_TRUNCATED;
	}
	return finish_var(r, v, off, arg, CGS_ARG_STRARR, used, flags);
}

#endif
