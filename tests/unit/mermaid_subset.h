// A checker of the Mermaid flowchart subset that render_mermaid() writes
// (src/trace/flow_graph.h), for the unit and the integration tests: the
// renderer's grammar, stated once, independently of its code.
//
//   chart  := "flowchart LR" NL { node NL } { edge NL }
//   node   := "  " id ( "[" label "]" | "[[" label "]]" | "([" label "])" )
//   edge   := "  " id " -->|" label "| " id        (both ids defined above)
//   id     := "n" digit { digit }
//   label  := '"' { plain | "#" digit { digit } ";" | "<br/>" } '"'
//   plain  := one of A-Z a-z 0-9 and " .,:/_+=()-"
#pragma once

#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace cgscope::testing {

// "" when `text` is in the subset, else what is wrong and on which line.
inline std::string mermaid_subset_error(const std::string& text) {
  static const std::string label = R"re("(?:[A-Za-z0-9 .,:/_+=()\-]|#[0-9]+;|<br/>)*")re";
  static const std::regex node("  (n[0-9]+)(?:\\[" + label + "\\]|\\[\\[" + label + "\\]\\]|\\(\\[" + label +
                               "\\]\\))");
  static const std::regex edge("  (n[0-9]+) -->\\|" + label + "\\| (n[0-9]+)");
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != "flowchart LR") return "line 1 is not \"flowchart LR\": " + line;
  std::set<std::string> ids;
  bool in_edges = false;
  for (int n = 2; std::getline(in, line); n++) {
    std::smatch m;
    if (!in_edges && std::regex_match(line, m, node)) {
      if (!ids.insert(m[1]).second) return "line " + std::to_string(n) + ": node " + m[1].str() + " defined twice";
      continue;
    }
    if (!std::regex_match(line, m, edge)) return "line " + std::to_string(n) + " is not in the subset: " + line;
    in_edges = true;
    if (!ids.count(m[1]) || !ids.count(m[2])) return "line " + std::to_string(n) + ": edge to an undefined node";
  }
  return "";
}

}  // namespace cgscope::testing
