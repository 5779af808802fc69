// `cgscope lb apply|status|reset`: connect-time load balancing (src/lb/).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "lb/control.h"

namespace cgscope::cli {

void add_lb_command(CLI::App& app, int& exit_code) {
  CLI::App* lb = app.add_subcommand("lb", "Load-balance TCP connects to service addresses, in the kernel");
  lb->require_subcommand(1);

  auto apply = std::make_shared<lb::ApplyOptions>();
  CLI::App* a = lb->add_subcommand("apply", "Bring the kernel maps to exactly the services in FILE");
  a->add_option("file", apply->file, "YAML file of services (see docs/lb.md)")->required();
  a->add_option("--cgroup", apply->cgroup, "cgroup v2 directory to balance (default: the whole machine)");
  a->add_option("--pin-dir", apply->pin_dir, "where the state is pinned (default /sys/fs/bpf/cgscope/lb)");
  a->add_flag("--dry-run", apply->dry_run, "validate the file and say what would change; write nothing");
  a->callback([apply, &exit_code] { exit_code = lb::run_apply(*apply, std::cout, std::cerr); });

  auto pin_dir = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("text");
  CLI::App* s = lb->add_subcommand("status", "Services, endpoints, tiers and counters, read from the kernel");
  s->add_option("-o,--output", *format, "text or json")->check(CLI::IsMember({"text", "json"}));
  s->add_option("--pin-dir", *pin_dir, "where the state is pinned");
  s->callback([pin_dir, format, &exit_code] {
    exit_code = lb::run_status(*pin_dir, *format == "json", std::cout, std::cerr);
  });

  auto reset_dir = std::make_shared<std::string>();
  CLI::App* r = lb->add_subcommand("reset", "Detach the hooks and remove every lb pin");
  r->add_option("--pin-dir", *reset_dir, "where the state is pinned");
  r->callback([reset_dir, &exit_code] { exit_code = lb::run_reset(*reset_dir, std::cout, std::cerr); });
}

}  // namespace cgscope::cli
