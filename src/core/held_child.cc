#include "core/held_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "core/command_path.h"

namespace cgscope {

Result<HeldChild> HeldChild::spawn(const std::vector<std::string>& argv) {
  if (argv.empty()) return fail("no command given after --");
  auto exe = resolve_command(argv[0]);
  if (!exe) return fail_with(exe.error());
  // The child's name while it waits is CMD's, not cgscope's: its execve is the
  // first event of the trace and is reported under the name of the caller.
  std::string comm = argv[0].substr(argv[0].rfind('/') + 1).substr(0, 15);
  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) != 0) return fail_errno("creating a pipe", errno);
  UniqueFd go_r(go[0]), go_w(go[1]);
  if (pipe2(err, O_CLOEXEC) != 0) return fail_errno("creating a pipe", errno);
  UniqueFd err_r(err[0]), err_w(err[1]);

  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return fail_errno("fork", errno);
  if (pid == 0) {
    char c;
    ::close(go[1]);
    ::close(err[0]);
    // Dispositions cgscope set must not leak into CMD (ignored SIGPIPE survives exec).
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ssize_t n;
    do n = ::read(go[0], &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127);  // the parent gave up
    prctl(PR_SET_NAME, comm.c_str());
    execv(exe->c_str(), args.data());
    int e = errno;
    ssize_t w = ::write(err[1], &e, sizeof(e));
    (void)w;
    _exit(127);
  }
  HeldChild c;
  c.pid_ = pid;
  c.go_ = std::move(go_w);
  c.error_ = std::move(err_r);
  c.name_ = argv[0];
  return c;
}

HeldChild::HeldChild(HeldChild&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      reaped_(o.reaped_),
      go_(std::move(o.go_)),
      error_(std::move(o.error_)),
      name_(std::move(o.name_)) {}

HeldChild::~HeldChild() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

Result<void> HeldChild::release() {
  char c = 1;
  if (::write(go_.get(), &c, 1) != 1) return fail_errno("starting the command", errno);
  go_.reset();
  int e = 0;
  ssize_t n;
  do n = ::read(error_.get(), &e, sizeof(e));
  while (n < 0 && errno == EINTR);
  error_.reset();
  if (n == sizeof(e)) {
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return fail(fmt::format("cannot run {}: {}", name_, std::strerror(e)), e);
  }
  return {};
}

std::optional<int> HeldChild::try_wait() {
  if (reaped_) return std::nullopt;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return std::nullopt;
  reaped_ = true;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void HeldChild::signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

}  // namespace cgscope
