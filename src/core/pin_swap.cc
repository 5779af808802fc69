#include "core/pin_swap.h"

#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "core/unique_fd.h"

namespace cgscope {
namespace {

std::string pin_of(const std::string& dir, bpf_map* m) { return dir + "/" + bpf_map__name(m); }

// Whether the map pinned where `m` would be was made with another definition;
// false when there is no pin.
Result<bool> redefined(const std::string& pin, bpf_map* m) {
  UniqueFd fd(bpf_obj_get(pin.c_str()));
  if (!fd) return errno == ENOENT ? Result<bool>(false) : Result<bool>(fail_errno(fmt::format("opening {}", pin), errno));
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return fail_errno(fmt::format("reading {}", pin), errno);
  return !(info.type == static_cast<uint32_t>(bpf_map__type(m)) && info.key_size == bpf_map__key_size(m) &&
           info.value_size == bpf_map__value_size(m) && info.max_entries == bpf_map__max_entries(m) &&
           info.map_flags == bpf_map__map_flags(m));
}

// A NAME_old left by an apply that was killed between moving the pin aside and
// committing: with no NAME, the old map is the state and goes back; with a NAME
// (the new load had pinned), the leftover is stale and goes.
Result<void> recover_leftover(const std::string& pin) {
  const std::string old = pin + "_old";
  if (::access(old.c_str(), F_OK) != 0) return {};
  if (::access(pin.c_str(), F_OK) != 0) {
    if (::rename(old.c_str(), pin.c_str()) != 0)
      return fail_errno(fmt::format("putting back {} (left by an apply that did not finish)", pin), errno);
  } else if (::unlink(old.c_str()) != 0) {
    return fail_errno(fmt::format("removing {} (left by an apply that did not finish)", old), errno);
  }
  return {};
}

}  // namespace

Result<PinSwap> PinSwap::prepare(const std::string& dir, std::span<bpf_map* const> soft,
                                 std::span<bpf_map* const> hard, const std::string& reset_command) {
  for (bpf_map* m : soft)
    if (auto r = recover_leftover(pin_of(dir, m)); !r) return fail_with(r.error());
  for (bpf_map* m : hard) {
    auto r = redefined(pin_of(dir, m), m);
    if (!r) return fail_with(r.error());
    if (*r)
      return fail(fmt::format("{} was made by an incompatible version of cgscope (another key, value or size); "
                              "`{}` removes the state, then apply again",
                              pin_of(dir, m), reset_command),
                  EINVAL);
  }
  PinSwap swap(dir);
  for (bpf_map* m : soft) {
    const std::string pin = pin_of(dir, m);
    auto r = redefined(pin, m);
    if (!r) return fail_with(r.error());  // swap's destructor puts back what moved
    if (!*r) continue;
    if (::rename(pin.c_str(), (pin + "_old").c_str()) != 0) return fail_errno(fmt::format("moving {} aside", pin), errno);
    swap.moved_.push_back(bpf_map__name(m));
  }
  return swap;
}

void PinSwap::commit() {
  for (const std::string& name : moved_) ::unlink((dir_ + "/" + name + "_old").c_str());
  moved_.clear();
}

PinSwap::~PinSwap() {
  // Not committed: whatever load pinned in the old ones' place goes, and they come back.
  // A rename that fails here (the pin dir gone, read-only) cannot be returned:
  // said, with what the next apply does about it (recover_leftover).
  for (const std::string& name : moved_) {
    const std::string pin = dir_ + "/" + name;
    ::unlink(pin.c_str());
    if (::rename((pin + "_old").c_str(), pin.c_str()) != 0 && errno != ENOENT)
      fmt::print(stderr, "cgscope: warning: could not put {}_old back as {}: {}; the next apply does\n", pin, pin,
                 std::strerror(errno));
  }
}

}  // namespace cgscope
