#!/usr/bin/env python3
"""Generate data/syscalls_x86_64.inc, cgscope's x86_64 syscall table.

Numbers come from the kernel UAPI header unistd_64.h; argument types and names
come from the running kernel's own tracefs descriptions,
<tracefs>/events/syscalls/sys_enter_<name>/format. The output is committed, so
the build never depends on the build host's kernel: run this again only to pick
up new syscalls or to change the event sets below.

    sudo python3 scripts/gen-syscall-table.py

Each line of the output is one macro invocation, sorted by number:

    CGS_SYSCALL(nr, "name", sets, nargs, args_known, {{"type", "arg"}, ...})

`sets` is an OR of SET_* bits (0 for none), defined in src/trace/event_table.h
in the order of SETS below. A syscall whose tracefs description is missing
(not built into this kernel, or obsolete) gets six generic `unsigned long argN`
arguments and args_known = false.
"""

import argparse
import os
import platform
import re
import sys

# ---------------------------------------------------------------------------
# Syscalls newer than the UAPI headers of the Debian 12 build host (6.1). The
# numbers are x86_64 ABI and never change once released; each was checked on a
# 6.18 kernel by calling it and reading __syscall_nr from its sys_enter event
# (map_shadow_stack has no event on that kernel). A header that knows one of
# these names wins, and must agree.
EXTRA_SYSCALLS = {
    335: "uretprobe",         # 6.11
    336: "uprobe",            # 6.16
    451: "cachestat",         # 6.5
    452: "fchmodat2",         # 6.6
    453: "map_shadow_stack",  # 6.6
    454: "futex_wake",        # 6.7
    455: "futex_wait",
    456: "futex_requeue",
    457: "statmount",         # 6.8
    458: "listmount",
    459: "lsm_get_self_attr",
    460: "lsm_set_self_attr",
    461: "lsm_list_modules",
    462: "mseal",             # 6.10
    463: "setxattrat",        # 6.13
    464: "getxattrat",
    465: "listxattrat",
    466: "removexattrat",
    467: "open_tree_attr",    # 6.15
    468: "file_getattr",      # 6.17
    469: "file_setattr",
}

# tracefs event names that are neither <name> nor new<name>: the kernel defines
# these syscalls under another SYSCALL_DEFINE name.
TRACEFS_ALIASES = {
    "sendfile": "sendfile64",
    "umount2": "umount",
}

# ---------------------------------------------------------------------------
# Event sets, in bit order (bit 0 first). The C++ enum EventSet in
# src/trace/event_table.h must list the same sets in the same order.
SETS = [
    "default", "fs", "net", "proc", "ipc", "signals", "memory", "time",
    "fs_read_write", "fs_file_ops", "fs_dir_ops", "fs_link_ops", "fs_file_attr",
    "net_sock", "proc_life", "proc_ids", "system",
]


def names(text):
    return text.split()


# Sub-sets first: each is folded into its parent set below.
FS_READ_WRITE = names("""
    read write pread64 pwrite64 readv writev preadv pwritev preadv2 pwritev2
    lseek sendfile splice tee vmsplice copy_file_range readahead
    io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents
    io_uring_setup io_uring_enter io_uring_register
""")

FS_FILE_OPS = names("""
    open openat openat2 creat close close_range dup dup2 dup3 fcntl ioctl flock
    fsync fdatasync sync syncfs sync_file_range truncate ftruncate fallocate
    fadvise64 name_to_handle_at open_by_handle_at memfd_create cachestat
""")

FS_DIR_OPS = names("""
    getdents getdents64 getcwd chdir fchdir mkdir mkdirat rmdir chroot
""")

FS_LINK_OPS = names("""
    link linkat unlink unlinkat symlink symlinkat readlink readlinkat
    rename renameat renameat2
""")

FS_FILE_ATTR = names("""
    stat fstat lstat newfstatat statx statfs fstatfs ustat
    access faccessat faccessat2
    chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat umask
    utime utimes futimesat utimensat mknod mknodat file_getattr file_setattr
    setxattr lsetxattr fsetxattr setxattrat getxattr lgetxattr fgetxattr getxattrat
    listxattr llistxattr flistxattr listxattrat
    removexattr lremovexattr fremovexattr removexattrat
""")

# File system calls in no sub-set: watches, fd multiplexing, mounts, quotas.
FS_OTHER = names("""
    inotify_init inotify_init1 inotify_add_watch inotify_rm_watch
    fanotify_init fanotify_mark
    select pselect6 poll ppoll epoll_create epoll_create1 epoll_ctl epoll_wait
    epoll_pwait epoll_pwait2
    mount umount2 pivot_root open_tree open_tree_attr move_mount fsopen fsconfig
    fsmount fspick mount_setattr statmount listmount quotactl quotactl_fd
    swapon swapoff uselib
""")

NET_SOCK = names("""
    socket socketpair bind listen accept accept4 connect shutdown
    getsockname getpeername setsockopt getsockopt
""")

NET_OTHER = names("""
    sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg
""")

PROC_LIFE = names("""
    clone clone3 fork vfork execve execveat exit exit_group wait4 waitid
""")

# Identities and credentials of a process.
PROC_IDS = names("""
    getpid getppid gettid getpgid setpgid getpgrp getsid setsid
    getuid geteuid getresuid setuid setreuid setresuid setfsuid
    getgid getegid getresgid setgid setregid setresgid setfsgid
    getgroups setgroups capget capset
""")

PROC_OTHER = names("""
    ptrace prctl arch_prctl personality seccomp unshare setns kcmp
    getpriority setpriority ioprio_get ioprio_set getcpu sched_yield
    sched_setparam sched_getparam sched_setscheduler sched_getscheduler
    sched_get_priority_max sched_get_priority_min sched_rr_get_interval
    sched_setaffinity sched_getaffinity sched_setattr sched_getattr
    getrlimit setrlimit prlimit64 getrusage times
    set_tid_address set_robust_list get_robust_list rseq modify_ldt
    pidfd_open pidfd_getfd pidfd_send_signal
    process_vm_readv process_vm_writev process_madvise process_mrelease
    lsm_get_self_attr lsm_set_self_attr lsm_list_modules
    landlock_create_ruleset landlock_add_rule landlock_restrict_self
""")

IPC = names("""
    pipe pipe2 eventfd eventfd2
    shmget shmat shmdt shmctl semget semop semtimedop semctl
    msgget msgsnd msgrcv msgctl
    mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr
    futex futex_waitv futex_wake futex_wait futex_requeue
    set_robust_list get_robust_list
""")

SIGNALS = names("""
    kill tkill tgkill pidfd_send_signal rt_sigqueueinfo rt_tgsigqueueinfo
    rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigtimedwait
    rt_sigsuspend sigaltstack pause signalfd signalfd4 restart_syscall
""")

MEMORY = names("""
    mmap munmap mremap mprotect brk msync mincore madvise remap_file_pages
    mlock mlock2 munlock mlockall munlockall mseal map_shadow_stack
    mbind set_mempolicy get_mempolicy set_mempolicy_home_node migrate_pages
    move_pages pkey_mprotect pkey_alloc pkey_free memfd_secret membarrier
    userfaultfd process_vm_readv process_vm_writev process_madvise
    process_mrelease swapon swapoff
""")

TIME = names("""
    time gettimeofday settimeofday clock_gettime clock_settime clock_getres
    clock_adjtime adjtimex nanosleep clock_nanosleep alarm getitimer setitimer
    timer_create timer_settime timer_gettime timer_getoverrun timer_delete
    timerfd_create timerfd_settime timerfd_gettime
""")

# The machine as a whole: boot, mounts, kernel modules and code, BPF, keys,
# host names, time, security policy, accounting.
SYSTEM = names("""
    reboot kexec_load kexec_file_load init_module finit_module delete_module
    create_module query_module get_kernel_syms bpf perf_event_open
    mount umount2 pivot_root open_tree open_tree_attr move_mount fsopen
    fsconfig fsmount fspick mount_setattr statmount listmount
    swapon swapoff quotactl quotactl_fd acct syslog sysfs _sysctl sysinfo uname
    sethostname setdomainname settimeofday clock_settime clock_adjtime adjtimex
    iopl ioperm vhangup add_key request_key keyctl lookup_dcookie nfsservctl
    lsm_get_self_attr lsm_set_self_attr lsm_list_modules
    landlock_create_ruleset landlock_add_rule landlock_restrict_self
    getrandom uprobe uretprobe uselib
""")

# What `cgscope trace` shows with no -e: what a process runs, opens, changes and
# connects to, and changes to its privileges or to the machine. Left out on
# purpose: read/write, mmap, futex, poll and clock calls, which are frequent
# enough to flood a trace and slow the traced programs down.
DEFAULT = names("""
    open openat openat2 creat open_by_handle_at memfd_create
    execve execveat clone clone3 fork vfork
    kill tkill tgkill pidfd_send_signal ptrace process_vm_readv process_vm_writev
    pidfd_getfd setns unshare seccomp prctl
    socket connect accept accept4 bind listen
    setuid setgid setreuid setregid setresuid setresgid setfsuid setfsgid
    setgroups capset
    chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat
    unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat
    mkdir mkdirat rmdir mknod mknodat chroot truncate ftruncate
    mount umount2 pivot_root open_tree open_tree_attr move_mount fsopen fsmount
    fspick mount_setattr
    init_module finit_module delete_module kexec_load kexec_file_load bpf
    perf_event_open reboot sethostname setdomainname settimeofday clock_settime
    swapon swapoff acct add_key request_key userfaultfd io_uring_setup
""")

SET_MEMBERS = {
    "default": DEFAULT,
    "fs": FS_READ_WRITE + FS_FILE_OPS + FS_DIR_OPS + FS_LINK_OPS + FS_FILE_ATTR + FS_OTHER,
    "net": NET_SOCK + NET_OTHER,
    "proc": PROC_LIFE + PROC_IDS + PROC_OTHER,
    "ipc": IPC,
    "signals": SIGNALS,
    "memory": MEMORY,
    "time": TIME,
    "fs_read_write": FS_READ_WRITE,
    "fs_file_ops": FS_FILE_OPS,
    "fs_dir_ops": FS_DIR_OPS,
    "fs_link_ops": FS_LINK_OPS,
    "fs_file_attr": FS_FILE_ATTR,
    "net_sock": NET_SOCK,
    "proc_life": PROC_LIFE,
    "proc_ids": PROC_IDS,
    "system": SYSTEM,
}

GENERIC_ARGS = [("unsigned long", "arg%d" % i) for i in range(6)]

# `field:<type> <name>;	offset:...`
FIELD_RE = re.compile(r"^\s*field:(?P<decl>[^;]+);")
# The name is the last identifier; everything before it is the type.
DECL_RE = re.compile(r"^(?P<type>.*?)\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
NR_RE = re.compile(r"^#define\s+__NR_(?P<name>\w+)\s+(?P<nr>\d+)\s*$")


def die(msg):
    sys.exit("gen-syscall-table: " + msg)


def read_numbers(unistd_path):
    try:
        with open(unistd_path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        die("cannot read %s: %s (install linux-libc-dev, or pass --unistd)" % (unistd_path, e.strerror))
    by_name = {}
    for line in lines:
        m = NR_RE.match(line)
        if m:
            by_name[m.group("name")] = int(m.group("nr"))
    if len(by_name) < 300:
        die("%s defines only %d syscall numbers; is it the x86_64 header?" % (unistd_path, len(by_name)))
    by_nr = {nr: name for name, nr in by_name.items()}
    for nr, name in EXTRA_SYSCALLS.items():
        if name in by_name:
            if by_name[name] != nr:
                die("%s says __NR_%s is %d, EXTRA_SYSCALLS says %d" % (unistd_path, name, by_name[name], nr))
            continue
        if nr in by_nr:
            die("EXTRA_SYSCALLS gives %d to %s, but %s has it as %s" % (nr, name, unistd_path, by_nr[nr]))
        by_nr[nr] = name
    return by_nr


def check_tracefs(tracefs):
    """Fails unless a tracefs with syscall events is mounted at `tracefs`."""
    mounted = False
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                if fields[4] == os.path.realpath(tracefs) and fields[sep + 1] == "tracefs":
                    mounted = True
    except (OSError, ValueError):
        pass
    if not mounted:
        die("no tracefs mounted at %s; mount it with `mount -t tracefs nodev %s` "
            "or pass --tracefs DIR" % (tracefs, tracefs))
    events = os.path.join(tracefs, "events", "syscalls")
    if not os.path.isdir(events):
        die("%s is missing: the kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)" % events)
    probe = os.path.join(events, "sys_enter_openat", "format")
    if not os.access(probe, os.R_OK):
        die("cannot read %s: run as root" % probe)
    return events


def read_format(path):
    """The (type, name) arguments of one sys_enter format file."""
    args = []
    with open(path) as f:
        for line in f:
            m = FIELD_RE.match(line)
            if not m:
                continue
            decl = " ".join(m.group("decl").split())
            d = DECL_RE.match(decl)
            if not d:
                die("%s: cannot parse field %r" % (path, decl))
            name = d.group("name")
            if name.startswith("common_") or name == "__syscall_nr":
                continue
            args.append((d.group("type"), name))
    if len(args) > 6:
        die("%s: %d arguments, more than a syscall can have" % (path, len(args)))
    return args


def find_args(events, name):
    """(args, args_known) for one syscall, trying the names tracefs may use."""
    for candidate in (name, "new" + name, TRACEFS_ALIASES.get(name)):
        if not candidate:
            continue
        path = os.path.join(events, "sys_enter_" + candidate, "format")
        if os.path.exists(path):
            return read_format(path), True
    return GENERIC_ARGS, False


def sets_of(by_nr):
    known = set(by_nr.values())
    result = {name: [] for name in known}
    for bit, set_name in enumerate(SETS):
        for name in SET_MEMBERS[set_name]:
            if name not in known:
                die("set %s lists %r, which is not an x86_64 syscall" % (set_name, name))
            if set_name not in result[name]:
                result[name].append(set_name)
    return result


def c_string(s):
    if '"' in s or "\\" in s:
        die("unexpected character in %r" % s)
    return '"%s"' % s


def render(by_nr, events):
    sets = sets_of(by_nr)
    out = [
        "// GENERATED FILE, do not edit: the x86_64 syscall table of cgscope.",
        "// Regenerate with: sudo python3 scripts/gen-syscall-table.py",
        "// Numbers: asm/unistd_64.h plus the script's EXTRA_SYSCALLS. Arguments: tracefs",
        "// sys_enter_*/format of Linux %s. Event sets: the lists in the script." % platform.release(),
        "//",
        "// CGS_SYSCALL(nr, name, sets, nargs, args_known, {{type, name}, ...})",
        "// args_known is false where the kernel has no description of the syscall:",
        "// its arguments are then six generic unsigned longs.",
    ]
    unknown = []
    for nr in sorted(by_nr):
        name = by_nr[nr]
        args, known = find_args(events, name)
        if not known:
            unknown.append(name)
        bits = " | ".join("SET_" + s.upper() for s in sets[name]) or "0"
        arglist = ", ".join("{%s, %s}" % (c_string(t), c_string(a)) for t, a in args)
        out.append("CGS_SYSCALL(%d, %s, %s, %d, %s, {%s})" % (
            nr, c_string(name), bits, len(args), "true" if known else "false", arglist))
    return "\n".join(out) + "\n", unknown, [n for n in sorted(sets) if not sets[n]]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unistd", default="/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
                        help="x86_64 syscall numbers header (default: %(default)s)")
    parser.add_argument("--tracefs", default="/sys/kernel/tracing",
                        help="where tracefs is mounted (default: %(default)s)")
    parser.add_argument("-o", "--output", default=os.path.join(here, "..", "data", "syscalls_x86_64.inc"),
                        help="output file (default: data/syscalls_x86_64.inc in the repo)")
    opts = parser.parse_args()

    by_nr = read_numbers(opts.unistd)
    events = check_tracefs(opts.tracefs)
    text, unknown, no_set = render(by_nr, events)
    tmp = opts.output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, opts.output)
    print("wrote %s: %d syscalls" % (os.path.normpath(opts.output), len(by_nr)), file=sys.stderr)
    if unknown:
        print("  no tracefs description (generic args): %s" % " ".join(unknown), file=sys.stderr)
    if no_set:
        print("  in no set: %s" % " ".join(no_set), file=sys.stderr)


if __name__ == "__main__":
    main()
