// Where a sink's bytes go: standard output, or a file it opens and owns. Whole
// buffers, short writes retried.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "core/unique_fd.h"

namespace cgscope::trace {

class OutputFile {
 public:
  // "" is standard output; otherwise the file is created or truncated.
  static Result<OutputFile> open(const std::string& path);
  // Writes and clears `buf`; false once the reader is gone (EPIPE) or the disk is
  // full, with error() saying which.
  bool write(std::string& buf);
  // The same without the clearing; *written: how many bytes of `data` made it out.
  bool write(std::string_view data, size_t& written);
  int error() const { return error_; }
  bool is_terminal() const;
  int fd() const { return fd_; }

 private:
  UniqueFd file_;
  int fd_ = 1;
  int error_ = 0;
};

}  // namespace cgscope::trace
