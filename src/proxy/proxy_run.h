// One run of `cgscope proxy run -- CMD` or `cgscope proxy attach --cgroup PATH`:
// from the user's request to CMD's exit status (run) or to a stop signal (attach).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cgscope::proxy {

struct ProxyRequest {
  std::string via;                       // --via URL
  std::vector<std::string> bypass;       // --bypass CIDR, as given
  std::optional<std::string> relay_addr; // --relay-addr ADDR (default: 127.0.0.1, and one picked for other netns)
  std::string cgroup;                    // attach: --cgroup PATH
  std::vector<std::string> command;      // run: after --
  bool dns = false;                      // --dns: UDP port-53 queries through the upstream
  bool json = false;                     // -o json: the access log as JSON lines
  std::string log_file;                  // --log FILE ("" = stderr)
  double connect_timeout = 10;           // --connect-timeout SECONDS: destination or upstream, handshake included
  double idle_timeout = 0;               // --idle-timeout SECONDS: 0 = connections may idle for ever
  bool no_relay = false;                 // --no-relay (direct): connects go unchanged, the kernel logs them
  bool verbose = false;
};

// Returns the process exit code: CMD's for run; 0 after a stop signal for attach.
// Errors are printed to stderr as one line each.
int run_proxy(const ProxyRequest& req);

// `proxy reset`: detaches and removes the pinned state of the proxy of `cgroup`
// (or in `pin_dir`). Nothing there is not an error.
int reset_proxy(const std::string& cgroup, const std::string& pin_dir);

}  // namespace cgscope::proxy
