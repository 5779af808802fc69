// `cgscope trace --seccomp-profile FILE`: gathers the syscalls of everything in
// scope, whatever -e shows, and writes at the end a profile that allows exactly
// those (trace/seccomp_profile.h), atomically: a reader never sees half a file,
// and a run that fails leaves an existing FILE as it was.
#pragma once

#include <array>
#include <bitset>
#include <memory>
#include <string>

#include "cgscope/abi/trace.h"
#include "trace/sink.h"

namespace cgscope::trace {

class SeccompSink final : public TraceSink {
 public:
  // Fails at once, before anything is traced, where FILE could not be written
  // at the end (no such directory, not writable, a directory itself).
  static Result<std::unique_ptr<SeccompSink>> open(const std::string& path);

  void on_event(const EventView& ev, bool selected) override;
  // A profile must allow every call, not only those the stream shows.
  bool wants_unselected() const override { return true; }
  Result<void> finish() override;

 private:
  // The architectures a call can be seen on; one bit per syscall number each.
  // kX86: ia32 calls (int 0x80, 32-bit programs), by i386 number.
  enum Arch { kX86_64, kX86, kArchCount };
  explicit SeccompSink(std::string path) : path_(std::move(path)) {}
  static Arch arch_of(const EventView& ev);

  std::string path_;
  std::array<std::bitset<CGS_MAX_SYSCALLS>, kArchCount> seen_{};
};

}  // namespace cgscope::trace
