// The calls whose struct arguments cgscope decodes (tests/integration/
// trace_struct_test.cc compares them with strace): one call of each, with values
// the test knows, and one that fails so that the struct is shown as an address.
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  struct stat st;
  stat("/etc/passwd", &st);
  lstat("/dev/null", &st);
  // glibc makes these through newfstatat/clock_nanosleep/the vDSO: the raw calls too.
  syscall(SYS_stat, "/etc/passwd", &st);
  syscall(SYS_lstat, "/dev/null", &st);
  fstatat(AT_FDCWD, "/nonexistent-cgscope", &st, 0);  // fails: the struct is an address
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return 1;
  fstat(fds[0], &st);
  syscall(SYS_fstat, fds[1], &st);
  struct iovec iov[2] = {{"hello", 5}, {" world", 6}};
  if (writev(fds[1], iov, 2) != 11) return 1;
  struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLOUT, 0}};
  poll(p, 2, 0);
  char buf[16];
  struct iovec riov[1] = {{buf, sizeof buf}};
  if (readv(fds[0], riov, 1) != 11) return 1;
  struct timespec ts = {0, 1000000};
  nanosleep(&ts, NULL);
  syscall(SYS_nanosleep, &ts, NULL);
  syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
  struct timespec now;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &now);
  struct utsname u;
  uname(&u);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7};
  epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev);
  write(fds[1], "x", 1);
  struct epoll_event out[4];
  epoll_wait(ep, out, 4, 0);
  if (read(fds[0], buf, 1) != 1) return 1;
  epoll_wait(ep, out, 4, 0);  // nothing left: no events, "[]"
  epoll_wait(-1, out, 4, 0);  // fails: the array is an address
  pid_t child = fork();
  if (child == 0) _exit(3);
  // Until the child is gone, without reaping it: wait4 then returns at once, and
  // strace prints it on one line.
  siginfo_t info;
  waitid(P_PID, child, &info, WEXITED | WNOWAIT);
  int status;
  wait4(child, &status, 0, NULL);
  return 0;
}
