// Child: a process a root integration test starts, owned so that it and all it
// starts end with the object, with every wait on it bounded; run(): a command to
// completion within a bound. See owned.h for the whole set of owners.
#pragma once

#include "bounded.h"

namespace cgscope::testing {

// ---------------------------------------------------------------------------
// Child

enum class Stream { kInherit, kNull, kPipe };  // kPipe: read it with pipe_fd()

struct ChildOptions {
  std::string cgroup{};            // absolute cgroup directory to join first; "" stays in ours
  bool held = false;               // start() returns with it waiting (in its cgroup); release() runs it
  Stream out = Stream::kInherit;   // stdout
  Stream err = Stream::kInherit;   // stderr (kPipe with out kPipe: the same pipe)
  std::vector<std::string> env{};  // "NAME=value" set in the environment of an exec'd argv
  int death_signal = SIGKILL;      // sent by the kernel if the thread that started it dies
                                   // (this binary killed by ctest's timeout, say); 0: none
  std::string name{};              // for messages; argv by default
};

// A forked process that leads its own process group, so that killpg reaches the
// whole tree it starts (all of it that stays in the group: a process that calls
// setsid or setpgid leaves, and is reached only through its cgroup). Not copyable;
// movable. Start it from a thread that outlives it (death_signal follows the thread).
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept { take(o); }
  Child& operator=(Child&& o) noexcept {
    if (this != &o) {
      end();
      take(o);
    }
    return *this;
  }
  ~Child() { end(); }

  // Forks and execs argv (searched on PATH). Returns once it runs argv (or waits,
  // if held); false with error() if it could not (the child is reaped then).
  bool start(std::vector<std::string> argv, ChildOptions o = {}) {
    if (argv.empty()) return failed("start(): no argv");
    bool held = o.held;
    return spawn(&argv, nullptr, std::move(o)) && read_start_report(held);
  }
  // Forks and runs fn in the child, which _exits with fn's value (no exec).
  bool start_fn(std::function<int()> fn, ChildOptions o = {}) {
    bool held = o.held;
    return spawn(nullptr, &fn, std::move(o)) && read_start_report(held);
  }

  // Lets a held child go on; true once it runs (exec'd, or fn called).
  bool release() {
    if (!go_) return failed("release(): not held");
    WaitNote note("exec of held " + name_);
    char c = 1;
    bool wrote = ::write(go_.get(), &c, 1) == 1;
    go_.reset();
    if (!wrote) return failed("release(): " + std::string(std::strerror(errno)));
    return read_start_report(false);
  }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !status_; }
  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }
  int pipe_fd() const { return pipe_.get(); }  // read end of the kPipe stream(s)
  std::optional<int> status() const { return status_; }  // once reaped

  // Reads the pipe to EOF within `limit` into `out`; true at EOF.
  bool read_out(std::string& out, Clock::duration limit) {
    WaitNote note("output of " + name_ + " (pid " + std::to_string(pid_) + ")");
    return read_until(pipe_.get(), out, Clock::now() + limit) == ReadEnd::kEof;
  }

  // `sig` to the leader only (cgscope forwards SIGINT/SIGTERM itself).
  void signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }
  // `sig` to the whole group.
  void kill_group(int sig = SIGKILL) {
    if (!running()) return;
    std::lock_guard<std::mutex> g(detail::registry().mu);
    ::kill(-pid_, sig);
    ::kill(pid_, sig);
  }

  // Waits at most `limit` for the leader to exit. Then SIGKILLs whatever is left
  // in its group (the group ends with its leader: only while the leader is
  // unreaped is the group id surely ours), reaps the leader and returns its wait
  // status. nullopt if it still runs (or was never started).
  std::optional<int> wait_for(Clock::duration limit) {
    if (status_ || pid_ <= 0) return status_;
    WaitNote note("exit of " + name_ + " (pid " + std::to_string(pid_) + ")");
    auto deadline = Clock::now() + limit;
    for (;;) {
      siginfo_t si{};
      int r = ::waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOHANG | WNOWAIT);
      if (r == 0 && si.si_pid == pid_) break;
      if (r < 0 && errno != EINTR) {  // ECHILD: someone reaped it behind our back
        forget();
        return status_;
      }
      auto left = left_ms(deadline);
      if (left <= 0) return std::nullopt;
      int step = static_cast<int>(std::min<long long>(left, 1000));
      if (pidfd_) {
        pollfd p{pidfd_.get(), POLLIN, 0};
        ::poll(&p, 1, step);
      } else {
        ::usleep(static_cast<useconds_t>(std::min(step, 10)) * 1000);
      }
    }
    std::lock_guard<std::mutex> g(detail::registry().mu);
    ::kill(-pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = st;
    detail::remove_group_locked(pid_);
    return status_;
  }

  // SIGKILLs the group and reaps the leader (bounded); what the destructor does.
  void end() {
    if (running()) {
      kill_group(SIGKILL);
      if (!wait_for(kEndLimit))
        std::fprintf(stderr, "cgscope tests: %s (pid %d) did not die of SIGKILL within %lld s\n", name_.c_str(),
                     pid_, static_cast<long long>(std::chrono::seconds(kEndLimit).count()));
    }
    go_.reset();
    report_.reset();
    pipe_.reset();
    pidfd_.reset();
  }

 private:
  struct Report {  // what the child says on the start pipe before it runs
    int what;      // 'H' held and waiting, 'C' cgroup join failed, 'E' exec failed
    int err;
  };

  bool failed(std::string why) {
    error_ = std::move(why);
    return false;
  }

  void take(Child& o) {
    pid_ = std::exchange(o.pid_, -1);
    status_ = std::exchange(o.status_, std::nullopt);
    pidfd_ = std::move(o.pidfd_);
    report_ = std::move(o.report_);
    go_ = std::move(o.go_);
    pipe_ = std::move(o.pipe_);
    name_ = std::move(o.name_);
    error_ = std::move(o.error_);
    cgroup_ = std::move(o.cgroup_);
  }

  void forget() {
    std::lock_guard<std::mutex> g(detail::registry().mu);
    detail::remove_group_locked(pid_);
    pid_ = -1;
  }

  bool spawn(std::vector<std::string>* argv, std::function<int()>* fn, ChildOptions o) {
    if (pid_ > 0) return failed("start(): already started");
    (void)detail::registry();  // its fork handlers are in place before the first fork
    error_.clear();
    name_.clear();
    status_.reset();
    cgroup_ = o.cgroup;
    if (!o.name.empty()) {
      name_ = o.name;
    } else if (argv) {
      for (const auto& a : *argv) name_ += (name_.empty() ? "" : " ") + a;
      if (name_.size() > 80) name_ = name_.substr(0, 77) + "...";
    } else {
      name_ = "a forked function";
    }
    // Everything the child needs is made before fork: after it, only syscalls.
    std::vector<char*> args, envp;
    if (argv) {
      for (auto& a : *argv) args.push_back(a.data());
      args.push_back(nullptr);
      for (auto& e : o.env) envp.push_back(e.data());
      for (char** e = environ; *e; ++e) {  // minus what o.env sets
        std::string_view var(*e);
        std::string_view name = var.substr(0, var.find('=') + 1);
        bool replaced = false;
        for (const auto& x : o.env) replaced |= std::string_view(x).substr(0, name.size()) == name;
        if (!replaced) envp.push_back(*e);
      }
      envp.push_back(nullptr);
    }
    const std::string procs = o.cgroup.empty() ? "" : o.cgroup + "/cgroup.procs";
    int rep[2], go[2] = {-1, -1}, io[2] = {-1, -1};
    if (::pipe2(rep, O_CLOEXEC) != 0) return failed("pipe2: " + std::string(std::strerror(errno)));
    UniqueFd rep_r(rep[0]), rep_w(rep[1]), go_r, go_w, io_r, io_w;
    if (o.held) {
      if (::pipe2(go, O_CLOEXEC) != 0) return failed("pipe2: " + std::string(std::strerror(errno)));
      go_r.reset(go[0]);
      go_w.reset(go[1]);
    }
    if (o.out == Stream::kPipe || o.err == Stream::kPipe) {
      if (::pipe2(io, O_CLOEXEC) != 0) return failed("pipe2: " + std::string(std::strerror(errno)));
      io_r.reset(io[0]);
      io_w.reset(io[1]);
    }
    const pid_t parent = ::getpid();

    pid_t pid = ::fork();
    if (pid < 0) return failed("fork: " + std::string(std::strerror(errno)));
    if (pid == 0) {
      auto report = [&](int what) {
        Report r{what, errno};
        (void)!::write(rep[1], &r, sizeof r);
      };
      ::setpgid(0, 0);
      // What this binary set up must not reach the child: the handlers of main.cc
      // (a SIGTERM must not end the parent's groups) and blocked signals.
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD}) ::sigaction(sig, &dfl, nullptr);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      if (o.death_signal) ::prctl(PR_SET_PDEATHSIG, o.death_signal);
      if (::getppid() != parent) ::_exit(125);  // the parent is gone already
      if (!procs.empty()) {
        int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, "0", 1) != 1) {
          report('C');
          ::_exit(126);
        }
        ::close(fd);
      }
      if (o.out == Stream::kNull || o.err == Stream::kNull) {
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (o.out == Stream::kNull) ::dup2(null, 1);
        if (o.err == Stream::kNull) ::dup2(null, 2);
      }
      if (o.out == Stream::kPipe) ::dup2(io[1], 1);
      if (o.err == Stream::kPipe) ::dup2(io[1], 2);
      if (o.held) {
        errno = 0;
        report('H');
        char c;
        ssize_t n;
        do n = ::read(go[0], &c, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) ::_exit(125);  // the owner let go without releasing it
      }
      if (fn) {
        ::close(rep[1]);  // EOF on the report pipe: running
        ::_exit((*fn)());
      }
      ::execvpe(args[0], args.data(), envp.data());
      report('E');
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // the child does it too; whichever comes first
    pid_ = pid;
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    {
      std::lock_guard<std::mutex> g(detail::registry().mu);
      detail::add_group_locked(pid, name_);
    }
    report_ = std::move(rep_r);
    go_ = std::move(go_w);
    pipe_ = std::move(io_r);
    rep_w.reset();
    go_r.reset();
    io_w.reset();
    return true;
  }

  bool read_start_report(bool held) {
    std::string buf;
    ReadEnd r;
    {
      WaitNote note("start of " + name_);
      r = read_until(report_.get(), buf, Clock::now() + kStartLimit,
                     [](const std::string& b) { return b.size() >= sizeof(Report); });
    }
    if (r == ReadEnd::kEof && buf.empty() && !held) {  // the pipe closed on exec (or before fn)
      report_.reset();
      return true;
    }
    Report rep{};
    if (buf.size() >= sizeof rep) std::memcpy(&rep, buf.data(), sizeof rep);
    if (held && rep.what == 'H') return true;
    std::string why;
    if (rep.what == 'C') {
      why = "cannot join cgroup " + cgroup_ + ": " + std::strerror(rep.err);
    } else if (rep.what == 'E') {
      why = "cannot run " + name_ + ": " + std::strerror(rep.err);
    } else if (r == ReadEnd::kTimeout) {
      why = name_ + " did not start within " + std::to_string(std::chrono::seconds(kStartLimit).count()) + " s";
    } else {
      why = name_ + " ended before it started";
    }
    end();
    return failed(why);
  }

  pid_t pid_ = -1;
  std::optional<int> status_;
  UniqueFd pidfd_, report_, go_, pipe_;
  std::string name_, error_, cgroup_;
};

// ---------------------------------------------------------------------------

struct RunResult {
  std::optional<int> code;  // exit_code(): exit status or 128 + signal; nullopt: did not end in time
  std::string output;       // stdout and stderr together
};

// Runs argv to completion within `limit` (then it is killed); output captured.
inline RunResult run(std::vector<std::string> argv, Clock::duration limit = 30s) {
  RunResult res;
  Child c;
  if (!c.start(std::move(argv), {.out = Stream::kPipe, .err = Stream::kPipe})) {
    res.output = c.error();
    return res;
  }
  auto deadline = Clock::now() + limit;
  {
    WaitNote note("output of " + c.name());
    read_until(c.pipe_fd(), res.output, deadline);
  }
  auto st = c.wait_for(std::max<Clock::duration>(deadline - Clock::now(), 0s));
  if (st) res.code = exit_code(st);
  else res.output += "\n(did not end within the bound; killed)";
  return res;
}

}  // namespace cgscope::testing
