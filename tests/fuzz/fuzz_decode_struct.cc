// Struct sections hold whatever bytes the traced program left in its memory, of
// whatever length the kernel copied (an array cut at any byte). Runs every
// struct decoder, as text and as JSON, on the input; the JSON must be one value
// that nlohmann parses whenever the decoder said it wrote one. The first byte,
// when the input has one, says how many of the rest are a CGS_ARG_IOVDATA
// section (the iovecs' contents) for the iovec and msghdr decoders.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "trace/decode_select.h"
#include "trace/decode_struct.h"
#include "trace/iov_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cgscope::trace;
  std::span<const uint8_t> raw(data, size);
  IovData iov;
  if (size > 0) {
    size_t n = std::min<size_t>(size_t{data[0]} * 2, size - 1);
    iov = IovData(raw.subspan(1, n));
    raw = raw.subspan(1 + n);
  }
  for (uint8_t f = 0; f < 255; f++) {
    auto format = static_cast<ArgFormat>(f);
    if (!is_struct_format(format)) continue;
    for (bool json : {false, true}) {
      std::string out;
      StructOut o(out, json);
      bool wrote = decode_struct(o, format, raw, size % 2 ? -1 : 1, size % 3 == 0, size % 5 ? &iov : nullptr);
      if (!wrote && !out.empty()) __builtin_trap();
      if (wrote && json && nlohmann::json::parse(out, nullptr, false).is_discarded()) __builtin_trap();
    }
  }
  std::string ret;
  if (!append_select_ret(ret, raw, size % 2 ? 0 : 3, size % 4 == 0) && !ret.empty()) __builtin_trap();
  return 0;
}
