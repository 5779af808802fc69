// The flow table of `cgscope trace --flows`: a sink fed the tcp_state events of
// the run (flagged UNSELECTED unless -e asked for them too), which keeps one
// record per connection (flows.h) and writes
//   text     one line per connection as it closes, then those still open
//   json     the same as one JSON object per line
//   dot      at the end, the container-to-container graph (Graphviz)
//   mermaid  the same graph as a Mermaid flowchart
#pragma once

#include <string>
#include <vector>

#include "trace/containers.h"
#include "trace/flow_graph.h"
#include "trace/flows.h"
#include "trace/netns_addrs.h"
#include "trace/output_file.h"
#include "trace/session.h"
#include "trace/sink.h"

namespace cgscope::trace {

// One connection as a text line / a JSON line (both end in '\n').
void append_flow_text(std::string& out, const Flow& f);
void append_flow_json(std::string& out, const Flow& f);

class FlowSink final : public TraceSink {
 public:
  // `registry` outlives the sink; its containers' network namespaces tell which
  // container a destination address is.
  FlowSink(OutputFile out, FlowOutput form, ContainerRegistry& registry, std::string cgroup2_mount);

  void start() override;
  void on_event(const EventView& ev, bool selected) override;
  bool wants_unselected() const override { return false; }  // --flows selects tcp_state itself
  bool flush() override;
  Result<void> finish() override;

 private:
  std::optional<Place> place_of(const IpAddress& addr);
  void write(const Flow& f);

  OutputFile out_;
  FlowOutput form_;
  ContainerRegistry& registry_;
  AddressBook book_;
  FlowTracker tracker_;
  std::vector<Flow> done_;   // scratch for on_event
  std::vector<Flow> graph_;  // dot, mermaid: every connection, drawn at the end
  std::string buf_;
  uint64_t connections_ = 0;
  bool broken_ = false;
};

}  // namespace cgscope::trace
