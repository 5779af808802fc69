// The fixture of the lb integration tests (lb_*_test.cc). Root only. Each test
// makes its own network namespace (service addresses exist only in there), its
// own cgroup (the hooks attach to it and the client runs in it) and its own pin
// dir, and removes all of them even when it fails.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cgscope/abi/lb.h"
#include "core/cgroup2.h"
#include "core/unique_fd.h"
#include "lb/config.h"
#include "lb/control.h"
#include "lb/maps.h"
#include "owned.h"

using cgscope::testing::Child;
using cgscope::testing::Cleanup;
using cgscope::testing::ScopedNetns;
using cgscope::testing::Stream;
using cgscope::testing::TempPath;
using namespace std::chrono_literals;

namespace cgscope::lbtest {

using namespace cgscope;

// Every hook lb attaches (status counts them).
inline constexpr int kAllLinks = static_cast<int>(std::size(lb::kLinkNames));

// An address:port in either family.
struct Target {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

inline Target target(const std::string& addr, uint16_t port) {
  Target t;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&t.ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&t.ss);
  if (inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    t.len = sizeof(*s4);
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr), 1) << addr;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    t.len = sizeof(*s6);
  }
  return t;
}

inline std::string to_string(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf);
    return fmt::format("{}:{}", buf, ntohs(s->sin_port));
  }
  auto* s = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf);
  return fmt::format("[{}]:{}", buf, ntohs(s->sin6_port));
}

// A TCP server that answers each connection with its name and records the peer.
class Server {
 public:
  Server(std::string name, const std::string& addr, uint16_t port) : name_(std::move(name)) {
    Target t = target(addr, port);
    fd_.reset(::socket(t.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (t.ss.ss_family == AF_INET6) setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    ok_ = ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&t.ss), t.len) == 0 && ::listen(fd_.get(), 4096) == 0;
    th_ = std::thread([this] { loop(); });
  }
  ~Server() {
    stop_ = true;
    ::shutdown(fd_.get(), SHUT_RDWR);
    th_.join();
  }
  bool ok() const { return ok_; }
  std::vector<std::string> peers() {
    std::lock_guard<std::mutex> g(mu_);
    return peers_;
  }

 private:
  void loop() {
    while (!stop_) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int c = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
      if (c < 0) {
        if (stop_ || errno == EINVAL) return;
        continue;
      }
      {
        // Before the answer: a client that has read it finds itself in peers().
        std::lock_guard<std::mutex> g(mu_);
        if (peers_.size() < 100000) peers_.push_back(to_string(ss));
      }
      (void)!::write(c, name_.data(), name_.size());
      ::close(c);
    }
  }
  std::string name_;
  UniqueFd fd_;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> peers_;
  std::thread th_;
};

// One connect as the client saw it.
struct Outcome {
  int err = 0;           // errno of connect, 0 on success
  std::string name;      // what the server said
  std::string peer;      // getpeername
  double us = 0;         // connect time
};

inline int g_seq = 0;

// One service (10.96.0.10:80 -> 127.0.0.2-4:8080, served by three_backends()).
inline const char* kThreeBackends = R"(services:
  - name: web
    addresses: [10.96.0.10]
    ports: [{port: 80, target_port: 8080}]
    endpoints: [{address: 127.0.0.2}, {address: 127.0.0.3}, {address: 127.0.0.4}]
)";

class LbTest : public ::testing::Test {
 protected:
  // Each thing made here has its owner among the members, destroyed in reverse
  // order even when SetUp or the test stops early: servers, config files, pins
  // (reset, then whatever is left removed), the cgroup, the netns (left, deleted).
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    tag_ = fmt::format("cgscope-lbt-{}-{}", getpid(), ++g_seq);
    pin_dir_ = "/sys/fs/bpf/" + tag_;
    pins_ = Cleanup([dir = pin_dir_] {
      std::ostringstream o, e;
      lb::run_reset(dir, o, e);
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);  // pins run_reset did not know of, and the directory
    });
    ASSERT_TRUE(netns_.create(tag_)) << netns_.error();
    auto ip = [&](std::vector<std::string> args) {
      args.insert(args.begin(), {"ip", "-n", tag_});
      return cgscope::testing::run(args);
    };
    auto up = ip({"link", "set", "lo", "up"});
    ASSERT_EQ(up.code, 0) << up.output;
    for (const char* a : {"fd00:1::2", "fd00:1::3", "fd00:1::4"}) {
      auto r = ip({"-6", "addr", "add", fmt::format("{}/128", a), "dev", "lo", "nodad"});
      ASSERT_EQ(r.code, 0) << a << ": " << r.output;
    }
    ASSERT_TRUE(netns_.enter()) << netns_.error();
    auto mnt = cgroup2_mount();
    ASSERT_TRUE(mnt) << mnt.error().message;
    auto cg = ScopedCgroup::create(*mnt, tag_);
    ASSERT_TRUE(cg) << cg.error().message;
    cg_ = std::make_unique<ScopedCgroup>(std::move(*cg));
  }

  Server& serve(const std::string& name, const std::string& addr, uint16_t port) {
    servers_.push_back(std::make_unique<Server>(name, addr, port));
    EXPECT_TRUE(servers_.back()->ok()) << "listening on " << addr << ":" << port;
    return *servers_.back();
  }

  std::string write_config(const std::string& text) {
    std::string path = fmt::format("/tmp/{}-{}.yaml", tag_, files_.size());
    files_.push_back(TempPath::adopt(path));
    std::ofstream(path) << text;
    return path;
  }

  // Applies `text`; returns the exit code, with stdout/stderr in out_/err_.
  int apply(const std::string& text) { return apply_file(write_config(text)); }
  int apply_file(const std::string& path, bool dry_run = false, const std::string& cgroup = "") {
    lb::ApplyOptions o;
    o.file = path;
    o.cgroup = cgroup.empty() ? cg_->path() : cgroup;
    o.pin_dir = pin_dir_;
    o.dry_run = dry_run;
    std::ostringstream out, err;
    int rc = lb::run_apply(o, out, err);
    out_ = out.str();
    err_ = err.str();
    return rc;
  }
  // Whether the maps hold exactly what `path` says, counters included: a dry
  // run of it would write nothing.
  bool holds_exactly(const std::string& path) {
    return apply_file(path, true) == 0 && out_.find("would do: no change") != std::string::npos;
  }

  // The cgscope binary with `args` (and `env`), to completion within `limit`.
  cgscope::testing::RunResult cli(std::vector<std::string> args, std::vector<std::string> env = {},
                                  cgscope::testing::Clock::duration limit = 60s) {
    args.insert(args.begin(), CGSCOPE_BIN);
    cgscope::testing::RunResult res;
    Child c;
    if (!c.start(std::move(args), {.out = Stream::kPipe, .err = Stream::kPipe, .env = std::move(env)})) {
      res.output = c.error();
      return res;
    }
    auto deadline = cgscope::testing::Clock::now() + limit;
    cgscope::testing::read_until(c.pipe_fd(), res.output, deadline);
    auto st = c.wait_for(std::max<cgscope::testing::Clock::duration>(deadline - cgscope::testing::Clock::now(), 0s));
    if (st) res.code = cgscope::testing::exit_code(st);
    return res;
  }
  // Each argv (cgscope's arguments) as its own process, all started before any is waited for.
  std::vector<cgscope::testing::RunResult> cli_at_once(const std::vector<std::vector<std::string>>& argvs,
                                                       cgscope::testing::Clock::duration limit = 90s) {
    std::vector<Child> children(argvs.size());
    std::vector<cgscope::testing::RunResult> res(argvs.size());
    for (size_t i = 0; i < argvs.size(); i++) {
      std::vector<std::string> a = argvs[i];
      a.insert(a.begin(), CGSCOPE_BIN);
      if (!children[i].start(std::move(a), {.out = Stream::kPipe, .err = Stream::kPipe})) res[i].output = children[i].error();
    }
    auto deadline = cgscope::testing::Clock::now() + limit;
    for (size_t i = 0; i < argvs.size(); i++) {
      if (children[i].pipe_fd() < 0) continue;
      cgscope::testing::read_until(children[i].pipe_fd(), res[i].output, deadline);
      auto st = children[i].wait_for(std::max<cgscope::testing::Clock::duration>(deadline - cgscope::testing::Clock::now(), 0s));
      if (st) res[i].code = cgscope::testing::exit_code(st);
    }
    return res;
  }
  std::vector<std::string> apply_argv(const std::string& path) {
    return {"lb", "apply", path, "--cgroup", cg_->path(), "--pin-dir", pin_dir_};
  }

  // The service ids lb_counters holds entries for.
  std::set<uint32_t> counter_ids() {
    std::set<uint32_t> ids;
    UniqueFd m(bpf_obj_get((pin_dir_ + "/lb_counters").c_str()));
    if (!m) return ids;
    cgs_lb_service_key k{}, next{};
    for (bool first = true; bpf_map_get_next_key(m.get(), first ? nullptr : &k, &next) == 0; first = false) {
      ids.insert(next.id);
      k = next;
    }
    return ids;
  }
  // Service id -> name, from the status.
  std::map<std::string, nlohmann::json> services_by_name() {
    std::map<std::string, nlohmann::json> out;
    auto j = nlohmann::json::parse(status_json());
    if (j.contains("services"))
      for (const auto& s : j["services"]) out[s["name"].get<std::string>()] = s;
    return out;
  }
  // How many of lb's five links are attached to a live cgroup.
  int links_attached() {
    auto j = nlohmann::json::parse(status_json());
    int n = 0;
    if (j.contains("links"))
      for (const auto& l : j["links"]) n += l["attached"].get<bool>();
    return n;
  }

  // `cgscope lb apply PATH` on this test's cgroup and pin dir, as its own process.
  cgscope::testing::RunResult cli_apply(const std::string& path, std::vector<std::string> env = {},
                                        std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"lb", "apply", path, "--cgroup", cg_->path(), "--pin-dir", pin_dir_};
    args.insert(args.end(), more.begin(), more.end());
    return cli(std::move(args), std::move(env));
  }

  std::string status_json() {
    std::ostringstream out, err;
    lb::run_status(pin_dir_, true, out, err);
    return out.str();
  }

  // What the maps hold, from the status, without what moves on its own (map
  // memory follows RCU frees of earlier writes): for "nothing changed".
  std::string state_json() {
    auto j = nlohmann::json::parse(status_json());
    j.erase("map_memory_bytes");
    return j.dump(1);
  }

  // Runs `fn` in a child process inside the test cgroup (and netns); its result.
  std::string in_cgroup(const std::function<std::string()>& fn) {
    Child child;
    bool started = child.start_fn(
        [&] {
          std::string r = fn();
          return ::write(1, r.data(), r.size()) == static_cast<ssize_t>(r.size()) ? 0 : 4;
        },
        {.cgroup = cg_->path(), .out = Stream::kPipe, .name = "a client in " + tag_});
    EXPECT_TRUE(started) << child.error();
    if (!started) return "";
    std::string all;
    EXPECT_TRUE(child.read_out(all, 60s)) << "the client did not finish within 60 s";
    auto status = child.wait_for(10s);
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "child status " << cgscope::testing::describe_status(status);
    return all;
  }

  // `n` connects from a child process inside the test cgroup (and netns).
  std::vector<Outcome> connects(const std::string& addr, uint16_t port, int n, int type = SOCK_STREAM) {
    Target t = target(addr, port);
    std::string all = in_cgroup([&] {
      std::string lines;
      for (int i = 0; i < n; i++) {
        int s = ::socket(t.ss.ss_family, type | SOCK_CLOEXEC, 0);
        auto t0 = std::chrono::steady_clock::now();
        int rc = ::connect(s, reinterpret_cast<const sockaddr*>(&t.ss), t.len);
        int err = rc == 0 ? 0 : errno;
        double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
        char name[64] = {};
        std::string peer = "-";
        if (rc == 0) {
          sockaddr_storage ss{};
          socklen_t len = sizeof ss;
          if (getpeername(s, reinterpret_cast<sockaddr*>(&ss), &len) == 0) peer = to_string(ss);
          if (type == SOCK_STREAM) {
            ssize_t r = ::read(s, name, sizeof name - 1);
            if (r <= 0) name[0] = 0;
          }
        }
        ::close(s);
        lines += fmt::format("{} {} {} {:.1f}\n", err, name[0] ? name : "-", peer, us);
      }
      return lines;
    });
    std::vector<Outcome> out;
    std::istringstream in(all);
    Outcome o;
    while (in >> o.err >> o.name >> o.peer >> o.us) out.push_back(o);
    EXPECT_EQ(static_cast<int>(out.size()), n);
    return out;
  }

  std::map<std::string, int> by_name(const std::vector<Outcome>& v) {
    std::map<std::string, int> m;
    for (const Outcome& o : v) m[o.err ? fmt::format("errno {}", o.err) : o.name]++;
    return m;
  }

  void three_backends() {
    serve("b2", "127.0.0.2", 8080);
    serve("b3", "127.0.0.3", 8080);
    serve("b4", "127.0.0.4", 8080);
  }

  std::string tag_, pin_dir_, out_, err_;
  ScopedNetns netns_;
  std::unique_ptr<ScopedCgroup> cg_;
  Cleanup pins_;
  std::vector<TempPath> files_;
  std::vector<std::unique_ptr<Server>> servers_;
};

}  // namespace cgscope::lbtest
