// file_write and file_read: a process's writes to (reads of) one file, summed
// into one event when the process has no fd left on the file or ends. These
// events have no kernel record of their own: FileActivity makes a cgs_record for
// each (the task of the last call, the time it was closed, bytes and calls in
// args[0..1]), so that they flow through the same EventView and writers as every
// other event, their path and how they ended as extra fields.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cgscope/abi/trace.h"
#include "trace/arg_value.h"

namespace cgscope::trace {

struct FileEvent {
  cgs_record hdr{};           // nr CGS_EV_FILE_WRITE/READ; args[0] bytes, args[1] calls
  std::string path;
  bool deleted = false;       // unlinked when last written (read)
  std::string_view closed_by; // "close", "exec", "exit", "trace_end"

  // The extra fields (path, path_deleted, closed_by), views into this event.
  std::span<const NamedValue> fields(std::vector<NamedValue>& out) const;
};

// Which file: its file system's device and its inode (a name would split a
// file renamed while open in two).
struct FileId {
  uint32_t dev = 0;
  uint64_t ino = 0;
  auto operator<=>(const FileId&) const = default;
};

class FileActivity {
 public:
  FileActivity(bool writes, bool reads) : writes_(writes), reads_(reads) {}
  bool on() const { return writes_ || reads_; }

  // A call moved `bytes` to (write) or from the regular file `id`, now at `path`.
  void on_transfer(const cgs_record& h, bool write, FileId id, std::string_view path, bool deleted, uint64_t bytes);
  // Calls the kernel counted without a record each (file_sums.h): added to the
  // file's sum, whose name and last header came with the call that began it.
  void on_counted(uint32_t pid, bool write, FileId id, uint64_t bytes, uint64_t calls);
  // Process `pid` has no fd left on file (dev, ino) (closed, or closed by exec) at `ts_ns`.
  void on_closed(uint32_t pid, uint32_t dev, uint64_t ino, uint64_t ts_ns, std::string_view why);
  // Process `pid` ended.
  void on_exit(uint32_t pid, uint64_t ts_ns);
  // The trace ended: every file still open.
  void finish(uint64_t ts_ns);

  std::vector<FileEvent>& ready() { return ready_; }

 private:
  struct Sum {
    cgs_record last{};  // the last call's header
    uint64_t bytes = 0, calls = 0;
    bool deleted = false;
    std::string path;  // the name at the last call
  };
  using Key = std::pair<FileId, bool>;  // file, write
  void emit(const Key& key, const Sum& sum, uint64_t ts_ns, std::string_view why);

  bool writes_, reads_;
  std::unordered_map<uint32_t, std::map<Key, Sum>> open_;  // by pid
  std::vector<FileEvent> ready_;
};

}  // namespace cgscope::trace
