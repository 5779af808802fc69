#include "lb/run.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "core/stop_signal.h"
#include "core/unique_fd.h"
#include "lb/maps.h"
#include "lb/metrics.h"

namespace cgscope::lb {

namespace {

using Clock = std::chrono::steady_clock;

// What identifies a version of the file: a rename brings another inode, a
// rewrite in place another size or mtime, a ConfigMap swap another target.
struct Version {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{}, ctime{};
  bool operator==(const Version& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

std::optional<Version> version_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;  // follows symlinks: the ConfigMap's target
  return Version{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The file's directory under inotify: any name that is created, closed after
// writing, moved in or out, or deleted there may be the file or a link on its way.
Result<UniqueFd> watch_dir(const std::string& dir) {
  UniqueFd fd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!fd) return fail_errno("inotify_init1", errno);
  const uint32_t mask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB;
  if (::inotify_add_watch(fd.get(), dir.c_str(), mask) < 0)
    return fail_errno(fmt::format("watching {} for changes of the file", dir), errno);
  return fd;
}

// Reads what inotify has; true if anything happened (or the queue overflowed).
bool drain(int fd) {
  alignas(inotify_event) char buf[8192];
  bool any = false;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return any;
    any = true;
  }
}

class Follower {
 public:
  Follower(const RunOptions& o, std::ostream& out, std::ostream& err, std::optional<MetricsServer> metrics)
      : o_(o), out_(out), err_(err), health_(o.health), metrics_(std::move(metrics)) {}

  // One apply of the file as it is now. `quiet`: print nothing when nothing changed.
  void apply(bool quiet) {
    auto v = version_of(o_.apply.file);
    if (!v) {
      err_ << fmt::format("cgscope lb run: {} cannot be read ({}); the maps keep the last state applied\n",
                          o_.apply.file, std::strerror(errno));
      return;
    }
    tried_ = v;
    std::ostringstream out, err;
    ApplyOptions a = o_.apply;
    a.dry_run = false;
    if (checking())
      a.adjust = [this](Config& c) {
        health_.track(c);  // the file's endpoints, before the down ones are taken out
        health_.adjust(c);
      };
    const auto t0 = Clock::now();
    int rc = run_apply(a, out, err);
    stats_.seconds_sum += std::chrono::duration<double>(Clock::now() - t0).count();
    (rc == 0 ? stats_.ok : stats_.failed)++;
    stats_.last_ok = rc == 0;
    const bool changed = out.str().find("no change:") == std::string::npos;
    if (rc != 0 || changed || !quiet) {
      out_ << out.str() << std::flush;
      err_ << err.str();
    }
    if (rc != 0)
      err_ << fmt::format("cgscope lb run: {} was not applied; the maps keep the last state applied, and the next "
                          "change of the file is tried again\n",
                          o_.apply.file)
           << std::flush;
  }

  int loop(int inotify_fd) {
    constexpr Clock::time_point kNone = Clock::time_point::max();
    auto next_resync = Clock::now() + o_.resync;
    auto next_check = checking() ? Clock::now() + o_.health.interval : kNone;
    Clock::time_point settle_until = kNone;  // when the last change will have settled
    while (!peek_stop_signal()) {
      auto wake = std::min({settle_until, next_resync, next_check});
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now()).count();
      pollfd p[2] = {{inotify_fd, POLLIN, 0}, {metrics_ ? metrics_->fd() : -1, POLLIN, 0}};
      int r = ::poll(p, 2, static_cast<int>(std::clamp<long long>(ms, 0, 60000)));
      if (r < 0 && errno != EINTR) return failed_errno("waiting for changes", errno);
      if (r > 0 && (p[0].revents & POLLIN) && drain(inotify_fd))
        settle_until = Clock::now() + o_.settle;  // quiet for `settle` first
      if (r > 0 && (p[1].revents & POLLIN))
        metrics_->serve_one([this] { return metrics_text(pin_dir_or_default(o_.apply.pin_dir), stats_, health_.states()); });
      auto now = Clock::now();
      if (now >= settle_until) {
        settle_until = kNone;
        if (version_of(o_.apply.file) != tried_) apply(false);
      }
      if (now >= next_check) {
        if (check()) apply(false);
        next_check = Clock::now() + o_.health.interval;
      }
      if (now >= next_resync) {
        apply(true);
        next_resync = now + o_.resync;
      }
    }
    out_ << fmt::format("cgscope lb run: stopped (signal {}); the maps keep the last state applied (`cgscope lb "
                        "reset` removes it)\n",
                        take_stop_signal())
         << std::flush;
    return 0;
  }

 private:
  bool checking() const { return o_.health.interval.count() > 0; }
  // One round of health checks; true if an endpoint left or came back.
  bool check() {
    std::vector<std::string> changes = health_.check_all();
    for (const std::string& c : changes) out_ << "cgscope lb run: " << c << "\n";
    out_ << std::flush;
    return !changes.empty();
  }
  int failed_errno(const char* what, int e) {
    err_ << "cgscope lb run: " << what << ": " << std::strerror(e) << "\n";
    return 1;
  }
  const RunOptions& o_;
  std::ostream& out_;
  std::ostream& err_;
  // The version last tried: events that leave the file as it was (another
  // name in the directory) do not apply it again; a failure is retried at the
  // next change or resync.
  std::optional<Version> tried_;
  HealthChecker health_;
  std::optional<MetricsServer> metrics_;
  ApplyStats stats_;
};

}  // namespace

int run_follow(const RunOptions& o, std::ostream& out, std::ostream& err) {
  install_stop_signal_handlers();
  // Watched before the first read: a change during the first apply is not missed.
  auto fd = watch_dir(dir_of(o.apply.file));
  if (!fd) {
    err << "cgscope lb run: " << fd.error().message << "\n";
    return 1;
  }
  std::optional<MetricsServer> metrics;
  if (!o.metrics.empty()) {
    auto m = MetricsServer::listen(o.metrics);
    if (!m) {
      err << "cgscope lb run: " << m.error().message << "\n";
      return 1;
    }
    metrics = std::move(*m);
  }
  Follower f(o, out, err, std::move(metrics));
  f.apply(false);
  return f.loop(fd->get());
}

}  // namespace cgscope::lb
