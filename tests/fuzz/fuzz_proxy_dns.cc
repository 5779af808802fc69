// libFuzzer target: the DNS forwarder's readers of network bytes (a query's
// question, a reply's answers) and of /proc/PID/net/route text. Nothing may read
// past the input; a name is at most 255 bytes; an address is valid text.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/dns_message.h"
#include "proxy/ns_relay.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto q = cgscope::proxy::parse_dns_question(in); q && q->name.size() > 255) std::abort();
  if (auto a = cgscope::proxy::parse_dns_answers(in)) {
    if (a->name.size() > 255 || a->addresses.size() > size / 10) std::abort();
    for (const auto& addr : a->addresses) {
      unsigned char buf[16];
      if (inet_pton(addr.ip.find(':') == std::string::npos ? AF_INET : AF_INET6, addr.ip.c_str(), buf) != 1)
        std::abort();
    }
  }
  auto routes = cgscope::proxy::parse_proc_route(in);
  (void)cgscope::proxy::route_to_host(routes, {0x0100007f});
  return 0;
}
