// Socket addresses and flag words come from traced programs: any bytes, any
// length. Runs both sockaddr decoders on the input as-is, and every value
// formatter on the first eight bytes read as a raw argument.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "trace/flags.h"
#include "trace/sockaddr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cgscope::trace;
  std::span<const uint8_t> raw(data, size);

  std::string out;
  format_sockaddr(out, raw);
  SockaddrView v = decode_sockaddr(raw);
  if (v.port < -1 || v.port > 65535) __builtin_trap();

  uint64_t word = 0;
  if (size > 0) std::memcpy(&word, data, size < sizeof word ? size : sizeof word);
  out.clear();
  format_open_flags(out, word);
  format_at_flags(out, word);
  format_at_flags(out, word, "faccessat2");
  format_mmap_prot(out, word);
  format_mmap_flags(out, word);
  format_clone_flags(out, word);
  format_signal(out, word);
  format_socket_domain(out, word);
  format_socket_type(out, word);
  format_mode(out, word);
  format_errno(out, static_cast<int64_t>(word));
  (void)errno_name(static_cast<int>(word));
  (void)signal_name(static_cast<int>(word));
  (void)socket_domain_name(static_cast<int>(word));
  return 0;
}
