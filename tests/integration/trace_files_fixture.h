// The files tests' fixture: a docker-named container cgroup inside a test
// cgroup, a function run there held until cgscope traces it, and the events of
// that function picked out of the run. Everything is owned (owned.h).
#pragma once

#include <unistd.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/cgroup2.h"
#include "trace_harness.h"

namespace cgscope::testing {

inline const std::string kContainerId(64, 'f');

// A test cgroup with a docker-named container cgroup inside, and cgscope tracing
// `events` there (by cgroup path, as `-c` is given).
struct ContainerTrace {
  std::optional<ScopedCgroup> parent, container;
  std::string error;

  bool make() {
    auto mount = cgroup2_mount();
    if (!mount) return fail(mount.error().message);
    auto p = ScopedCgroup::create(*mount, unique_name("files"));
    if (!p) return fail(p.error().message);
    parent.emplace(std::move(*p));
    auto c = ScopedCgroup::create(parent->path(), "docker-" + kContainerId + ".scope");
    if (!c) return fail(c.error().message);
    container.emplace(std::move(*c));
    rel = container->path().substr(mount->size());
    return true;
  }
  bool fail(std::string why) {
    error = std::move(why);
    return false;
  }
  std::string rel;
};

// Runs `fn` held in the container cgroup, traced with `events` (and `extra`
// options), to its end.
inline TraceRun trace_in_container(ContainerTrace& ct, const std::string& events, std::function<int()> fn, int& status,
                                   const std::vector<std::string>& extra = {}) {
  Child child;
  if (!child.start_fn(std::move(fn), {.cgroup = ct.container->path(), .held = true})) {
    ADD_FAILURE() << child.error();
    return {};
  }
  std::vector<std::string> args{"-e", events, "-c", ct.rel};
  args.insert(args.end(), extra.begin(), extra.end());
  CgscopeProcess cg(args);
  if (!cg.ready()) {
    ADD_FAILURE() << cg.stderr_so_far();
    return {};
  }
  EXPECT_TRUE(child.release()) << child.error();
  auto st = child.wait_for(30s);
  status = st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
  usleep(300 * 1000);  // its last records drained
  TraceRun run = cg.finish(true);
  for (auto& e : run.events)
    if (e["pid"] == child.pid()) e["mine"] = true;
  return run;
}

// The events of the child, in order, as (event, args) pairs.
inline std::vector<nlohmann::json> mine(const TraceRun& run, const std::string& event) {
  std::vector<nlohmann::json> out;
  for (const auto& e : run.events)
    if (e.contains("mine") && e["event"] == event) out.push_back(e);
  return out;
}

// The path field of the write of exactly `n` bytes.
inline nlohmann::json write_path(const TraceRun& run, int n) {
  for (const auto& e : mine(run, "write"))
    if (e["ret"] == n) return e["args"].value("path", nlohmann::json("(no path field)"));
  return "(no write of " + std::to_string(n) + " bytes)";
}

// The run has exactly one file_write event for path, with these totals.
inline void expect_one_sum(const TraceRun& run, const std::string& path, uint64_t bytes, uint64_t calls,
                           const char* closed_by) {
  std::vector<nlohmann::json> found;
  for (const auto& e : mine(run, "file_write"))
    if (e["args"]["path"] == path) found.push_back(e["args"]);
  ASSERT_EQ(found.size(), 1u) << run.stderr_text;
  EXPECT_EQ(found[0]["bytes"], bytes) << found[0].dump();
  EXPECT_EQ(found[0]["calls"], calls) << found[0].dump();
  EXPECT_EQ(found[0]["closed_by"], closed_by) << found[0].dump();
}

}  // namespace cgscope::testing
