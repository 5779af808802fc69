/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The files behind file descriptors, resolved at sys_exit (no kprobe, no
 * bpf_d_path: tracepoints cannot call it). For an fd argument the kernel looks
 * the fd up in the task's table and walks the file's dentries up to the task's
 * root, crossing mounts as d_path() does, so the path is the one the file has at
 * the moment of the event: right after a rename of a directory, right for fds
 * opened before the trace, for dup'ed fds and for fds shared between threads.
 *
 * What the walk reads costs: one bpf_probe_read_kernel for the fd slot, one for
 * the file's path, one per mount crossed and two per component (the dentry's
 * head, then its name); the rest are plain loads from the trusted task. It runs
 * in one global function (cgs_put_path), verified once whatever calls it.
 *
 * close() is the exception: by sys_exit its fd is gone and the file freed. Its
 * walk runs at entry (trace_close.bpf.h); where that record is missing, its
 * section carries only the path generation, and user space names what was
 * closed from its fd table (src/trace/fd_table.h), which is fed by these walks
 * and by the paths open calls were given. The generation says whether such a
 * remembered path can still be trusted: it counts the path-moving syscalls
 * (rename*, mount, umount, move_mount, pivot_root, chroot) begun anywhere on the
 * machine, and fd_path_moving counts those still running. A remembered path is
 * used for a close only when the generation has not moved since it was resolved
 * and nothing was moving then. (The kernel's own rename_lock would be exact, but
 * it is neither in BTF nor, without CONFIG_KALLSYMS_ALL, in kallsyms.)
 */
#ifndef CGSCOPE_BPF_TRACE_FD_H
#define CGSCOPE_BPF_TRACE_FD_H

#define CGS_FD_DEPTH 48          /* components and mounts walked at most */
#define CGS_AT_FDCWD -100
#define CGS_NAME_MAX 255
#define CGS_PATH_MASK (CGS_PATH_MAX - 1)
/* An open returning within this long after a path-moving syscall began may have
 * looked its path up before the move: its fd gets no trusted path. */
#define CGS_MOVE_GRACE_NS 10000000ULL

/* Set before load: the file events need each file's mode (regular or not). */
const volatile __u8 fd_need_mode = 0;

/* Bumped when a path-moving syscall begins; in flight until it returns. */
__u32 fd_path_gen = 0;
__u32 fd_path_moving = 0;
__u64 fd_path_move_ns = 0;

/* Path-moving syscalls begun after attach, by tid: an exit counts only these. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} fd_path_moves SEC(".maps");

static __always_inline int path_move_begin(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 one = 1;

	/* In flight first, then the generation: a reader that sees the new
	 * generation sees the move in flight too (see cgs_fd_stamp). */
	__sync_fetch_and_add(&fd_path_moving, 1);
	__sync_fetch_and_add(&fd_path_gen, 1);
	fd_path_move_ns = bpf_ktime_get_ns();
	/* Without its entry the exit would not count down: nothing is trusted again
	 * until the trace ends (never a wrong path, only fewer). */
	bpf_map_update_elem(&fd_path_moves, &tid, &one, BPF_ANY);
	return 0;
}

/* From sys_exit, for the syscalls flagged CGS_WANT_PATHGEN. */
static __always_inline void path_move_end(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (bpf_map_delete_elem(&fd_path_moves, &tid) == 0)
		__sync_fetch_and_add(&fd_path_moving, -1);
}

/* The generation stamp of a section, read before anything is resolved. */
static __always_inline void cgs_fd_stamp(struct cgs_fd_path *fp)
{
	__u32 gen = fd_path_gen;

	barrier_var(gen);
	fp->gen = gen;
	fp->ino = 0;
	fp->magic = 0;
	fp->dev = 0;
	fp->pad = 0;
	fp->mode = 0;
	fp->fd = -1;
	fp->flags = fd_path_moving ? CGS_FDPATH_F_MOVING : 0;
}

/* struct dentry from d_flags to d_inode and the inline name after it (d_iname,
 * d_shortname: names shorter than 32 or 40 bytes live there), one read where the
 * layout is the usual one (every kernel since 5.x); field by field otherwise. */
#define CGS_INAME_OFF 56
#define CGS_INAME_LEN 40
struct cgs_dentry_head {
	__u32 flags;
	__u32 seq;
	void *hash_next;
	void *hash_pprev;
	struct dentry *parent;
	__u64 hash_len;
	const unsigned char *name;
	struct inode *inode;
	__u64 iname[CGS_INAME_LEN / 8];
};

/* Whether read_dentry_head read the inline name too. */
static __always_inline int dentry_head_fast(void)
{
	return bpf_core_field_offset(struct dentry, d_seq) == 4 && bpf_core_field_offset(struct dentry, d_hash) == 8 &&
	       bpf_core_field_offset(struct dentry, d_parent) == 24 &&
	       bpf_core_field_offset(struct dentry, d_name) == 32 &&
	       bpf_core_field_offset(struct dentry, d_inode) == CGS_INAME_OFF - 8;
}

static __always_inline void read_dentry_head(struct dentry *d, struct cgs_dentry_head *h)
{
	if (dentry_head_fast()) {
		bpf_probe_read_kernel(h, sizeof(*h), d);
		return;
	}
	bpf_core_read(&h->seq, sizeof(h->seq), &d->d_seq);
	h->hash_pprev = BPF_CORE_READ(d, d_hash.pprev);
	h->parent = BPF_CORE_READ(d, d_parent);
	h->hash_len = BPF_CORE_READ(d, d_name.hash_len);
	h->name = BPF_CORE_READ(d, d_name.name);
	h->inode = BPF_CORE_READ(d, d_inode);
}

/* struct mount from mnt_parent to mnt.mnt_sb. */
struct cgs_mount_head {
	struct mount *parent;
	struct dentry *mountpoint;
	struct dentry *root;
	struct super_block *sb;
};

static __always_inline void read_mount_head(struct mount *m, struct cgs_mount_head *h)
{
	if (bpf_core_field_offset(struct mount, mnt_mountpoint) == bpf_core_field_offset(struct mount, mnt_parent) + 8 &&
	    bpf_core_field_offset(struct mount, mnt) == bpf_core_field_offset(struct mount, mnt_parent) + 16 &&
	    bpf_core_field_offset(struct vfsmount, mnt_root) == 0 && bpf_core_field_offset(struct vfsmount, mnt_sb) == 8) {
		bpf_probe_read_kernel(h, sizeof(*h), &m->mnt_parent);
		return;
	}
	h->parent = BPF_CORE_READ(m, mnt_parent);
	h->mountpoint = BPF_CORE_READ(m, mnt_mountpoint);
	h->root = BPF_CORE_READ(m, mnt.mnt_root);
	h->sb = BPF_CORE_READ(m, mnt.mnt_sb);
}

/* The file at fd in the current task's table, or NULL. */
static __always_inline struct file *fd_file(struct task_struct *task, __s64 fd)
{
	struct files_struct *files = task->files;
	struct file *f = NULL;
	struct fdtable *fdt;
	struct file **arr;

	if (fd < 0 || !files)
		return NULL;
	fdt = files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	arr = fdt->fd; /* a pointer to pointers: not a BTF pointer, so read it */
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

/* Writes the components of (dentry, vfsmnt) from the leaf up into the scratch
 * at `dst`, "name/" each, NUL-terminated; returns the bytes written with the NUL.
 * Stops at the task's root, or at the top of the mount tree as d_path() does. */
static __always_inline __u32 walk_path(struct scratch *s, __u32 dst, struct dentry *dentry, struct vfsmount *vfsmnt,
				       struct task_struct *task, struct cgs_fd_path *fp)
{
	struct dentry *root_d = task->fs->root.dentry;
	struct vfsmount *root_m = task->fs->root.mnt;
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	struct cgs_mount_head mh = {};
	struct cgs_dentry_head dh = {};
	__u32 used = 0, len;
	int i;

	read_mount_head(mnt, &mh);
	for (i = 0; i < CGS_FD_DEPTH; i++) {
		if (dentry == root_d && &mnt->mnt == root_m)
			break;
		if (dentry == mh.root) {
			if (mh.parent == mnt) /* the top of the tree (or of an internal mount) */
				break;
			dentry = mh.mountpoint;
			mnt = mh.parent;
			read_mount_head(mnt, &mh);
			continue;
		}
		read_dentry_head(dentry, &dh);
		if (dh.seq & 1)
			fp->flags |= CGS_FDPATH_F_RACED;
		if (i == 0) {
			struct inode *inode = dh.inode;

			/* The file events sum by file, not by name: a file renamed
			 * while open is still one file. */
			if (fd_need_mode) {
				struct super_block *sb = mh.sb; /* a plain pointer: the CO-RE read is of sb */

				fp->mode = BPF_CORE_READ(inode, i_mode);
				fp->ino = BPF_CORE_READ(inode, i_ino);
				fp->dev = BPF_CORE_READ(sb, s_dev);
			}
			if (!dh.hash_pprev && dh.parent != dentry)
				fp->flags |= CGS_FDPATH_F_DELETED;
		}
		len = dh.hash_len >> 32;
		if (dh.parent == dentry) {
			/* Its own parent below a mount's root: a file of a pseudo file
			 * system (sockets, pipes, anon inodes), named by user space from
			 * the magic, inode and this name; elsewhere, a detached dentry. */
			if (i != 0) {
				fp->flags |= CGS_FDPATH_F_DETACHED;
				break;
			}
			struct inode *inode = dh.inode;
			struct super_block *sb = mh.sb;

			fp->flags |= CGS_FDPATH_F_PSEUDO;
			fp->ino = BPF_CORE_READ(inode, i_ino);
			fp->magic = BPF_CORE_READ(sb, s_magic);
			if (len > CGS_NAME_MAX)
				len = CGS_NAME_MAX;
			bpf_probe_read_kernel(at(s, dst), len & CGS_NAME_MAX, dh.name);
			used = len + 1;
			break;
		}
		if (len > CGS_NAME_MAX || used + len + 1 >= CGS_PATH_MAX) {
			fp->flags |= CGS_FDPATH_F_TOO_LONG;
			break;
		}
		if (dentry_head_fast() && (__u64)dh.name == (__u64)dentry + CGS_INAME_OFF && len < CGS_INAME_LEN) {
			/* The name came with the head: 8-byte copies, no helper call (what
			 * lands past the name is overwritten or past the section's end). */
			__u32 d = dst + used;

			*(__u64 *)at(s, d) = dh.iname[0];
			*(__u64 *)at(s, d + 8) = dh.iname[1];
			*(__u64 *)at(s, d + 16) = dh.iname[2];
			*(__u64 *)at(s, d + 24) = dh.iname[3];
			*(__u64 *)at(s, d + 32) = dh.iname[4];
		} else {
			bpf_probe_read_kernel(at(s, dst + used), len & CGS_NAME_MAX, dh.name);
		}
		used += len;
		*(char *)at(s, dst + used) = '/';
		used += 1;
		/* used < CGS_PATH_MAX already; the mask makes that visible, and keeps
		 * the states of the iterations alike enough to be pruned. */
		barrier_var(used);
		used &= CGS_PATH_MASK;
		dentry = dh.parent;
	}
	if (i == CGS_FD_DEPTH)
		fp->flags |= CGS_FDPATH_F_TOO_LONG;
	if (fp->flags & CGS_FDPATH_F_PSEUDO) {
		*(char *)at(s, dst + (used & CGS_PATH_MASK) - 1) = 0;
		return used;
	}
	/* The last '/' becomes the NUL; the root itself is "". */
	if (used == 0)
		used = 1;
	*(char *)at(s, dst + used - 1) = 0;
	return used;
}

/* The file of a (dir)fd, or the task's cwd for AT_FDCWD. */
static __always_inline int fd_dentry(struct task_struct *task, __s64 fd, int cwd_for_at_fdcwd, struct path *p)
{
	struct file *f;

	if (cwd_for_at_fdcwd && (__s32)fd == CGS_AT_FDCWD) {
		p->dentry = task->fs->pwd.dentry;
		p->mnt = task->fs->pwd.mnt;
		return 0;
	}
	f = fd_file(task, (__s32)fd);
	if (!f)
		return -1;
	return bpf_core_read(p, sizeof(*p), &f->f_path);
}

/* Whether the user string at p starts with '/' (an absolute path needs no base). */
static __always_inline int user_path_absolute(const char *p, struct cgs_fd_path *fp)
{
	char c = 0;

	if (bpf_probe_read_user(&c, 1, p) != 0) {
		fp->flags |= CGS_FDPATH_F_FAULT;
		return 1; /* no base to give: user space says why */
	}
	return c == '/';
}

/* Which fd a section of kind `kind` on argument `arg` is about (-1: none). */
static __always_inline __s64 section_fd(struct cgs_record *r, __u32 arg, __u8 kb, __s64 ret)
{
	__u32 where = CGS_LEN_ARG(kb);
	int pair[2] = {-1, -1};

	if (CGS_KIND(kb) != CGS_ARG_NEWFD)
		return (__s32)r->args[arg];
	if (where >= CGS_NEWFD_RET_OPENED)
		return ret;
	if (ret != 0 || bpf_probe_read_user(pair, sizeof(pair), (const void *)r->args[where & 7]) != 0)
		return -1;
	return (arg & 1) ? pair[1] : pair[0];
}

/* lib/trace_fsum.bpf.h: fd argument 0's section (at fp_off) from the slot of a
 * shown call. */
static __always_inline int fsum_reuse(struct task_struct *task, struct scratch *s, __u32 nr, __s32 fd, __u32 fp_off);

/*
 * Appends the section of kind byte `kb` for argument `arg` of the record being
 * built in this CPU's scratch slot at `off`; returns the new end. Global (not
 * inlined): the verifier checks the walk once, not once per argument.
 */
__noinline int cgs_put_path(__u32 off, __u32 arg, __u32 kb, __s64 ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct scratch *s = get_scratch();
	__u8 kind = CGS_KIND(kb);
	struct cgs_fd_path *fp;
	struct cgs_record *r;
	struct cgs_var *v;
	struct path p = {};
	struct file *f;
	__u32 used = 0;
	__s64 fd;

	if (!s || off > CGS_SCRATCH_SIZE - sizeof(*v) - sizeof(*fp) - CGS_PATH_MAX - 8 || arg >= CGS_NARGS)
		return off;
	/* arg < CGS_NARGS already; opaque to the compiler, so that the mask stays
	 * for the verifier, which lost the bound on another register. */
	barrier_var(arg);
	arg &= 7;
	r = (struct cgs_record *)s->data;
	v = var_at(s, off);
	fp = (struct cgs_fd_path *)at(s, off + sizeof(*v));
	cgs_fd_stamp(fp);
	if (kind == CGS_ARG_DIRPATH || kind == CGS_ARG_CWDPATH) {
		if (user_path_absolute((const char *)r->args[CGS_LEN_ARG(kb) & 7], fp))
			return (fp->flags & CGS_FDPATH_F_FAULT) ? finish_var(r, v, off, arg, kind, sizeof(*fp), 0) : off;
		if (kind == CGS_ARG_CWDPATH) {
			p.dentry = task->fs->pwd.dentry;
			p.mnt = task->fs->pwd.mnt;
		} else {
			fp->fd = (__s32)r->args[arg];
			if (fd_dentry(task, r->args[arg], 1, &p) != 0)
				fp->flags |= CGS_FDPATH_F_NOT_OPEN;
		}
	} else {
		fd = section_fd(r, arg, kb, ret);
		fp->fd = (__s32)fd;
		/* The path of an earlier record, where nothing could have changed it. */
		if (kind == CGS_ARG_FDPATH && arg == 0 && fsum_reuse(task, s, r->nr, (__s32)fd, off + sizeof(*v)) == 0)
			return finish_var(r, v, off, arg, kind, sizeof(*fp) + sizeof(struct cgs_fd_reuse), 0);
		/* fd_dentry's work, keeping the file: a shown call's slot is armed
		 * only for the file this walk started from (cgs_fsum_arm_shown). */
		f = fd_file(task, fd);
		if (!f || bpf_core_read(&p, sizeof(p), &f->f_path) != 0)
			fp->flags |= CGS_FDPATH_F_NOT_OPEN;
		s->walked_file = (__u64)f;
		s->walked_dentry = (__u64)p.dentry;
		s->walked_mnt = (__u64)p.mnt;
	}
	if (!(fp->flags & CGS_FDPATH_F_NOT_OPEN))
		used = walk_path(s, off + sizeof(*v) + sizeof(*fp), p.dentry, p.mnt, task, fp);
	/* Something moved while the walk ran: its path may be half old, half new. */
	if (fp->gen != fd_path_gen)
		fp->flags |= CGS_FDPATH_F_MOVING;
	return finish_var(r, v, off, arg, kind, sizeof(*fp) + used, 0);
}

/*
 * The file section of argument `arg` (kind byte `kb`) of the record being built
 * in `s` at `off`; returns the new end. What needs no walk is done here, inline
 * (an open's or a close's generation stamp, the check that makes an absolute
 * path need no base): those are on the open+close path, where a call to the
 * global function would show in the figures. The rest goes to cgs_put_path.
 */
static __always_inline __u32 put_file_section(struct scratch *s, struct cgs_record *r, __u32 off, __u32 arg,
					      __u8 kb, long ret)
{
	__u8 kind = CGS_KIND(kb);
	struct cgs_var *v = var_at(s, off);
	struct cgs_fd_path *fp = (struct cgs_fd_path *)at(s, off + sizeof(*v));
	char c = 0;

	if (kind == CGS_ARG_FDCLOSE ||
	    (kind == CGS_ARG_NEWFD && CGS_LEN_ARG(kb) == CGS_NEWFD_RET_OPENED)) {
		cgs_fd_stamp(fp);
		fp->fd = kind == CGS_ARG_FDCLOSE ? (__s32)r->args[arg] : (__s32)ret;
		/* The open looked its path up some time before this exit. */
		if (kind == CGS_ARG_NEWFD && r->ts_ns - fd_path_move_ns < CGS_MOVE_GRACE_NS)
			fp->flags |= CGS_FDPATH_F_MOVING;
		return finish_var(r, v, off, arg, kind, sizeof(*fp), 0);
	}
	if ((kind == CGS_ARG_DIRPATH || kind == CGS_ARG_CWDPATH) &&
	    bpf_probe_read_user(&c, 1, (const void *)r->args[CGS_LEN_ARG(kb) & 7]) == 0 && c == '/')
		return off; /* absolute: no base to give */
	return cgs_put_path(off, arg, kb, ret);
}

/* Defined in trace.bpf.c after the include of this header (which comes first so
 * that capture_args can call put_file_section). */
static __always_inline __u64 wake_flag(void);
static __always_inline void read_regs_args(__u64 *args, struct pt_regs *regs);

/* A call whose only section is a close stamp (close itself): built in place in
 * the ring, as fixed records are, not in the scratch slot and copied. It is half
 * of the open+close storm, whose cost path tracking must not raise. */
static __always_inline int send_fdclose_record(struct task_struct *task, struct pt_regs *regs, __u32 nr, long ret)
{
	struct {
		struct cgs_record r;
		struct cgs_var v;
		struct cgs_fd_path fp;
	} *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec) {
		count_drop(CGS_DROP_RINGBUF_FULL);
		return 0;
	}
	fill_task_header(&rec->r, task, nr);
	rec->r.size = sizeof(*rec);
	rec->r.ret = ret;
	read_regs_args(rec->r.args, regs);
	rec->r.nvar = 1;
	rec->v.arg = 0;
	rec->v.kind = CGS_ARG_FDCLOSE;
	rec->v.flags = 0;
	rec->v.len = sizeof(rec->fp);
	cgs_fd_stamp(&rec->fp);
	rec->fp.fd = (__s32)rec->r.args[0];
	bpf_ringbuf_submit(rec, wake_flag());
	return 0;
}

/* The path-moving syscalls at entry. */
#define CGS_PATH_MOVE_TP(name)                                            \
	SEC("tracepoint/syscalls/sys_enter_" #name)                       \
	int cgs_move_##name(void *ctx)                                    \
	{                                                                 \
		return path_move_begin();                                 \
	}
CGS_PATH_MOVE_TP(rename)
CGS_PATH_MOVE_TP(renameat)
CGS_PATH_MOVE_TP(renameat2)
CGS_PATH_MOVE_TP(mount)
CGS_PATH_MOVE_TP(umount)
CGS_PATH_MOVE_TP(move_mount)
CGS_PATH_MOVE_TP(pivot_root)
CGS_PATH_MOVE_TP(chroot)

/* The same from the generic sys_enter hook (hosts without tracefs). */
static __always_inline int path_move_sys_enter(long id)
{
	/* Not an ia32 call whose i386 number is a path mover's here (82 is select
	 * there, rename here): its exit (ia32_exit) never ends the move. */
	if (id >= 0 && id < CGS_MAX_SYSCALLS && (wanted[id & (CGS_MAX_SYSCALLS - 1)] & CGS_WANT_PATHGEN) &&
	    !task_in_compat_syscall(bpf_get_current_task_btf()))
		return path_move_begin();
	return 0;
}

#endif
