// How a trace stops, as a strace user expects: --duration, --max-events and a
// closed output detach and let `-- CMD` finish its work (cgscope then exits with
// CMD's status); the summary counts what was written; -p ends when its processes
// are gone and refuses one that does not exist.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "trace_harness.h"

namespace cgscope::testing {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "cgscope: N events, ..." of the summary line, or -1.
long summary_events(const std::string& err) {
  std::smatch m;
  static const std::regex re("cgscope: ([0-9]+) events, ");
  return std::regex_search(err, m, re) ? std::stol(m[1]) : -1;
}

size_t lines_of(const std::string& text) { return size_t(std::count(text.begin(), text.end(), '\n')); }

bool run_cgroup_gone(pid_t cgscope) {
  auto m = cgroup2_mount();
  return m && !std::filesystem::exists(*m + "/cgscope-run-" + std::to_string(cgscope));
}

TEST(TraceStop, DurationDetachesAndTheCommandFinishesItsWork) {
  TempPath done("after-duration");
  CgscopeProcess cg({"-e", "openat", "--duration", "1", "--", "sh", "-c",
                     "cat /dev/null; sleep 2; echo finished > " + done.path + "; exit 7"});
  ASSERT_TRUE(cg.ready()) << cg.stderr_so_far();
  auto run = cg.finish(false);
  EXPECT_EQ(run.exit_code, 7) << "cgscope waits for CMD and exits with its status: " << run.stderr_text;
  EXPECT_EQ(slurp(done.path), "finished\n") << "CMD did its work after the stop: " << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("goes on untraced"), std::string::npos) << run.stderr_text;
  EXPECT_EQ(summary_events(run.stderr_text), long(run.events.size())) << run.stderr_text;
  for (const auto& e : run.events)
    EXPECT_NE(e["args"]["filename"], done.path) << "written after the stop, so not traced: " << e.dump();
  EXPECT_TRUE(run_cgroup_gone(cg.pid()));
}

TEST(TraceStop, MaxEventsDetachesAndTheCommandFinishesItsWork) {
  TempPath done("after-max-events");
  CgscopeProcess cg({"-e", "openat", "--max-events", "5", "--", "sh", "-c",
                     "for i in 1 2 3 4 5 6 7 8; do cat /dev/null; done; sleep 1; echo finished > " + done.path});
  ASSERT_TRUE(cg.ready()) << cg.stderr_so_far();
  auto run = cg.finish(false);
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(run.events.size(), 5u) << run.stderr_text;
  EXPECT_EQ(summary_events(run.stderr_text), 5) << run.stderr_text;
  EXPECT_EQ(slurp(done.path), "finished\n") << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("--max-events 5 reached"), std::string::npos) << run.stderr_text;
  EXPECT_TRUE(run_cgroup_gone(cg.pid()));
}

// `cgscope trace -- CMD | READER`, cgscope's stderr and status to files. CMD
// makes events, touches `phase1`, sleeps, makes more (their write finds the pipe
// closed), then writes `done`.
struct PipeRun {
  std::optional<int> shell_code;
  int cgscope_code = -1;
  std::string err, out;
};

PipeRun trace_into(const std::string& reader, const TempPath& dir) {
  std::string cmd = "cat /dev/null; touch " + dir.path + "/phase1; sleep 1.5; cat /dev/null; cat /dev/null; sleep 0.5; "
                    "echo finished > " + dir.path + "/done";
  std::string script = std::string("{ ") + CGSCOPE_BIN + " trace -o json -e openat -- sh -c '" + cmd + "' 2>" +
                       dir.path + "/err; echo $? > " + dir.path + "/rc; } | " + reader + " > " + dir.path + "/out";
  PipeRun r;
  r.shell_code = run({"sh", "-c", script}, 60s).code;
  r.err = slurp(dir.path + "/err");
  r.out = slurp(dir.path + "/out");
  std::string rc = slurp(dir.path + "/rc");
  if (!rc.empty()) r.cgscope_code = std::stoi(rc);
  return r;
}

TEST(TraceStop, HeadClosingThePipeDetachesAndTheCommandFinishes) {
  TempPath dir("head-pipe");
  ASSERT_EQ(mkdir(dir.path.c_str(), 0700), 0);
  auto r = trace_into("head -1", dir);
  ASSERT_TRUE(r.shell_code) << "the pipeline did not end: " << r.err;
  EXPECT_EQ(r.cgscope_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out), 1u) << r.out;
  EXPECT_EQ(slurp(dir.path + "/done"), "finished\n") << "CMD finished after the pipe closed: " << r.err;
  EXPECT_NE(r.err.find("not written: the reader of the output went away"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("goes on untraced"), std::string::npos) << r.err;
}

TEST(TraceStop, SummaryCountsOnlyTheLinesTheReaderGot) {
  TempPath dir("dd-pipe");
  ASSERT_EQ(mkdir(dir.path.c_str(), 0700), 0);
  // One read of everything phase 1 wrote, then the pipe is closed: what the
  // reader got is exactly what cgscope managed to write.
  auto r = trace_into("{ while [ ! -e " + dir.path + "/phase1 ]; do sleep 0.05; done; sleep 0.5; "
                      "dd bs=1M count=1 status=none; }",
                      dir);
  ASSERT_TRUE(r.shell_code) << "the pipeline did not end: " << r.err;
  EXPECT_EQ(r.cgscope_code, 0) << r.err;
  ASSERT_GT(lines_of(r.out), 0u) << r.err;
  EXPECT_EQ(summary_events(r.err), long(lines_of(r.out))) << r.err;
  EXPECT_NE(r.err.find("not written"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(dir.path + "/done"), "finished\n") << r.err;
}

// A shell that waits for a line on `fifo`, then runs `then`.
bool start_on_fifo(Child& shell, const TempPath& fifo, const std::string& then) {
  if (mkfifo(fifo.path.c_str(), 0600) != 0) return false;
  return shell.start({"sh", "-c", "read l < " + fifo.path + "; " + then});
}

TEST(TracePid, EndsWhenTheTracedProcessExits) {
  TempPath fifo("pid-fifo");
  Child shell;
  ASSERT_TRUE(start_on_fifo(shell, fifo, "cat /dev/null")) << shell.error();
  CgscopeProcess cg({"-e", "openat", "-p", std::to_string(shell.pid())});
  ASSERT_TRUE(cg.ready()) << cg.stderr_so_far();
  ASSERT_TRUE(write_fifo(fifo.path, "go\n")) << "the shell did not open " << fifo.path;
  ASSERT_TRUE(shell.wait_for(30s)) << "the shell did not exit";
  auto run = cg.finish(false);  // by itself: no signal
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("every traced process has exited"), std::string::npos) << run.stderr_text;
  EXPECT_GE(summary_events(run.stderr_text), 0) << "the summary is printed: " << run.stderr_text;
}

TEST(TracePid, WithFollowEndsOnlyWhenTheDescendantsHaveExitedToo) {
  TempPath fifo("follow-fifo"), file("follow-late");
  std::ofstream(file.path) << "x";
  // The root starts a child that outlives it, and exits.
  Child shell;
  ASSERT_TRUE(start_on_fifo(shell, fifo, "(sleep 1; cat " + file.path + " >/dev/null) & exit 0")) << shell.error();
  CgscopeProcess cg({"-e", "openat", "-p", std::to_string(shell.pid()), "--follow"});
  ASSERT_TRUE(cg.ready()) << cg.stderr_so_far();
  ASSERT_TRUE(write_fifo(fifo.path, "go\n")) << "the shell did not open " << fifo.path;
  // Not shell.wait_for(): reaping the root kills its process group, the child
  // with it. The root, a zombie until the end of the test, counts as gone.
  auto run = cg.finish(false);
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  bool seen = false;
  for (const auto& e : run.named("openat")) seen |= e["args"]["filename"] == file.path;
  EXPECT_TRUE(seen) << "the trace went on until the child was done: " << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("and its descendants have exited"), std::string::npos) << run.stderr_text;
}

TEST(TracePid, APidThatDoesNotExistIsRefused) {
  auto run = trace_command({"-p", "999999", "--duration", "5"});
  EXPECT_EQ(run.exit_code, 2) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("-p 999999: no such process"), std::string::npos) << run.stderr_text;
  EXPECT_EQ(run.stderr_text.find("cgscope: tracing"), std::string::npos) << "refused before tracing: " << run.stderr_text;
}

}  // namespace
}  // namespace cgscope::testing
