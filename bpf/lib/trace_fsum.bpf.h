/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * file_write/file_read summed in the kernel: when a write (read) is sent only
 * for those sums (-e does not show it), the first one to a regular file goes out
 * as a full record with its path, as before, and arms a slot for (tgid, fd,
 * direction); the writes after it only add their bytes to the slot, with no
 * ring record, as long as nothing could have changed what that record said:
 *
 *  - the fd still holds the same struct file, whose f_path.dentry is the same
 *    (a file's f_path never changes while it is open);
 *  - no path-moving syscall began since (the path generation, trace_fd.bpf.h,
 *    is the one the record was stamped with) and none is in flight;
 *  - the file was not unlinked since (the dentry is still hashed).
 *
 * Otherwise the write goes out as a full record again and re-arms the slot, so
 * the event's name is still the one of its last write. Each time a slot is
 * re-armed, and when its fd is closed or replaced (close, dup2, dup3 at exit),
 * and at close_range and exec (close-on-exec fds) for the process's slots in
 * range, a CGS_EV_FILE_SUMS record carries the slot's totals: its counters only
 * grow, and user space credits what it has not credited yet to the file the
 * record names (src/trace/file_sums.h). At exit and at the end of the trace
 * user space reads the slots itself: by the exit record every record of the
 * process is behind it, so what a slot holds beyond them is its last file's.
 *
 * The counters are never reset, so a racing add is never lost: a thread of the
 * same process adding to the slot while another re-arms it has its bytes
 * credited with the next totals (to the slot's next file). One thread per fd,
 * the common case, is exact. (Atomic exchange needs -mcpu=v3, which the 6.1
 * baseline build does not assume; BPF spin locks are refused in tracing.)
 */
#ifndef CGSCOPE_BPF_TRACE_FSUM_H
#define CGSCOPE_BPF_TRACE_FSUM_H

/* Set before load: per syscall, 0 or CGS_FSUM_READ/WRITE (its fd is argument 0);
 * fsum_on when any is set. */
const volatile __u8 fsum_calls[CGS_MAX_SYSCALLS] = {};
const volatile __u8 fsum_on = 0;

#define CGS_NR_DUP2 33
#define CGS_NR_DUP3 292

#define CGS_S_IFMT 0170000
#define CGS_S_IFREG 0100000

/* Sized by user space (1 when the sums are not made here); a full map only
 * means more full records, never a lost byte. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct cgs_fsum_key);
	__type(value, struct cgs_fsum);
} fsums SEC(".maps");

/* The processes that have (or had) a slot, by tgid: an exec or a close_range
 * walks the whole slot map (every bucket, 16k, about 50 us), so only the
 * processes found here walk it; most execs in a build come from processes that
 * never wrote a summed file. A process gets its entry before its first slot
 * (no entry, no slot: its writes go as full records), and loses it when its
 * last thread exits. Sized as fsums. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} fsum_procs SEC(".maps");

/* What an fd holds, as a slot remembers it: the file, its dentry and its mount. */
struct fsum_id {
	__u64 file, dentry, mnt;
};

static __always_inline int fsum_identity(struct task_struct *task, __s32 fd, struct fsum_id *id)
{
	struct file *f = fd_file(task, fd);

	if (!f)
		return -1;
	/* Two reads, not one of f_path into the stack: that copy cost the exit
	 * hook's verification some 200,000 more instructions (verified_insns). */
	id->file = (__u64)f;
	id->dentry = (__u64)BPF_CORE_READ(f, f_path.dentry);
	id->mnt = (__u64)BPF_CORE_READ(f, f_path.mnt);
	return 0;
}

/* Whether slot `e` still stands for the file at fd (the list above). */
static __always_inline int fsum_stands(struct task_struct *task, __s32 fd, struct cgs_fsum *e)
{
	struct fsum_id id;
	struct dentry *d;

	if (!e->file || e->gen != fd_path_gen || fd_path_moving)
		return 0;
	/* One branch for the three: each compare of its own would add a verifier
	 * state to everything after the inlined callers. */
	if (fsum_identity(task, fd, &id) != 0 || ((id.file ^ e->file) | (id.dentry ^ e->dentry) | (id.mnt ^ e->mnt)))
		return 0;
	d = (struct dentry *)id.dentry; /* a plain pointer first: CO-RE reads through kernel types only */
	return e->deleted || BPF_CORE_READ(d, d_hash.pprev) != 0;
}

/* Adds the call to its armed slot; 0 when it was counted (no record to send). */
static __always_inline int fsum_count(struct task_struct *task, __u32 tgid, __u32 nr, long ret,
				      struct pt_regs *regs)
{
	__u8 how = fsum_calls[nr];
	struct cgs_fsum_key k = {.tgid = tgid, .dir = how == CGS_FSUM_WRITE};
	struct cgs_fsum *e;

	if (ret <= 0)
		return -1;
	k.fd = (__s32)regs->di;
	e = bpf_map_lookup_elem(&fsums, &k);
	if (!e || !fsum_stands(task, k.fd, e))
		return -1;
	__sync_fetch_and_add(&e->bytes, ret);
	__sync_fetch_and_add(&e->calls, 1);
	return 0;
}

/*
 * Shown calls (CGS_FSUM_SHOWN: -e write shows every write) still send a record
 * each, but the walk is what costs (most of the exit hook on a write storm): a
 * slot of direction CGS_FSUM_DIR_SHOWN, armed after a full record went out,
 * lets the next calls on that fd carry the slot's file instead of a path, and
 * the stamp (ts_ns, tid) of the record whose path they have; user space takes
 * the path from that record (src/trace/path_reuse.h). Such a slot never counts
 * bytes, and goes where the summing slots go (close, dup2/dup3, close_range,
 * exec, exit).
 *
 * The slot is read between two loads of its file, and written whole
 * (cgs_fsum_arm_shown): a reader never pairs one record's stamp with another
 * file. Called from cgs_put_path (declared before it); 0 when the section at
 * fp_off in the scratch slot (and the stamp after it) was filled from the slot.
 * Inline: a global function here would make a chain of three calls whose
 * stacks together pass 512 bytes, which 6.1 refuses.
 */
static __always_inline int fsum_reuse(struct task_struct *task, struct scratch *s, __u32 nr, __s32 fd, __u32 fp_off)
{
	struct cgs_fsum_key k = {.tgid = task->tgid, .fd = fd, .dir = CGS_FSUM_DIR_SHOWN};
	struct cgs_fd_reuse *ru;
	struct cgs_fd_path *fp;
	struct cgs_fsum *e;
	__u64 file;

	if (!s || !fsum_on || !(fsum_calls[nr & (CGS_MAX_SYSCALLS - 1)] & CGS_FSUM_SHOWN))
		return -1;
	fp = (struct cgs_fd_path *)at(s, fp_off);
	ru = (struct cgs_fd_reuse *)at(s, fp_off + sizeof(*fp));
	e = bpf_map_lookup_elem(&fsums, &k);
	if (!e)
		return -1;
	file = *(volatile __u64 *)&e->file;
	if (!fsum_stands(task, fd, e))
		return -1;
	fp->ino = e->ino;
	fp->dev = e->dev;
	fp->mode = e->mode;
	fp->gen = e->gen;
	fp->flags = CGS_FDPATH_F_REUSED | (e->deleted ? CGS_FDPATH_F_DELETED : 0);
	ru->ts_ns = e->stamp_ts;
	ru->tid = e->stamp_tid;
	ru->pad = 0;
	barrier();
	return *(volatile __u64 *)&e->file == file ? 0 : -1;
}

/* The slot's totals, when calls were counted since the last such record; -1
 * when the ring was full. Nothing is lost then (the counters stay, and user
 * space reads the slot itself at exit or at the end, crediting the file the slot
 * still names), so it is not counted as a lost event: the caller must only not
 * make the slot name another file. */
static __always_inline int fsum_send_totals(struct task_struct *task, const struct cgs_fsum_key *k,
					    struct cgs_fsum *e, __u32 ended)
{
	struct cgs_record *r;
	__u64 calls = e->calls;

	if (calls == e->sent_calls && !ended)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r)
		return -1;
	e->sent_calls = calls;
	fill_task_header(r, task, CGS_EV_FILE_SUMS);
	r->size = sizeof(*r);
	r->flags |= CGS_REC_F_UNSELECTED;
	r->ret = ended;
	r->args[0] = e->bytes;
	r->args[1] = calls;
	r->args[2] = e->dev;
	r->args[3] = e->ino;
	r->args[4] = k->dir;
	r->args[5] = (__u32)k->fd;
	bpf_ringbuf_submit(r, wake_flag());
	return 0;
}

/* Whether the section `fp` of a record may stand for the calls after it: fit
 * (no flag that makes it doubtful, a regular file), nothing moved since its
 * walk, and its fd still holds the file it named (an fd replaced since the walk
 * would have the slot stand for another file); *id is that file. */
static __always_inline int fsum_fit(struct task_struct *task, struct cgs_fd_path *fp, struct fsum_id *id)
{
	struct file *f;

	if ((fp->flags & CGS_FSUM_UNFIT) || (fp->mode & CGS_S_IFMT) != CGS_S_IFREG || fp->gen != fd_path_gen ||
	    fd_path_moving || fsum_identity(task, fp->fd, id) != 0)
		return 0;
	f = (struct file *)id->file;
	return BPF_CORE_READ(f, f_inode, i_ino) == fp->ino && BPF_CORE_READ(f, f_inode, i_sb, s_dev) == fp->dev;
}

/* Before a process's first slot: its fsum_procs entry (no entry, no slot: exec
 * and close_range find the slots by it). 0 when it is there. The tgid by
 * pointer, the key's own: a copy would cost stack that 6.1's 512 bytes for the
 * exit hook and its callee do not have. */
static __always_inline int fsum_proc_enter(const __u32 *tgid)
{
	__u32 one = 1;
	long err;

	if (bpf_map_lookup_elem(&fsum_procs, tgid))
		return 0;
	err = bpf_map_update_elem(&fsum_procs, tgid, &one, BPF_NOEXIST);
	return err && err != -17 /* EEXIST: another thread of it, just now */ ? -1 : 0;
}

/* Makes slot `e` of `k` (NULL: none yet) stand for the file of section `fp` of
 * record `r`. */
static __always_inline void fsum_stand(struct cgs_fsum_key *k, struct cgs_fsum *e, struct cgs_fd_path *fp,
				       const struct fsum_id *id, struct cgs_record *r)
{
	struct cgs_fsum fresh = {};

	if (!e) {
		if (fsum_proc_enter(&k->tgid) != 0)
			return;
		e = &fresh;
	} else {
		e->file = 0; /* no reader matches while the slot changes */
		barrier();
	}
	e->dentry = id->dentry;
	e->mnt = id->mnt;
	e->ino = fp->ino;
	e->dev = fp->dev;
	e->mode = fp->mode;
	e->gen = fp->gen;
	e->deleted = (fp->flags & CGS_FDPATH_F_DELETED) != 0;
	e->stamp_ts = r->ts_ns;
	e->stamp_tid = r->tid;
	barrier();
	e->file = id->file;
	if (e == &fresh)
		bpf_map_update_elem(&fsums, k, &fresh, BPF_NOEXIST);
}

/* After a full record of a summed call was built in the scratch slot (its one
 * section first): its totals so far go out, then the slot stands for this file. */
static __always_inline void fsum_arm(struct task_struct *task, __u32 tgid, __u32 nr, long ret, struct scratch *s)
{
	struct cgs_record *r = (struct cgs_record *)s->data;
	struct cgs_fd_path *fp = (struct cgs_fd_path *)at(s, sizeof(*r) + sizeof(struct cgs_var));
	__u8 how = fsum_calls[nr];
	struct cgs_fsum_key k = {.tgid = tgid, .dir = how == CGS_FSUM_WRITE};
	struct cgs_fsum *e;
	struct fsum_id id;

	if (ret <= 0 || r->nvar != 1)
		return;
	k.fd = fp->fd;
	e = bpf_map_lookup_elem(&fsums, &k);
	/* Totals the full ring refused stay in the slot, which must then go on
	 * naming their file: it stops instead of standing for the new one (its next
	 * call sends a full record and tries again). Re-armed anyway, they would be
	 * credited to the new file. */
	if (e && fsum_send_totals(task, &k, e, 0) != 0) {
		e->file = 0;
		return;
	}
	if (!fsum_fit(task, fp, &id)) {
		if (e)
			e->file = 0;
		return;
	}
	fsum_stand(&k, e, fp, &id, r);
}

/* After a shown call's full record went into the ring (not before: a record
 * that reuses a path must come after the one that names it): its slot stands
 * for the file its fd argument 0 named, the first section, if the fd still
 * holds the very file the walk started from (another thread may have put
 * another name of the same inode there since). The slot is written whole with
 * one map update, under the map's bucket lock: two threads arming it at once
 * leave one arm's slot, never a mix of both (a stamp with another file).
 * Global (verified once, apart from the exit hook whose bound it would strain). */
__noinline int cgs_fsum_arm_shown(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s = get_scratch();
	struct cgs_fsum_key k = {.tgid = task->tgid, .dir = CGS_FSUM_DIR_SHOWN};
	struct cgs_fsum fresh = {};
	struct cgs_fd_path *fp;
	struct cgs_record *r;
	struct cgs_fsum *e;
	struct cgs_var *v;
	struct fsum_id id;

	if (!s)
		return 0;
	r = (struct cgs_record *)s->data;
	v = var_at(s, sizeof(*r));
	fp = (struct cgs_fd_path *)at(s, sizeof(*r) + sizeof(*v));
	if (r->nvar == 0 || v->arg != 0 || v->kind != CGS_ARG_FDPATH || (fp->flags & CGS_FDPATH_F_REUSED))
		return 0;
	k.fd = fp->fd;
	e = bpf_map_lookup_elem(&fsums, &k);
	if (!fsum_fit(task, fp, &id) || id.file != s->walked_file || id.dentry != s->walked_dentry ||
	    id.mnt != s->walked_mnt) {
		if (e)
			e->file = 0;
		return 0;
	}
	if (!e && fsum_proc_enter(&k.tgid) != 0)
		return 0;
	fresh.file = id.file;
	fresh.dentry = id.dentry;
	fresh.mnt = id.mnt;
	fresh.ino = fp->ino;
	fresh.dev = fp->dev;
	fresh.mode = fp->mode;
	fresh.gen = fp->gen;
	fresh.deleted = (fp->flags & CGS_FDPATH_F_DELETED) != 0;
	fresh.stamp_ts = r->ts_ns;
	fresh.stamp_tid = r->tid;
	bpf_map_update_elem(&fsums, &k, &fresh, BPF_ANY);
	return 0;
}

static __always_inline void fsum_slot_gone(struct task_struct *task, __u32 tgid, __s32 fd, __u32 dir)
{
	struct cgs_fsum_key k = {.tgid = tgid, .fd = fd, .dir = dir};
	struct cgs_fsum *e = bpf_map_lookup_elem(&fsums, &k);

	if (!e || !e->file)
		return;
	e->file = 0;
	fsum_send_totals(task, &k, e, dir == CGS_FSUM_DIR_SHOWN ? 0 : CGS_FSUM_END_CLOSE);
}

/* close(fd), dup2/dup3 onto fd, at exit: the slots of fd go out and stop. Three
 * calls, not a loop over the direction: 6.1's verifier sees a loop counter kept
 * in the key on the stack as an infinite loop. */
static __always_inline void fsum_fd_gone(struct task_struct *task, __u32 tgid, __s32 fd)
{
	fsum_slot_gone(task, tgid, fd, 0);
	fsum_slot_gone(task, tgid, fd, 1);
	fsum_slot_gone(task, tgid, fd, CGS_FSUM_DIR_SHOWN);
}

/* The slots of one process whose fd is in [lo, hi]: for a close_range, or for an
 * exec (close-on-exec fds close without a syscall of their own). */
struct fsum_range {
	__u32 tgid;
	__s32 lo, hi;
};

static long fsum_range_cb(struct bpf_map *map, struct cgs_fsum_key *k, struct cgs_fsum *e, struct fsum_range *r)
{
	if (k->tgid != r->tgid || k->fd < r->lo || k->fd > r->hi || !e->file)
		return 0;
	e->file = 0;
	fsum_send_totals(bpf_get_current_task_btf(), k, e, 0); /* close_range may only set flags; exec: user space knows */
	return 0;
}

static __always_inline void fsum_range_gone(__u32 tgid, __s32 lo, __s32 hi)
{
	struct fsum_range r = {.tgid = tgid, .lo = lo, .hi = hi};

	if (!bpf_map_lookup_elem(&fsum_procs, &tgid))
		return; /* it never had a slot */
	bpf_for_each_map_elem(&fsums, fsum_range_cb, &r, 0);
}

#define CGS_NR_CLOSE_RANGE 436

/* At every exit while slots are kept here, in the trace's scope or not: the
 * calls that end an fd. Global (verified once): called before the filters, its
 * branches would otherwise multiply the states of everything after it. */
__noinline int cgs_fsum_exit(__u32 nr, __s64 ret, __u64 di, __u64 si)
{
	struct task_struct *task;
	__u32 tgid;

	if (nr != CGS_NR_CLOSE && nr != CGS_NR_DUP2 && nr != CGS_NR_DUP3 && nr != CGS_NR_CLOSE_RANGE)
		return 0;
	task = bpf_get_current_task_btf();
	tgid = task->tgid;
	/* Out of the trace's scope too: a process with no slot costs one lookup. */
	if (tgid == self_tgid || !bpf_map_lookup_elem(&fsum_procs, &tgid))
		return 0;
	if (nr == CGS_NR_CLOSE)
		fsum_fd_gone(task, tgid, (__s32)di); /* released even when close fails */
	else if ((nr == CGS_NR_DUP2 || nr == CGS_NR_DUP3) && ret >= 0 && di != si)
		fsum_fd_gone(task, tgid, (__s32)si);
	else if (nr == CGS_NR_CLOSE_RANGE && ret == 0)
		fsum_range_gone(tgid, (__s32)di, si > 0x7fffffff ? 0x7fffffff : (__s32)si);
	return 0;
}

/* The last thread of a process exits: the entry above goes (user space takes
 * its slots when the exit record arrives). */
static __always_inline void fsum_process_gone(__u32 tgid)
{
	bpf_map_delete_elem(&fsum_procs, &tgid);
}

#endif
