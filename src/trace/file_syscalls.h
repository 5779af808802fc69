// What cgscope knows about the syscalls that touch files, per syscall number,
// decided once from the event table and the argument classifier: which fd
// arguments the kernel resolves to a file, which path arguments are relative to
// a dirfd or the cwd, which calls make, copy or close fds, which move paths, and
// which move bytes to or from a file. The schema takes the kernel's capture kinds
// from here (bpf/lib/trace_fd.bpf.h), the fd table and the file events the rest.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "cgscope/abi/trace.h"

namespace cgscope::trace {

// The extra fields one file section or path argument adds to an event.
struct FieldNames {
  std::string value;    // "path", "out_fd_path", "abs_path", "abs_newname"
  std::string unknown;  // the same + "_unknown": why the value is null
  std::string deleted;  // the same + "_deleted": 1 when the file was unlinked
};

// A path argument whose absolute form is shown, and where its base is.
struct PathArg {
  uint8_t arg = 0;   // the string argument
  uint8_t base = 0;  // the index of the DIRPATH/CWDPATH section that holds its base
  FieldNames names;
};

// What a call does to the fd table (fd_table.h), beyond the files it names.
enum class FdOp : uint8_t {
  none,
  open,         // an open: the new fd (ret) refers to the path it was given
  make,         // a new fd (ret, or the pair of pipe/socketpair) the kernel resolved
  dup,          // ret is a copy of fd argument 0
  dup2,         // argument 1 is a copy of argument 0
  fcntl,        // F_DUPFD*, F_SETFD
  close,        // argument 0 is closed
  close_range,  // arguments 0..1 are closed (or made close-on-exec)
  unshare,      // CLONE_FILES: the task gets a table of its own
};

struct FileCall {
  std::array<uint8_t, CGS_NARGS> kinds{};  // kernel kind byte per section index, 0 = none
  std::array<FieldNames, CGS_NARGS> fd_names;  // for the FDPATH sections: "path" when
                                               // the call has one, else "<arg>_path"
  std::array<PathArg, 3> paths{};          // path arguments with an absolute form ("abs_path"
                                           // when the call has one, else "abs_<arg>")
  uint8_t npaths = 0;
  uint8_t nfds = 0;            // fd arguments with a path section
  FdOp op = FdOp::none;
  int8_t cloexec_arg = -1;      // the flags argument that can carry close-on-exec
  uint32_t cloexec_bit = 0;     // its close-on-exec bit (0: the new fd never has it)
  bool always_cloexec = false;  // the new fd always has it (pidfd_open...)
  bool cloexec_unknown = false; // the flag is where cgscope does not read (openat2's how)
  int8_t written_fd = -1;      // the fd argument whose file gets ret bytes written
  int8_t read_fd = -1;         // the fd argument whose file gets ret bytes read
  bool moves_paths = false;    // rename, mount...: bumps the path generation
  bool chdir = false;          // its path becomes the cwd (abs_path is the new cwd)
};

// The entry for syscall `nr`; an empty one for calls that touch no file.
const FileCall& file_call(uint32_t nr);

// The syscalls the fd table needs to see (opens, dups, closes, fd makers), and
// those that move bytes (file_write, file_read).
bool fd_table_syscall(uint32_t nr);
bool writes_files(uint32_t nr);
bool reads_files(uint32_t nr);

}  // namespace cgscope::trace
