#include "trace/flow_graph.h"

#include <netinet/in.h>

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>

namespace cgscope::trace {
namespace {

constexpr size_t kCommsShown = 3;

// Calls fn(code point) for each character of `s`; a byte that starts no valid
// UTF-8 sequence, and a control character, come as '?'.
template <class Fn>
void for_each_char(std::string_view s, Fn&& fn) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; k++) {
      auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b >> 6) == 0x2;
      cp = cp << 6 | (b & 0x3f);
    }
    // A well-formed sequence that is no character (a surrogate, past Unicode, a
    // control) is one '?'; a stray byte is one '?' too.
    if (!ok || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp < 0x20 || cp == 0x7f ||
        (cp >= 0x80 && cp < 0xa0)) {
      fn(uint32_t{'?'});
      i += ok ? n : 1;
      continue;
    }
    fn(cp);
    i += n;
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | cp >> 12);
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | cp >> 18);
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::string block_of(const IpAddress& a) {
  IpAddress net = a;
  size_t keep = a.family == AF_INET ? 3 : 8;  // a /24, a /64
  std::fill(net.bytes.begin() + keep, net.bytes.end(), 0);
  return rtnl::format_ip(net) + (a.family == AF_INET ? "/24" : "/64");
}

GraphNode node_for(const FlowEnd& e) {
  GraphNode n;
  n.kind = e.place.kind;
  switch (e.place.kind) {
    case PlaceKind::container:
      n.key = "container:" + e.place.container_id;
      n.title = (e.place.runtime.empty() ? "container" : e.place.runtime) + " " + e.place.container_id.substr(0, 12);
      break;
    case PlaceKind::host:
      n.key = n.title = "host";
      break;
    case PlaceKind::outside:
      n.title = block_of(e.addr);
      n.key = "outside:" + n.title;
      break;
    case PlaceKind::unknown:
      n.key = n.title = "unknown";
      break;
  }
  return n;
}

// The index of the node `e` is in, added (or its comms extended) as needed.
size_t add_node(FlowGraph& g, const FlowEnd& e) {
  GraphNode n = node_for(e);
  auto it = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const GraphNode& x) { return x.key == n.key; });
  if (it == g.nodes.end()) it = g.nodes.insert(g.nodes.end(), std::move(n));
  if (!e.comm.empty() && std::find(it->comms.begin(), it->comms.end(), e.comm) == it->comms.end()) {
    it->comms.push_back(e.comm);
    std::sort(it->comms.begin(), it->comms.end());
  }
  return static_cast<size_t>(it - g.nodes.begin());
}

// Title, then the processes seen there (the first few).
std::vector<std::string> label_lines(const GraphNode& n) {
  std::vector<std::string> lines{n.title};
  std::string comms;
  for (size_t i = 0; i < n.comms.size() && i < kCommsShown; i++) comms += (i ? ", " : "") + n.comms[i];
  if (n.comms.size() > kCommsShown) comms += fmt::format(" +{}", n.comms.size() - kCommsShown);
  if (!comms.empty()) lines.push_back(comms);
  return lines;
}

std::string edge_text(const GraphEdge& e) {
  std::string s = e.proto == FlowProto::udp
                      ? fmt::format("{}/udp: {} flow{}", e.port, e.connections, e.connections == 1 ? "" : "s")
                      : fmt::format("{}/tcp: {} conn{}", e.port, e.connections, e.connections == 1 ? "" : "s");
  if (e.open) s += fmt::format(" ({} open)", e.open);
  return s + fmt::format(", {} sent, {} back", human_bytes(e.bytes_sent), human_bytes(e.bytes_received));
}

template <class Escape>
std::string joined(const std::vector<std::string>& lines, std::string_view sep, Escape&& esc) {
  std::string out;
  for (size_t i = 0; i < lines.size(); i++) out += (i ? std::string(sep) : "") + esc(lines[i]);
  return out;
}

}  // namespace

std::string dot_escape(std::string_view s) {
  std::string out;
  for_each_char(s, [&](uint32_t cp) {
    if (cp == '"' || cp == '\\') out += '\\';
    append_utf8(out, cp);
  });
  return out;
}

std::string mermaid_escape(std::string_view s) {
  static constexpr std::string_view kPlain = " .,:/_+=()-";
  std::string out;
  for_each_char(s, [&](uint32_t cp) {
    bool plain = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
                 (cp < 0x80 && kPlain.find(static_cast<char>(cp)) != std::string_view::npos);
    if (plain) out += static_cast<char>(cp);
    else out += fmt::format("#{};", cp);
  });
  return out;
}

std::string human_bytes(uint64_t n) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) return fmt::format("{} B", n);
  double v = static_cast<double>(n) / 1024;
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    u++;
  }
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

FlowGraph build_flow_graph(const std::vector<Flow>& flows) {
  FlowGraph g;
  std::map<std::tuple<size_t, size_t, uint16_t, FlowProto>, size_t> edge_index;
  for (const Flow& f : flows) {
    size_t from = add_node(g, f.src), to = add_node(g, f.dst);
    auto [it, added] = edge_index.try_emplace({from, to, f.dst.port, f.proto}, g.edges.size());
    if (added) g.edges.push_back(GraphEdge{from, to, f.dst.port, f.proto});
    GraphEdge& e = g.edges[it->second];
    e.connections++;
    e.open += f.open;
    e.bytes_sent += f.bytes_sent;
    e.bytes_received += f.bytes_received;
  }
  return g;
}

std::string render_dot(const FlowGraph& g) {
  std::string out =
      "digraph cgscope_flows {\n"
      "  rankdir=LR;\n"
      "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
      "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  for (size_t i = 0; i < g.nodes.size(); i++) {
    const GraphNode& n = g.nodes[i];
    const char* shape = n.kind == PlaceKind::host ? ", shape=box3d" : n.kind == PlaceKind::outside ? ", shape=ellipse" : "";
    out += fmt::format("  n{} [label=\"{}\"{}];\n", i, joined(label_lines(n), "\\n", dot_escape), shape);
  }
  for (const GraphEdge& e : g.edges)
    out += fmt::format("  n{} -> n{} [label=\"{}\"];\n", e.from, e.to, dot_escape(edge_text(e)));
  return out + "}\n";
}

std::string render_mermaid(const FlowGraph& g) {
  std::string out = "flowchart LR\n";
  for (size_t i = 0; i < g.nodes.size(); i++) {
    const GraphNode& n = g.nodes[i];
    // Shapes: a container a box, the host a subroutine box, outside a stadium.
    const char* open = n.kind == PlaceKind::host ? "[[" : n.kind == PlaceKind::outside ? "([" : "[";
    const char* close = n.kind == PlaceKind::host ? "]]" : n.kind == PlaceKind::outside ? "])" : "]";
    out += fmt::format("  n{}{}\"{}\"{}\n", i, open, joined(label_lines(n), "<br/>", mermaid_escape), close);
  }
  for (const GraphEdge& e : g.edges)
    out += fmt::format("  n{} -->|\"{}\"| n{}\n", e.from, mermaid_escape(edge_text(e)), e.to);
  return out;
}

}  // namespace cgscope::trace
