// What the kernel kept of the iovecs' contents of one call (a CGS_ARG_IOVDATA
// section, --capture-buffers): element by element, for the iovec array and
// msghdr decoders, which show each as strace's iov_base="...". The section comes
// from the kernel, so every length is checked against the section's size; a
// malformed one gives no contents at all, never bytes of another element.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace cgscope::trace {

struct IovElement {
  std::string_view bytes;  // what was kept of what the element moved
  bool cut = false;        // it moved more (cut at --capture-buffers / -s)
};

class IovData {
 public:
  IovData() = default;
  // A section flagged FAULT or TRUNCATED holds the elements before the fault or
  // the limit: the rest show their addresses (and the kernel counted the cut).
  explicit IovData(std::span<const uint8_t> section);

  // Element i's contents, or none (not kept: past those kept, or a malformed section).
  std::optional<IovElement> element(size_t i) const;

 private:
  std::span<const uint8_t> section_;
  uint32_t n_ = 0;  // 0 when malformed
};

}  // namespace cgscope::trace
