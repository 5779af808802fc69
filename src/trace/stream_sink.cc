#include "trace/stream_sink.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace cgscope::trace {
namespace {
constexpr size_t kFlushBytes = 256 << 10;
}

size_t terminal_columns(int fd) {
  struct winsize ws {};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  // A terminal that does not say (a serial console): the shell's idea, else 80.
  if (const char* c = std::getenv("COLUMNS")) {
    size_t n = 0;
    auto [end, ec] = std::from_chars(c, c + std::strlen(c), n);
    if (ec == std::errc() && *end == '\0' && n > 0) return n;
  }
  return 80;
}

void StreamSink::start() {
  if (form_ == Form::table && out_.is_terminal()) width_ = terminal_columns(out_.fd());
  if (form_ == Form::table) append_table_header(buf_, width_);
  header_bytes_ = buf_.size();
}

void StreamSink::on_event(const EventView& ev, bool selected) {
  if (!selected) return;
  given_++;
  if (broken_) return;
  if (form_ == Form::json) json_.append(buf_, ev);
  else table_.append(buf_, ev, width_);
  buffered_++;
  if (buf_.size() >= kFlushBytes) flush();
}

bool StreamSink::flush() {
  if (broken_ || buf_.empty()) return !broken_;
  size_t written = 0;
  if (out_.write(std::string_view(buf_), written)) {
    written_ += buffered_;
  } else {
    broken_ = true;
    // Only a failed write's lines need counting: each event is one line (its
    // text escapes newlines), so the whole lines out are the newlines out.
    if (written > header_bytes_)
      written_ += std::count(buf_.begin() + ptrdiff_t(header_bytes_), buf_.begin() + ptrdiff_t(written), '\n');
  }
  buf_.clear();
  header_bytes_ = 0;
  buffered_ = 0;
  // The terminal may have been resized (one ioctl a flush, not an event).
  if (width_) width_ = terminal_columns(out_.fd());
  return !broken_;
}

void StreamSink::append_text(std::string_view text) {
  if (!flush()) return;
  size_t written = 0;
  if (!out_.write(text, written)) broken_ = true;
}

Result<void> StreamSink::finish() {
  flush();
  // A reader that went away (| head) is how a pipeline ends, not an error.
  if (out_.error() && out_.error() != EPIPE)
    return fail(std::string("writing events: ") + std::strerror(out_.error()), out_.error());
  return {};
}

}  // namespace cgscope::trace
