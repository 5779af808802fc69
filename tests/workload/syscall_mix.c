/* A known set of syscalls, for the trace tests that compare cgscope with strace
 * (tests/integration/trace_strace_test.cc): each call below is one whose
 * arguments cgscope names (fcntl commands, ioctl requests, futex ops, socket
 * options ...), made a fixed number of times, plus threads. It needs no network:
 * the sockets are never connected. Exits 0 whatever the calls return. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { kThreads = 3, kThreadCalls = 5 };

static void* worker(void* arg) {
  (void)arg;
  for (int i = 0; i < kThreadCalls; i++) (void)getppid();
  return NULL;
}

static void files(void) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return;
  (void)fcntl(fds[0], F_GETFL);
  (void)fcntl(fds[0], F_SETFL, O_NONBLOCK | O_APPEND);
  (void)fcntl(fds[0], F_GETFD);
  (void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  int dup = fcntl(fds[0], F_DUPFD_CLOEXEC, 10);
  if (dup >= 0) close(dup);
  int n = 0, on = 1;
  (void)ioctl(fds[0], FIONREAD, &n);
  (void)ioctl(fds[0], FIONBIO, &on);
  (void)ioctl(fds[0], FIOCLEX);
  (void)ioctl(fds[0], TCGETS, (void*)&n);  /* a pipe is no terminal: ENOTTY */
  int copy = dup3(fds[1], 20, O_CLOEXEC);
  if (copy >= 0) close(copy);
  close(fds[0]);
  close(fds[1]);

  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)lseek(fd, 0, SEEK_END);
    (void)lseek(fd, 0, SEEK_SET);
    close(fd);
  }
  (void)access("/", F_OK);
  (void)access("/", R_OK | W_OK);
  (void)faccessat(AT_FDCWD, "/", X_OK, 0);
}

static void process(void) {
  struct rlimit r;
  (void)getrlimit(RLIMIT_NOFILE, &r);
  (void)prlimit(0, RLIMIT_STACK, NULL, &r);
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  (void)sigprocmask(SIG_BLOCK, &set, &old);
  (void)kill(getpid(), SIGUSR1);  /* blocked: stays pending, then dropped below */
  struct sigaction ign = {.sa_handler = SIG_IGN};
  (void)sigaction(SIGUSR1, &ign, NULL);
  (void)sigprocmask(SIG_SETMASK, &old, NULL);
  uint32_t word = 0;
  (void)syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  /* The ops glibc's own waits use when threads meet (a contended lock, a
     pthread_join that finds the thread running), made here once each so that
     strace sees them in every run: whether glibc makes them is timing. Each
     fails at once with EAGAIN, the word not being 1. */
  (void)syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
  (void)syscall(SYS_futex, &word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, FUTEX_BITSET_MATCH_ANY);
  (void)syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL,
                FUTEX_BITSET_MATCH_ANY);
  void* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED) {
    void* q = mremap(p, 4096, 8192, MREMAP_MAYMOVE);
    (void)munmap(q != MAP_FAILED ? q : p, q != MAP_FAILED ? 8192 : 4096);
  }
}

static void sockets(void) {
  int one = 1, err = 0, tos = 0x10;
  socklen_t len = sizeof err;
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s >= 0) {
    (void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(s, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    (void)getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
    close(s);
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
    char c = 'x';
    (void)sendto(sv[0], &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0);
    (void)recvfrom(sv[1], &c, 1, MSG_DONTWAIT, NULL, NULL);
    close(sv[0]);
    close(sv[1]);
  }
}

int main(void) {
  files();
  process();
  sockets();
  pthread_t t[kThreads];
  for (int i = 0; i < kThreads; i++) pthread_create(&t[i], NULL, worker, NULL);
  for (int i = 0; i < kThreads; i++) pthread_join(t[i], NULL);
  return 0;
}
