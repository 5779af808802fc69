// The event stream: one JSON line or one table row per selected event, buffered
// and written in large pieces (the hot path allocates nothing once the buffer has
// grown). It counts the events that reached its output, so that the summary says
// what a reader got, not what was made (| head closes the pipe mid-buffer).
// A table on a terminal fits its width (rows cut in their ARGS); in a file or a
// pipe every row is whole.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "trace/stream_writers.h"
#include "trace/output_file.h"
#include "trace/sink.h"

namespace cgscope::trace {

class StreamSink final : public TraceSink {
 public:
  enum class Form { json, table };
  StreamSink(OutputFile out, Form form) : out_(std::move(out)), form_(form) {}

  void start() override;
  void on_event(const EventView& ev, bool selected) override;
  bool flush() override;
  Result<void> finish() override;
  uint64_t unwritten() const override { return given_ - written_; }
  bool output_closed() const override { return out_.error() == EPIPE; }
  // Text that is not an event (the --summary table).
  // Written after what is buffered, and not counted as events.
  void append_text(std::string_view text);

 private:
  OutputFile out_;
  Form form_;
  JsonWriter json_;
  TableWriter table_;
  std::string buf_;
  size_t header_bytes_ = 0;  // at the front of buf_: the table's header, not an event
  uint64_t given_ = 0;       // selected events handed to this sink
  uint64_t written_ = 0;     // ... of which the whole line reached the output
  uint64_t buffered_ = 0;    // ... of which the line is in buf_
  bool broken_ = false;
  size_t width_ = 0;         // table on a terminal: its columns; else 0 (rows whole)
};

// The columns of the terminal `fd` (TIOCGWINSZ), else of $COLUMNS, else 80.
size_t terminal_columns(int fd);

}  // namespace cgscope::trace
