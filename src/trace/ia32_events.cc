#include "trace/ia32_events.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace cgscope::trace {
namespace {

#define CGS_SYSCALL_IA32(nr, name, spec, sets, nargs, known, ...)                                            \
  EventInfo{CGS_IA32_NR_BASE + nr, name, sets, nargs, known, std::array<EventArg, 6>{__VA_ARGS__}, true, \
            Abi::ia32, spec},

constexpr EventInfo kIa32[] = {
#include "data/syscalls_ia32.inc"
};

#undef CGS_SYSCALL_IA32

constexpr size_t kCount = std::size(kIa32);

consteval bool table_is_consistent() {
  for (size_t i = 0; i < kCount; ++i) {
    const EventInfo& e = kIa32[i];
    if (!is_ia32_nr(e.nr) || (i > 0 && kIa32[i - 1].nr >= e.nr)) return false;
    if (e.nargs > e.args.size() || e.name.empty()) return false;
    for (size_t a = 0; a < e.args.size(); ++a)
      if ((a < e.nargs) == e.args[a].name.empty()) return false;
    if (e.sets >> kEventSetCount) return false;
  }
  return true;
}
static_assert(table_is_consistent(), "data/syscalls_ia32.inc is malformed");

constexpr auto kByNr = [] {
  std::array<int16_t, CGS_IA32_MAX_SYSCALLS> idx{};
  idx.fill(-1);
  for (size_t i = 0; i < kCount; ++i) idx[kIa32[i].nr - CGS_IA32_NR_BASE] = static_cast<int16_t>(i);
  return idx;
}();

constexpr auto kByName = [] {
  std::array<uint16_t, kCount> idx{};
  for (size_t i = 0; i < kCount; ++i) idx[i] = static_cast<uint16_t>(i);
  std::sort(idx.begin(), idx.end(), [](uint16_t a, uint16_t b) { return kIa32[a].name < kIa32[b].name; });
  return idx;
}();

}  // namespace

const EventInfo* find_ia32_event(uint32_t i386_nr) {
  if (i386_nr >= CGS_IA32_MAX_SYSCALLS) return nullptr;
  int16_t i = kByNr[i386_nr];
  return i < 0 ? nullptr : &kIa32[i];
}

const EventInfo* find_ia32_event(std::string_view name) {
  auto it = std::lower_bound(kByName.begin(), kByName.end(), name,
                             [](uint16_t i, std::string_view n) { return kIa32[i].name < n; });
  if (it == kByName.end() || kIa32[*it].name != name) return nullptr;
  return &kIa32[*it];
}

std::span<const EventInfo> ia32_events() { return kIa32; }

std::string_view abi_name(Abi abi) { return abi == Abi::ia32 ? "ia32" : "x86_64"; }

uint64_t ia32_arg_value(ArgFormat format, uint64_t raw) {
  switch (format) {
    case ArgFormat::signed_dec:
    case ArgFormat::fd:
    case ArgFormat::dirfd:
      return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(raw))));
    default:
      return raw;
  }
}

std::string qualified_name(const EventInfo& e) {
  if (e.abi != Abi::ia32) return std::string(e.name);
  return "ia32:" + std::string(e.name);
}

}  // namespace cgscope::trace
