// `cgscope proxy run --via direct --no-relay`: connects are not rewritten, no
// byte passes through cgscope, and the kernel reports each connection as it
// closes (sockops state callbacks into a ring) for the access log. The
// destination is the fixture's test host in its own network namespace.
#include <nlohmann/json.hpp>
#include <sstream>

#include "proxy_fixture.h"

namespace cgscope::testing {
namespace {

// The JSON lines of an access log file.
std::vector<nlohmann::json> json_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(slurp(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line));
  return out;
}

class ProxyNoRelayTest : public ProxyTest {
 protected:
  RunResult no_relay_run(std::vector<std::string> argv) {
    std::vector<std::string> full{CGSCOPE_BIN, "proxy",     "run", "--via", "direct", "--no-relay",
                                  "-o",        "json",      "--log", log_.path, "--"};
    full.insert(full.end(), argv.begin(), argv.end());
    return run(full, kRunLimit);
  }
  // The access log's JSON lines (in a file: the clients' errors share stderr).
  std::vector<nlohmann::json> records(const std::string& /*output*/) { return json_lines(log_.path); }
  TempPath log_{"log"};
};

TEST_F(ProxyNoRelayTest, ADownloadIsLoggedByTheKernelWithItsBytesAndWho) {
  auto r = no_relay_run({"curl", "-sS", "--noproxy", "*", "-o", got_.path, url()});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(got_.path), body_) << "the body arrives byte-identical";
  auto recs = records(r.output);
  ASSERT_EQ(recs.size(), 1u) << r.output;
  const auto& j = recs[0];
  EXPECT_EQ(j["dst"], fmt::format("{}:8080", peer_ip_)) << j.dump();
  EXPECT_EQ(j["comm"], "curl") << j.dump();
  EXPECT_TRUE(j["pid"].is_number()) << j.dump();
  EXPECT_TRUE(j["cgroup_id"].is_number()) << j.dump();
  EXPECT_EQ(j["result"], "ok") << j.dump();
  EXPECT_EQ(j["upstream"], "direct") << j.dump();
  // The response is the body and its headers; the request a line and a few headers.
  EXPECT_GT(j["bytes_down"].get<uint64_t>(), body_.size()) << j.dump();
  EXPECT_LT(j["bytes_down"].get<uint64_t>(), body_.size() + 4096) << j.dump();
  EXPECT_GT(j["bytes_up"].get<uint64_t>(), 40u) << j.dump();
  EXPECT_LT(j["bytes_up"].get<uint64_t>(), 1024u) << j.dump();
  EXPECT_GT(j["seconds"].get<double>(), 0.0) << j.dump();
  EXPECT_NE(r.output.find("1 connections logged (0 open at stop); kernel: 1 watched, 0 not logged"), std::string::npos) << r.output;
  EXPECT_EQ(socks_log().find(peer_ip_), std::string::npos) << "no upstream is involved: " << socks_log();
}

TEST_F(ProxyNoRelayTest, ARefusedConnectIsLoggedWithItsErrorAndEveryConnectOnce) {
  // Port 8081 of the test host: nothing listens, its kernel answers RST.
  const std::string refused = fmt::format("http://{}:8081/", peer_ip_);
  auto r = no_relay_run({"sh", "-c", fmt::format("curl -sS -o /dev/null {0}; curl -sS -o /dev/null {0}; "
                                                 "curl -sS -o {1} {2}",
                                                 refused, got_.path, url())});
  ASSERT_EQ(r.code, 0) << r.output;
  auto recs = records(r.output);
  ASSERT_EQ(recs.size(), 3u) << r.output;
  int unreachable = 0, ok = 0;
  for (const auto& j : recs) {
    if (j["result"] == "destination unreachable: Connection refused") {
      unreachable++;
      EXPECT_EQ(j["dst"], fmt::format("{}:8081", peer_ip_)) << j.dump();
      EXPECT_EQ(j["bytes_up"], 0) << j.dump();
      EXPECT_EQ(j["bytes_down"], 0) << j.dump();
    } else if (j["result"] == "ok") {
      ok++;
    }
  }
  EXPECT_EQ(unreachable, 2) << r.output;
  EXPECT_EQ(ok, 1) << r.output;
}

TEST_F(ProxyNoRelayTest, ALoopbackConnectIsNotWatchedAndNoRelayNeedsDirect) {
  auto r = no_relay_run({"sh", "-c", fmt::format("curl -sS -o /dev/null http://127.0.0.1:{}/ || true", free_port())});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(records(r.output).empty()) << "loopback always goes direct, unlogged: " << r.output;
  EXPECT_NE(r.output.find("kernel: 0 watched"), std::string::npos) << r.output;

  auto bad = run({CGSCOPE_BIN, "proxy", "run", "--via", socks(), "--no-relay", "--", "true"}, kRunLimit);
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--no-relay goes with --via direct only"), std::string::npos) << bad.output;
  auto idle = run({CGSCOPE_BIN, "proxy", "run", "--via", "direct", "--no-relay", "--idle-timeout", "5", "--", "true"},
                  kRunLimit);
  EXPECT_EQ(idle.code, 2) << idle.output;
  EXPECT_NE(idle.output.find("--idle-timeout needs the relay"), std::string::npos) << idle.output;
}

// `proxy attach --no-relay` stopped while a connection is open: the kernel
// reports a connection only when it closes, so the stop logs those still open
// itself (from proxy_open), with their duration so far and no byte counts.
class ProxyNoRelayAttachTest : public ProxyAttachTest {
 protected:
  std::vector<nlohmann::json> records() { return json_lines(log_file_.path); }
  TempPath log_file_{"log"};
};

TEST_F(ProxyNoRelayAttachTest, AConnectionOpenAtTheStopIsLoggedAsOpenAndOneClosedBeforeAsOk) {
  attach({"--via", "direct", "--no-relay", "-o", "json", "--log", log_file_.path});
  auto [err, peer] = connect_from_cgroup(peer_ip_, 8080);  // connects, and closes as the child exits
  ASSERT_EQ(err, 0);
  ASSERT_TRUE(eventually([&] { return records().size() == 1; })) << "the closed one is logged at its close";

  TempPath ready("ready");
  Child holder;
  ASSERT_TRUE(holder.start_fn(
      [&] {
        int s = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(8080);
        inet_pton(AF_INET, peer_ip_.c_str(), &a.sin_addr);
        if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 1;
        std::ofstream(ready.path) << "connected";
        ::pause();  // holds the connection open until killed
        return 0;
      },
      {.cgroup = cg_->path(), .name = "holder in the cgroup"}))
      << holder.error();
  ASSERT_TRUE(eventually([&] { return slurp(ready.path) == "connected"; })) << "the holder did not connect";

  std::string out = stop_and_log();
  holder.signal(SIGKILL);
  EXPECT_TRUE(holder.wait_for(10s));
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u) << out;
  EXPECT_EQ(recs[0]["result"], "ok") << recs[0].dump();
  const auto& open = recs[1];
  EXPECT_EQ(open["result"], "open at stop") << open.dump();
  EXPECT_EQ(open["dst"], fmt::format("{}:8080", peer_ip_)) << open.dump();
  EXPECT_EQ(open["pid"], holder.pid()) << open.dump();
  EXPECT_TRUE(open["bytes_up"].is_null() && open["bytes_down"].is_null()) << "not known before the close: "
                                                                           << open.dump();
  EXPECT_GT(open["seconds"].get<double>(), 0.0) << open.dump();
  EXPECT_NE(out.find("2 connections logged (1 open at stop); kernel: 2 watched"), std::string::npos) << out;
}

}  // namespace
}  // namespace cgscope::testing
