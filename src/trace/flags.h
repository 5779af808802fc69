// Formatters that turn raw syscall argument values into the names a person reads:
// open/at/mmap/clone flags, signals, socket domains and types, modes, errnos.
//
// They sit on the output hot path, so each one appends to a caller-owned string
// (reused across events) and does no other allocation. Every formatter accepts any
// value: bits it has no name for are appended as one trailing `0x...`, so nothing
// the traced program passed is ever hidden.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cgscope::trace {

// open(2)/openat(2) flags: access mode first, then each known bit in a fixed order,
// e.g. "O_RDONLY|O_CLOEXEC", "O_WRONLY|O_CREAT|O_TRUNC".
void format_open_flags(std::string& out, uint64_t v);

// O_* flags where there is no access mode (pipe2, dup3): "O_NONBLOCK|O_CLOEXEC";
// 0 gives "0".
void format_fd_flags(std::string& out, uint64_t v);

// AT_* flags of the *at syscalls; 0 gives "0". Bit 0x200 means AT_EACCESS for
// faccessat/faccessat2 and AT_REMOVEDIR everywhere else: pass the syscall's name
// to get the right one (without it, AT_REMOVEDIR).
void format_at_flags(std::string& out, uint64_t v, std::string_view syscall = {});

// mmap/mprotect prot: "PROT_NONE" for 0, else e.g. "PROT_READ|PROT_WRITE".
void format_mmap_prot(std::string& out, uint64_t v);

// mmap flags: the mapping type (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE) first,
// then e.g. "|MAP_FIXED|MAP_ANONYMOUS"; a huge page size as "MAP_HUGE_2MB".
void format_mmap_flags(std::string& out, uint64_t v);

// clone/unshare/setns flags, in ascending bit order: the exit signal in the low
// byte first (e.g. "SIGCHLD"), then "CLONE_VM|CLONE_FS|...".
void format_clone_flags(std::string& out, uint64_t v);

// A signal number (the low 32 bits, as the kernel's int): "SIGKILL",
// "SIGRTMIN+3"; 0 and unknown numbers as decimal.
void format_signal(std::string& out, uint64_t v);

// socket(2) domain: "AF_INET", "AF_UNIX", ...; unknown as decimal.
void format_socket_domain(std::string& out, uint64_t v);

// socket(2) type: "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC".
void format_socket_type(std::string& out, uint64_t v);

// A file mode in octal with a leading 0 and at least three digits: "0644",
// "04755", "0000".
void format_mode(std::string& out, uint64_t v);

// A syscall return value: "-2 (ENOENT)" for an error return (-4095..-1) whose errno
// has a name, else the plain decimal ("3", "-200000").
void format_errno(std::string& out, int64_t ret);

// "ENOENT" for 2; empty for numbers with no name (negative ones included).
std::string_view errno_name(int err);

// "SIGKILL" for 9, "SIGRTMIN+1" for 33; empty for 0 and unknown numbers.
std::string_view signal_name(int sig);

// "AF_INET" for 2; empty for unknown families.
std::string_view socket_domain_name(int domain);

}  // namespace cgscope::trace
