// `cgscope proxy run|attach`: options in, ProxyRequest out; the work is in
// src/proxy/proxy_run.cc.
#include <cstdio>

#include "cli/commands.h"
#include "proxy/proxy_run.h"

namespace cgscope::cli {
namespace {

void add_common(CLI::App* sub, proxy::ProxyRequest& req, std::string& output) {
  sub->add_option("--via", req.via,
                  "Upstream: socks5://[user:pass@]host:port, socks5h://..., http://[user:pass@]host:port, direct")
      ->required();
  sub->add_option("--bypass", req.bypass, "Destinations that go direct: ADDR or CIDR (repeatable)")->delimiter(',');
  sub->add_option("--relay-addr", req.relay_addr,
                  "IPv4 address the relay listens on for every namespace, one reachable from the cgroup's network "
                  "namespaces (e.g. docker0's). Default: 127.0.0.1 for the host's, and for other namespaces an "
                  "address picked and shown at start");
  sub->add_flag("--dns", req.dns,
                "Send the cgroup's DNS queries (UDP port 53) through the upstream too, over TCP, to the nameserver "
                "asked; socks5h and http upstreams then get connections by the name looked up");
  sub->add_option("-o,--output", output, "Access log as text (default) or json")->check(CLI::IsMember({"text", "json"}));
  sub->add_option("--log", req.log_file, "Append the access log to FILE instead of standard error");
  sub->add_option("--connect-timeout", req.connect_timeout,
                  "Seconds a connection may take to reach its destination through the upstream, handshake "
                  "included (default 10; the TCP connect to a proxy upstream itself has 1 s of it)")
      ->check(CLI::Range(0.001, 3600.0));
  sub->add_option("--idle-timeout", req.idle_timeout,
                  "Close a proxied connection after SECONDS with no data either way (default 0: never)")
      ->check(CLI::Range(0.0, 86400.0));
  sub->add_flag("--no-relay", req.no_relay,
                "With --via direct: connects are not sent through the relay but go on unchanged, and the kernel "
                "reports each connection as it closes for the access log (bytes each way, duration, result), so "
                "no byte passes through cgscope; those still open at the stop are logged then (\"open at "
                "stop\", their bytes not known). --connect-timeout and --idle-timeout are the relay's and do "
                "not apply");
  sub->add_flag("-v,--verbose", req.verbose, "Show libbpf's messages (verifier log on failure)");
}

}  // namespace

void add_proxy_command(CLI::App& app, int& exit_code, const std::vector<std::string>& command) {
  auto* proxy = app.add_subcommand("proxy", "Send every TCP connection of a cgroup through a proxy");
  proxy->require_subcommand(1);
  proxy->footer(
      "Examples:\n"
      "  cgscope proxy run --via socks5://127.0.0.1:1080 -- curl http://example.com/\n"
      "  cgscope proxy attach --cgroup /build --via http://127.0.0.1:3128 --relay-addr 172.17.0.1\n"
      "    (then: docker build --cgroup-parent=/build ...)\n"
      "Loopback, the upstream and --bypass prefixes go direct; everything else goes through the\n"
      "upstream or is refused: nothing leaks around it.");

  auto req = std::make_shared<proxy::ProxyRequest>();
  auto output = std::make_shared<std::string>("text");

  auto* run = proxy->add_subcommand("run", "Run CMD (after --) in a new cgroup whose connections are proxied");
  add_common(run, *req, *output);
  run->callback([&exit_code, req, output, command]() {
    if (command.empty()) {
      std::fprintf(stderr, "cgscope proxy run: give the command after --, e.g. -- curl http://host/\n");
      exit_code = 2;
      return;
    }
    req->command = command;
    req->json = *output == "json";
    exit_code = proxy::run_proxy(*req);
  });

  auto* attach = proxy->add_subcommand("attach", "Proxy an existing cgroup until stopped (SIGINT/SIGTERM)");
  add_common(attach, *req, *output);
  attach->add_option("--cgroup", req->cgroup, "The cgroup (v2 path, absolute or below the mount)")->required();
  attach->callback([&exit_code, req, output, command]() {
    if (!command.empty()) {
      std::fprintf(stderr, "cgscope proxy attach: takes no command; use `proxy run -- CMD` to run one\n");
      exit_code = 2;
      return;
    }
    req->json = *output == "json";
    exit_code = proxy::run_proxy(*req);
  });

  auto reset_cgroup = std::make_shared<std::string>();
  auto reset_dir = std::make_shared<std::string>();
  auto* reset = proxy->add_subcommand(
      "reset", "Remove what a proxy left (its hooks stay after a crash, refusing connects: fail closed)");
  auto* by_cg = reset->add_option("--cgroup", *reset_cgroup, "The proxied cgroup");
  reset->add_option("--pin-dir", *reset_dir, "The proxy's pin dir (as an error message named it)")->excludes(by_cg);
  reset->callback([&exit_code, reset_cgroup, reset_dir]() {
    exit_code = proxy::reset_proxy(*reset_cgroup, *reset_dir);
  });
  add_proxy_route_command(proxy, exit_code);
}

}  // namespace cgscope::cli
