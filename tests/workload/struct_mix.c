// The calls whose struct arguments cgscope decodes (tests/integration/
// trace_struct_test.cc compares them with strace): one call of each, with values
// the test knows, and one that fails so that the struct is shown as an address.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Socket lengths (value-result ints) over loopback TCP and UDP. Each is given
// the length the call writes back, but one getpeername, given 128: strace shows
// that one as [128 => 16].
static int sockets(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr*)&a, sizeof a) != 0 || listen(lfd, 1) != 0) return 1;
  if (getsockname(lfd, (struct sockaddr*)&a, &len) != 0) return 1;
  int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(cfd, (struct sockaddr*)&a, sizeof a) != 0) return 1;
  struct sockaddr_in peer;
  len = sizeof peer;
  int afd = accept4(lfd, (struct sockaddr*)&peer, &len, SOCK_CLOEXEC);
  if (afd < 0) return 1;
  struct sockaddr_storage big;
  len = sizeof big;
  getpeername(cfd, (struct sockaddr*)&big, &len);
  int type;
  len = sizeof type;
  getsockopt(afd, SOL_SOCKET, SO_TYPE, &type, &len);
  int ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in u = a;
  u.sin_port = 0;
  len = sizeof u;
  if (bind(ufd, (struct sockaddr*)&u, sizeof u) != 0 || getsockname(ufd, (struct sockaddr*)&u, &len) != 0) return 1;
  sendto(ufd, "x", 1, 0, (struct sockaddr*)&u, sizeof u);
  char c;
  len = sizeof peer;
  recvfrom(ufd, &c, 1, 0, (struct sockaddr*)&peer, &len);
  close(ufd);
  close(afd);
  close(cfd);
  close(lfd);
  return 0;
}

// futex's utime: a timeout for the wait ops (one times out after 1 ms, one
// fails at once: the word is not the value), NULL, and val2 for FUTEX_CMP_REQUEUE.
static void futexes(void) {
  static uint32_t word = 1, other = 0;
  struct timespec ms = {0, 1000000}, sec = {1, 0};
  syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 2, &sec, NULL, 0);
  syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
  syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE, 1, &ms, NULL, FUTEX_BITSET_MATCH_ANY);
  syscall(SYS_futex, &word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void*)7, &other, 1);
}

// getdents64 of a directory of two entries besides . and .. (a file, a
// directory), then at its end ([]), then of a bad fd (the address).
static int dirents(void) {
  char dir[] = "/tmp/cgscope-dents-XXXXXX", path[64];
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/file", dir);
  close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  snprintf(path, sizeof path, "%s/sub", dir);
  mkdir(path, 0700);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char buf[4096];
  syscall(SYS_getdents64, fd, buf, sizeof buf);
  syscall(SYS_getdents64, fd, buf, sizeof buf);
  syscall(SYS_getdents64, -1, buf, sizeof buf);
  close(fd);
  rmdir(path);
  snprintf(path, sizeof path, "%s/file", dir);
  unlink(path);
  rmdir(dir);
  return 0;
}

// Message headers: a datagram sent with sendmsg to an address and read back
// with recvmsg (its sender's address), two fds passed over a unix socket pair
// (SCM_RIGHTS both ways), and a recvmsg that fails (EAGAIN: the address).
static int messages(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ufd < 0 || bind(ufd, (struct sockaddr*)&a, sizeof a) != 0 || getsockname(ufd, (struct sockaddr*)&a, &len) != 0)
    return 1;
  char part1[] = "hi", part2[] = "there", in[16];
  struct iovec out_iov[2] = {{part1, 2}, {part2, 5}}, in_iov[1] = {{in, sizeof in}};
  struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = out_iov, .msg_iovlen = 2};
  if (sendmsg(ufd, &m, 0) != 7) return 1;
  struct sockaddr_in from;
  struct msghdr r = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = in_iov, .msg_iovlen = 1};
  if (recvmsg(ufd, &r, 0) != 7) return 1;
  int sv[2], p[2] = {open("/dev/null", O_RDONLY | O_CLOEXEC), open("/dev/null", O_WRONLY | O_CLOEXEC)};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || p[0] < 0 || p[1] < 0) return 1;
  union {
    char buf[CMSG_SPACE(2 * sizeof(int))];
    struct cmsghdr align;
  } ctl, got;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr s = {.msg_iov = out_iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  struct cmsghdr* c = CMSG_FIRSTHDR(&s);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  memcpy(CMSG_DATA(c), p, sizeof p);
  if (sendmsg(sv[0], &s, 0) != 2) return 1;
  struct msghdr g = {.msg_iov = in_iov, .msg_iovlen = 1, .msg_control = got.buf, .msg_controllen = sizeof got.buf};
  if (recvmsg(sv[1], &g, MSG_CMSG_CLOEXEC) != 2) return 1;
  struct msghdr none = {.msg_iov = in_iov, .msg_iovlen = 1};
  if (recvmsg(sv[1], &none, MSG_DONTWAIT) != -1) return 1;
  int* fds = (int*)CMSG_DATA(CMSG_FIRSTHDR(&g));
  close(fds[0]);
  close(fds[1]);
  close(p[0]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
  close(ufd);
  return 0;
}

int main(void) {
  if (sockets() != 0 || dirents() != 0 || messages() != 0) return 1;
  futexes();
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
  // select's sets as given and as found: both ends ready (pselect6 and select,
  // with a timeout each), one set and no timeout, then a timeout with nothing
  // ready once the pipe is empty.
  fd_set rd, wr;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_SET(fds[0], &rd);
  FD_SET(fds[1], &wr);
  struct timespec sts = {1, 0};
  if (syscall(SYS_pselect6, fds[1] + 1, &rd, &wr, NULL, &sts, NULL) != 2) return 1;
  struct timeval tv = {1, 0};
  if (syscall(SYS_select, fds[1] + 1, &rd, &wr, NULL, &tv) != 2) return 1;
  if (syscall(SYS_select, fds[1] + 1, NULL, &wr, NULL, NULL) != 1) return 1;
  char buf[16];
  struct iovec riov[1] = {{buf, sizeof buf}};
  if (readv(fds[0], riov, 1) != 11) return 1;
  // A failed write shows what it was given; a read at the end of the data, its
  // elements empty.
  if (writev(-1, iov, 2) != -1) return 1;
  int eof[2];
  if (pipe2(eof, O_CLOEXEC) != 0) return 1;
  close(eof[1]);
  if (readv(eof[0], riov, 1) != 0) return 1;
  close(eof[0]);
  struct timeval brief = {0, 1000};
  FD_SET(fds[0], &rd);
  if (syscall(SYS_select, fds[0] + 1, &rd, NULL, NULL, &brief) != 0) return 1;
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
