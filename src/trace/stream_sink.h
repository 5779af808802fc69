// The event stream: one JSON line or one table row per selected event, buffered
// and written in large pieces (the hot path allocates nothing once the buffer has
// grown).
#pragma once

#include <string>

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

 private:
  OutputFile out_;
  Form form_;
  std::string buf_;
  bool broken_ = false;
};

}  // namespace cgscope::trace
