// Reading `strace -f -qq -o FILE` logs, for the tests that compare cgscope with
// strace (trace_strace_test.cc, trace_struct_test.cc).
#pragma once

#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace cgscope::testing {

struct StraceCall {
  std::string name;
  std::vector<std::string> args;  // top-level arguments as strace printed them
  std::string ret;                // after " = ", empty for an unfinished call
  // What it adds to the call count: 0 for a call the kernel restarts ("= ?
  // ERESTARTNOINTR (To be restarted)": a fork that a signal interrupted, say;
  // its restart is the call the program made), -1 for the resumed end of an
  // unfinished one that was restarted. Whether a signal lands inside a fork is
  // timing, so it is not compared; cgscope's counts leave such returns out too.
  int count = 1;
};

// The top-level arguments of "a, [b, c], {d=e, f}, \"g, h\"": commas inside
// brackets, braces and strings do not split.
inline std::vector<std::string> split_args(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (quoted) {
      cur += c;
      if (c == '\\' && i + 1 < s.size()) cur += s[++i];
      else if (c == '"') quoted = false;
      continue;
    }
    if (c == '"') quoted = true;
    if (c == '[' || c == '{' || c == '(') depth++;
    if (c == ']' || c == '}' || c == ')') depth--;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      if (i + 1 < s.size() && s[i + 1] == ' ') i++;
      continue;
    }
    cur += c;
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// `strace -f -qq -o FILE` lines: "PID name(args) = ret", "PID name(args <unfinished ...>"
// (its rest comes in a "<... name resumed>" line, not counted again), signals and exits.
inline std::vector<StraceCall> parse_strace(const std::string& path) {
  static const std::regex call(R"(^\d+\s+([a-z_0-9]+)\((.*)$)");
  static const std::regex done(R"(^(.*)\)\s+= (.*)$)");  // strace pads before " = "
  std::vector<StraceCall> out;
  std::ifstream in(path);
  std::string line;
  std::smatch m;
  static const std::regex resumed(R"(^\d+\s+<\.\.\. ([a-z_0-9]+) resumed>.*= \? ERESTART.*$)");
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, resumed)) {
      out.push_back(StraceCall{m[1], {}, "?", -1});
      continue;
    }
    if (!std::regex_match(line, m, call)) continue;
    StraceCall c;
    c.name = m[1];
    std::string rest = m[2];
    if (auto u = rest.find(" <unfinished ...>"); u != std::string::npos) {
      c.args = split_args(rest.substr(0, u));
    } else if (std::smatch d; std::regex_match(rest, d, done)) {
      c.args = split_args(d[1]);
      c.ret = d[2];  // "?" for exit_group and exit
      if (c.ret.starts_with("? ERESTART")) c.count = 0;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace cgscope::testing
