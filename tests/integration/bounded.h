// Bounds for every wait of a root integration test, and the registry the watchdog
// (main.cc) reads: the live process groups that Child (owned.h) owns and what the
// test is waiting for. Bounded reads of pipes and writes to FIFOs.
#pragma once


#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/unique_fd.h"

extern char** environ;


namespace cgscope::testing {


using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Bounds of the helpers below; each is well under the watchdog's limit.
inline constexpr auto kStartLimit = 10s;  // a Child's fork, cgroup join and exec
inline constexpr auto kEndLimit = 10s;    // a SIGKILLed group's leader to be reaped

inline std::string unique_name(const std::string& what) {
  static std::atomic<int> n{0};
  return "cgscope-it-" + what + "-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

// ---------------------------------------------------------------------------
// The registry: live process groups (for the watchdog and the signal handlers of
// main.cc) and what the test is waiting for.
namespace detail {

inline constexpr int kSlots = 256;
// The same pgids as Registry::groups, readable from a signal handler.
inline std::atomic<pid_t> g_group_slots[kSlots];

struct Registry {
  std::mutex mu;  // held while a group is signalled or its leader reaped
  std::map<pid_t, std::string> groups;  // pgid (= leader's pid) -> what it is
  std::list<std::string> waits;         // WaitNotes alive now
};
// fork() takes the lock, so that no child inherits it locked (a function child
// may use these helpers); the child starts with an empty registry of its own.
inline Registry& registry() {
  static Registry* r = [] {
    static Registry reg;
    pthread_atfork([] { reg.mu.lock(); }, [] { reg.mu.unlock(); },
                   [] {
                     reg.mu.unlock();
                     reg.groups.clear();
                     for (auto& s : g_group_slots) s.store(0, std::memory_order_relaxed);
                   });
    return &reg;
  }();
  return *r;
}

inline void add_group_locked(pid_t pgid, const std::string& what) {
  registry().groups[pgid] = what;
  for (auto& s : g_group_slots) {
    pid_t zero = 0;
    if (s.compare_exchange_strong(zero, pgid)) break;
  }
}
inline void remove_group_locked(pid_t pgid) {
  registry().groups.erase(pgid);
  for (auto& s : g_group_slots) {
    pid_t p = pgid;
    if (s.compare_exchange_strong(p, 0)) break;
  }
}

}  // namespace detail

// SIGKILLs (or `sig`s) every live group a Child owns; returns what it signalled.
// A group is in the registry only while its leader is unreaped, so its id is ours.
inline std::vector<std::string> signal_owned_groups(int sig = SIGKILL) {
  auto& r = detail::registry();
  std::lock_guard<std::mutex> g(r.mu);
  std::vector<std::string> what;
  for (const auto& [pgid, name] : r.groups) {
    ::kill(-pgid, sig);
    ::kill(pgid, sig);  // the leader, should it have left its group
    what.push_back(std::to_string(pgid) + " (" + name + ")");
  }
  return what;
}

// The same for a signal handler (async-signal-safe; no lock).
inline void signal_owned_groups_from_handler(int sig) noexcept {
  for (auto& s : detail::g_group_slots)
    if (pid_t p = s.load(std::memory_order_relaxed); p > 0) ::kill(-p, sig);
}

// What the test is waiting for while this lives ("cgscope to say it is tracing").
class WaitNote {
 public:
  explicit WaitNote(std::string what) {
    auto& r = detail::registry();
    std::lock_guard<std::mutex> g(r.mu);
    it_ = r.waits.insert(r.waits.end(), std::move(what));
  }
  ~WaitNote() {
    auto& r = detail::registry();
    std::lock_guard<std::mutex> g(r.mu);
    r.waits.erase(it_);
  }
  WaitNote(const WaitNote&) = delete;
  WaitNote& operator=(const WaitNote&) = delete;

 private:
  std::list<std::string>::iterator it_;
};

inline std::string current_waits() {
  auto& r = detail::registry();
  std::lock_guard<std::mutex> g(r.mu);
  std::string out;
  for (const auto& w : r.waits) out += (out.empty() ? "" : "; ") + w;
  return out.empty() ? "nothing the helpers know of" : out;
}

// ---------------------------------------------------------------------------
// Bounded I/O.

// Milliseconds to `deadline`, rounded up (a wait never ends before its bound).
inline long long left_ms(Clock::time_point deadline) {
  return std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

enum class ReadEnd { kDone, kEof, kTimeout, kError };

// Appends what `fd` gives to `buf` until done(buf) holds (kDone), end of file
// (kEof), the deadline (kTimeout) or an error. Without `done`, reads to EOF.
inline ReadEnd read_until(int fd, std::string& buf, Clock::time_point deadline,
                          const std::function<bool(const std::string&)>& done = nullptr) {
  char chunk[4096];
  for (;;) {
    if (done && done(buf)) return ReadEnd::kDone;
    auto left = left_ms(deadline);
    if (left <= 0) return ReadEnd::kTimeout;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (r < 0 && errno != EINTR) return ReadEnd::kError;
    if (r <= 0) continue;
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ReadEnd::kError;
    if (n == 0) return done && done(buf) ? ReadEnd::kDone : ReadEnd::kEof;
    buf.append(chunk, static_cast<size_t>(n));
  }
}

// Writes `data` to the FIFO at `path` without ever blocking: gives up (false)
// when no reader has it open within `limit`, or the reader goes away.
inline bool write_fifo(const std::string& path, std::string_view data, Clock::duration limit = 10s) {
  WaitNote note("a reader of the FIFO " + path);
  auto deadline = Clock::now() + limit;
  UniqueFd fd;
  for (;;) {  // a non-blocking open for writing fails with ENXIO while no reader is there
    fd.reset(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd) break;
    if (errno != ENXIO && errno != EINTR) return false;
    if (Clock::now() >= deadline) return false;
    ::usleep(5 * 1000);
  }
  // A reader that left raises SIGPIPE: blocked here, and taken back if it came.
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  bool ok = true;
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      ok = false;
      break;
    }
    auto left = left_ms(deadline);
    if (left <= 0) {
      ok = false;
      break;
    }
    pollfd p{fd.get(), POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
  }
  timespec zero{};
  while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

// A wait status as words: "exited 3", "killed by SIGKILL", "not reaped".
inline std::string describe_status(const std::optional<int>& st) {
  if (!st) return "not reaped";
  if (WIFEXITED(*st)) return "exited " + std::to_string(WEXITSTATUS(*st));
  if (WIFSIGNALED(*st)) return std::string("killed by SIG") + sigabbrev_np(WTERMSIG(*st));
  return "status " + std::to_string(*st);
}

// The shell's convention: the exit code, or 128 + the signal; -1 if not reaped.
inline int exit_code(const std::optional<int>& st) {
  if (!st) return -1;
  return WIFEXITED(*st) ? WEXITSTATUS(*st) : 128 + WTERMSIG(*st);
}

}  // namespace cgscope::testing
