// --bypass CIDR: destinations that go direct, as the kernel's LPM trie keys them
// (one trie for both families: an IPv4 /n is the IPv4-mapped /96+n).
#pragma once

#include <string>
#include <string_view>

#include "cgscope/abi/proxy.h"
#include "core/result.h"

namespace cgscope::proxy {

// "10.0.0.0/8", "192.0.2.7" (a /32), "fd00::/8", "::1" (a /128). The address is
// masked to the prefix, so "10.1.2.3/8" is 10.0.0.0/8. Errors name the bad part.
Result<cgs_proxy_prefix> parse_cidr(std::string_view text);

// The prefix as it was meant: "10.0.0.0/8", "fd00::/8".
std::string format_prefix(const cgs_proxy_prefix& p);

}  // namespace cgscope::proxy
