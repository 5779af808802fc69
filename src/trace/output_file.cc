#include "trace/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace cgscope::trace {

Result<OutputFile> OutputFile::open(const std::string& path) {
  OutputFile f;
  if (path.empty()) return f;
  f.file_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!f.file_) return fail_errno("opening output file " + path, errno);
  f.fd_ = f.file_.get();
  return f;
}

bool OutputFile::write(std::string& buf) {
  size_t written = 0;
  bool ok = write(std::string_view(buf), written);
  buf.clear();
  return ok;
}

bool OutputFile::write(std::string_view data, size_t& written) {
  written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd_, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = errno;
      return false;
    }
    written += size_t(n);
  }
  return true;
}

bool OutputFile::is_terminal() const { return isatty(fd_); }

}  // namespace cgscope::trace
