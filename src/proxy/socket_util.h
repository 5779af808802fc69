// Small socket operations the relay needs, each with its error as a value.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"

namespace cgscope::proxy {

// A non-blocking TCP listener on `addr` (IPv6 listeners are v6-only, so that
// [::1] and 127.0.0.1 can be listened on apart, on one port).
Result<UniqueFd> listen_tcp(const sockaddr_storage& addr, int backlog);

// The address a socket is bound to.
Result<sockaddr_storage> local_address(int fd);

// Closes `fd` with a TCP reset (SO_LINGER 0): the peer's next read or write
// fails at once with ECONNRESET, instead of reading an end of file that looks
// like a short, complete answer.
void close_with_reset(UniqueFd& fd);

// The pending error of a socket (SO_ERROR), 0 if none.
int socket_error(int fd);

// TCP_NODELAY: the relay forwards what it gets when it gets it; the program at
// each end has its own Nagle setting, and a second one in the middle only adds
// delay.
void set_nodelay(int fd);

// Raises the soft RLIMIT_NOFILE to the hard one. Returns the limit now in
// force, or the error (with the limit left) when it could not be raised.
struct FdLimit {
  uint64_t limit = 0;
  std::string error;  // "" when raised (or already at the hard limit)
};
FdLimit raise_fd_limit();

}  // namespace cgscope::proxy
