// libFuzzer target: parse_yaml reads files from users (the lb config). Any input
// must give a tree or a "line N: ..." error, never a crash, a hang, a leak or a
// deep recursion; the tree must hold together when walked.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/yaml_doc.h"

using cgscope::YamlEntry;
using cgscope::YamlNode;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = cgscope::parse_yaml(text);
  if (!doc) {
    if (doc.error().message.rfind("line ", 0) != 0) __builtin_trap();
    return 0;
  }
  // Aliases share nodes, so the walk is a DAG's: a budget keeps it linear.
  std::vector<const YamlNode*> todo{&doc->root()};
  for (int budget = 100000; !todo.empty() && budget > 0; budget--) {
    const YamlNode* n = todo.back();
    todo.pop_back();
    if (n->line() < 1 || static_cast<size_t>(n->line()) > size + 2) __builtin_trap();
    if (!n->is_scalar() && !n->scalar().empty()) __builtin_trap();
    if (n->scalar().size() > 2 * size) __builtin_trap();  // UTF-16 input grows as UTF-8, by at most half
    size_t count = 0;
    for (const YamlNode& item : n->items()) todo.push_back(&item), count++;
    if (count != n->items().size() || (!n->is_seq() && count)) __builtin_trap();
    count = 0;
    for (const YamlEntry& e : n->entries()) {
      todo.push_back(&e.key);
      todo.push_back(&e.value);
      // find() gives the value of the first entry with that scalar key (checked
      // for the first entries only, to stay linear).
      if (e.key.is_scalar() && count < 64) {
        const YamlNode* want = nullptr;
        for (const YamlEntry& f : n->entries())
          if (f.key.is_scalar() && f.key.scalar() == e.key.scalar()) {
            want = &f.value;
            break;
          }
        if (!want || n->find(e.key.scalar()) != want) __builtin_trap();
      }
      count++;
    }
    if (count != n->entries().size() || (!n->is_map() && count)) __builtin_trap();
  }
  return 0;
}
