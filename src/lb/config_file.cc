#include "lb/config_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "core/unique_fd.h"

namespace cgscope::lb {

namespace {

std::string replace_hint(const std::string& path) {
  return fmt::format("replace files atomically: write a new file, then rename(2) it over {}", path);
}

// A read lease held while the file is read: no writer has it open when it is
// taken, and none can open it until it is let go.
class ReadLease {
 public:
  enum class Outcome { held, writer, unsupported };
  explicit ReadLease(int fd) : fd_(fd) {}
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;
  ~ReadLease() {
    if (held_) ::fcntl(fd_, F_SETLEASE, F_UNLCK);
  }
  Outcome take() {
    // A writer that opens the file while the lease is held makes the kernel
    // signal the holder: SIGURG, whose default is to be ignored, rather than
    // SIGIO, whose default ends the process.
    if (::fcntl(fd_, F_SETSIG, SIGURG) != 0) return Outcome::unsupported;
    if (::fcntl(fd_, F_SETLEASE, F_RDLCK) == 0) {
      held_ = true;
      return Outcome::held;
    }
    return errno == EAGAIN ? Outcome::writer : Outcome::unsupported;
  }
  bool held() const { return held_; }

 private:
  int fd_;
  bool held_ = false;
};

bool same_file_state(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
         a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

Result<std::string> read_bounded(int fd, const std::string& path, uint64_t max_bytes, uint64_t size_hint) {
  std::string text;
  text.reserve(std::min(size_hint, max_bytes) + 1);  // one allocation for a regular file
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(fmt::format("reading {}", path), errno);
    if (n == 0) return text;
    if (text.size() + static_cast<size_t>(n) > max_bytes)
      return fail(fmt::format("{} is larger than {} bytes, the most lb apply reads (--max-file-size raises it)", path,
                              max_bytes),
                  EFBIG);
    text.append(buf.data(), static_cast<size_t>(n));
  }
}

Result<void> wait_for_no_writer(ReadLease& lease, const std::string& path, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    ReadLease::Outcome o = lease.take();
    if (o != ReadLease::Outcome::writer) return {};
    if (std::chrono::steady_clock::now() >= deadline)
      return fail(fmt::format("{} is open for writing by another process, so it may be half-written; {}", path,
                              replace_hint(path)),
                  ETXTBSY);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

Result<std::string> read_config_file(const std::string& path, const ConfigFileOptions& o) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return fail_errno(fmt::format("opening {}", path), errno);
  struct stat before {};
  if (::fstat(fd.get(), &before) != 0) return fail_errno(fmt::format("reading {}", path), errno);
  if (S_ISDIR(before.st_mode)) return fail(fmt::format("{} is a directory; lb apply takes a YAML file", path), EISDIR);
  const bool regular = S_ISREG(before.st_mode);
  if (regular && static_cast<uint64_t>(before.st_size) > o.max_bytes)
    return fail(fmt::format("{} is {} bytes, more than the {} lb apply reads (--max-file-size raises it)", path,
                            before.st_size, o.max_bytes),
                EFBIG);
  ReadLease lease(fd.get());
  if (regular) {
    if (auto r = wait_for_no_writer(lease, path, o.writer_wait); !r) return fail_with(r.error());
    if (::fstat(fd.get(), &before) != 0) return fail_errno(fmt::format("reading {}", path), errno);
  }
  auto text = read_bounded(fd.get(), path, o.max_bytes, regular ? before.st_size : 0);
  if (!text) return text;
  struct stat after {};
  if (regular && !lease.held() && (::fstat(fd.get(), &after) != 0 || !same_file_state(before, after)))
    return fail(fmt::format("{} changed while it was read (rewritten in place?); {}", path, replace_hint(path)),
                EAGAIN);
  if (!text->empty() && text->back() != '\n') {
    int line = 1 + static_cast<int>(std::count(text->begin(), text->end(), '\n'));
    return fail(fmt::format("{}:{}: the file does not end with a newline, so it may have been cut short while "
                            "it was written; end it with one, and {}",
                            path, line, replace_hint(path)),
                EINVAL);
  }
  return text;
}

Result<Config> load_config(const std::string& path, const ConfigFileOptions& o) {
  auto text = read_config_file(path, o);
  if (!text) return fail_with(text.error());
  return parse_config(*text, path);
}

}  // namespace cgscope::lb
