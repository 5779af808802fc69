#!/usr/bin/env python3
"""Generate data/syscalls_ia32.inc, cgscope's ia32 (i386) syscall table.

The ia32 table is what a 32-bit process, or a 64-bit one entering the kernel
through `int 0x80`, calls: same kernel, other numbers, 32-bit arguments. Numbers
come from the UAPI header asm/unistd_32.h (i386 numbers never change once
released). Arguments, argument formats and event sets are borrowed from the
x86_64 table (data/syscalls_x86_64.inc, made by gen-syscall-table.py) wherever
the ia32 call takes the same arguments in the same order: open, read, write,
execve, openat, close... A call whose arguments differ from its x86_64 namesake
(old mmap and select take one struct pointer, 64-bit offsets split in two
registers, clone's other argument order) or that has no x86_64 namesake
(socketcall, ipc, waitpid) keeps six generic arguments (args_known = false)
and gets its sets from IA32_ONLY_SETS below.

    python3 scripts/gen-syscall-table-ia32.py

No root, no tracefs, no network: both inputs are files. Each output line is

    CGS_SYSCALL_IA32(nr, "name", "spec", sets, nargs, args_known, {{"type", "arg"}, ...})

where `nr` is the i386 number and `spec` the x86_64 syscall whose argument
formats it uses ("" for none); user space numbers the record
CGS_IA32_NR_BASE + nr (include/cgscope/abi/trace.h).
"""

import argparse
import os
import re
import sys

# Syscalls newer than the Debian 12 build host's unistd_32.h (6.1). Since 5.1
# (424 on) new syscalls get one number on every architecture, so these are the
# x86_64 numbers of gen-syscall-table.py's EXTRA_SYSCALLS without the x86_64-only
# ones (uprobe, uretprobe, map_shadow_stack).
EXTRA_SYSCALLS = {
    451: "cachestat", 452: "fchmodat2", 454: "futex_wake", 455: "futex_wait",
    456: "futex_requeue", 457: "statmount", 458: "listmount", 459: "lsm_get_self_attr",
    460: "lsm_set_self_attr", 461: "lsm_list_modules", 462: "mseal", 463: "setxattrat",
    464: "getxattrat", 465: "listxattrat", 466: "removexattrat", 467: "open_tree_attr",
    468: "file_getattr", 469: "file_setattr",
}

# ia32 calls that take the arguments of an x86_64 call of another name.
SPEC_ALIASES = {
    "fcntl64": "fcntl", "_newselect": "select", "ugetrlimit": "getrlimit",
    "stat64": "stat", "lstat64": "lstat", "fstat64": "fstat", "fstatat64": "newfstatat",
    "sendfile64": "sendfile", "mmap2": "mmap",
    "lchown32": "lchown", "chown32": "chown", "fchown32": "fchown",
    "getuid32": "getuid", "getgid32": "getgid", "geteuid32": "geteuid", "getegid32": "getegid",
    "setreuid32": "setreuid", "setregid32": "setregid", "getgroups32": "getgroups",
    "setgroups32": "setgroups", "setresuid32": "setresuid", "getresuid32": "getresuid",
    "setresgid32": "setresgid", "getresgid32": "getresgid", "setuid32": "setuid",
    "setgid32": "setgid", "setfsuid32": "setfsuid", "setfsgid32": "setfsgid",
    # y2038: the same calls with a 64-bit time_t, which is the x86_64 layout.
    "clock_gettime64": "clock_gettime", "clock_settime64": "clock_settime",
    "clock_adjtime64": "clock_adjtime", "clock_getres_time64": "clock_getres",
    "clock_nanosleep_time64": "clock_nanosleep", "timer_gettime64": "timer_gettime",
    "timer_settime64": "timer_settime", "timerfd_gettime64": "timerfd_gettime",
    "timerfd_settime64": "timerfd_settime", "utimensat_time64": "utimensat",
    "pselect6_time64": "pselect6", "ppoll_time64": "ppoll",
    "io_pgetevents_time64": "io_pgetevents", "recvmmsg_time64": "recvmmsg",
    "mq_timedsend_time64": "mq_timedsend", "mq_timedreceive_time64": "mq_timedreceive",
    "semtimedop_time64": "semtimedop", "rt_sigtimedwait_time64": "rt_sigtimedwait",
    "futex_time64": "futex", "sched_rr_get_interval_time64": "sched_rr_get_interval",
}

# Namesakes whose ia32 arguments are not the x86_64 ones: raw arguments, the
# x86_64 call's sets.
DIFFERENT_ARGS = set("""
    mmap select clone pread64 pwrite64 readahead fadvise64 fallocate
    sync_file_range lookup_dcookie
""".split())

# Sets of ia32 calls with no x86_64 namesake (names as in SETS of
# gen-syscall-table.py). Anything else is in no set (`-e all` or by name).
IA32_ONLY_SETS = {
    "socketcall": ["default", "net", "net_sock"],  # socket, connect, bind... multiplexed
    "ipc": ["ipc"],
    "waitpid": ["proc", "proc_life"],
    "_llseek": ["fs", "fs_read_write"],
    "truncate64": ["default", "fs", "fs_file_ops"],
    "ftruncate64": ["default", "fs", "fs_file_ops"],
    "fadvise64_64": ["fs", "fs_file_ops"],
    "umount": ["default", "fs", "system"],
    "oldstat": ["fs", "fs_file_attr"], "oldfstat": ["fs", "fs_file_attr"],
    "oldlstat": ["fs", "fs_file_attr"], "statfs64": ["fs", "fs_file_attr"],
    "fstatfs64": ["fs", "fs_file_attr"], "readdir": ["fs", "fs_dir_ops"],
    "sigaction": ["signals"], "signal": ["signals"], "sigsuspend": ["signals"],
    "sigpending": ["signals"], "sigprocmask": ["signals"], "sigreturn": ["signals"],
    "sgetmask": ["signals"], "ssetmask": ["signals"],
    "olduname": ["system"], "oldolduname": ["system"], "stime": ["time", "system"],
    "nice": ["proc"], "set_thread_area": ["proc"], "get_thread_area": ["proc"],
    "vm86": ["proc"], "vm86old": ["proc"],
}

NR_RE = re.compile(r"^#define\s+__NR_(?P<name>\w+)\s+(?P<nr>\d+)\s*$")
# CGS_SYSCALL(nr, "name", sets, nargs, known, {args})
ROW_RE = re.compile(r'^CGS_SYSCALL\((\d+), "(\w+)", ([^,]+), (\d+), (true|false), (\{.*\})\)$')


def die(msg):
    sys.exit("gen-syscall-table-ia32: " + msg)


def read_numbers(path):
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        die("cannot read %s: %s (install linux-libc-dev, or pass --unistd)" % (path, e.strerror))
    by_nr = {}
    for line in lines:
        m = NR_RE.match(line)
        if m:
            by_nr[int(m.group("nr"))] = m.group("name")
    if len(by_nr) < 300 or by_nr.get(5) != "open" or by_nr.get(11) != "execve":
        die("%s is not the i386 header (open is not 5, or execve not 11)" % path)
    for nr, name in EXTRA_SYSCALLS.items():
        if by_nr.get(nr, name) != name:
            die("%s has %d as %s, EXTRA_SYSCALLS says %s" % (path, nr, by_nr[nr], name))
        by_nr[nr] = name
    return by_nr


def read_x86_64(path):
    """name -> (sets, nargs, known, args text) of the x86_64 table."""
    rows = {}
    with open(path) as f:
        for line in f:
            m = ROW_RE.match(line.strip())
            if m:
                rows[m.group(2)] = (m.group(3), int(m.group(4)), m.group(5), m.group(6))
    if len(rows) < 300:
        die("%s has only %d rows; regenerate it first" % (path, len(rows)))
    return rows


GENERIC = "{%s}" % ", ".join('{"unsigned long", "arg%d"}' % i for i in range(6))


def render(by_nr, x64):
    out = [
        "// GENERATED FILE, do not edit: the ia32 (i386) syscall table of cgscope.",
        "// Regenerate with: python3 scripts/gen-syscall-table-ia32.py",
        "// Numbers: asm/unistd_32.h plus the script's EXTRA_SYSCALLS. Arguments and sets:",
        "// those of the x86_64 call named `spec` (data/syscalls_x86_64.inc); spec \"\" means",
        "// six generic arguments (args_known false) and the script's IA32_ONLY_SETS.",
        "//",
        "// CGS_SYSCALL_IA32(i386 nr, name, spec, sets, nargs, args_known, {{type, name}, ...})",
    ]
    for nr in sorted(by_nr):
        name = by_nr[nr]
        spec = SPEC_ALIASES.get(name, name)
        row = x64.get(spec)
        if row and name not in DIFFERENT_ARGS:
            sets, nargs, known, args = row
        else:
            sets = row[0] if row else (" | ".join("SET_" + s.upper() for s in IA32_ONLY_SETS.get(name, [])) or "0")
            spec, nargs, known, args = "", 6, "false", GENERIC
        out.append('CGS_SYSCALL_IA32(%d, "%s", "%s", %s, %d, %s, %s)' % (nr, name, spec, sets, nargs, known, args))
    return "\n".join(out) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "data")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unistd", default="/usr/include/x86_64-linux-gnu/asm/unistd_32.h",
                        help="i386 syscall numbers header (default: %(default)s)")
    parser.add_argument("--x86-64-table", default=os.path.join(data, "syscalls_x86_64.inc"),
                        help="the x86_64 table to borrow arguments from")
    parser.add_argument("-o", "--output", default=os.path.join(data, "syscalls_ia32.inc"),
                        help="output file (default: data/syscalls_ia32.inc in the repo)")
    opts = parser.parse_args()
    by_nr = read_numbers(opts.unistd)
    text = render(by_nr, read_x86_64(opts.x86_64_table))
    tmp = opts.output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, opts.output)
    print("wrote %s: %d syscalls" % (os.path.normpath(opts.output), len(by_nr)), file=sys.stderr)


if __name__ == "__main__":
    main()
