// cgscope trace end to end: the real binary, real BPF programs, real processes and
// cgroups. Each test makes its own cgroups and files and removes them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "core/cgroup2.h"
#include "trace_harness.h"

namespace cgscope::testing {
namespace {

// A held Child (in its cgroup, before exec) run to its end: its exit code, or -1.
int run_to_end(Child& c) {
  EXPECT_TRUE(c.release()) << c.error();
  auto st = c.wait_for(30s);
  return st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
}

std::string cg_mount() {
  auto m = cgroup2_mount();
  EXPECT_TRUE(m.has_value());
  return m ? *m : "";
}

TEST(TraceCommand, OpenatOfAKnownFileWithPathAndFd) {
  TempPath file("openat");
  std::ofstream(file.path) << "hello\n";
  auto run = trace_command({"-e", "openat", "--", "cat", file.path});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  bool found = false;
  for (const auto& e : run.named("openat")) {
    if (e["args"]["filename"] != file.path) continue;
    found = true;
    EXPECT_EQ(e["comm"], "cat");
    EXPECT_GE(e["ret"].get<int64_t>(), 0);
    EXPECT_EQ(e["args"]["dfd"], "AT_FDCWD");
    EXPECT_NE(e["args"]["flags"].get<std::string>().find("O_RDONLY"), std::string::npos);
    EXPECT_TRUE(e["container_id"].is_null());
    for (const char* key : {"ts", "id", "pid", "tid", "ppid", "uid", "gid", "cgroup_id"})
      EXPECT_TRUE(e.contains(key)) << key;
  }
  EXPECT_TRUE(found) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find(", 0 lost"), std::string::npos) << run.stderr_text;
}

TEST(TraceCommand, ExitsWithTheCommandsStatus) {
  auto run = trace_command({"-e", "exit_group", "--", "sh", "-c", "exit 7"});
  EXPECT_EQ(run.exit_code, 7) << run.stderr_text;
  auto ex = run.named("exit_group");
  ASSERT_EQ(ex.size(), 1u) << run.stderr_text;
  EXPECT_EQ(ex[0]["args"]["error_code"], 7);
  EXPECT_TRUE(ex[0]["ret"].is_null()) << "exit_group does not return";
  auto missing = trace_command({"--", "/nonexistent/cgscope-no-such-binary"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.stderr_text.find("cannot run"), std::string::npos) << missing.stderr_text;
}

TEST(TraceCommand, CommandFoundOnPathIsExecutedOnceAndNothingOfCgscopeIsTraced) {
  auto run = trace_command({"-e", "all", "--", "true"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto ex = run.named("execve");
  ASSERT_EQ(ex.size(), 1u) << run.stderr_text;
  EXPECT_EQ(ex[0]["ret"], 0);
  EXPECT_EQ(ex[0]["comm"], "true");
  EXPECT_EQ(ex[0]["args"]["filename"].get<std::string>().substr(0, 1), "/");
  for (const auto& e : run.events) EXPECT_NE(e["comm"], "cgscope") << e.dump();
}

TEST(TraceCommand, DescendantsThatOutliveTheCommandAreStillTraced) {
  TempPath file("late");
  std::ofstream(file.path) << "x";
  auto run = trace_command({"-e", "openat", "--", "sh", "-c", "(sleep 0.3; cat " + file.path + " >/dev/null) & exit 4"});
  EXPECT_EQ(run.exit_code, 4) << run.stderr_text;
  bool seen = false;
  for (const auto& e : run.named("openat")) seen |= e["args"]["filename"] == file.path;
  EXPECT_TRUE(seen) << "the background cat was not traced: " << run.stderr_text;
}

TEST(TraceCommand, EnvpIsCapturedWhenAsked) {
  setenv("CGSCOPE_TEST_ENV", "on", 1);
  auto run = trace_command({"-e", "execve", "--envp", "--", "true"});
  unsetenv("CGSCOPE_TEST_ENV");
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto ex = run.named("execve");
  ASSERT_EQ(ex.size(), 1u) << run.stderr_text;
  ASSERT_TRUE(ex[0]["args"]["envp"].is_array()) << ex[0].dump();
  auto envp = ex[0]["args"]["envp"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(envp.begin(), envp.end(), "CGSCOPE_TEST_ENV=on"), envp.end());
}

TEST(TraceCommand, SignalStopsCleanlyAndRemovesTheRunCgroup) {
  CgscopeProcess cg({"-e", "openat", "--", "sleep", "30"});
  ASSERT_TRUE(cg.ready()) << cg.stderr_so_far();
  std::string run_cgroup = cg_mount() + "/cgscope-run-" + std::to_string(cg.pid());
  EXPECT_TRUE(std::filesystem::exists(run_cgroup));
  auto run = cg.finish(true, SIGTERM);
  EXPECT_EQ(run.exit_code, 128 + SIGTERM) << "sleep's status: killed by the forwarded SIGTERM; " << run.stderr_text;
  EXPECT_NE(run.stderr_text.find(" events, 0 lost"), std::string::npos) << run.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(run_cgroup)) << run_cgroup << " left behind";
}

TEST(TraceCommand, ExecveKeepsALongArgvIntact) {
  std::vector<std::string> args{"-e", "execve", "--", "/bin/true"};
  std::vector<std::string> expect{"/bin/true"};
  for (int i = 0; i < 40; i++) {
    std::string a = "arg" + std::to_string(i) + std::string(200, 'x');
    args.push_back(a);
    expect.push_back(a);
  }
  auto run = trace_command(args);
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto ev = run.named("execve");
  ASSERT_EQ(ev.size(), 1u) << run.stderr_text;
  EXPECT_EQ(ev[0]["args"]["filename"], "/bin/true");
  EXPECT_EQ(ev[0]["args"]["argv"].get<std::vector<std::string>>(), expect);
  EXPECT_EQ(ev[0]["ret"], 0);
}

TEST(TraceCommand, ExecveTruncatesAHugeArgvWithAMarker) {
  std::vector<std::string> args{"-e", "execve", "--", "/bin/true"};
  for (int i = 0; i < 300; i++) args.push_back(std::string(300, 'a' + i % 26));
  auto run = trace_command(args);
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto ev = run.named("execve");
  ASSERT_EQ(ev.size(), 1u);
  auto argv = ev[0]["args"]["argv"].get<std::vector<std::string>>();
  ASSERT_GE(argv.size(), 2u);
  EXPECT_LE(argv.size(), 65u);
  EXPECT_EQ(argv.back(), "...");
  EXPECT_EQ(argv[1], std::string(300, 'a'));
  EXPECT_NE(run.stderr_text.find("truncated"), std::string::npos) << run.stderr_text;
}

TEST(TraceCommand, FailedOnlyKeepsOnlyErrors) {
  TempPath file("exists");
  std::ofstream(file.path) << "x";
  std::string missing = file.path + "-missing";
  auto run = trace_command({"-e", "openat,sched_process_exit", "-x", "--", "sh", "-c",
                            "cat " + missing + " ; cat " + file.path});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  bool saw_missing = false;
  for (const auto& e : run.events) {
    EXPECT_LT(e["ret"].get<int64_t>(), 0) << e.dump();
    EXPECT_NE(e["args"]["filename"], file.path);
    if (e["args"]["filename"] == missing) {
      saw_missing = true;
      EXPECT_EQ(e["ret"], -2);
      EXPECT_EQ(e["error"], "ENOENT");
    }
  }
  EXPECT_TRUE(saw_missing);
}

TEST(TraceCommand, NoEventLostOnABurstOf100kSyscalls) {
  TempPath file("burst");
  std::ofstream(file.path) << "x";
  auto run = trace_command({"-e", "openat,close", "--", CGSCOPE_STORM, "open", "50000", file.path});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  size_t opens = 0, closes = 0;
  for (const auto& e : run.events) {
    if (e["event"] == "openat" && e["args"]["filename"] == file.path) opens++;
    if (e["event"] == "close" && e["comm"] == "bench_storm") closes++;
  }
  EXPECT_EQ(opens, 50000u);
  EXPECT_GE(closes, 50000u);
  EXPECT_NE(run.stderr_text.find(", 0 lost"), std::string::npos) << run.stderr_text;
}

TEST(TraceCommand, PidNamespaceMakesAContainerOfAnUnnamedCgroup) {
  // unshare(1) forks the command into a new pid namespace inside cgscope's run
  // cgroup, whose name matches no runtime: the pid namespace alone makes it one.
  TempPath file("pidns");
  std::ofstream(file.path) << "x";
  auto run = trace_command({"-e", "openat", "--", "unshare", "--pid", "--fork", "cat", file.path});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  bool found = false;
  for (const auto& e : run.named("openat")) {
    if (e["args"]["filename"] != file.path) continue;
    found = true;
    ASSERT_TRUE(e["container_id"].is_string()) << e.dump();
    EXPECT_EQ(e["container_id"].get<std::string>().rfind("cgscope-run-", 0), 0u) << e.dump();
    EXPECT_EQ(e["container_runtime"], "");
  }
  EXPECT_TRUE(found) << run.stderr_text;
}

TEST(TraceCommand, ConnectShowsTheSocketAddressAndBuffersWhenAsked) {
  // A listener on loopback, a client that connects and writes a greeting.
  UniqueFd srv(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(srv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(srv.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(srv.get(), 4), 0);
  socklen_t len = sizeof(sa);
  getsockname(srv.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  int port = ntohs(sa.sin_port);
  auto run = trace_command({"-e", "connect,write", "--capture-buffers", "64", "--", "bash", "-c",
                            "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) + "; printf hello-cgscope >&3"});
  srv.reset();
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  bool connected = false, wrote = false;
  for (const auto& e : run.named("connect")) {
    auto addr = e["args"]["uservaddr"];
    if (addr.is_object() && addr["address"] == "127.0.0.1" && addr["port"] == port) connected = true;
  }
  for (const auto& e : run.named("write"))
    if (e["args"]["buf"] == "hello-cgscope" && e["ret"] == 13) wrote = true;
  EXPECT_TRUE(connected) << run.stderr_text;
  EXPECT_TRUE(wrote) << run.stderr_text;
}

TEST(TraceCommand, CommUidAndMaxEventsFilter) {
  auto run = trace_command({"-e", "openat", "--comm", "cat", "--", "sh", "-c", "cat /dev/null; head -c0 /dev/null"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  ASSERT_FALSE(run.events.empty());
  for (const auto& e : run.events) EXPECT_EQ(e["comm"], "cat") << e.dump();

  auto nobody = trace_command({"-e", "openat", "-u", "65534", "--", "sh", "-c",
                               "cat /dev/null; setpriv --reuid=65534 --regid=65534 --clear-groups cat /dev/null"});
  ASSERT_EQ(nobody.exit_code, 0) << nobody.stderr_text;
  ASSERT_FALSE(nobody.events.empty());
  for (const auto& e : nobody.events) EXPECT_EQ(e["uid"], 65534) << e.dump();

  auto few = trace_command(
      {"-e", "openat", "--max-events", "3", "--on-stop", "kill", "--", "sh", "-c", "cat /dev/null; sleep 30"});
  EXPECT_EQ(few.events.size(), 3u) << few.stderr_text;
  EXPECT_EQ(few.exit_code, 128 + SIGKILL) << "--on-stop kill: CMD is killed with the trace: " << few.stderr_text;
  EXPECT_NE(few.stderr_text.find("--on-stop kill"), std::string::npos) << "said, not silent: " << few.stderr_text;
}

TEST(TraceCommand, OnStopWithoutACommandIsRefused) {
  RunResult res = run({CGSCOPE_BIN, "trace", "-e", "openat", "--duration", "1", "--on-stop", "kill"});
  ASSERT_TRUE(res.code) << res.output;
  EXPECT_EQ(*res.code, 2) << res.output;
  EXPECT_NE(res.output.find("--on-stop is about the command after --"), std::string::npos) << res.output;
  EXPECT_EQ(res.output.find("cgscope: tracing"), std::string::npos) << "refused before tracing: " << res.output;
}

TEST(TraceFollow, ForkExecExitOfAChildTree) {
  // A shell that waits for a line, then starts a child that exits 3 and an echo.
  TempPath fifo("fifo");
  ASSERT_EQ(mkfifo(fifo.path.c_str(), 0600), 0);
  Child shell;
  ASSERT_TRUE(shell.start({"sh", "-c", "read l < " + fifo.path + "; sh -c 'exit 3'; /bin/echo hi >/dev/null"}))
      << shell.error();
  const pid_t sh = shell.pid();
  CgscopeProcess cg({"-e", "sched_process_fork,sched_process_exec,sched_process_exit", "-p", std::to_string(sh),
                     "--follow"});
  ASSERT_TRUE(cg.ready()) << cg.stderr_so_far();
  ASSERT_TRUE(write_fifo(fifo.path, "go\n")) << "the shell did not open " << fifo.path;
  auto st = shell.wait_for(30s);
  ASSERT_TRUE(st) << "the shell did not exit";
  usleep(200 * 1000);
  auto run = cg.finish(true);
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;

  std::set<int64_t> children;
  for (const auto& e : run.named("sched_process_fork")) {
    if (e["pid"] == sh) children.insert(e["args"]["child_pid"].get<int64_t>());
  }
  EXPECT_GE(children.size(), 2u) << run.stderr_text;
  bool exec_echo = false, exit3 = false, sh_exit = false;
  for (const auto& e : run.named("sched_process_exec"))
    if (e["args"]["filename"] == "/bin/echo" && children.count(e["pid"].get<int64_t>())) exec_echo = true;
  for (const auto& e : run.named("sched_process_exit")) {
    if (children.count(e["pid"].get<int64_t>()) && e["args"]["exit_code"] == 3) exit3 = true;
    if (e["pid"] == sh && e["args"]["exit_code"] == 0) sh_exit = true;
  }
  EXPECT_TRUE(exec_echo);
  EXPECT_TRUE(exit3);
  EXPECT_TRUE(sh_exit);
  for (const auto& e : run.events) {
    int64_t pid = e["pid"].get<int64_t>();
    EXPECT_TRUE(pid == sh || children.count(pid)) << "out of scope: " << e.dump();
  }
}

TEST(TraceFollow, ProcessesThatExistedBeforeTheTraceAreFollowedToo) {
  // The inner shell is a child of the traced pid before cgscope starts; what it
  // runs afterwards must be traced.
  TempPath fifo("fifo2");
  TempPath file("followed");
  ASSERT_EQ(mkfifo(fifo.path.c_str(), 0600), 0);
  std::ofstream(file.path) << "x";
  Child outer;
  ASSERT_TRUE(outer.start({"sh", "-c", "sh -c 'read l < " + fifo.path + "; cat " + file.path + " >/dev/null' & wait"}))
      << outer.error();
  usleep(200 * 1000);  // the inner shell is running and blocked on the fifo
  CgscopeProcess cg({"-e", "openat", "-p", std::to_string(outer.pid()), "--follow"});
  ASSERT_TRUE(cg.ready()) << cg.stderr_so_far();
  ASSERT_TRUE(write_fifo(fifo.path, "go\n")) << "the inner shell did not open " << fifo.path;
  ASSERT_TRUE(outer.wait_for(30s)) << "the shells did not exit";
  usleep(200 * 1000);
  auto run = cg.finish(true);
  bool seen = false;
  for (const auto& e : run.named("openat")) seen |= e["args"]["filename"] == file.path;
  EXPECT_TRUE(seen) << run.stderr_text;
}

TEST(TraceCgroup, ContainerCgroupTaggedAndOtherCgroupFilteredOut) {
  std::string mount = cg_mount();
  auto parent = ScopedCgroup::create(mount, unique_name("cg"));
  ASSERT_TRUE(parent.has_value()) << parent.error().message;
  const std::string id(64, 'c');
  auto container = ScopedCgroup::create(parent->path(), "docker-" + id + ".scope");
  ASSERT_TRUE(container.has_value()) << container.error().message;
  auto other = ScopedCgroup::create(parent->path(), "other");
  ASSERT_TRUE(other.has_value()) << other.error().message;

  TempPath file("cgfile");
  std::ofstream(file.path) << "x";
  Child inside, outside;  // each waits in its cgroup until run_to_end
  ASSERT_TRUE(inside.start({"cat", file.path}, {.cgroup = container->path(), .held = true})) << inside.error();
  ASSERT_TRUE(outside.start({"cat", file.path}, {.cgroup = other->path(), .held = true})) << outside.error();
  std::string rel = container->path().substr(mount.size());
  // The same scope two ways: by cgroup path, and by a 12-character container id prefix.
  CgscopeProcess by_path({"-e", "openat", "-c", rel});
  CgscopeProcess by_id({"-e", "openat", "--container", id.substr(0, 12)});
  ASSERT_TRUE(by_path.ready()) << by_path.stderr_so_far();
  ASSERT_TRUE(by_id.ready()) << by_id.stderr_so_far();
  EXPECT_EQ(run_to_end(inside), 0);
  EXPECT_EQ(run_to_end(outside), 0);
  usleep(200 * 1000);
  for (CgscopeProcess* cg : {&by_path, &by_id}) {
  auto run = cg->finish(true);
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;

  bool tagged = false;
  for (const auto& e : run.events) {
    EXPECT_NE(e["pid"], outside.pid()) << "filtered-out process leaked: " << e.dump();
    EXPECT_EQ(e["pid"], inside.pid()) << e.dump();
    if (e["args"]["filename"] == file.path) {
      tagged = true;
      EXPECT_EQ(e["container_id"], id);
      EXPECT_EQ(e["container_runtime"], "docker");
      EXPECT_EQ(e["cgroup_id"], container->id());
    }
  }
  EXPECT_TRUE(tagged) << run.stderr_text;
  }
}

TEST(TraceErrors, BadInputGetsOneClearLineAndNonZeroExit) {
  auto unknown = trace_command({"-e", "opnat", "--", "true"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.stderr_text.find("opnat"), std::string::npos) << unknown.stderr_text;
  EXPECT_NE(unknown.stderr_text.find("openat"), std::string::npos) << "suggestion: " << unknown.stderr_text;

  auto nocg = trace_command({"-c", "/cgscope-no-such-cgroup", "--duration", "1"});
  EXPECT_NE(nocg.exit_code, 0);
  EXPECT_NE(nocg.stderr_text.find("cgscope-no-such-cgroup"), std::string::npos) << nocg.stderr_text;

  auto nocontainer = trace_command({"--container", "feedfacefeedface", "--duration", "1"});
  EXPECT_NE(nocontainer.exit_code, 0);
  EXPECT_NE(nocontainer.stderr_text.find("feedfacefeedface"), std::string::npos) << nocontainer.stderr_text;

  auto both = trace_command({"-c", "/", "--", "true"});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.stderr_text.find("-- CMD"), std::string::npos) << both.stderr_text;

  auto nothing = trace_command({"--duration", "1", "--"});
  EXPECT_NE(nothing.exit_code, 0);
  EXPECT_NE(nothing.stderr_text.find("nothing after --"), std::string::npos) << nothing.stderr_text;

  auto badsize = trace_command({"--buffer-size", "12Q", "--duration", "1"});
  EXPECT_NE(badsize.exit_code, 0);
  EXPECT_NE(badsize.stderr_text.find("12Q"), std::string::npos) << badsize.stderr_text;
}

TEST(TraceErrors, NotRootIsToldToUseSudo) {
  Child c;
  ASSERT_TRUE(c.start({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CGSCOPE_BIN, "trace",
                       "--duration", "1"},
                      {.out = Stream::kPipe, .err = Stream::kPipe}))
      << c.error();
  std::string out;
  EXPECT_TRUE(c.read_out(out, 30s)) << "no end of output within 30 s: " << out;
  auto status = c.wait_for(10s);
  ASSERT_TRUE(status) << "cgscope as nobody did not exit";
  EXPECT_NE(WEXITSTATUS(*status), 0);
  EXPECT_NE(out.find("root"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "one line: " << out;
}

}  // namespace
}  // namespace cgscope::testing
