// Runs the real cgscope binary for the trace integration tests and collects what
// it printed: JSON events from --output-file, the summary line, the exit code.
// cgscope runs as an owned Child (owned.h): every wait on it is bounded, and it
// and what it started end with the test even when an assertion returns early.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/cgroup2.h"
#include "owned.h"

namespace cgscope::testing {

// Bounds of a cgscope run (the watchdog's limit is well above their sum).
inline constexpr auto kTraceStartLimit = 30s;   // until it says it is tracing (or exits)
inline constexpr auto kTraceFinishLimit = 60s;  // until it exits, once asked to or its command ended
inline constexpr auto kTraceStopLimit = 10s;    // after SIGTERM, before SIGKILL

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
    // If this binary dies, SIGTERM lets cgscope remove what it made.
    if (!child_.start(full, {.err = Stream::kPipe, .death_signal = SIGTERM})) {
      ADD_FAILURE() << child_.error();
      return;
    }
    WaitNote note("cgscope to say it is tracing");
    ready_ = read_until(child_.pipe_fd(), err_, Clock::now() + kTraceStartLimit, [](const std::string& s) {
               return s.find("cgscope: tracing") != std::string::npos;
             }) == ReadEnd::kDone;
  }
  // SIGTERM first, so that cgscope removes what it made; SIGKILL only if it hangs.
  ~CgscopeProcess() {
    pid_t pid = child_.pid();
    if (child_.running()) {
      child_.signal(SIGTERM);
      if (!child_.wait_for(kTraceStopLimit)) child_.end();
    }
    // A killed cgscope could not remove its command's cgroup.
    if (pid > 0 && child_.status() && WIFSIGNALED(*child_.status()) && WTERMSIG(*child_.status()) == SIGKILL)
      if (auto m = cgroup2_mount())
        if (auto left = ScopedCgroup::adopt(*m + "/cgscope-run-" + std::to_string(pid))) (void)left->remove();
  }
  bool ready() const { return ready_; }
  pid_t pid() const { return child_.pid(); }
  const std::string& stderr_so_far() const { return err_; }  // why it is not ready, say

  // Waits for it to end by itself (a command given with --), or SIGINTs it first.
  TraceRun finish(bool interrupt, int sig = SIGINT) {
    if (interrupt) child_.signal(sig);
    auto status = child_.wait_for(kTraceFinishLimit);
    if (!status) {
      ADD_FAILURE() << "cgscope did not exit within " << std::chrono::seconds(kTraceFinishLimit).count() << " s";
      child_.end();
      status = child_.status();
    }
    if (child_.pipe_fd() >= 0) {
      WaitNote note("the end of cgscope's stderr");
      read_until(child_.pipe_fd(), err_, Clock::now() + 5s);
    }
    TraceRun run;
    run.exit_code = exit_code(status);
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
  TempPath out_;
  Child child_;
  bool ready_ = false;
  std::string err_;
};

// `cgscope trace <args> -- CMD...` to completion.
inline TraceRun trace_command(std::vector<std::string> args) {
  CgscopeProcess p(std::move(args));
  return p.finish(false);
}

}  // namespace cgscope::testing
