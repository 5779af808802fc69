// The kernel's 64-bit identities of a socket and of a network namespace (the
// cookies BPF programs see through bpf_get_socket_cookie and
// bpf_get_netns_cookie): how lb and proxy tell user space's sockets and
// namespaces to their hooks.
#pragma once

#include <cstdint>

#include "core/result.h"

namespace cgscope {

// SO_COOKIE of the socket `fd` (Linux 4.12).
Result<uint64_t> socket_cookie(int fd);
// The cookie of the network namespace the calling thread is in (SO_NETNS_COOKIE
// of a socket made for the question, Linux 5.14).
Result<uint64_t> current_netns_cookie();

}  // namespace cgscope
