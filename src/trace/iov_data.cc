#include "trace/iov_data.h"

#include <cstring>

#include "cgscope/abi/trace.h"

namespace cgscope::trace {

IovData::IovData(std::span<const uint8_t> section) : section_(section) {
  if (section.size() < sizeof(cgs_iov_data)) return;
  cgs_iov_data d;
  std::memcpy(&d, section.data(), sizeof(d));
  if (d.n > CGS_IOV_DATA_MAX) return;
  uint64_t kept = 0;
  for (uint32_t i = 0; i < d.n; i++) {
    if (d.e[i].kept > d.e[i].want) return;
    kept += d.e[i].kept;
  }
  if (kept > section.size() - sizeof(d)) return;
  n_ = d.n;
}

std::optional<IovElement> IovData::element(size_t i) const {
  if (i >= n_) return std::nullopt;
  cgs_iov_data d;
  std::memcpy(&d, section_.data(), sizeof(d));
  size_t off = sizeof(d);
  for (size_t j = 0; j < i; j++) off += d.e[j].kept;
  return IovElement{std::string_view(reinterpret_cast<const char*>(section_.data()) + off, d.e[i].kept),
                    d.e[i].kept < d.e[i].want};
}

}  // namespace cgscope::trace
