/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel/user ABI of bpf/trace.bpf.c: record layout, capture kinds, map values.
 * Included as-is by the BPF program and by C++ (src/trace/decoder.cc), so only
 * fixed-width types, explicit padding, no bitfields, no bool.
 *
 * Every record in the ring buffer is one `struct cgs_record` followed by
 * `nvar` variable sections (`struct cgs_var` + bytes, each padded to 8 bytes).
 * Syscalls, process lifecycle and cgroup events share this one layout, so the
 * decoder has a single path; `nr` tells which event it is.
 */
#ifndef CGSCOPE_ABI_TRACE_H
#define CGSCOPE_ABI_TRACE_H

#ifdef __cplusplus
#include <linux/types.h>
#endif

/* Syscall numbers on x86_64 are below this; the tables below are indexed by nr. */
#define CGS_MAX_SYSCALLS 512
#define CGS_NARGS 6
#define CGS_COMM_LEN 16

/* Pseudo event numbers for what is not a syscall. Kept above CGS_MAX_SYSCALLS. */
#define CGS_EV_PROCESS_FORK 1000 /* sched_process_fork */
#define CGS_EV_PROCESS_EXEC 1001 /* sched_process_exec */
#define CGS_EV_PROCESS_EXIT 1002 /* sched_process_exit, last thread of a process */
#define CGS_EV_CGROUP_MKDIR 1003 /* cgroup_mkdir: a cgroup appeared */

/* x86_64 syscalls that both sides treat specially: execve/execveat come as an
 * entry record plus an exit record; exit/exit_group never return and are sent
 * at entry; rt_sigreturn cannot be traced (see src/trace/session.cc). */
#define CGS_NR_RT_SIGRETURN 15
#define CGS_NR_EXECVE 59
#define CGS_NR_EXIT 60
#define CGS_NR_EXIT_GROUP 231
#define CGS_NR_EXECVEAT 322

/* Limits on what one record may carry. */
#define CGS_PATH_MAX 4096       /* one string argument, NUL included */
#define CGS_ARGV_MAX_ELEMS 64   /* elements of argv/envp */
#define CGS_ARGV_MAX_BYTES 32768 /* bytes of argv/envp, NULs included */
#define CGS_SOCKADDR_MAX 128    /* >= sizeof(struct sockaddr_un) */
#define CGS_BUF_MAX 4096        /* most bytes of a write/sendto buffer captured */

/* The per-CPU scratch area (one array slot per CPU: per-CPU maps cap values at
 * 32 KiB). Records are built at offsets masked with CGS_SCRATCH_MASK and no single
 * copy exceeds CGS_ARGV_MAX_BYTES, so a slot of twice the size is never overrun
 * whatever the verifier thinks of the offset. A whole record is at most
 * CGS_SCRATCH_SIZE: an execve with filename, argv and envp at their limits fits. */
#define CGS_SCRATCH_SIZE 131072
#define CGS_SCRATCH_MASK (CGS_SCRATCH_SIZE - 1)

/* How the kernel captures one syscall argument, besides its raw 64-bit value.
 * The low nibble of a kind byte is the kind; the high nibble is the index of the
 * argument holding the length (SOCKADDR, BUF) or a pointer to it (SOCKADDR_PLEN). */
enum cgs_arg_kind {
	CGS_ARG_RAW = 0,           /* value only */
	CGS_ARG_STR = 1,           /* NUL-terminated user string, up to CGS_PATH_MAX */
	CGS_ARG_STRARR = 2,        /* NULL-terminated array of user strings (argv, envp) */
	CGS_ARG_SOCKADDR = 3,      /* user sockaddr, length in another argument */
	CGS_ARG_SOCKADDR_PLEN = 4, /* user sockaddr filled by the call, length via int* (accept) */
	CGS_ARG_BUF = 5,           /* user buffer, length in another argument; only when asked */
};
#define CGS_KIND(byte) ((byte) & 0x0f)
#define CGS_LEN_ARG(byte) (((byte) >> 4) & 0x07)
#define CGS_KIND_BYTE(kind, len_arg) ((__u8)((kind) | ((len_arg) << 4)))

/* cgs_record.flags */
#define CGS_REC_F_ENTRY 0x1       /* captured at syscall entry (execve): ret not known yet */
#define CGS_REC_F_UNSELECTED 0x2  /* lifecycle record sent for bookkeeping, not asked for by -e */
#define CGS_REC_F_GROUP_DEAD 0x4  /* PROCESS_EXIT: the whole process is gone */

/* cgs_var.flags */
#define CGS_VAR_F_TRUNCATED 0x1 /* the value was longer than the limit; decoders append "..." */
#define CGS_VAR_F_FAULT 0x2     /* reading user memory failed (bad pointer): len is 0 */

struct cgs_record {
	__u64 ts_ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id;  /* cgroup v2 id (inode number of the cgroup's directory) */
	__u32 size;       /* bytes of this record, header and sections included */
	__u32 nr;         /* syscall number, or CGS_EV_* */
	__u32 pid;        /* thread group id, as seen from the initial pid namespace */
	__u32 tid;        /* thread id */
	__u32 ppid;       /* real parent's thread group id */
	__u32 uid;        /* real uid */
	__u32 gid;        /* real gid */
	__u16 flags;      /* CGS_REC_F_* */
	__u16 nvar;       /* number of variable sections that follow */
	__s64 ret;        /* syscall return value; exit code for PROCESS_EXIT */
	__u64 args[CGS_NARGS]; /* raw arguments; for CGS_EV_* see the comments at the top */
	char comm[CGS_COMM_LEN]; /* task comm at the time of the event */
};

/*
 * args[] of the pseudo events. A variable section belongs to the argument index
 * it names, and those indexes are never also used for raw values:
 *   PROCESS_FORK: [0] child pid, [1] child tid, [2] child pid namespace inode,
 *                 [3] child pid namespace level
 *   PROCESS_EXEC: sections [0] filename (STR), [1] argv (STRARR, NUL-separated);
 *                 [2] pid before exec, [3] pid namespace inode, [4] its level
 *   PROCESS_EXIT: [0] exit code (0-255), [1] terminating signal or 0,
 *                 [2] pid namespace inode
 *   CGROUP_MKDIR: [0] new cgroup id, [1] its level; section [2] path (STR)
 */

struct cgs_var {
	__u8 arg;    /* which argument (0..5) this section belongs to */
	__u8 kind;   /* enum cgs_arg_kind */
	__u16 flags; /* CGS_VAR_F_* */
	__u32 len;   /* bytes of data that follow (strings: NUL included) */
};

/* Reasons for the per-CPU drop counters (map `drops`). */
enum cgs_drop_reason {
	CGS_DROP_RINGBUF_FULL = 0, /* record lost: ring buffer had no room */
	CGS_DROP_TRUNCATED = 1,    /* a value cut at its limit (record still sent) */
	CGS_DROP_SCRATCH = 2,      /* record lost: it would not fit the scratch area */
	CGS_DROP_FAULT = 3,        /* a user pointer could not be read (record still sent) */
	CGS_DROP_ENTRY_LOST = 4,   /* record lost: an execve entry record could not be sent */
	CGS_DROP_NR_REASONS = 5,
};

/* Keys/values of the scope maps. */
struct cgs_scope_value {
	__u8 present; /* 1; a hash set needs some value */
	__u8 pad[7];
};

#ifdef __cplusplus
static_assert(sizeof(struct cgs_record) == 120, "cgs_record layout is part of the ABI");
static_assert(sizeof(struct cgs_var) == 8, "cgs_var layout is part of the ABI");
#endif

#endif /* CGSCOPE_ABI_TRACE_H */
