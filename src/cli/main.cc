// cgscope: sees and steers what containers do, scoped by cgroup.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Split `-- CMD ARGS...` off first: CLI11 would otherwise read CMD's options.
  std::vector<std::string> command;
  for (int i = 1; i < argc; i++) {
    if (std::string_view(argv[i]) == "--") {
      command.assign(argv + i + 1, argv + argc);
      if (command.empty()) {
        std::fprintf(stderr, "cgscope: nothing after --; give the command to run, e.g. -- make -j2\n");
        return 2;
      }
      argc = i;
      break;
    }
  }
  CLI::App app{"cgscope: see and steer what containers do, scoped by cgroup"};
  app.set_version_flag("--version", "cgscope 0.1.0");
  app.require_subcommand(1);
  int exit_code = 0;
  cgscope::cli::add_trace_command(app, exit_code, command);
  cgscope::cli::add_lb_command(app, exit_code);
  cgscope::cli::add_proxy_command(app, exit_code, command);
  cgscope::cli::add_seccomp_command(app, exit_code, command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
