// `cgscope proxy route`: the traffic of a cgroup takes a routing table of its own.
// A cgroup/sock_create program marks every socket created in the cgroup
// (bpf/proxy_route.bpf.c), and a policy rule "fwmark M lookup N" with a default
// route "via GATEWAY [dev DEV]" in table N sends what those sockets send through
// the gateway. It lasts until SIGINT/SIGTERM, then the hook, the rule and the
// route go; `--remove` takes away what a killed run left.
#pragma once

#include <string>

namespace cgscope::proxy {

struct RouteRequest {
  std::string cgroup;   // --cgroup PATH (v2, absolute or below the mount)
  std::string table;    // --table N, as given
  std::string via;      // --via GATEWAY (IPv4 or IPv6)
  std::string dev;      // --dev DEV; "" lets the kernel find the device
  std::string mark;     // --mark M, as given; "": the default mark of the table
  std::string pin_dir;  // --pin-dir DIR (--remove of a cgroup that is gone)
  bool verbose = false;
};

// Routes until a stop signal; returns the exit code. Errors are one line on
// stderr each, and a refusal leaves nothing applied.
int run_route(const RouteRequest& req);

// `--remove`: deletes the rule, the route and the hook that the run of the
// cgroup (or of `req.pin_dir`) recorded, and nothing else.
int remove_route(const RouteRequest& req);

}  // namespace cgscope::proxy
