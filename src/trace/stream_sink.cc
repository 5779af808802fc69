#include "trace/stream_sink.h"

#include <cerrno>
#include <cstring>

namespace cgscope::trace {
namespace {
constexpr size_t kFlushBytes = 256 << 10;
}

void StreamSink::start() {
  if (form_ == Form::table) append_table_header(buf_);
}

void StreamSink::on_event(const EventView& ev, bool selected) {
  if (!selected || broken_) return;
  if (form_ == Form::json) append_json(buf_, ev);
  else append_table_row(buf_, ev);
  if (buf_.size() >= kFlushBytes) flush();
}

bool StreamSink::flush() {
  if (!broken_ && !buf_.empty() && !out_.write(buf_)) broken_ = true;
  return !broken_;
}

Result<void> StreamSink::finish() {
  flush();
  // A reader that went away (| head) is how a pipeline ends, not an error.
  if (out_.error() && out_.error() != EPIPE)
    return fail(std::string("writing events: ") + std::strerror(out_.error()), out_.error());
  return {};
}

}  // namespace cgscope::trace
