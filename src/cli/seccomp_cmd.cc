// `cgscope seccomp run FILE -- CMD`: options in; the work is in src/seccomp/seccomp_run.cc.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "seccomp/seccomp_run.h"

namespace cgscope::cli {

void add_seccomp_command(CLI::App& app, int& exit_code, const std::vector<std::string>& command) {
  auto* sub = app.add_subcommand("seccomp", "Run commands under seccomp profiles (Docker/OCI JSON)");
  sub->require_subcommand(1);
  auto* run = sub->add_subcommand("run", "Run CMD under the seccomp profile in FILE; exits with CMD's status");
  run->footer(
      "Example:\n"
      "  cgscope trace --seccomp-profile p.json -- sh -c 'echo hi > /tmp/f; cat /tmp/f'\n"
      "  cgscope seccomp run p.json -- sh -c 'echo hi > /tmp/f; cat /tmp/f'\n"
      "Loads whole-syscall rules (defaultAction, defaultErrnoRet, architectures, syscalls[].names,\n"
      "action, errnoRet) and refuses the rest of the format (args, includes, archMap...) by name.\n"
      "Sets no_new_privs; needs no root.");
  auto file = std::make_shared<std::string>();
  run->add_option("FILE", *file, "The profile (moby's profiles/seccomp/default.json format)")->required();
  run->callback([&exit_code, file, command] {
    if (command.empty()) {
      std::fprintf(stderr, "cgscope seccomp run: give the command after --, e.g. cgscope seccomp run %s -- sh\n",
                   file->c_str());
      exit_code = 2;
      return;
    }
    exit_code = seccomp::run_under_profile(*file, command);
  });
}

}  // namespace cgscope::cli
