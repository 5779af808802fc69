// The flow table of `cgscope trace --flows`: a sink fed the tcp_state,
// udp_peer and udp_close events of the run, which keeps one record per TCP
// connection and UDP pair (flows.h), reads the UDP counters from the kernel's
// map (set_udp_pairs), and writes
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
  bool wants_unselected() const override { return false; }  // --flows selects its events itself
  // The kernel's udp_pairs map (Tracer::udp_pairs_fd), once the programs are
  // loaded; -1: UDP is not traced. The fd stays the tracer's.
  void set_udp_pairs(int fd) { udp_pairs_fd_ = fd; }
  bool flush() override;
  Result<void> finish() override;

 private:
  std::optional<Place> place_of(const IpAddress& addr);
  std::optional<ServerProcess> server_of(const IpAddress& addr, uint16_t port, FlowProto proto);
  std::optional<UdpCounts> udp_counts(uint64_t cookie, const IpAddress& remote, uint16_t port, bool take);
  void write(const Flow& f);

  OutputFile out_;
  FlowOutput form_;
  ContainerRegistry& registry_;
  AddressBook book_;
  FlowTracker tracker_;
  std::vector<Flow> done_;   // scratch for on_event
  std::vector<Flow> graph_;  // dot, mermaid: every connection, drawn at the end
  std::string buf_;
  uint64_t connections_ = 0, udp_flows_ = 0;
  bool broken_ = false;
  int udp_pairs_fd_ = -1;
  uint64_t mono_to_wall_ = 0;
  uint64_t next_idle_check_ = 0;  // wall clock
};

}  // namespace cgscope::trace
