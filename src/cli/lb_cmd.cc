// `cgscope lb apply|status|reset`: connect-time load balancing (src/lb/).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/sizes.h"
#include "lb/control.h"

namespace cgscope::cli {

namespace {

// --lock-timeout SECONDS, shared by the three commands: how long to wait for
// another cgscope lb that holds the pin dir.
void add_lock_timeout(CLI::App* cmd, std::chrono::milliseconds& into) {
  cmd->add_option_function<double>(
         "--lock-timeout",
         [&into](const double& seconds) { into = std::chrono::milliseconds(static_cast<long>(seconds * 1000)); },
         "seconds to wait for another cgscope lb working on the same pin dir (default 30)")
      ->check(CLI::Range(0.0, 86400.0));
}

}  // namespace

void add_lb_command(CLI::App& app, int& exit_code) {
  CLI::App* lb = app.add_subcommand("lb", "Load-balance TCP connects to service addresses, in the kernel");
  lb->require_subcommand(1);

  auto apply = std::make_shared<lb::ApplyOptions>();
  auto max_size = std::make_shared<std::string>();
  CLI::App* a = lb->add_subcommand("apply", "Bring the kernel maps to exactly the services in FILE");
  a->add_option("file", apply->file, "YAML file of services (see docs/lb.md)")->required();
  a->add_option("--cgroup", apply->cgroup, "cgroup v2 directory to balance (default: the whole machine)");
  a->add_option("--pin-dir", apply->pin_dir, "where the state is pinned (default /sys/fs/bpf/cgscope/lb)");
  a->add_flag("--dry-run", apply->dry_run, "validate the file and say what would change; write nothing");
  a->add_option("--max-file-size", *max_size, "the largest FILE read, e.g. 256M (default 64M)");
  add_lock_timeout(a, apply->lock_timeout);
  a->callback([apply, max_size, &exit_code] {
    if (!max_size->empty()) {
      auto v = parse_size(*max_size, 1, uint64_t(1) << 34);
      if (!v) {
        std::cerr << "cgscope lb apply: --max-file-size: " << v.error().message << "\n";
        exit_code = 1;
        return;
      }
      apply->max_file_bytes = *v;
    }
    exit_code = lb::run_apply(*apply, std::cout, std::cerr);
  });

  auto pin_dir = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("text");
  auto status_wait = std::make_shared<std::chrono::milliseconds>(lb::kDefaultLockTimeout);
  CLI::App* s = lb->add_subcommand("status", "Services, endpoints, tiers and counters, read from the kernel");
  s->add_option("-o,--output", *format, "text or json")->check(CLI::IsMember({"text", "json"}));
  s->add_option("--pin-dir", *pin_dir, "where the state is pinned");
  add_lock_timeout(s, *status_wait);
  s->callback([pin_dir, format, status_wait, &exit_code] {
    exit_code = lb::run_status(*pin_dir, *format == "json", std::cout, std::cerr, *status_wait);
  });

  auto reset_dir = std::make_shared<std::string>();
  auto reset_wait = std::make_shared<std::chrono::milliseconds>(lb::kDefaultLockTimeout);
  CLI::App* r = lb->add_subcommand("reset", "Detach the hooks and remove every lb pin");
  r->add_option("--pin-dir", *reset_dir, "where the state is pinned");
  add_lock_timeout(r, *reset_wait);
  r->callback([reset_dir, reset_wait, &exit_code] {
    exit_code = lb::run_reset(*reset_dir, std::cout, std::cerr, *reset_wait);
  });
}

}  // namespace cgscope::cli
