// One function per subcommand: each registers its options and its callback on the
// top-level app. The callback stores the exit code in `exit_code`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace cgscope::cli {

// `command` is what followed a `--` on the command line (split off before CLI11
// parses, so that options of the command, like `sh -c`, stay the command's).
void add_trace_command(CLI::App& app, int& exit_code, const std::vector<std::string>& command);
void add_lb_command(CLI::App& app, int& exit_code);
void add_proxy_command(CLI::App& app, int& exit_code, const std::vector<std::string>& command);
void add_seccomp_command(CLI::App& app, int& exit_code, const std::vector<std::string>& command);
void add_proxy_route_command(CLI::App* proxy, int& exit_code);

}  // namespace cgscope::cli
