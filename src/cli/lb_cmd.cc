// `cgscope lb apply|run|status|reset`: connect-time load balancing (src/lb/).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/sizes.h"
#include "lb/control.h"
#include "lb/run.h"

namespace cgscope::cli {

namespace {

// SECONDS as a double option into a duration.
CLI::Option* add_seconds(CLI::App* cmd, const std::string& name, std::chrono::milliseconds& into,
                         const std::string& help, double lo) {
  return cmd
      ->add_option_function<double>(
          name, [&into](const double& s) { into = std::chrono::milliseconds(static_cast<long>(s * 1000)); }, help)
      ->check(CLI::Range(lo, 86400.0));
}

// --lock-timeout SECONDS, shared by the commands: how long to wait for
// another cgscope lb that holds the pin dir.
void add_lock_timeout(CLI::App* cmd, std::chrono::milliseconds& into) {
  add_seconds(cmd, "--lock-timeout", into,
              "seconds to wait for another cgscope lb working on the same pin dir (default 30)", 0.0);
}

// What apply and run share: the file, where to balance and pin, the bounds.
void add_apply_options(CLI::App* cmd, lb::ApplyOptions& o, std::string& max_size) {
  cmd->add_option("file", o.file, "YAML file of services (see docs/lb.md)")->required();
  cmd->add_option("--cgroup", o.cgroup, "cgroup v2 directory to balance (default: the whole machine)");
  cmd->add_option("--pin-dir", o.pin_dir, "where the state is pinned (default /sys/fs/bpf/cgscope/lb)");
  cmd->add_option("--max-file-size", max_size, "the largest FILE read, e.g. 256M (default 64M)");
  add_lock_timeout(cmd, o.lock_timeout);
}

void add_health_options(CLI::App* cmd, lb::HealthOptions& h) {
  h.interval = std::chrono::seconds(2);
  add_seconds(cmd, "--health-interval", h.interval,
              "seconds between TCP health checks of every endpoint (default 2; 0: none)", 0.0);
  add_seconds(cmd, "--health-timeout", h.timeout, "seconds a check's connect may take (default 1)", 0.01);
  cmd->add_option("--health-fall", h.fall, "failed checks in a row that take an endpoint out (default 3)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--health-rise", h.rise, "passed checks in a row that bring it back (default 2)")
      ->check(CLI::Range(1, 100));
}

// --max-file-size into `o`; false (with the exit code set) when it does not parse.
bool take_max_size(const std::string& text, lb::ApplyOptions& o, const char* cmd, int& exit_code) {
  if (text.empty()) return true;
  auto v = parse_size(text, 1, uint64_t(1) << 34);
  if (!v) {
    std::cerr << "cgscope lb " << cmd << ": --max-file-size: " << v.error().message << "\n";
    exit_code = 1;
    return false;
  }
  o.max_file_bytes = *v;
  return true;
}

}  // namespace

void add_lb_command(CLI::App& app, int& exit_code) {
  CLI::App* lb = app.add_subcommand("lb", "Load-balance TCP connects to service addresses, in the kernel");
  lb->require_subcommand(1);

  auto apply = std::make_shared<lb::ApplyOptions>();
  auto max_size = std::make_shared<std::string>();
  CLI::App* a = lb->add_subcommand("apply", "Bring the kernel maps to exactly the services in FILE");
  add_apply_options(a, *apply, *max_size);
  a->add_flag("--dry-run", apply->dry_run, "validate the file and say what would change; write nothing");
  a->callback([apply, max_size, &exit_code] {
    if (!take_max_size(*max_size, *apply, "apply", exit_code)) return;
    exit_code = lb::run_apply(*apply, std::cout, std::cerr);
  });

  auto run = std::make_shared<lb::RunOptions>();
  auto run_max_size = std::make_shared<std::string>();
  CLI::App* rn = lb->add_subcommand("run", "Apply FILE, then re-apply it whenever it changes, until stopped");
  add_apply_options(rn, run->apply, *run_max_size);
  add_seconds(rn, "--resync", run->resync,
              "seconds between re-applies of an unchanged file, which repair maps changed by others (default 60)", 0.1);
  add_health_options(rn, run->health);
  rn->add_option("--metrics", run->metrics,
                 "ADDR:PORT to serve Prometheus metrics on (GET /metrics), e.g. 127.0.0.1:9101");
  rn->callback([run, run_max_size, &exit_code] {
    if (!take_max_size(*run_max_size, run->apply, "run", exit_code)) return;
    exit_code = lb::run_follow(*run, std::cout, std::cerr);
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
