// What --flows reads from outside: the kernel's fib_trie, if_inet6 and
// /proc/net/{tcp,udp}[6] files of other namespaces, and names (comms, container ids) that end up in graph labels.
// Runs both address parsers and both label escapers on the input, and checks
// that an escaped label can never close its quotes early.
#include <cstdint>
#include <string>
#include <string_view>

#include "trace/flow_graph.h"
#include "trace/netns_addrs.h"
#include "trace/proc_sockets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cgscope::trace;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  for (const IpAddress& a : parse_fib_trie_local(text))
    if (a.family != 2 || a.bytes[0] == 127) __builtin_trap();  // IPv4, never loopback
  for (const IpAddress& a : parse_if_inet6(text))
    if (a.family != 10) __builtin_trap();
  auto rows = parse_proc_net_sockets(text);
  for (const ProcSocket& s : rows)
    if (s.local.family != 2 && s.local.family != 10) __builtin_trap();
  for (bool udp : {false, true})
    for (const ProcSocket& s : servers_of(rows, udp))
      if (!s.inode || !s.port) __builtin_trap();

  std::string mermaid = mermaid_escape(text);
  for (char c : mermaid)
    if (c == '"' || c == '|' || c == '<' || c == '>' || c == '[' || c == ']' || static_cast<unsigned char>(c) >= 0x80)
      __builtin_trap();
  std::string dot = dot_escape(text);
  for (size_t i = 0; i < dot.size(); i++) {
    if (dot[i] == '\\') {
      i++;  // an escape: the next byte is \ or "
      if (i >= dot.size() || (dot[i] != '\\' && dot[i] != '"')) __builtin_trap();
    } else if (dot[i] == '"' || static_cast<unsigned char>(dot[i]) < 0x20) {
      __builtin_trap();
    }
  }
  return 0;
}
