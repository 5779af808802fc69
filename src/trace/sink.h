// What a run of `cgscope trace` produces: each output is a sink. The event stream
// (JSON lines or a table) is one; outputs that gather over the run and write once
// at the end (a flow table, a graph, a seccomp profile) are others, and one run
// can combine them. Session feeds every sink each event in scope, in order, then
// calls finish() once.
#pragma once

#include <cstdint>

#include "core/result.h"
#include "trace/format.h"

namespace cgscope::trace {

class TraceSink {
 public:
  virtual ~TraceSink() = default;

  // Called before the first event (a table's header, say).
  virtual void start() {}
  // One event in scope. `selected`: -e asked for it. Only a sink whose
  // wants_unselected() is true is given the others (a seccomp profile needs every
  // syscall, whatever the stream shows).
  virtual void on_event(const EventView& ev, bool selected) = 0;
  virtual bool wants_unselected() const { return false; }
  // Between batches of events: write what is buffered. false once the sink
  // cannot take more (its reader went away, the disk is full): the run stops.
  virtual bool flush() { return true; }
  // After the last event: write what was gathered.
  virtual Result<void> finish() { return {}; }
  // Selected events this sink was given but could not write (its output closed
  // or failed): the summary counts what a reader got, not what was made.
  virtual uint64_t unwritten() const { return 0; }
  // Its reader went away (EPIPE): how a pipeline like `| head` ends a trace.
  virtual bool output_closed() const { return false; }
};

}  // namespace cgscope::trace
