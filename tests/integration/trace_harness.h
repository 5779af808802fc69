// Runs the real cgscope binary for the trace integration tests and collects what
// it printed: JSON events from --output-file, the summary line, the exit code.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cgscope::testing {

inline std::string unique_name(const std::string& what) {
  static int n = 0;
  return "cgscope-it-" + what + "-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

// A temporary file path, removed with the object.
struct TempPath {
  std::string path;
  explicit TempPath(const std::string& what) : path("/tmp/" + unique_name(what)) {}
  ~TempPath() { std::filesystem::remove_all(path); }
};

struct TraceRun {
  int exit_code = -1;
  std::string stderr_text;
  std::vector<nlohmann::json> events;

  std::vector<nlohmann::json> named(const std::string& event) const {
    std::vector<nlohmann::json> out;
    for (const auto& e : events)
      if (e["event"] == event) out.push_back(e);
    return out;
  }
};

// cgscope running in the background; stops it with SIGINT when asked or destroyed.
class CgscopeProcess {
 public:
  // Starts `cgscope trace <args> -o json --output-file <file>`, waits until it
  // says it is tracing (or exits).
  explicit CgscopeProcess(std::vector<std::string> args) : out_("events") {
    std::vector<std::string> full{CGSCOPE_BIN, "trace", "-o", "json", "--output-file", out_.path};
    full.insert(full.end(), args.begin(), args.end());
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(p[1], 2);
      std::vector<char*> argv;
      for (auto& a : full) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(p[1]);
    err_fd_ = p[0];
    wait_for_stderr("cgscope: tracing", std::chrono::seconds(60));
  }
  // SIGTERM first, so that cgscope removes what it made; SIGKILL only if it hangs.
  ~CgscopeProcess() {
    if (pid_ > 0 && !done_) {
      kill(pid_, SIGTERM);
      if (!wait_exit(std::chrono::seconds(10), nullptr)) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    if (err_fd_ >= 0) close(err_fd_);
  }
  bool ready() const { return ready_; }
  pid_t pid() const { return pid_; }

  // Waits for it to end by itself (a command given with --), or SIGINTs it first.
  TraceRun finish(bool interrupt, int sig = SIGINT) {
    if (interrupt) kill(pid_, sig);
    int status = 0;
    if (!wait_exit(std::chrono::seconds(120), &status)) {
      ADD_FAILURE() << "cgscope did not exit within 120 s";
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    done_ = true;
    read_stderr(std::chrono::milliseconds(0), "");
    TraceRun run;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    run.stderr_text = err_;
    std::ifstream in(out_.path);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
      if (!j.is_discarded()) run.events.push_back(std::move(j));
    }
    return run;
  }

 private:
  bool wait_exit(std::chrono::seconds limit, int* status) {
    auto end = std::chrono::steady_clock::now() + limit;
    int st = 0;
    while (waitpid(pid_, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= end) return false;
      usleep(10 * 1000);
    }
    if (status) *status = st;
    return true;
  }
  void wait_for_stderr(const std::string& marker, std::chrono::milliseconds limit) {
    ready_ = read_stderr(limit, marker);
  }
  bool read_stderr(std::chrono::milliseconds limit, const std::string& marker) {
    auto end = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    for (;;) {
      if (!marker.empty() && err_.find(marker) != std::string::npos) return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      pollfd pfd{err_fd_, POLLIN, 0};
      int timeout = marker.empty() ? 1000 : std::max<int>(0, left.count());
      if (poll(&pfd, 1, timeout) <= 0) return false;
      ssize_t n = read(err_fd_, buf, sizeof(buf));
      if (n <= 0) return !marker.empty() && err_.find(marker) != std::string::npos;
      err_.append(buf, size_t(n));
    }
  }

  TempPath out_;
  pid_t pid_ = -1;
  int err_fd_ = -1;
  bool ready_ = false;
  bool done_ = false;
  std::string err_;
};

// `cgscope trace <args> -- CMD...` to completion.
inline TraceRun trace_command(std::vector<std::string> args) {
  CgscopeProcess p(std::move(args));
  return p.finish(false);
}

}  // namespace cgscope::testing
