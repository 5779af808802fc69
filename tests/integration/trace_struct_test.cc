// Struct arguments against strace: tests/workload/struct_mix.c makes one call of
// each decoded kind (stat, fstat, newfstatat, poll, writev, readv, nanosleep,
// clock_nanosleep, uname, epoll_ctl, epoll_wait, wait4, pipe2, the socket
// lengths, futex timeouts, getdents64), and the table text of each struct
// argument must be the text `strace -f -qq` printed at the same place (`-v` for
// getdents64's entries). And -s/--argv-max: cut marks where strace puts them, the
// arguments after a cut kept, and a truncation count equal to what was cut.
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "cgscope/abi/trace.h"
#include "core/command_path.h"
#include "strace_log.h"
#include "trace_harness.h"

namespace cgscope::testing {
namespace {

// The value of `key=` in a table row's arguments: up to the matching bracket for
// a struct or list, to the next space otherwise.
std::string row_value(const std::string& row, const std::string& key) {
  size_t at = row.find(" " + key + "=");
  if (at == std::string::npos) return {};
  size_t i = at + key.size() + 2, start = i;
  int depth = 0;
  bool quoted = false;
  for (; i < row.size(); i++) {
    char c = row[i];
    if (quoted) {
      if (c == '\\') i++;
      else if (c == '"') quoted = false;
      continue;
    }
    if (c == '"') quoted = true;
    else if (c == '{' || c == '[' || c == '(') depth++;
    else if (c == '}' || c == ']' || c == ')') depth--;
    else if (c == ' ' && depth == 0) break;
  }
  return row.substr(start, i - start);
}

// A length strace shows as [128 => 16] (the value in, the value out): cgscope
// reads it at exit only, so it shows [16] (docs/trace-events.md).
std::string exit_length(const std::string& s) {
  static const std::regex in_out(R"(^\[-?\d+ => (-?\d+)\]$)");
  return std::regex_replace(s, in_out, "[$1]");
}

// An iovec's base is the workload's address (and strace shows the bytes there):
// only the lengths are compared.
std::string without_iov_base(const std::string& s) {
  static const std::regex base(R"(iov_base=("([^"\\]|\\.)*"|0x[0-9a-f]+|NULL))");
  return std::regex_replace(s, base, "iov_base=*");
}

// A msghdr: strace's msg_name={sa_family=AF_INET, sin_port=htons(P),
// sin_addr=inet_addr("A")} is cgscope's A:P (sockaddr.h), the port is the run's
// own, an empty name is an address of the run's stack, and msg_namelen reads
// at exit as the socket lengths do.
std::string same_msghdr(const std::string& s) {
  static const std::regex inet(R"re(msg_name=\{sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([0-9.]+)"\)\})re");
  static const std::regex port(R"(msg_name=([0-9.]+):\d+)");
  static const std::regex stack(R"(msg_name=0x[0-9a-f]+)");
  static const std::regex namelen(R"(msg_namelen=\d+ => (\d+))");
  std::string t = std::regex_replace(s, inet, "msg_name=$2:$1");
  t = std::regex_replace(t, port, "msg_name=$1:PORT");
  t = std::regex_replace(t, stack, "msg_name=ADDR");
  return std::regex_replace(t, namelen, "msg_namelen=$1");
}

struct StructArg {
  std::string syscall;
  size_t strace_index;
  std::string key;
};
const std::vector<StructArg> kStructArgs = {
    {"stat", 1, "statbuf"},        {"lstat", 1, "statbuf"},         {"fstat", 1, "statbuf"},
    {"newfstatat", 2, "statbuf"},  {"pipe2", 0, "fildes"},          {"poll", 0, "ufds"},
    {"writev", 1, "vec"},          {"readv", 1, "vec"},             {"nanosleep", 0, "rqtp"},
    {"clock_nanosleep", 2, "rqtp"}, {"uname", 0, "name"},           {"epoll_ctl", 3, "event"},
    {"epoll_wait", 1, "events"},   {"wait4", 1, "stat_addr"},
    {"accept4", 2, "upeer_addrlen"}, {"getsockname", 2, "usockaddr_len"}, {"getpeername", 2, "usockaddr_len"},
    {"getsockopt", 4, "optlen"},   {"recvfrom", 5, "addr_len"},    {"futex", 3, "utime"},
    {"sendmsg", 1, "msg"},         {"recvmsg", 1, "msg"},
    {"pselect6", 1, "inp"},        {"pselect6", 2, "outp"},        {"pselect6", 3, "exp"},
    {"pselect6", 4, "tsp"},        {"select", 1, "inp"},           {"select", 2, "outp"},
    {"select", 3, "exp"},          {"select", 4, "tvp"},
};

// select's return with the time left, which is the run's own: "2 (in [3], left
// {tv_sec=0, tv_nsec=999987})" with the numbers of "left" masked.
std::string same_select_ret(const std::string& s) {
  static const std::regex left(R"(left \{tv_sec=\d+, tv_(n|u)sec=\d+\})");
  return std::regex_replace(s, left, "left {tv_sec=*, tv_$1sec=*}");
}

class TraceStructs : public ::testing::Test {
 protected:
  void SetUp() override {
    auto strace = resolve_command("strace");
    if (!strace) GTEST_SKIP() << "strace is not installed (scripts/install-deps.sh installs it)";
    strace_ = *strace;
  }

  std::vector<StraceCall> under_strace(std::vector<std::string> opts, const std::vector<std::string>& cmd) {
    TempPath out("strace");
    std::vector<std::string> argv{strace_, "-f", "-qq", "-o", out.path};
    argv.insert(argv.end(), opts.begin(), opts.end());
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    auto r = run(argv, 60s);
    EXPECT_EQ(r.code, 0) << r.output;
    return parse_strace(out.path);
  }

  // cgscope's table rows (written to a file: never cut to a width), by event.
  std::multimap<std::string, std::string> table_rows(const std::vector<std::string>& args, std::string* summary) {
    TempPath out("table");
    std::vector<std::string> argv{CGSCOPE_BIN, "trace", "-o", "table", "--output-file", out.path};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, 60s);
    EXPECT_EQ(r.code, 0) << r.output;
    if (summary) *summary = r.output;
    std::multimap<std::string, std::string> rows;
    std::ifstream in(out.path);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string w, event;
      for (int i = 0; i < 6 && words >> w; i++) event = w;  // TIME CONTAINER COMM PID TID EVENT
      rows.emplace(event, line);
    }
    return rows;
  }

  std::string strace_;
};

TEST_F(TraceStructs, StructArgumentsAreStracesTexts) {
  std::vector<std::string> cmd{CGSCOPE_STRUCT_MIX};
  auto calls = under_strace({}, cmd);
  std::set<std::string> names;
  for (const auto& a : kStructArgs) names.insert(a.syscall);
  std::string events;
  for (const auto& n : names) events += (events.empty() ? "" : ",") + n;
  std::string summary;
  auto rows = table_rows({"-e", events, "--", CGSCOPE_STRUCT_MIX}, &summary);
  EXPECT_NE(summary.find(" 0 lost"), std::string::npos) << summary;
  static const std::regex address("^0x[0-9a-f]+$");
  for (const StructArg& a : kStructArgs) {
    std::multiset<std::string> want, got;
    for (const auto& c : calls)
      if (c.name == a.syscall && a.strace_index < c.args.size())
        want.insert(same_msghdr(without_iov_base(
            std::regex_match(c.args[a.strace_index], address) ? "ADDR" : exit_length(c.args[a.strace_index]))));
    auto [from, to] = rows.equal_range(a.syscall);
    for (auto it = from; it != to; ++it) {
      std::string v = row_value(it->second, a.key);
      got.insert(same_msghdr(without_iov_base(std::regex_match(v, address) ? "ADDR" : v)));
    }
    EXPECT_FALSE(want.empty()) << a.syscall << ": the workload makes it";
    EXPECT_EQ(want, got) << a.syscall << " " << a.key;
  }
  // select's returns: the ready sets and the time left, strace's text.
  for (const char* name : {"select", "pselect6"}) {
    std::multiset<std::string> want, got;
    for (const auto& c : calls)
      if (c.name == name) want.insert(same_select_ret(c.ret));
    auto [sfrom, sto] = rows.equal_range(name);
    for (auto it = sfrom; it != sto; ++it)
      got.insert(same_select_ret(it->second.substr(it->second.rfind(" = ") + 3)));
    EXPECT_EQ(want, got) << name << " returns";
  }
  // The failed newfstatat's struct is an address, as strace shows it.
  bool failed_is_address = false;
  auto [from, to] = rows.equal_range("newfstatat");
  for (auto it = from; it != to; ++it)
    if (it->second.find("nonexistent-cgscope") != std::string::npos)
      failed_is_address = std::regex_match(row_value(it->second, "statbuf"), address);
  EXPECT_TRUE(failed_is_address);
}

TEST_F(TraceStructs, JsonCarriesTheStructsAsObjects) {
  auto run = trace_command({"-e", "poll,wait4,pipe2,newfstatat,sendmsg,recvmsg", "--", CGSCOPE_STRUCT_MIX});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto poll = run.named("poll");
  ASSERT_EQ(poll.size(), 1u);
  const auto& fds = poll[0]["args"]["ufds"];
  ASSERT_TRUE(fds.is_array()) << poll[0].dump();
  ASSERT_EQ(fds.size(), 2u);
  EXPECT_EQ(fds[0]["events"], "POLLIN");
  EXPECT_EQ(fds[0]["revents"], "POLLIN") << "what the call found, from the exit side";
  EXPECT_EQ(fds[1]["revents"], "POLLOUT");
  auto wait4 = run.named("wait4");
  ASSERT_EQ(wait4.size(), 1u);
  EXPECT_EQ(wait4[0]["args"]["stat_addr"]["status"], "WIFEXITED(s) && WEXITSTATUS(s) == 3");
  auto pipe2 = run.named("pipe2");
  ASSERT_EQ(pipe2.size(), 2u) << "the polled pipe, then the one read at its end";
  // Not 3 and 4: the runner may leave fds open (CI's did). The workload polls
  // the pipe's two ends in order, so poll's fds are the ones pipe2 made.
  const auto& made = pipe2[0]["args"]["fildes"];
  ASSERT_TRUE(made.is_array() && made.size() == 2u) << pipe2[0].dump();
  EXPECT_TRUE(made[0].is_number_integer() && made[0].get<int>() >= 0) << pipe2[0].dump();
  EXPECT_NE(made[0], made[1]);
  EXPECT_EQ(made, nlohmann::json::array({fds[0]["fd"], fds[1]["fd"]})) << pipe2[0].dump() << " " << poll[0].dump();
  int files = 0;
  for (const auto& e : run.named("newfstatat")) {
    if (e["args"]["filename"] == "/etc/passwd") {
      files++;
      EXPECT_EQ(e["args"]["statbuf"]["st_mode"], "S_IFREG|0644");
      EXPECT_EQ(e["args"]["statbuf"]["st_size"], std::filesystem::file_size("/etc/passwd"));
    }
    if (e["ret"] != 0) EXPECT_TRUE(e["args"]["statbuf"].is_string()) << "an address: " << e.dump();
  }
  EXPECT_EQ(files, 1);

  // Message headers: the address as an object, the fds passed as numbers, a
  // failed recvmsg as the length it was given.
  auto sent = run.named("sendmsg");
  ASSERT_EQ(sent.size(), 2u);
  const auto& to = sent[0]["args"]["msg"];
  EXPECT_EQ(to["msg_name"]["family"], "AF_INET") << to.dump();
  EXPECT_EQ(to["msg_name"]["address"], "127.0.0.1") << to.dump();
  EXPECT_TRUE(to["msg_name"]["port"].is_number_integer()) << to.dump();
  EXPECT_EQ(to["msg_iov"].size(), 2u) << to.dump();
  EXPECT_EQ(to["msg_iov"][1]["iov_len"], 5) << to.dump();
  const auto& passed = sent[1]["args"]["msg"]["msg_control"];
  ASSERT_TRUE(passed.is_array() && passed.size() == 1u) << sent[1].dump();
  EXPECT_EQ(passed[0]["cmsg_level"], "SOL_SOCKET");
  EXPECT_EQ(passed[0]["cmsg_type"], "SCM_RIGHTS");
  ASSERT_TRUE(passed[0]["cmsg_data"].is_array() && passed[0]["cmsg_data"].size() == 2u) << passed.dump();
  EXPECT_TRUE(passed[0]["cmsg_data"][0].is_number_integer()) << passed.dump();
  auto got = run.named("recvmsg");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1]["args"]["msg"]["msg_flags"], "MSG_CMSG_CLOEXEC") << got[1].dump();
  EXPECT_EQ(got[2]["args"]["msg"], nlohmann::json({{"msg_namelen", 0}})) << got[2].dump();
}

// "N values truncated" of the summary, or -1.
long truncated_count(const std::string& summary) {
  std::smatch m;
  if (std::regex_search(summary, m, std::regex(R"((\d+) values truncated)"))) return std::stol(m[1]);
  return summary.find("cgscope:") != std::string::npos ? 0 : -1;
}

TEST_F(TraceStructs, StringLimitCutsArgvElementsAsStraceDoes) {
  // Two of exactly 6 bytes (kept whole, not counted), three longer (cut, counted).
  std::vector<std::string> cmd{"/bin/true", "aaaaaa", "bbbbbbbbbb", "cccccc", "dddddddd"};
  auto calls = under_strace({"-s", "6", "-e", "trace=execve"}, cmd);
  ASSERT_FALSE(calls.empty());
  ASSERT_GE(calls[0].args.size(), 2u);
  EXPECT_EQ(calls[0].args[1], R"(["/bin/t"..., "aaaaaa", "bbbbbb"..., "cccccc", "dddddd"...])");

  std::vector<std::string> args{"-e", "execve", "-s", "6", "--"};
  args.insert(args.end(), cmd.begin(), cmd.end());
  auto run = trace_command(args);
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto ev = run.named("execve");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["args"]["filename"], "/bin/true") << "file names are not cut (nor by strace)";
  EXPECT_EQ(ev[0]["args"]["argv"],
            nlohmann::json::array({"/bin/t...", "aaaaaa", "bbbbbb...", "cccccc", "dddddd..."}));
  EXPECT_EQ(truncated_count(run.stderr_text), 3) << run.stderr_text;

  std::string summary;
  std::vector<std::string> targs{"-e", "execve", "-s", "6", "--"};
  targs.insert(targs.end(), cmd.begin(), cmd.end());
  auto rows = table_rows(targs, &summary);
  ASSERT_EQ(rows.count("execve"), 1u);
  EXPECT_EQ(row_value(rows.find("execve")->second, "argv"), "[/bin/t..., aaaaaa, bbbbbb..., cccccc, dddddd...]");
}

TEST_F(TraceStructs, ArgvMaxKeepsTheFirstElementsAndMarksTheRest) {
  auto run = trace_command({"-e", "execve", "--argv-max", "2", "--", "/bin/true", "one", "two", "three"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto ev = run.named("execve");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["args"]["argv"], nlohmann::json::array({"/bin/true", "one", "..."}));
  EXPECT_EQ(truncated_count(run.stderr_text), 1) << run.stderr_text;
  // Exactly as many as it has: nothing is cut.
  auto whole = trace_command({"-e", "execve", "--argv-max", "3", "--", "/bin/true", "one", "two"});
  ASSERT_EQ(whole.named("execve").size(), 1u);
  EXPECT_EQ(whole.named("execve")[0]["args"]["argv"], nlohmann::json::array({"/bin/true", "one", "two"}));
  EXPECT_EQ(truncated_count(whole.stderr_text), 0) << whole.stderr_text;
}

// --capture-buffers N keeps the iovecs' contents, each element cut at N as
// strace's -s N cuts it: readv/writev and the msghdr calls' texts are strace's
// with iov_base's bytes, and every cut element is counted once.
TEST_F(TraceStructs, IovContentsUnderCaptureBuffersAreStracesTexts) {
  std::vector<std::string> cmd{CGSCOPE_STRUCT_MIX};
  const std::vector<StructArg> iov_args = {
      {"writev", 1, "vec"}, {"readv", 1, "vec"}, {"sendmsg", 1, "msg"}, {"recvmsg", 1, "msg"}};
  static const std::regex cut_element(R"(iov_base="([^"\\]|\\.)*"\.\.\.)");
  for (const char* limit : {"3", "32"}) {
    auto calls = under_strace({"-s", limit, "-e", "trace=writev,readv,sendmsg,recvmsg"}, cmd);
    std::string summary;
    auto rows = table_rows({"-e", "writev,readv,sendmsg,recvmsg", "--capture-buffers", limit, "--", CGSCOPE_STRUCT_MIX},
                           &summary);
    long cut = 0;
    for (const StructArg& a : iov_args) {
      std::multiset<std::string> want, got;
      for (const auto& c : calls) {
        if (c.name != a.syscall || a.strace_index >= c.args.size()) continue;
        const std::string& v = c.args[a.strace_index];
        want.insert(same_msghdr(exit_length(v)));
        cut += std::distance(std::sregex_iterator(v.begin(), v.end(), cut_element), std::sregex_iterator());
      }
      auto [from, to] = rows.equal_range(a.syscall);
      for (auto it = from; it != to; ++it) got.insert(same_msghdr(row_value(it->second, a.key)));
      EXPECT_FALSE(want.empty()) << a.syscall;
      EXPECT_EQ(want, got) << a.syscall << " " << a.key << " at -s " << limit;
    }
    if (std::string(limit) == "3") EXPECT_GE(cut, 5) << "the workload's elements longer than 3 bytes";
    EXPECT_EQ(truncated_count(summary), cut) << summary;
  }
}

// d_ino differs between the two runs (each makes its own directory); d_off is
// the name's hash on ext4 (the same) or its position on tmpfs (the same too).
// A failed call's buffer is a bare pointer, on a stack that ASLR moves each run.
std::string without_inodes(const std::string& s) {
  static const std::regex ino(R"(d_ino=\d+)"), pointer(R"(^0x[0-9a-f]+$)");
  return std::regex_replace(std::regex_replace(s, ino, "d_ino=*"), pointer, "0x*");
}

TEST_F(TraceStructs, Dirents64AreStraceVerbosesEntries) {
  std::vector<std::string> cmd{CGSCOPE_STRUCT_MIX};
  std::multiset<std::string> want, got;
  for (const auto& c : under_strace({"-v", "-e", "trace=getdents64"}, cmd))
    if (c.name == "getdents64" && c.args.size() == 3) want.insert(without_inodes(c.args[1]));
  auto rows = table_rows({"-e", "getdents64", "--", CGSCOPE_STRUCT_MIX}, nullptr);
  auto [from, to] = rows.equal_range("getdents64");
  for (auto it = from; it != to; ++it) got.insert(without_inodes(row_value(it->second, "dirent")));
  ASSERT_EQ(want.size(), 3u) << "the entries, the end ([]), the bad fd";
  EXPECT_TRUE(want.count("[]"));
  EXPECT_EQ(want, got);
}

TEST_F(TraceStructs, JsonCarriesLengthsTimeoutsAndEntries) {
  auto run = trace_command({"-e", "accept4,getpeername,getsockopt,futex,getdents64", "--", CGSCOPE_STRUCT_MIX});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  auto accept4 = run.named("accept4");
  ASSERT_EQ(accept4.size(), 1u);
  EXPECT_EQ(accept4[0]["args"]["upeer_addrlen"], nlohmann::json::array({16}));
  auto peer = run.named("getpeername");
  ASSERT_EQ(peer.size(), 1u);
  EXPECT_EQ(peer[0]["args"]["usockaddr_len"], nlohmann::json::array({16})) << "given 128: the length at exit";
  auto opt = run.named("getsockopt");
  ASSERT_EQ(opt.size(), 1u);
  EXPECT_EQ(opt[0]["args"]["optlen"], nlohmann::json::array({4}));
  std::vector<nlohmann::json> utimes;
  for (const auto& e : run.named("futex")) utimes.push_back(e["args"]["utime"]);
  ASSERT_EQ(utimes.size(), 4u);
  EXPECT_EQ(utimes[0], (nlohmann::json{{"tv_sec", 1}, {"tv_nsec", 0}}));
  EXPECT_TRUE(utimes[1].is_null());
  EXPECT_EQ(utimes[2], (nlohmann::json{{"tv_sec", 0}, {"tv_nsec", 1000000}}));
  EXPECT_EQ(utimes[3], 7) << "FUTEX_CMP_REQUEUE's val2";
  std::map<std::string, std::string> types;
  auto dents = run.named("getdents64");
  ASSERT_EQ(dents.size(), 3u);
  for (const auto& d : dents[0]["args"]["dirent"]) types[d["d_name"]] = d["d_type"];
  EXPECT_EQ(types, (std::map<std::string, std::string>{
                       {".", "DT_DIR"}, {"..", "DT_DIR"}, {"file", "DT_REG"}, {"sub", "DT_DIR"}}));
  EXPECT_EQ(dents[1]["args"]["dirent"], nlohmann::json::array());
  EXPECT_TRUE(dents[2]["args"]["dirent"].is_string()) << "the bad fd's: an address";
}

TEST_F(TraceStructs, Dirents64PastTheLimitAreCutAndCounted) {
  // 200 names of 40 bytes: more than the 4096 bytes an array keeps.
  TempPath dir("dents");
  std::filesystem::create_directory(dir.path);
  for (int i = 0; i < 200; i++) std::ofstream(dir.path + "/" + std::string(32, 'n') + std::to_string(1000 + i));
  auto run = trace_command({"-e", "getdents64", "--", "/bin/ls", "-f", dir.path});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  int cut = 0;
  for (const auto& e : run.named("getdents64")) {
    const auto& d = e["args"]["dirent"];
    if (!d.is_array() || d.empty()) continue;
    if (e["ret"].get<int64_t>() > CGS_STRUCT_MAX) {
      cut++;
      EXPECT_EQ(d.back(), "...") << e.dump();
      EXPECT_LT(d.size(), 202u);
    } else {
      EXPECT_NE(d.back(), "...");
    }
  }
  EXPECT_EQ(cut, 1) << "ls reads the directory in one call of 32 KiB";
  EXPECT_EQ(truncated_count(run.stderr_text), cut) << run.stderr_text;
}

TEST_F(TraceStructs, LimitsOutOfRangeAreRefused) {
  for (auto bad : {std::vector<std::string>{"-s", "0"}, {"-s", "5000"}, {"--argv-max", "0"}, {"--argv-max", "65"}}) {
    std::vector<std::string> argv{CGSCOPE_BIN, "trace"};
    argv.insert(argv.end(), bad.begin(), bad.end());
    argv.insert(argv.end(), {"--", "/bin/true"});
    auto r = run(argv, 30s);
    EXPECT_NE(r.code, 0) << bad[0] << " " << bad[1] << ": " << r.output;
  }
}

}  // namespace
}  // namespace cgscope::testing
