#include "trace/event_table.h"

#include <algorithm>
#include <bit>
#include <cstddef>

#include "cgscope/abi/trace.h"
#include "trace/ia32_events.h"

namespace cgscope::trace {
namespace {

// The whole table is built at compile time: syscalls in number order (as the
// generator writes them), then the pseudo events in CGS_EV_* order.
#define CGS_SYSCALL(nr, name, sets, nargs, known, ...) \
  EventInfo{nr, name, sets, nargs, known, std::array<EventArg, 6>{__VA_ARGS__}, true},

constexpr EventInfo kEvents[] = {
#include "data/syscalls_x86_64.inc"

    // Arguments in the order of args[] in abi/trace.h; see event_table.h.
    EventInfo{CGS_EV_PROCESS_FORK, "sched_process_fork", SET_DEFAULT | SET_PROC | SET_PROC_LIFE, 4, true,
              {{{"pid_t", "child_pid"}, {"pid_t", "child_tid"}, {"u32", "pidns"}, {"u32", "pidns_level"}}},
              false},
    EventInfo{CGS_EV_PROCESS_EXEC, "sched_process_exec", SET_DEFAULT | SET_PROC | SET_PROC_LIFE, 5, true,
              {{{"const char *", "filename"},
                {"const char *const *", "argv"},
                {"pid_t", "old_pid"},
                {"u32", "pidns"},
                {"u32", "pidns_level"}}},
              false},
    EventInfo{CGS_EV_PROCESS_EXIT, "sched_process_exit", SET_DEFAULT | SET_PROC | SET_PROC_LIFE, 3, true,
              {{{"int", "exit_code"}, {"int", "signal"}, {"u32", "pidns"}}},
              false},
    EventInfo{CGS_EV_CGROUP_MKDIR, "cgroup_mkdir", SET_PROC | SET_PROC_LIFE, 3, true,
              {{{"u64", "id"}, {"u32", "level"}, {"const char *", "path"}}},
              false},
    EventInfo{CGS_EV_TCP_STATE, "tcp_state", SET_NET, 6, true,
              {{{"int", "oldstate"},
                {"int", "newstate"},
                {"struct sockaddr *", "saddr"},
                {"struct sockaddr *", "daddr"},
                {"u64", "sock"},
                {"int", "context"}}},
              false},
    // Made by user space (file_activity.h): no kernel record, no syscall.
    EventInfo{CGS_EV_FILE_WRITE, "file_write", SET_FS, 2, true, {{{"u64", "bytes"}, {"u64", "calls"}}}, false},
    EventInfo{CGS_EV_FILE_READ, "file_read", SET_FS, 2, true, {{{"u64", "bytes"}, {"u64", "calls"}}}, false},
    // Shown by signal_text.h, not argument by argument.
    EventInfo{CGS_EV_SIGNAL_GENERATE, "signal_generate", SET_SIGNALS, 6, true,
              {{{"int", "signo"}, {"int", "errno"}, {"int", "code"}, {"u64", "fields0"}, {"u64", "fields1"},
                {"pid_t", "sender_pid"}}},
              false},
    EventInfo{CGS_EV_SIGNAL_DELIVER, "signal_deliver", SET_SIGNALS, 6, true,
              {{{"int", "signo"}, {"int", "errno"}, {"int", "code"}, {"u64", "fields0"}, {"u64", "fields1"},
                {"u64", "handler"}}},
              false},
    EventInfo{CGS_EV_UDP_PEER, "udp_peer", SET_NET, 6, true,
              {{{"int", "dir"},
                {"u64", "bytes"},
                {"struct sockaddr *", "saddr"},
                {"struct sockaddr *", "daddr"},
                {"u64", "sock"},
                {"int", "context"}}},
              false},
    EventInfo{CGS_EV_UDP_CLOSE, "udp_close", SET_NET, 2, true, {{{"u64", "sock"}, {"int", "context"}}}, false},
};

#undef CGS_SYSCALL

constexpr size_t kEventCount = std::size(kEvents);
constexpr size_t kPseudoCount = CGS_EV_LAST - CGS_EV_PROCESS_FORK + 1;
constexpr size_t kSyscallCount = kEventCount - kPseudoCount;

// Checks what the lookups below rely on; a broken generated table fails the build.
consteval bool table_is_consistent() {
  for (size_t i = 0; i < kEventCount; ++i) {
    const EventInfo& e = kEvents[i];
    if (e.is_syscall != (i < kSyscallCount)) return false;
    if (e.is_syscall && (e.nr >= CGS_MAX_SYSCALLS || (i > 0 && kEvents[i - 1].nr >= e.nr))) return false;
    if (!e.is_syscall && e.nr != CGS_EV_PROCESS_FORK + (i - kSyscallCount)) return false;
    if (e.nargs > e.args.size() || e.name.empty()) return false;
    for (size_t a = 0; a < e.args.size(); ++a)
      if ((a < e.nargs) == e.args[a].name.empty()) return false;
    if (e.sets >> kEventSetCount) return false;
  }
  return true;
}
static_assert(table_is_consistent(), "data/syscalls_x86_64.inc or the pseudo events are malformed");
static_assert(kEventCount > kPseudoCount, "every CGS_EV_* up to CGS_EV_LAST has a row");

// Syscall number -> index in kEvents, -1 for numbers with no syscall.
constexpr auto kByNr = [] {
  std::array<int16_t, CGS_MAX_SYSCALLS> idx{};
  idx.fill(-1);
  for (size_t i = 0; i < kSyscallCount; ++i) idx[kEvents[i].nr] = static_cast<int16_t>(i);
  return idx;
}();

// Indices of kEvents sorted by name, for binary search.
constexpr auto kByName = [] {
  std::array<uint16_t, kEventCount> idx{};
  for (size_t i = 0; i < kEventCount; ++i) idx[i] = static_cast<uint16_t>(i);
  std::sort(idx.begin(), idx.end(), [](uint16_t a, uint16_t b) { return kEvents[a].name < kEvents[b].name; });
  return idx;
}();

consteval bool names_are_unique() {
  for (size_t i = 1; i < kEventCount; ++i)
    if (kEvents[kByName[i - 1]].name == kEvents[kByName[i]].name) return false;
  return true;
}
static_assert(names_are_unique(), "two events share a name");

struct SetInfo {
  std::string_view name;
  std::string_view description;
};

// Indexed by bit number; matches enum EventSet.
constexpr std::array<SetInfo, kEventSetCount> kSets = {{
    {"default", "exec, open, network, privilege, mount and module events"},
    {"fs", "files and file systems"},
    {"net", "sockets and the data sent and received on them"},
    {"proc", "processes: life, ids, scheduling, limits, namespaces"},
    {"ipc", "pipes, System V and POSIX IPC, futexes, eventfd"},
    {"signals", "sending, handling and waiting for signals"},
    {"memory", "address space, memory locking and policy"},
    {"time", "clocks, timers and sleeps"},
    {"fs_read_write", "reading and writing file data, async I/O"},
    {"fs_file_ops", "open, close, dup, sync and truncate files"},
    {"fs_dir_ops", "directories: list, create, remove, change into"},
    {"fs_link_ops", "links, symbolic links, unlink and rename"},
    {"fs_file_attr", "file status, access, modes, owners, times, xattrs"},
    {"net_sock", "socket setup: socket, bind, listen, connect, accept"},
    {"proc_life", "process creation, exec, exit and wait; new cgroups"},
    {"proc_ids", "process ids, user and group ids, capabilities"},
    {"system", "reboot, mounts, kernel modules, BPF, keys, host name"},
}};
static_assert(SET_SYSTEM == 1u << (kEventSetCount - 1), "kSets and enum EventSet disagree");

}  // namespace

const EventInfo* find_event(uint32_t nr) {
  if (is_ia32_nr(nr)) return find_ia32_event(nr - CGS_IA32_NR_BASE);
  if (nr < CGS_MAX_SYSCALLS) {
    int16_t i = kByNr[nr];
    return i < 0 ? nullptr : &kEvents[i];
  }
  if (nr >= CGS_EV_PROCESS_FORK && nr < CGS_EV_PROCESS_FORK + kPseudoCount)
    return &kEvents[kSyscallCount + (nr - CGS_EV_PROCESS_FORK)];
  return nullptr;
}

const EventInfo* find_event(std::string_view name) {
  auto it = std::lower_bound(kByName.begin(), kByName.end(), name,
                             [](uint16_t i, std::string_view n) { return kEvents[i].name < n; });
  if (it == kByName.end() || kEvents[*it].name != name) return nullptr;
  return &kEvents[*it];
}

std::span<const EventInfo> all_events() { return kEvents; }

std::optional<uint32_t> find_set(std::string_view name) {
  for (unsigned b = 0; b < kEventSetCount; ++b)
    if (kSets[b].name == name) return 1u << b;
  return std::nullopt;
}

std::vector<std::string_view> set_names() {
  std::vector<std::string_view> out;
  out.reserve(kEventSetCount);
  for (const SetInfo& s : kSets) out.push_back(s.name);
  return out;
}

std::string_view set_name(uint32_t bit) {
  if (!std::has_single_bit(bit) || bit >> kEventSetCount) return {};
  return kSets[std::countr_zero(bit)].name;
}

std::string_view set_description(uint32_t bit) {
  if (!std::has_single_bit(bit) || bit >> kEventSetCount) return {};
  return kSets[std::countr_zero(bit)].description;
}

}  // namespace cgscope::trace
