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
#define CGS_EV_TCP_STATE 1004    /* inet_sock_set_state: a TCP socket changed state */
#define CGS_EV_FILE_WRITE 1005   /* made by user space: a process's writes to one file, at close/exit */
#define CGS_EV_FILE_READ 1006    /* made by user space: a process's reads of one file, at close/exit */
#define CGS_EV_SIGNAL_GENERATE 1007 /* signal_generate: a signal sent to a task in scope */
#define CGS_EV_SIGNAL_DELIVER 1008  /* signal_deliver: a task in scope takes a signal */
#define CGS_EV_UDP_PEER 1009        /* cgroup_skb: a UDP socket's first datagram with one peer */
#define CGS_EV_UDP_CLOSE 1010       /* cgroup/sock_release: a UDP socket that had peers is closed */
#define CGS_EV_LAST CGS_EV_UDP_CLOSE /* the highest pseudo event number */

/* x86_64 syscalls that both sides treat specially: execve/execveat come as an
 * entry record plus an exit record; exit/exit_group never return and are sent
 * at entry; rt_sigreturn cannot be traced (see src/trace/session.cc). */
#define CGS_NR_RT_SIGRETURN 15
#define CGS_NR_EXECVE 59
#define CGS_NR_EXIT 60
#define CGS_NR_EXIT_GROUP 231
#define CGS_NR_EXECVEAT 322
#define CGS_NR_CLOSE 3 /* its fd is gone by exit: user space names what it closed */
#define CGS_NR_SELECT 23   /* select/pselect6: their fd sets are kept at entry too */
#define CGS_NR_PSELECT6 270

/* ia32 syscalls: `int 0x80` from any process, every syscall of a 32-bit one.
 * The kernel tells them apart by the task's TS_COMPAT (in_ia32_syscall()); their
 * numbers are the i386 table's. A record of one has nr = CGS_IA32_NR_BASE + the
 * i386 number (never a pseudo event's: those are below). The per-syscall
 * tables of the BPF side (wanted, arg_kinds, has_sections) hold them at
 * CGS_IA32_SLOT + the i386 number, after the x86_64 ones. */
#define CGS_IA32_NR_BASE 2048
#define CGS_IA32_MAX_SYSCALLS 512 /* i386 numbers are below this */
#define CGS_IA32_SLOT CGS_MAX_SYSCALLS
#define CGS_MAX_SLOTS (CGS_MAX_SYSCALLS + CGS_IA32_MAX_SYSCALLS)
#define CGS_IA32_NR_EXIT 1
#define CGS_IA32_NR_EXECVE 11
#define CGS_IA32_NR_SIGRETURN 119
#define CGS_IA32_NR_RT_SIGRETURN 173
#define CGS_IA32_NR_EXIT_GROUP 252
#define CGS_IA32_NR_EXECVEAT 358

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
	CGS_ARG_AUX = 6,           /* data for user space's own bookkeeping (struct cgs_tcp_info):
				    * never shown, the raw value of its argument is */
	/* Files (bpf/lib/trace_fd.bpf.h): a struct cgs_fd_path and a path, never shown
	 * as the argument itself (the argument's raw value is). */
	CGS_ARG_FDPATH = 7,  /* the file the fd argument refers to at exit */
	CGS_ARG_DIRPATH = 8, /* the directory of a dirfd argument, when the path argument
			      * named by the length nibble is relative (AT_FDCWD: the cwd) */
	CGS_ARG_CWDPATH = 9, /* the cwd, when the path argument named by the length nibble
			      * is relative; on an index past the call's own arguments */
	CGS_ARG_NEWFD = 10,  /* a new fd the call made (see CGS_NEWFD_*), on index 5 (4 and 5
			      * for the two of pipe/socketpair) */
	CGS_ARG_FDCLOSE = 11, /* the fd argument is closed by the call: no path, the path
			       * generation only (user space knows what was closed) */
	/* Structs (src/trace/decode_struct*.cc), read at exit; their sizes are the
	 * per-syscall table struct_size[nr][arg] of bpf/trace.bpf.c, filled by user
	 * space from its argument rules. A fault gives an empty FAULT section. */
	CGS_ARG_STRUCT = 12, /* one struct; length nibble CGS_STRUCT_OUT: the call fills it,
			      * read only when it succeeded (ret >= 0) */
	CGS_ARG_ARRAY = 13,  /* struct_size-byte elements, as many as the argument named by
			      * the length nibble holds, or the return value (CGS_COUNT_RET);
			      * at most CGS_STRUCT_MAX bytes (TRUNCATED past that) */
	CGS_ARG_MSGHDR = 14, /* sendmsg/recvmsg's struct user_msghdr and what it points to:
			      * struct cgs_msghdr, then the name, iovecs and control bytes it
			      * kept; length nibble CGS_STRUCT_OUT: the call fills it (recvmsg):
			      * when it failed, the header only (CGS_MSG_HEADER_ONLY) */
	/* Sections of a call rather than of one argument's kind: never in arg_kinds
	 * (whose kinds fit a nibble), and user space keeps them apart from the
	 * argument sections (RecordView::call_section); a record has one at most. */
	CGS_ARG_IOVDATA = 16, /* what the iovecs of a readv/writev-like call or of a
			       * sendmsg/recvmsg msghdr held at exit (--capture-buffers):
			       * struct cgs_iov_data, then the bytes. The per-call table
			       * iov_data_arg says where the iovecs are; the section's arg is
			       * that argument (whose own section is the array or the msghdr) */
	CGS_ARG_SELECT = 17,  /* select/pselect6: struct cgs_select, the fd sets and the
			       * timeout as the call was given them (kept at its entry) and
			       * as it left them */
};
#define CGS_KIND(byte) ((byte) & 0x0f)
#define CGS_LEN_ARG(byte) (((byte) >> 4) & 0x07)
#define CGS_KIND_BYTE(kind, len_arg) ((__u8)((kind) | ((len_arg) << 4)))

/* CGS_ARG_NEWFD's length nibble: where the new fd is. 0-5: an int[2] in that
 * argument (pipe, socketpair), element 0 on index 4, element 1 on index 5. */
#define CGS_NEWFD_RET 7        /* the return value, its file resolved */
#define CGS_NEWFD_RET_OPENED 6 /* the return value of an open: no walk, user space has the
				* path the call was given; only the generation */

/* CGS_ARG_STRUCT's and CGS_ARG_ARRAY's length nibbles. */
#define CGS_STRUCT_OUT 1
#define CGS_COUNT_RET 7
#define CGS_STRUCT_MAX 4096 /* bytes of one struct or array section */

/* What a string argument keeps (-s does not cut paths), and at most -s for an
 * argv element (rodata elem_keep, argv_elems for --argv-max). A string or element
 * read with room for one byte more than it keeps is cut exactly when that byte
 * is there. */
#define CGS_STR_KEEP_MAX (CGS_PATH_MAX - 2)

/* wanted[nr] bits. */
#define CGS_WANT_EMIT 0x1    /* send a record for this syscall */
#define CGS_WANT_PATHGEN 0x2 /* it may move paths (rename, mount...): counted in the path
			      * generation (struct cgs_fd_path.gen) at entry and exit */
#define CGS_WANT_COUNT 0x4   /* --summary: counted in sum_stats (no record needed) */
#define CGS_WANT_EXEC_EXIT 0x8 /* execve/execveat of either ABI: an exec whose entry was
				  * recorded may end here, as the other ABI's call (the kernel
				  * renumbers an execve that changes the ABI on its way out) */
#define CGS_WANT_FDGONE 0x10 /* close, dup2, dup3, close_range while path slots are kept
			      * (trace_fsum.bpf.h): run for the slots, no record of its own */
/* has_sections[nr] of a call whose only section is CGS_ARG_FDCLOSE (close): its
 * record is built in place in the ring, like a record without sections. */
#define CGS_SECTIONS_FDCLOSE_ONLY 2

/* cgs_record.flags */
#define CGS_REC_F_ENTRY 0x1       /* captured at syscall entry (execve): ret not known yet */
#define CGS_REC_F_UNSELECTED 0x2  /* lifecycle record sent for bookkeeping, not asked for by -e */
#define CGS_REC_F_GROUP_DEAD 0x4  /* PROCESS_EXIT: the whole process is gone */
/* -T: the record's last 8 bytes (after its sections; counted in size, not in
 * nvar) are a __u64, the ns from sys_enter to sys_exit. Without -T records are
 * unchanged. Bit 0x8 is left free. */
#define CGS_REC_F_DURATION 0x10

/* cgs_var.flags */
#define CGS_VAR_F_TRUNCATED 0x1 /* the value was longer than the limit; decoders append "..." */
#define CGS_VAR_F_FAULT 0x2     /* reading user memory failed (bad pointer): len is 0 */
#define CGS_VAR_F_ELEM_KEEP 0x4 /* STRARR read under -s: an element longer than -s was cut
				 * (user space shows its first -s bytes and "...") */

struct cgs_record {
	__u64 ts_ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id;  /* cgroup v2 id (inode number of the cgroup's directory) */
	__u32 size;       /* bytes of this record, header and sections included */
	__u32 nr;         /* syscall number, CGS_IA32_NR_BASE + i386 number, or CGS_EV_* */
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
 * it names, and those indexes are never also used for raw values (but for AUX
 * sections, which are never shown):
 *   PROCESS_FORK: [0] child pid, [1] child tid, [2] child pid namespace inode,
 *                 [3] child pid namespace level,
 *                 [4] 1 when the child shares the parent's fd table (CLONE_FILES),
 *                 for user space's fd table only (not shown)
 *   PROCESS_EXEC: sections [0] filename (STR), [1] argv (STRARR, NUL-separated);
 *                 [2] pid before exec, [3] pid namespace inode, [4] its level
 *   PROCESS_EXIT: [0] exit code (0-255), [1] terminating signal or 0,
 *                 [2] pid namespace inode
 *   CGROUP_MKDIR: [0] new cgroup id, [1] its level; section [2] path (STR)
 *   TCP_STATE:    [0] old state, [1] new state (TCP_ESTABLISHED... as in the
 *                 kernel's tcp_states.h), sections [2] local and [3] remote
 *                 address (SOCKADDR: sockaddr_in or sockaddr_in6, port included),
 *                 [4] socket cookie, [5] CGS_TCP_CTX_*, and an AUX section on
 *                 [5]: struct cgs_tcp_info. With CGS_TCP_CTX_SOFTIRQ the header
 *                 names no task (pid, tid, uid, gid 0, comm empty) and cgroup_id
 *                 is that of the process owning the connection.
 *   UDP_PEER:     [0] CGS_UDP_DIR_* of that first datagram, [1] its payload
 *                 bytes, sections [2] local and [3] remote address (SOCKADDR, as
 *                 the datagram's IP and UDP headers had them: the local address
 *                 of a socket bound to any address is concrete), [4] socket
 *                 cookie, [5] CGS_TCP_CTX_* (TASK: the sender, in its own send
 *                 call), and an AUX section on [5]: struct cgs_udp_info. The pair's
 *                 counters go on in map udp_pairs (struct cgs_udp_key/count).
 *   UDP_CLOSE:    [0] socket cookie, [1] CGS_TCP_CTX_*: a socket with pairs in
 *                 udp_pairs was closed; its counters there are final.
 */

struct cgs_var {
	__u8 arg;    /* which argument (0..5) this section belongs to */
	__u8 kind;   /* enum cgs_arg_kind */
	__u16 flags; /* CGS_VAR_F_* */
	__u32 len;   /* bytes of data that follow (strings: NUL included) */
};

/* TCP_STATE args[5]: who made the transition. */
#define CGS_TCP_CTX_TASK 0    /* the task in the header, in a socket call (connect, listen, close, shutdown) */
#define CGS_TCP_CTX_SOFTIRQ 1 /* the kernel on its own (a packet or a timer, in softirq; a deferred close): no task */

/* TCP_STATE's AUX section: the socket's payload counters at the transition. The
 * kernel's bytes_acked and bytes_received count the SYN and FIN in sequence
 * space too; these do not. */
struct cgs_tcp_info {
	__u64 bytes_sent;     /* payload sent, once however often retransmitted
			       * (tcp_sock.bytes_sent - bytes_retrans) */
	__u64 bytes_received; /* payload received in order (tcp_sock.bytes_received,
			       * less the peer's FIN once it came: SOCK_DONE) */
	__u32 netns;          /* inode number of the socket's network namespace */
	__u32 pad;
};

/* UDP_PEER: which way the pair's first datagram went. */
#define CGS_UDP_DIR_SEND 0 /* the socket sent it: the socket is the pair's client */
#define CGS_UDP_DIR_RECV 1 /* the socket received it: the remote end began */

/* UDP_PEER's AUX section. */
struct cgs_udp_info {
	__u64 netns_cookie; /* the socket's network namespace (bpf_get_netns_cookie: what
			     * a cgroup_skb program can learn of it), to tell loopback
			     * pairs of two namespaces apart; 0 where the kernel does not
			     * give it to cgroup_skb (6.1) */
};

/* Map udp_pairs: one (UDP socket, remote address and port) pair, counted at the
 * cgroup_skb hooks of the cgroup v2 root (bpf/lib/trace_udp.bpf.h). User space
 * reads a pair's counters when its socket closes (UDP_CLOSE), when it has been
 * idle long enough, and at the end, and deletes it then. */
struct cgs_udp_key {
	__u64 cookie;   /* the socket */
	__u32 addr[4];  /* the remote address: IPv4 in addr[0] (network order), the rest 0 */
	__u16 port;     /* the remote port, host order */
	__u16 family;   /* AF_INET or AF_INET6 */
	__u32 pad;
};
struct cgs_udp_count {
	__u64 bytes_sent, bytes_received;   /* UDP payload */
	__u64 dgrams_sent, dgrams_received; /* a GSO send counts each of its segments */
	__u64 last_ns;                      /* bpf_ktime_get_ns() of the last datagram */
	__u32 tgid;                         /* the sender, once a send by a task showed it; 0 until then */
	__u32 pad;
	char comm[CGS_COMM_LEN];
};

/* The header of the CGS_ARG_FDPATH..FDCLOSE sections; a NUL-terminated string
 * follows (FDPATH, DIRPATH, CWDPATH, NEWFD RET): the path's components from the
 * file up to the root, each followed by '/' but the last ("target/d/tmp" for
 * /tmp/d/target; "" for the root), which user space reverses. A pseudo file
 * (CGS_FDPATH_F_PSEUDO) has instead its dentry's name ("", "[eventfd]"). */
struct cgs_fd_path {
	__u64 ino;   /* inode number: what /proc/PID/fd shows for sockets and pipes; for a
		      * file in a tree only with the file events (with `dev`: which file) */
	__u32 magic; /* the file system's magic (sockfs, pipefs, anon_inodefs...) */
	__u32 gen;   /* path generation (path-moving syscalls begun) before resolving */
	__u16 mode;  /* inode mode: S_IFREG etc. */
	__u16 flags; /* CGS_FDPATH_F_* */
	__s32 fd;    /* the fd resolved (NEWFD: the new one), -1 for the cwd */
	__u32 dev;   /* the file system's device (s_dev), with the file events only */
	__u32 pad;
};

/* struct cgs_fd_path.flags */
#define CGS_FDPATH_F_NOT_OPEN 0x01 /* no file at that fd at exit (or a negative fd) */
#define CGS_FDPATH_F_DELETED 0x02  /* the file was unlinked: the path is its last name */
#define CGS_FDPATH_F_PSEUDO 0x04   /* not in a mounted tree: sockets, pipes, anon inodes */
#define CGS_FDPATH_F_TOO_LONG 0x08 /* longer than CGS_PATH_MAX or CGS_FD_DEPTH components */
#define CGS_FDPATH_F_RACED 0x10    /* a component was being renamed as it was read */
#define CGS_FDPATH_F_MOVING 0x20   /* a path-moving syscall ran (or began <10 ms before):
				    * right now, but not a base for later close paths */
#define CGS_FDPATH_F_FAULT 0x40    /* the path argument could not be read */
#define CGS_FDPATH_F_DETACHED 0x80 /* a dentry cut off from its tree (NFS, lazy umount) */
#define CGS_FDPATH_F_REUSED 0x100  /* no path: the one of an earlier record of the same
				    * process and fd, which struct cgs_fd_reuse (after the
				    * header) names; nothing that could change it ran since */

/* What follows struct cgs_fd_path in a CGS_FDPATH_F_REUSED section: the record
 * whose path this one has (its ts_ns and tid; the same process and fd). */
struct cgs_fd_reuse {
	__u64 ts_ns;
	__u32 tid;
	__u32 pad;
};

/* A CGS_ARG_MSGHDR section: the user's struct msghdr as it was at exit (x86_64
 * layout: what recvmsg wrote back included), then what was kept of each buffer
 * it points to, each part 8-byte aligned: msg_name (at most CGS_MSG_NAME_MAX
 * bytes), the iovec array (at most CGS_MSG_IOV_MAX elements of 16 bytes; their
 * contents are not read), the control data (CGS_MSG_CONTROL_MAX bytes). */
#define CGS_MSG_NAME_MAX CGS_SOCKADDR_MAX
#define CGS_MSG_IOV_MAX 32
#define CGS_MSG_CONTROL_MAX 256
#define CGS_MSG_NAME_CUT 0x1 /* cut at the limit: the rest of it was not read */
#define CGS_MSG_IOV_CUT 0x2
#define CGS_MSG_CONTROL_CUT 0x4
#define CGS_MSG_NAME_FAULT 0x8 /* its pointer could not be read */
#define CGS_MSG_IOV_FAULT 0x10
#define CGS_MSG_CONTROL_FAULT 0x20
#define CGS_MSG_HEADER_ONLY 0x40 /* recvmsg failed: what the buffers hold is not the
				  * call's, and was not read */
struct cgs_msghdr {
	__u64 msg_name;
	__u32 msg_namelen;
	__u32 pad0;
	__u64 msg_iov;
	__u64 msg_iovlen;
	__u64 msg_control;
	__u64 msg_controllen;
	__u32 msg_flags;
	__u32 pad1;
	/* the section's own part */
	__u16 name_kept, iov_kept, control_kept; /* bytes that follow, before alignment */
	__u16 cut;                               /* CGS_MSG_* */
};

/* A CGS_ARG_IOVDATA section: the first CGS_IOV_DATA_MAX iovecs' bytes, each cut
 * at --capture-buffers (strace's -s cuts each element the same way), at most
 * CGS_IOV_DATA_BYTES in all. A write call's (writev, pwritev*, sendmsg) elements
 * whole, whatever it returned: strace shows what it was given; a read call's
 * (readv, preadv*, recvmsg) only when it succeeded, up to what it read, the
 * elements past that empty. e[i].want is what element i holds of the data,
 * e[i].kept what follows for it; the kept bytes of all elements follow the
 * struct, back to back. CGS_VAR_F_TRUNCATED: elements past those kept held data
 * (no room: CGS_IOV_DATA_MAX or the byte limit); CGS_VAR_F_FAULT: the array or
 * an element could not be read (n: the elements before). iov_data_arg[nr]: 0
 * none, else 1 + the argument holding the iovec pointer (its count the next
 * one), or that of the msghdr with CGS_IOV_DATA_MSGHDR; CGS_IOV_DATA_WRITE for a
 * write call. */
#define CGS_IOV_DATA_MAX 16
#define CGS_IOV_DATA_BYTES 16384
#define CGS_IOV_DATA_MSGHDR 0x80
#define CGS_IOV_DATA_WRITE 0x40
struct cgs_iov_data {
	__u32 n;   /* elements that follow in e[] */
	__u32 pad; /* 0 (the kernel's flags while it reads) */
	__u64 tmp[2]; /* the kernel's copy of one iovec while it reads: not data */
	struct {
		__u32 want, kept;
	} e[CGS_IOV_DATA_MAX];
};

/* A CGS_ARG_SELECT section. Each part: the first ceil(nfds / 64) words of each
 * fd set (at most FD_SETSIZE fds: CGS_SEL_NFDS_CUT past that) whose pointer was
 * not NULL and could be read (CGS_SEL_SET(i): 0 readfds, 1 writefds, 2
 * exceptfds), and the timeout (a timeval for select, a timespec for pselect6:
 * both two 64-bit words on x86_64). `in` is what the call was given, read by the
 * entry programs (have_entry 0: no entry was seen, as for a call already
 * waiting when the trace began); `out` what it left there, read at exit when it
 * succeeded (the ready fds, and the time left). */
#define CGS_SELECT_WORDS 16 /* FD_SETSIZE (1024) bits */
#define CGS_SEL_SET(i) (1u << (i))
#define CGS_SEL_TIMEOUT 0x8
#define CGS_SEL_FAULT 0x10     /* a pointer that was not NULL could not be read */
#define CGS_SEL_NFDS_CUT 0x20  /* nfds past FD_SETSIZE: the first 1024 fds only */
struct cgs_select_part {
	__u32 flags; /* CGS_SEL_* */
	__u32 nfds;  /* the call's first argument (0 when negative) */
	__u64 sets[3][CGS_SELECT_WORDS];
	__u64 timeout[2];
};
struct cgs_select {
	__u32 have_entry;
	__u32 pad;
	struct cgs_select_part in, out;
};

/* Reasons for the per-CPU drop counters (map `drops`). */
enum cgs_drop_reason {
	CGS_DROP_RINGBUF_FULL = 0, /* record lost: ring buffer had no room */
	CGS_DROP_TRUNCATED = 1,    /* a value cut at its limit (record still sent) */
	CGS_DROP_SCRATCH = 2,      /* record lost: it would not fit the scratch area */
	CGS_DROP_FAULT = 3,        /* a user pointer could not be read (record still sent) */
	CGS_DROP_ENTRY_LOST = 4,   /* record lost: an execve entry record could not be sent */
	CGS_DROP_UDP_FULL = 5,     /* a UDP pair not counted: map udp_pairs was full */
	CGS_DROP_NR_REASONS = 6,
};

/* --summary: per-CPU counters (map `sum_stats`) indexed by record nr, summed by
 * user space at the end. Sized beyond the x86_64 table so that other syscall
 * tables numbered above it (ia32) fit; larger numbers are not counted. */
#define CGS_SUM_MAX_NR 4096
struct cgs_sum_stat {
	__u64 calls;
	__u64 errors; /* returned -4095..-1 */
	__u64 ns;     /* time between sys_enter and sys_exit, summed */
};

/* args[] of CGS_EV_SIGNAL_GENERATE / CGS_EV_SIGNAL_DELIVER. The header is the
 * task the signal is for (generate) or the one taking it (deliver).
 *   [0] signal number, [1] si_errno, [2] si_code,
 *   [3], [4] the first 16 bytes of the siginfo's union (si_pid | si_uid << 32 for
 *            kill, sigqueue and SIGCHLD; si_addr for faults; [4] low half is
 *            si_status for SIGCHLD), 0 when the kernel sent no siginfo,
 *   [5] generate: the sending process (tgid of the task that ran the send);
 *       deliver: the handler (0 SIG_DFL, 1 SIG_IGN, else an address).
 * ret: generate's result (CGS_SIG_RESULT_*), 0 for deliver. */
#define CGS_SIG_RESULT_DELIVERED 0
#define CGS_SIG_RESULT_IGNORED 1
#define CGS_SIG_RESULT_ALREADY_PENDING 2
#define CGS_SIG_RESULT_OVERFLOW_FAIL 3
#define CGS_SIG_RESULT_LOSE_INFO 4

/* Keys/values of the scope maps. */
struct cgs_scope_value {
	__u8 present; /* 1; a hash set needs some value */
	__u8 pad[7];
};

/* file_write/file_read summed in the kernel (bpf/lib/trace_fsum.bpf.h). */
#define CGS_FSUM_READ 1  /* fsum_calls[nr]: a read of its fd argument 0 */
#define CGS_FSUM_WRITE 2 /* fsum_calls[nr]: a write to its fd argument 0 */
#define CGS_FSUM_SHOWN 4 /* fsum_calls[nr]: shown, a record each time, with fd argument 0's
			  * path from a slot (dir CGS_FSUM_DIR_SHOWN) while it stands */
#define CGS_FSUM_DIR_SHOWN 2
/* What makes a resolved section unfit to stand for the calls after it: the
 * kernel arms no slot for it, and user space keeps no path for it. */
#define CGS_FSUM_UNFIT                                                                               \
	(CGS_FDPATH_F_NOT_OPEN | CGS_FDPATH_F_PSEUDO | CGS_FDPATH_F_TOO_LONG | CGS_FDPATH_F_RACED | \
	 CGS_FDPATH_F_MOVING | CGS_FDPATH_F_FAULT | CGS_FDPATH_F_DETACHED)
/* Not an event: a slot's totals, for user space's sums only (flagged UNSELECTED).
 * args: [0] bytes, [1] calls (both since the slot was made), [2] dev, [3] ino of
 * the file they belong to, [4] 1 for writes, [5] the fd. ret: CGS_FSUM_END_CLOSE
 * when a close or a dup2/dup3 onto the fd ended a file_write/file_read slot (sent
 * then even with no new calls: the thread that closed may be one the filters
 * leave out, whose own record never comes), else 0. */
#define CGS_EV_FILE_SUMS 1100
#define CGS_FSUM_END_CLOSE 1

struct cgs_fsum_key {
	__u32 tgid;
	__s32 fd;
	__u32 dir; /* 1: writes, 0: reads, CGS_FSUM_DIR_SHOWN: a path only */
};

struct cgs_fsum {
	__u64 file;       /* the struct file the slot stands for; 0: none (stopped) */
	__u64 dentry;     /* its f_path.dentry */
	__u64 bytes;      /* bytes of the calls counted, since the slot was made */
	__u64 calls;      /* calls counted here (not those sent as full records) */
	__u64 sent_calls; /* calls when the last CGS_EV_FILE_SUMS went out */
	__u64 ino;        /* the file, as its full record named it */
	__u32 dev;
	__u32 gen;        /* the path generation its full record was stamped with */
	__u32 deleted;    /* 1: already unlinked then */
	__u32 stamp_tid;  /* CGS_FSUM_DIR_SHOWN: the full record's tid and ts_ns */
	__u64 stamp_ts;
	__u32 mode;       /* its inode mode, as the record said */
	__u32 pad;
	__u64 mnt;        /* its f_path.mnt: the same dentry under another mount is another path */
};

#ifdef __cplusplus
static_assert(sizeof(struct cgs_fsum) == 88, "cgs_fsum layout is part of the ABI");
static_assert(sizeof(struct cgs_record) == 120, "cgs_record layout is part of the ABI");
static_assert(sizeof(struct cgs_sum_stat) == 24, "cgs_sum_stat layout is part of the ABI");
static_assert(sizeof(struct cgs_msghdr) == 64, "cgs_msghdr layout is part of the ABI");
static_assert(sizeof(struct cgs_var) == 8, "cgs_var layout is part of the ABI");
static_assert(sizeof(struct cgs_tcp_info) == 24, "cgs_tcp_info layout is part of the ABI");
static_assert(sizeof(struct cgs_udp_key) == 32, "cgs_udp_key layout is part of the ABI");
static_assert(sizeof(struct cgs_udp_count) == 64, "cgs_udp_count layout is part of the ABI");
static_assert(sizeof(struct cgs_fd_path) == 32, "cgs_fd_path layout is part of the ABI");
#endif

#endif /* CGSCOPE_ABI_TRACE_H */
