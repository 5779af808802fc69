// Owners for everything a root integration test makes, and bounds for every wait,
// so that a failed ASSERT_* (which returns early), an exception or a failed setup
// leaves nothing behind and no test can hang. One mechanism for all the test files:
//
//   Child        a forked process in its own process group: optionally in a cgroup,
//                optionally held before it runs, exec'ing argv or running a
//                function, stdout/stderr inherited, /dev/null or a pipe. The
//                destructor SIGKILLs the whole group and reaps the leader; every
//                wait on it is bounded; if this binary dies, it gets death_signal.
//   run()        a command to completion within a bound, its output captured.
//   read_until() a read of a pipe within a deadline.
//   write_fifo() a write to a FIFO that gives up when no reader comes.
//   TempPath     a temporary file or directory (or an adopted path: a pin, say).
//   ScopedNetns  a network namespace (`ip netns add`), entered by this thread,
//                left and deleted with the object.
//   ScopedMount  a mount, detached with the object.
//   Cleanup      any other undo step, run by the destructor.
//   WaitNote     what the test is waiting for, shown by the watchdog.
//
// Cgroups are owned by ScopedCgroup (core/cgroup2.h). The watchdog (main.cc)
// reads the registry of live process groups below: when a test runs past its
// limit it SIGKILLs them, so that whatever wait the test is in returns and the
// owners above clean up; a test that still does not end is ended with the binary.
#pragma once

#include "child.h"

namespace cgscope::testing {

// A temporary path (file or directory tree), removed with the object.
class TempPath {
 public:
  explicit TempPath(const std::string& what) : path("/tmp/" + unique_name(what)) {}
  // Owns an existing path (a pin directory, a file a program under test makes).
  static TempPath adopt(std::string p) {
    TempPath t;
    t.path = std::move(p);
    return t;
  }
  TempPath(TempPath&& o) noexcept : path(std::exchange(o.path, "")) {}
  TempPath& operator=(TempPath&& o) noexcept {
    if (this != &o) {
      remove();
      path = std::exchange(o.path, "");
    }
    return *this;
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  ~TempPath() { remove(); }
  void remove() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }

  std::string path;

 private:
  TempPath() = default;
};

// Runs `fn` when it goes out of scope (unless dismissed).
class Cleanup {
 public:
  Cleanup() = default;
  explicit Cleanup(std::function<void()> fn) : fn_(std::move(fn)) {}
  Cleanup(Cleanup&& o) noexcept : fn_(std::exchange(o.fn_, nullptr)) {}
  Cleanup& operator=(Cleanup&& o) noexcept {
    if (this != &o) {
      run();
      fn_ = std::exchange(o.fn_, nullptr);
    }
    return *this;
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  ~Cleanup() { run(); }
  void dismiss() { fn_ = nullptr; }
  void run() {
    if (auto f = std::exchange(fn_, nullptr)) f();
  }

 private:
  std::function<void()> fn_;
};

// A network namespace made with `ip netns add NAME` (so `ip -n NAME` works on it).
// enter() moves the calling thread (and so the processes and threads it starts
// afterwards) into it; the destructor, run on the same thread, moves it back and
// deletes the namespace.
class ScopedNetns {
 public:
  ScopedNetns() = default;
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;
  ~ScopedNetns() { remove(); }

  bool create(const std::string& name) {
    auto r = run({"ip", "netns", "add", name});
    if (r.code != 0) {
      error_ = "ip netns add " + name + ": " + r.output;
      return false;
    }
    name_ = name;
    return true;
  }
  bool enter() {
    orig_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    UniqueFd ns(::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC));
    if (!orig_ || !ns || ::setns(ns.get(), CLONE_NEWNET) != 0) {
      error_ = "entering netns " + name_ + ": " + std::strerror(errno);
      orig_.reset();
      return false;
    }
    return true;
  }
  void remove() {
    if (orig_) {
      ::setns(orig_.get(), CLONE_NEWNET);
      orig_.reset();
    }
    if (!name_.empty()) {
      auto r = run({"ip", "netns", "del", name_});
      if (r.code != 0) std::fprintf(stderr, "cgscope tests: ip netns del %s: %s\n", name_.c_str(), r.output.c_str());
      name_.clear();
    }
  }
  const std::string& name() const { return name_; }
  const std::string& error() const { return error_; }

 private:
  std::string name_, error_;
  UniqueFd orig_;
};

// A mount, detached (MNT_DETACH) with the object. mount() makes one; adopt()
// takes one that the program under test made.
class ScopedMount {
 public:
  ScopedMount() = default;
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  ~ScopedMount() { remove(); }

  bool mount(const std::string& source, const std::string& target, const std::string& fstype,
             unsigned long flags = 0, const std::string& data = "") {
    if (::mount(source.c_str(), target.c_str(), fstype.c_str(), flags, data.empty() ? nullptr : data.c_str()) != 0) {
      error_ = "mount " + fstype + " on " + target + ": " + std::strerror(errno);
      return false;
    }
    target_ = target;
    return true;
  }
  void adopt(const std::string& target) { target_ = target; }
  void remove() {
    if (!target_.empty() && ::umount2(target_.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      std::fprintf(stderr, "cgscope tests: umount %s: %s\n", target_.c_str(), std::strerror(errno));
    target_.clear();
  }
  const std::string& target() const { return target_; }
  const std::string& error() const { return error_; }

 private:
  std::string target_, error_;
};

}  // namespace cgscope::testing
