#include "trace/signal_text.h"

#include <csignal>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cgscope::trace {
namespace {

cgs_record signal_record(uint32_t nr, int sig, int code, uint32_t pid, uint32_t uid, int32_t status, uint64_t extra,
                         int64_t ret = 0) {
  cgs_record r{};
  r.nr = nr;
  r.args[0] = uint32_t(sig);
  r.args[2] = uint32_t(code);
  r.args[3] = uint64_t(pid) | uint64_t(uid) << 32;
  r.args[4] = uint32_t(status);
  r.args[5] = extra;
  r.ret = ret;
  return r;
}

TEST(SiCodeName, BySignalAndCode) {
  EXPECT_EQ(si_code_name(SIGCHLD, 1), "CLD_EXITED");
  EXPECT_EQ(si_code_name(SIGCHLD, 2), "CLD_KILLED");
  EXPECT_EQ(si_code_name(SIGSEGV, 1), "SEGV_MAPERR");
  EXPECT_EQ(si_code_name(SIGTERM, 0), "SI_USER");
  EXPECT_EQ(si_code_name(SIGTERM, -6), "SI_TKILL");
  EXPECT_EQ(si_code_name(SIGKILL, 0x80), "SI_KERNEL");
  EXPECT_EQ(si_code_name(SIGTERM, 3), "") << "a positive code means nothing for SIGTERM";
  EXPECT_EQ(si_code_name(SIGCHLD, 9), "");
}

TEST(SignalText, SigchldOfAnExitLikeStrace) {
  std::string s;
  append_signal_text(s, signal_record(CGS_EV_SIGNAL_DELIVER, SIGCHLD, 1, 4242, 1000, 3, 0x401000));
  EXPECT_EQ(s, "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=4242, si_uid=1000, si_status=3} ---");
}

TEST(SignalText, SigchldOfAKillNamesTheSignal) {
  std::string s;
  append_signal_text(s, signal_record(CGS_EV_SIGNAL_DELIVER, SIGCHLD, 2, 4242, 0, SIGTERM, 0));
  EXPECT_EQ(s, "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=4242, si_uid=0, si_status=SIGTERM} ---");
}

TEST(SignalText, GenerateSaysSenderAndResult) {
  std::string s;
  append_signal_text(s, signal_record(CGS_EV_SIGNAL_GENERATE, SIGTERM, 0, 77, 0, 0, 77, CGS_SIG_RESULT_IGNORED));
  EXPECT_EQ(s, "--- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=77, si_uid=0} --- sender_pid=77 result=ignored");
}

TEST(SignalText, FaultShowsTheAddress) {
  cgs_record r = signal_record(CGS_EV_SIGNAL_DELIVER, SIGSEGV, 1, 0, 0, 0, 0);
  r.args[3] = 0xdead0;
  std::string s;
  append_signal_text(s, r);
  EXPECT_EQ(s, "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0xdead0} ---");
}

TEST(SignalJson, StructuredFields) {
  std::string s = "{";
  append_signal_json_args(s, signal_record(CGS_EV_SIGNAL_GENERATE, SIGCHLD, 2, 4242, 0, SIGKILL, 4242));
  s += "}";
  auto j = nlohmann::json::parse(s);
  EXPECT_EQ(j["signal"], "SIGCHLD");
  EXPECT_EQ(j["signo"], SIGCHLD);
  EXPECT_EQ(j["code"], "CLD_KILLED");
  EXPECT_EQ(j["errno"], 0);
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_EQ(j["status"], SIGKILL);
  EXPECT_EQ(j["status_signal"], "SIGKILL");
  EXPECT_EQ(j["sender_pid"], 4242);
  EXPECT_EQ(j["result"], "delivered");
}

TEST(SignalJson, UnknownNamesAreNumbers) {
  std::string s = "{";
  append_signal_json_args(s, signal_record(CGS_EV_SIGNAL_DELIVER, 0, 42, 0, 0, 0, 1));
  s += "}";
  auto j = nlohmann::json::parse(s);
  EXPECT_EQ(j["signal"], 0);
  EXPECT_EQ(j["code"], 42);
  EXPECT_EQ(j["handler"], 1);
}

}  // namespace
}  // namespace cgscope::trace
