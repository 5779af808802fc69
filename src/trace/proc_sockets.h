// The servers of a network namespace: its TCP listening sockets and bound UDP
// sockets, read from /proc/PID/net/{tcp,tcp6,udp,udp6} of a process in it, and
// the processes that hold them (found by their sockets' inodes under
// /proc/PID/fd), so that a flow to a local server that is not traced still
// names the server's process, as `ss -lp` does.
//
// The parser is pure (its input is a kernel file, and fuzzed all the same); the
// holder search reads /proc, bounded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/rtnetlink.h"

namespace cgscope::trace {

// One row of a /proc/net/{tcp,udp}[6] file.
struct ProcSocket {
  rtnl::IpAddress local;  // 0.0.0.0 or :: for a socket bound to any address
  uint16_t port = 0;
  int state = 0;  // the kernel's TCP_* number (UDP: 7, TCP_CLOSE, unconnected; 1 connected)
  uint64_t inode = 0;
};

// The rows of such a file; the header and malformed lines are skipped.
std::vector<ProcSocket> parse_proc_net_sockets(std::string_view text);

// The servers among the rows: TCP sockets in LISTEN; UDP sockets bound to a
// port and connected to no one.
std::vector<ProcSocket> servers_of(const std::vector<ProcSocket>& rows, bool udp);

struct SocketHolder {
  uint32_t pid = 0;
  std::string comm;
};

// Bounds of one search of /proc for the holders of socket inodes.
struct HolderSearchLimits {
  size_t max_processes = 8192;
  size_t max_fds = 262144;
};

// The lowest-numbered process that holds each of `inodes` (an fd of it is
// "socket:[inode]"), searched in every process of /proc; inodes no process
// holds (or that the limits left unsearched) are left out.
std::unordered_map<uint64_t, SocketHolder> find_socket_holders(const std::vector<uint64_t>& inodes,
                                                              HolderSearchLimits limits = {});

}  // namespace cgscope::trace
