// Ring buffer records come from the kernel, but a decoder that trusts them turns a
// kernel-side bug into a user-space crash: decode and format arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "trace/decoder.h"
#include "trace/format.h"
#include "trace/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Ring buffer samples are 8-byte aligned; so is this copy.
  std::vector<uint64_t> aligned((size + 7) / 8);
  if (size) std::memcpy(aligned.data(), data, size);
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(aligned.data()), size);
  auto rec = cgscope::trace::decode_record(bytes);
  if (!rec) return 0;
  cgscope::trace::EventView ev{&*rec, cgscope::trace::Schema::get().find(rec->hdr->nr), nullptr, rec->hdr->ret, true,
                               rec->hdr->ts_ns};
  std::string out;
  cgscope::trace::append_json(out, ev);
  cgscope::trace::append_table_row(out, ev);
  return 0;
}
