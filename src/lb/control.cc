// `cgscope lb status` and `lb reset` (apply is in apply.cc). Both take the pin
// dir's lock: status shared (it never reads a change halfway), reset exclusive.
#include "lb/control.h"

#include <fmt/format.h>

#include "lb/maps.h"
#include "lb/status.h"

namespace cgscope::lb {

namespace {

// The lock, or nullopt when there is no pin dir (nothing applied); errors go to `err`.
std::optional<Result<PinDirLock>> lock_existing(const std::string& dir, PinDirLock::Mode mode,
                                                std::chrono::milliseconds timeout, const char* cmd,
                                                std::ostream& err) {
  auto lock = PinDirLock::acquire(
      dir, {mode, false, timeout, [&err, cmd](const std::string& line) { err << cmd << ": " << line << "\n"; }});
  if (!lock && lock.error().code == ENOENT) return std::nullopt;
  return lock;
}

}  // namespace

int run_status(const std::string& pin_dir, bool json, std::ostream& out, std::ostream& err,
               std::chrono::milliseconds lock_timeout) {
  const std::string dir = pin_dir_or_default(pin_dir);
  auto nothing = [&] {
    if (json) out << "{\"applied\": false}\n";
    else out << "lb: nothing applied (no state under " << dir << ")\n";
    return 0;
  };
  auto lock = lock_existing(dir, PinDirLock::Mode::shared, lock_timeout, "cgscope lb status", err);
  if (!lock) return nothing();
  if (!*lock) {
    err << "cgscope lb status: " << lock->error().message << "\n";
    return 1;
  }
  auto s = read_status(dir);
  if (!s) {
    if (s.error().code == ENOENT) return nothing();
    err << "cgscope lb status: " << s.error().message << "\n";
    return 1;
  }
  if (json) {
    auto j = status_json(*s);
    j["applied"] = true;
    out << j.dump(2) << "\n";
  } else {
    out << status_text(*s);
  }
  return 0;
}

int run_reset(const std::string& pin_dir, std::ostream& out, std::ostream& err, std::chrono::milliseconds lock_timeout) {
  const std::string dir = pin_dir_or_default(pin_dir);
  auto lock = lock_existing(dir, PinDirLock::Mode::exclusive, lock_timeout, "cgscope lb reset", err);
  if (!lock) {
    out << "lb: nothing to reset under " << dir << "\n";
    return 0;
  }
  if (!*lock) {
    err << "cgscope lb reset: " << lock->error().message << "\n";
    return 1;
  }
  auto r = remove_pins(dir);  // removes `dir` too: a waiting apply sees that and starts over
  if (!r) {
    err << "cgscope lb reset: " << r.error().message << "\n";
    return 1;
  }
  if (r->empty()) out << "lb: nothing to reset under " << dir << "\n";
  else out << fmt::format("lb: detached the hooks and removed {} pins from {}\n", r->size(), dir);
  return 0;
}

}  // namespace cgscope::lb
