// One DNS query over TCP (RFC 7766: a two-byte length, then the message) to a
// nameserver through the upstream (or straight to it, for `direct`), within a
// deadline. Blocking, for the forwarder's workers; the relay's event loop never
// calls it.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "proxy/upstream.h"

namespace cgscope::proxy {

// The reply message (without its length prefix). `on_socket` sees the socket
// before it connects (the forwarder exempts it from the hooks). Errors say where
// it broke: "connecting to the upstream 127.0.0.1:1080: Connection refused",
// "the upstream refused 10.0.0.2:53: ...", "no reply from 10.0.0.2:53 within 5 s".
Result<std::string> dns_over_tcp(const Upstream& upstream, const sockaddr_storage& server, std::string_view query,
                                 std::chrono::milliseconds timeout, const std::function<void(int)>& on_socket);

}  // namespace cgscope::proxy
