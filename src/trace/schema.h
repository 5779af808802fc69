// The decoded shape of every event, built once from the event table (names, the
// kernel's argument types) and the argument classifier (how to capture and show
// each one). The kernel's per-syscall capture kinds come from here too, so the
// two sides cannot disagree.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cgscope/abi/trace.h"
#include "trace/arg_spec.h"
#include "trace/event_table.h"

namespace cgscope::trace {

struct ArgDesc {
  std::string_view name;
  ArgFormat format = ArgFormat::hex;
  uint8_t kind_byte = CGS_ARG_RAW;
  uint8_t ctx_arg = CGS_NARGS;  // the argument the format is read by (context_arg_name), or none
  uint16_t struct_size = 0;     // CGS_ARG_STRUCT/ARRAY: bytes of the struct (an element)
};

struct EventDesc {
  uint32_t nr = 0;
  std::string_view name;
  uint8_t nargs = 0;
  std::array<ArgDesc, CGS_NARGS> args{};
  RetFormat ret = RetFormat::dec;
  uint8_t ret_ctx_arg = CGS_NARGS;  // RetFormat::fcntl: the index of "cmd"
  Abi abi = Abi::x86_64;             // ia32: nr is CGS_IA32_NR_BASE + the i386 number
};

class Schema {
 public:
  static const Schema& get();
  // nullptr for numbers the table does not know (a newer kernel's syscall).
  const EventDesc* find(uint32_t nr) const;
  // The kernel's capture kind bytes for one syscall (all RAW for unknown ones).
  std::array<uint8_t, CGS_NARGS> kernel_kinds(uint32_t nr) const;
  // The struct sizes of one syscall's CGS_ARG_STRUCT/ARRAY arguments (0 elsewhere).
  std::array<uint16_t, CGS_NARGS> kernel_struct_sizes(uint32_t nr) const;
  // Where the kernel finds the iovecs whose contents --capture-buffers keeps
  // (iov_data_arg, cgscope/abi/trace.h): 0 for a call without them.
  uint8_t kernel_iov_data_arg(uint32_t nr) const;

 private:
  Schema();
  std::vector<EventDesc> syscalls_;  // indexed by nr, CGS_MAX_SYSCALLS entries
  std::vector<EventDesc> pseudo_;    // CGS_EV_* - CGS_EV_PROCESS_FORK
  std::vector<EventDesc> ia32_;      // by i386 number; empty name: none
  std::vector<bool> known_;
};

}  // namespace cgscope::trace
