// Parses one ring buffer record (struct cgs_record + variable sections) into a view
// the output layer can use without further checks. The bytes come from the kernel,
// but a bug there must give an error here, not a read past the record: every length
// is checked against the record's real size.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "cgscope/abi/trace.h"
#include "core/result.h"

namespace cgscope::trace {

struct VarSection {
  bool present = false;
  uint8_t kind = 0;     // enum cgs_arg_kind
  uint16_t flags = 0;   // CGS_VAR_F_*
  std::span<const uint8_t> data;
  bool truncated() const { return flags & CGS_VAR_F_TRUNCATED; }
  bool fault() const { return flags & CGS_VAR_F_FAULT; }
  // A STR section without its NUL.
  std::string_view str() const;
};

struct RecordView {
  const cgs_record* hdr = nullptr;
  std::array<VarSection, CGS_NARGS> vars{};  // by argument index
  // The call's own section, if any (CGS_ARG_IOVDATA: the iovecs' contents, whose
  // argument's section is the iovec array or the msghdr; CGS_ARG_SELECT).
  VarSection call_section{};
  bool has_duration = false;  // -T: CGS_REC_F_DURATION
  uint64_t duration_ns = 0;
};

Result<RecordView> decode_record(std::span<const uint8_t> bytes);

// Calls fn(std::string_view) for each NUL-separated element of a STRARR section
// (kernel argv blocks may or may not end in a NUL). Returns the element count.
template <class Fn>
size_t for_each_string(std::span<const uint8_t> data, Fn&& fn) {
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= data.size(); i++) {
    if (i == data.size() || data[i] == 0) {
      if (i == data.size() && i == start) break;  // trailing NUL already closed the last one
      fn(std::string_view(reinterpret_cast<const char*>(data.data()) + start, i - start));
      n++;
      start = i + 1;
    }
  }
  return n;
}

}  // namespace cgscope::trace
