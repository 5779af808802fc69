#include "trace/decoder.h"

#include <cstddef>
#include <cstring>

#include <fmt/format.h>

namespace cgscope::trace {

// The decoder reads these fields at these offsets: keep them where they are.
static_assert(offsetof(cgs_record, ts_ns) == 0);
static_assert(offsetof(cgs_record, cgroup_id) == 8);
static_assert(offsetof(cgs_record, size) == 16);
static_assert(offsetof(cgs_record, nr) == 20);
static_assert(offsetof(cgs_record, flags) == 44);
static_assert(offsetof(cgs_record, nvar) == 46);
static_assert(offsetof(cgs_record, ret) == 48);
static_assert(offsetof(cgs_record, args) == 56);
static_assert(offsetof(cgs_record, comm) == 104);
static_assert(sizeof(cgs_var) == 8 && offsetof(cgs_var, len) == 4);

std::string_view VarSection::str() const {
  auto* p = reinterpret_cast<const char*>(data.data());
  size_t n = data.size();
  while (n > 0 && p[n - 1] == 0) n--;
  return {p, n};
}

Result<RecordView> decode_record(std::span<const uint8_t> bytes) {
  if (bytes.size() < sizeof(cgs_record))
    return fail(fmt::format("record of {} bytes is shorter than its header", bytes.size()));
  RecordView v;
  v.hdr = reinterpret_cast<const cgs_record*>(bytes.data());
  size_t size = v.hdr->size;
  if (size < sizeof(cgs_record) || size > bytes.size())
    return fail(fmt::format("record claims {} bytes, has {}", size, bytes.size()));
  // -T: the duration is the record's last 8 bytes, after the sections.
  if (v.hdr->flags & CGS_REC_F_DURATION) {
    if (size < sizeof(cgs_record) + sizeof(uint64_t))
      return fail(fmt::format("record of {} bytes has no room for its duration", size));
    size -= sizeof(uint64_t);
    std::memcpy(&v.duration_ns, bytes.data() + size, sizeof(uint64_t));
    v.has_duration = true;
  }
  size_t off = sizeof(cgs_record);
  for (unsigned i = 0; i < v.hdr->nvar; i++) {
    if (off + sizeof(cgs_var) > size) return fail(fmt::format("section {} starts past the record", i));
    cgs_var var;
    std::memcpy(&var, bytes.data() + off, sizeof(var));
    off += sizeof(cgs_var);
    if (var.len > size - off) return fail(fmt::format("section {} of {} bytes overruns the record", i, var.len));
    if (var.arg >= CGS_NARGS) return fail(fmt::format("section {} names argument {}", i, var.arg));
    bool of_call = var.kind == CGS_ARG_IOVDATA || var.kind == CGS_ARG_SELECT;
    VarSection& to = of_call ? v.call_section : v.vars[var.arg];
    to = VarSection{true, var.kind, var.flags, bytes.subspan(off, var.len)};
    off += (var.len + 7u) & ~size_t{7};
  }
  return v;
}

}  // namespace cgscope::trace
