// The container-to-container graph of a run's connections, for `--flows -o dot`
// (Graphviz) and `-o mermaid`. Pure: flows in, text out.
//
// One node per container, one for the host, one per outside address block (an
// IPv4 /24, an IPv6 /64) and one for ends whose address was never known; one edge
// per (source node, destination node, destination port, protocol), labelled with
// its connection (UDP: flow) count and the bytes each way. Names come from the traced system
// (a comm can be any bytes): every label is escaped for its language, and node
// ids are generated (n0, n1...), never taken from names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "trace/flows.h"

namespace cgscope::trace {

struct GraphNode {
  std::string key;    // "container:<id>", "host", "outside:<block>", "unknown"
  PlaceKind kind = PlaceKind::unknown;
  std::string title;  // "docker a1b2c3d4e5f6", "host", "198.51.100.0/24"
  std::vector<std::string> comms;  // processes seen there, sorted, each once
};

struct GraphEdge {
  size_t from = 0, to = 0;  // indexes into FlowGraph::nodes
  uint16_t port = 0;
  FlowProto proto = FlowProto::tcp;
  uint64_t connections = 0, open = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;  // from -> to, to -> from
};

struct FlowGraph {
  std::vector<GraphNode> nodes;  // in order of first appearance
  std::vector<GraphEdge> edges;  // likewise
};

FlowGraph build_flow_graph(const std::vector<Flow>& flows);

std::string render_dot(const FlowGraph& g);
std::string render_mermaid(const FlowGraph& g);

// A label's text as each language needs it inside double quotes. Bytes that are
// not valid UTF-8 become '?', control characters '?'.
std::string dot_escape(std::string_view s);      // \" \\ escaped
std::string mermaid_escape(std::string_view s);  // all but [A-Za-z0-9 .,:/_+=()-] as #<code point>;

// "512 B", "1.5 KiB", "3.2 MiB".
std::string human_bytes(uint64_t n);

}  // namespace cgscope::trace
