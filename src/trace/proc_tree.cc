#include "trace/proc_tree.h"

#include <cstdio>
#include <filesystem>
#include <string>
#include <unordered_map>

#include "core/small_file.h"

namespace cgscope::trace {

std::vector<pid_t> descendants_of(const std::vector<pid_t>& roots) {
  std::unordered_map<pid_t, std::vector<pid_t>> children;
  std::error_code ec;  // a process that ends mid-walk is not an error
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const auto& entry = *it;
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    // Not an ifstream: libstdc++ throws from a failed read, and the stat of a
    // process that exits meanwhile fails to read with ESRCH.
    auto read = read_small_file(entry.path().string() + "/stat");
    if (!read) continue;
    std::string stat = read->substr(0, read->find('\n'));
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2)
      children[ppid].push_back(std::stoi(name));
  }
  std::vector<pid_t> out, todo(roots.begin(), roots.end());
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    for (pid_t c : children[p]) {
      out.push_back(c);
      todo.push_back(c);
    }
  }
  return out;
}

}  // namespace cgscope::trace
