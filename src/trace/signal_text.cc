#include "trace/signal_text.h"

#include <array>
#include <csignal>
#include <span>

#include <fmt/format.h>

#include "trace/flags.h"

namespace cgscope::trace {

namespace {

// Kernel constants (include/uapi/asm-generic/siginfo.h).
constexpr int kSiUser = 0, kSiKernel = 0x80, kSiQueue = -1, kSiTimer = -2;

std::string_view pick(std::span<const std::string_view> names, int code) {
  return code >= 1 && size_t(code) <= names.size() ? names[size_t(code) - 1] : std::string_view();
}

// What a siginfo carries, by signal and code.
enum class Fields { none, sender, child, fault, timer };

Fields fields_of(int sig, int code) {
  if (code == kSiKernel) return Fields::none;
  if (code == kSiTimer) return Fields::timer;
  if (code <= 0) return Fields::sender;  // kill, tgkill, sigqueue, mq_notify...
  switch (sig) {
    case SIGCHLD: return Fields::child;
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP: return Fields::fault;
    default: return Fields::none;
  }
}

struct Info {
  int sig = 0, err = 0, code = 0;
  uint32_t pid = 0, uid = 0;
  int32_t status = 0;
  uint64_t word0 = 0;
};

Info info_of(const cgs_record& h) {
  Info i;
  i.sig = int(int32_t(uint32_t(h.args[0])));
  i.err = int(int32_t(uint32_t(h.args[1])));
  i.code = int(int32_t(uint32_t(h.args[2])));
  i.word0 = h.args[3];
  i.pid = uint32_t(h.args[3]);
  i.uid = uint32_t(h.args[3] >> 32);
  i.status = int32_t(uint32_t(h.args[4]));
  return i;
}

void append_name_or_number(std::string& out, std::string_view name, int v) {
  if (name.empty()) fmt::format_to(std::back_inserter(out), "{}", v);
  else out += name;
}

// SIGCHLD's si_status: an exit code for CLD_EXITED, a signal otherwise.
bool status_is_signal(const Info& i) { return i.code != 1; }

}  // namespace

std::string_view si_code_name(int sig, int code) {
  static constexpr std::array<std::string_view, 6> kChld = {"CLD_EXITED", "CLD_KILLED",  "CLD_DUMPED",
                                                            "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"};
  static constexpr std::array<std::string_view, 4> kSegv = {"SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR",
                                                            "SEGV_PKUERR"};
  static constexpr std::array<std::string_view, 3> kBus = {"BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR"};
  static constexpr std::array<std::string_view, 8> kIll = {"ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP",
                                                           "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK"};
  static constexpr std::array<std::string_view, 8> kFpe = {"FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF",
                                                           "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB"};
  static constexpr std::array<std::string_view, 2> kTrap = {"TRAP_BRKPT", "TRAP_TRACE"};
  static constexpr std::array<std::string_view, 6> kPoll = {"POLL_IN", "POLL_OUT", "POLL_MSG",
                                                            "POLL_ERR", "POLL_PRI", "POLL_HUP"};
  switch (code) {
    case kSiUser: return "SI_USER";
    case kSiKernel: return "SI_KERNEL";
    case kSiQueue: return "SI_QUEUE";
    case kSiTimer: return "SI_TIMER";
    case -3: return "SI_MESGQ";
    case -4: return "SI_ASYNCIO";
    case -5: return "SI_SIGIO";
    case -6: return "SI_TKILL";
    case -7: return "SI_DETHREAD";
    case -60: return "SI_ASYNCNL";
    default: break;
  }
  switch (sig) {
    case SIGCHLD: return pick(kChld, code);
    case SIGSEGV: return pick(kSegv, code);
    case SIGBUS: return pick(kBus, code);
    case SIGILL: return pick(kIll, code);
    case SIGFPE: return pick(kFpe, code);
    case SIGTRAP: return pick(kTrap, code);
    case SIGIO: return pick(kPoll, code);
    case SIGSYS: return code == 1 ? "SYS_SECCOMP" : "";
    default: return "";
  }
}

std::string_view signal_result_name(int64_t result) {
  switch (result) {
    case CGS_SIG_RESULT_DELIVERED: return "delivered";
    case CGS_SIG_RESULT_IGNORED: return "ignored";
    case CGS_SIG_RESULT_ALREADY_PENDING: return "already_pending";
    case CGS_SIG_RESULT_OVERFLOW_FAIL: return "overflow_fail";
    case CGS_SIG_RESULT_LOSE_INFO: return "lose_info";
    default: return "";
  }
}

void append_signal_text(std::string& out, const cgs_record& h) {
  Info i = info_of(h);
  auto o = std::back_inserter(out);
  std::string_view sig = signal_name(i.sig);
  out += "--- ";
  append_name_or_number(out, sig, i.sig);
  out += " {si_signo=";
  append_name_or_number(out, sig, i.sig);
  out += ", si_code=";
  append_name_or_number(out, si_code_name(i.sig, i.code), i.code);
  if (i.err) fmt::format_to(o, ", si_errno={}", errno_name(i.err));
  switch (fields_of(i.sig, i.code)) {
    case Fields::sender: fmt::format_to(o, ", si_pid={}, si_uid={}", i.pid, i.uid); break;
    case Fields::child:
      fmt::format_to(o, ", si_pid={}, si_uid={}, si_status=", i.pid, i.uid);
      if (status_is_signal(i)) append_name_or_number(out, signal_name(i.status), i.status);
      else fmt::format_to(o, "{}", i.status);
      break;
    case Fields::fault: fmt::format_to(o, ", si_addr={:#x}", i.word0); break;
    case Fields::timer: fmt::format_to(o, ", si_timerid={:#x}, si_overrun={}", i.pid, int32_t(i.uid)); break;
    case Fields::none: break;
  }
  out += "} ---";
  if (h.nr == CGS_EV_SIGNAL_GENERATE) {
    fmt::format_to(o, " sender_pid={} result=", uint32_t(h.args[5]));
    append_name_or_number(out, signal_result_name(h.ret), int(h.ret));
  }
}

void append_signal_json_args(std::string& out, const cgs_record& h) {
  Info i = info_of(h);
  auto o = std::back_inserter(out);
  std::string_view sig = signal_name(i.sig);
  std::string_view code = si_code_name(i.sig, i.code);
  // The names are the tables' own identifiers: nothing to escape.
  if (sig.empty()) fmt::format_to(o, "\"signal\":{}", i.sig);
  else fmt::format_to(o, "\"signal\":\"{}\"", sig);
  fmt::format_to(o, ",\"signo\":{}", i.sig);
  if (code.empty()) fmt::format_to(o, ",\"code\":{}", i.code);
  else fmt::format_to(o, ",\"code\":\"{}\"", code);
  fmt::format_to(o, ",\"errno\":{}", i.err);
  switch (fields_of(i.sig, i.code)) {
    case Fields::sender: fmt::format_to(o, ",\"pid\":{},\"uid\":{}", i.pid, i.uid); break;
    case Fields::child: {
      fmt::format_to(o, ",\"pid\":{},\"uid\":{},\"status\":{}", i.pid, i.uid, i.status);
      std::string_view ssig = status_is_signal(i) ? signal_name(i.status) : std::string_view();
      if (!ssig.empty()) fmt::format_to(o, ",\"status_signal\":\"{}\"", ssig);
      break;
    }
    case Fields::fault: fmt::format_to(o, ",\"addr\":{}", i.word0); break;
    case Fields::timer: fmt::format_to(o, ",\"timerid\":{},\"overrun\":{}", i.pid, int32_t(i.uid)); break;
    case Fields::none: break;
  }
  if (h.nr == CGS_EV_SIGNAL_GENERATE) {
    std::string_view res = signal_result_name(h.ret);
    fmt::format_to(o, ",\"sender_pid\":{}", uint32_t(h.args[5]));
    if (res.empty()) fmt::format_to(o, ",\"result\":{}", h.ret);
    else fmt::format_to(o, ",\"result\":\"{}\"", res);
  } else {
    fmt::format_to(o, ",\"handler\":{}", h.args[5]);
  }
}

}  // namespace cgscope::trace
