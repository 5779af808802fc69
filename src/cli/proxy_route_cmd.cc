// `cgscope proxy route`: options in, RouteRequest out; the work is in
// src/proxy/route_run.cc.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "proxy/route.h"

namespace cgscope::cli {

void add_proxy_route_command(CLI::App* proxy, int& exit_code) {
  auto req = std::make_shared<proxy::RouteRequest>();
  auto remove = std::make_shared<bool>(false);
  auto* route = proxy->add_subcommand(
      "route", "Send the traffic of a cgroup through a gateway of its own (a routing table for its sockets)");
  route->add_option("--cgroup", req->cgroup, "The cgroup (v2 path, absolute or below the mount)");
  route->add_option("--table", req->table, "Routing table N for the cgroup's traffic; must be empty");
  route->add_option("--via", req->via, "The gateway (IPv4 or IPv6), on a directly connected network");
  route->add_option("--dev", req->dev, "The device the gateway is on (default: the one the kernel finds)");
  route->add_option("--mark", req->mark, "Socket mark M (default 0x6373 << 16 | N)");
  auto* rm = route->add_flag("--remove", *remove, "Remove the rule, route and hook that a killed run left");
  route->add_option("--pin-dir", req->pin_dir, "With --remove: the route's pin dir, for a cgroup that is gone")
      ->needs(rm);
  route->add_flag("-v,--verbose", req->verbose, "Show libbpf's messages (verifier log on failure)");
  route->footer(
      "Examples:\n"
      "  cgscope proxy route --cgroup /vpn --table 100 --via 10.8.0.1 --dev tun0\n"
      "  cgscope proxy route --cgroup /vpn --remove\n"
      "Every socket created in the cgroup (and below it) from the start on is marked, and the rule\n"
      "`fwmark M lookup N` sends its traffic to table N, whose default route is via the gateway.\n"
      "Sockets that exist already keep their route. Runs until SIGINT/SIGTERM, then removes it all.");
  route->callback([&exit_code, req, remove]() {
    if (*remove) {
      if (!req->table.empty() || !req->via.empty() || !req->dev.empty() || !req->mark.empty()) {
        std::fprintf(stderr, "cgscope proxy route --remove: takes only --cgroup or --pin-dir; the rest is recorded\n");
        exit_code = 2;
        return;
      }
      exit_code = proxy::remove_route(*req);
      return;
    }
    exit_code = proxy::run_route(*req);
  });
}

}  // namespace cgscope::cli
