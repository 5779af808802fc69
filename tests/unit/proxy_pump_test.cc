// One direction of the relay over socket pairs (no network, no root): bytes
// arrive in order through splice and through the copy fallback, the end of
// input becomes shutdown(SHUT_WR), a full destination blocks and resumes, an
// idle pump holds no pipe, small reads take no pipe at all, and a short read
// ends a turn only until the source has reported its end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "core/unique_fd.h"
#include "proxy/pump.h"

namespace cgscope::proxy {
namespace {

struct Pair {
  UniqueFd a, b;
};

Pair socket_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) >> 3);
  return s;
}

std::string read_all_now(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Runs the pump (at most `turns` times) until `want` bytes reached dst.b;
// what came, or "" after a failed turn.
std::string pump_through(Pump& p, Pair& src, Pair& dst, PipePool& pool, size_t want, int turns = 100) {
  std::string got;
  for (int i = 0; i < turns && got.size() < want; ++i) {
    if (p.run(src.b.get(), dst.a.get(), pool, 1 << 20) == Pump::Status::failed) return "";
    got += read_all_now(dst.b.get());
  }
  return got;
}

TEST(ProxyPump, MovesBytesAndPassesTheEndOn) {
  auto src = socket_pair(), dst = socket_pair();  // writer -> src.a | src.b -> pump -> dst.a | dst.b reader
  PipePool pool(4, 64 * 1024);
  Pump p;
  p.preload("first ");
  std::string data = pattern(100000, 1);
  std::string got;
  size_t off = 0;
  while (p.status() != Pump::Status::done) {
    if (off < data.size()) {
      ssize_t n = ::write(src.a.get(), data.data() + off, data.size() - off);
      if (n > 0) off += static_cast<size_t>(n);
      if (off == data.size()) ::shutdown(src.a.get(), SHUT_WR);
    }
    auto st = p.run(src.b.get(), dst.a.get(), pool, 1 << 20);
    ASSERT_NE(st, Pump::Status::failed) << strerror(p.error());
    got += read_all_now(dst.b.get());
  }
  got += read_all_now(dst.b.get());
  EXPECT_EQ(got, "first " + data);
  EXPECT_EQ(p.bytes(), got.size());
  char c;
  EXPECT_EQ(::read(dst.b.get(), &c, 1), 0);  // the end came through
  EXPECT_EQ(pool.idle(), 1u);                // its pipe is back in the pool
}

TEST(ProxyPump, AFullDestinationBlocksAndResumes) {
  auto src = socket_pair(), dst = socket_pair();
  PipePool pool(4, 64 * 1024);
  Pump p;
  std::string data = pattern(4 << 20, 2);  // more than the socket buffers hold
  size_t off = 0;
  bool blocked = false;
  std::string got;
  while (got.size() < data.size()) {
    if (off < data.size()) {
      ssize_t n = ::write(src.a.get(), data.data() + off, data.size() - off);
      if (n > 0) off += static_cast<size_t>(n);
    }
    auto st = p.run(src.b.get(), dst.a.get(), pool, 1 << 20);
    ASSERT_NE(st, Pump::Status::failed);
    // The reader reads only once the pump is blocked (or all is written): the
    // pump must stop, keep what it holds, and go on when there is room.
    if (st == Pump::Status::blocked) blocked = true;
    if (st == Pump::Status::blocked || off == data.size()) got += read_all_now(dst.b.get());
  }
  EXPECT_TRUE(blocked);
  EXPECT_EQ(got, data);
}

TEST(ProxyPump, CopiesWhenNoPipeCanBeHad) {
  auto src = socket_pair(), dst = socket_pair();
  PipePool pool(0, 64 * 1024);
  Pump p;
  // More than one small read: the pump turns bulk and wants a pipe.
  std::string data = pattern(100000, 4);
  ASSERT_EQ(::write(src.a.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  // Take every fd there is, so that the pool cannot make a pipe.
  std::vector<UniqueFd> hog;
  for (;;) {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) break;
    hog.push_back(std::move(fd));
  }
  std::string got = pump_through(p, src, dst, pool, data.size());
  hog.clear();
  EXPECT_EQ(p.status(), Pump::Status::idle);
  EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes, or in another order";
}

TEST(ProxyPump, ASmallMessageTakesNoPipe) {
  auto src = socket_pair(), dst = socket_pair();
  PipePool pool(4, 64 * 1024);
  Pump p;
  ASSERT_EQ(::write(src.a.get(), "GET / HTTP/1.0\r\n\r\n", 18), 18);
  EXPECT_EQ(p.run(src.b.get(), dst.a.get(), pool, 1 << 20), Pump::Status::idle);
  EXPECT_EQ(read_all_now(dst.b.get()), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(pool.idle(), 0u) << "a pipe was made (and given back) for 18 bytes";
}

TEST(ProxyPump, ABulkFlowMovesThroughAPipe) {
  auto src = socket_pair(), dst = socket_pair();
  PipePool pool(4, 64 * 1024);
  Pump p;
  std::string data = pattern(150000, 5);
  ASSERT_EQ(::write(src.a.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  std::string got = pump_through(p, src, dst, pool, data.size());
  EXPECT_TRUE(got == data) << strerror(p.error());
  EXPECT_EQ(pool.idle(), 1u) << "the bulk of it did not go through a pipe";
}

TEST(ProxyPump, AShortReadEndsTheTurnUntilTheSourceReportsItsEnd) {
  auto src = socket_pair(), dst = socket_pair();
  PipePool pool(4, 64 * 1024);
  Pump p;
  ASSERT_EQ(::write(src.a.get(), "abc", 3), 3);
  ::shutdown(src.a.get(), SHUT_WR);
  // A short read means nothing more was there: the turn ends without the read
  // that would have found the end (its event, in the relay, says RDHUP)...
  EXPECT_EQ(p.run(src.b.get(), dst.a.get(), pool, 1 << 20), Pump::Status::idle);
  EXPECT_EQ(read_all_now(dst.b.get()), "abc");
  // ...which makes the pump read on until it sees it.
  p.expect_end();
  EXPECT_EQ(p.run(src.b.get(), dst.a.get(), pool, 1 << 20), Pump::Status::done);
  char c;
  EXPECT_EQ(::read(dst.b.get(), &c, 1), 0) << "the end was not passed on";
}

TEST(ProxyPump, AnEndReportedFirstIsReadInTheSameTurn) {
  auto src = socket_pair(), dst = socket_pair();
  PipePool pool(4, 64 * 1024);
  Pump p;
  ASSERT_EQ(::write(src.a.get(), "last words", 10), 10);
  ::shutdown(src.a.get(), SHUT_WR);
  p.expect_end();
  EXPECT_EQ(p.run(src.b.get(), dst.a.get(), pool, 1 << 20), Pump::Status::done);
  EXPECT_EQ(read_all_now(dst.b.get()), "last words");
}

TEST(ProxyPump, AnEndThatACloseWillPassOnIsNotShutDownFirst) {
  auto src = socket_pair(), dst = socket_pair();
  PipePool pool(4, 64 * 1024);
  Pump p;
  p.end_with_close();
  p.expect_end();
  ASSERT_EQ(::write(src.a.get(), "bye", 3), 3);
  ::shutdown(src.a.get(), SHUT_WR);
  EXPECT_EQ(p.run(src.b.get(), dst.a.get(), pool, 1 << 20), Pump::Status::done);
  EXPECT_EQ(read_all_now(dst.b.get()), "bye");
  char c;
  EXPECT_EQ(::recv(dst.b.get(), &c, 1, MSG_DONTWAIT), -1) << "the end was passed on before the close";
  EXPECT_EQ(errno, EAGAIN);
}

TEST(ProxyPump, CopyOnlyMovesEverythingWithoutAPipe) {
  auto src = socket_pair(), dst = socket_pair();
  PipePool pool(4, 64 * 1024);
  Pump p;
  p.copy_only();
  std::string data = pattern(1 << 20, 3), got;
  size_t off = 0;
  while (got.size() < data.size()) {
    if (off < data.size()) {
      ssize_t n = ::write(src.a.get(), data.data() + off, data.size() - off);
      if (n > 0) off += static_cast<size_t>(n);
    }
    ASSERT_NE(p.run(src.b.get(), dst.a.get(), pool, 1 << 20), Pump::Status::failed);
    got += read_all_now(dst.b.get());
  }
  EXPECT_EQ(got, data);
  EXPECT_EQ(p.bytes(), data.size());
  EXPECT_EQ(pool.idle(), 0u) << "a pipe was made in copy mode";
}

TEST(ProxyPump, AResetIsAnErrorOnTheRightSide) {
  // splice raises SIGPIPE on a closed socket, as the relay's loop knows (it
  // blocks it on its thread): blocked here, and the pending one taken back.
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  auto src = socket_pair(), dst = socket_pair();
  PipePool pool(4, 64 * 1024);
  Pump p;
  ASSERT_EQ(::write(src.a.get(), "x", 1), 1);
  dst.b.reset();  // the reader is gone: writing fails with EPIPE
  auto st = p.run(src.b.get(), dst.a.get(), pool, 1 << 20);
  ASSERT_EQ(st, Pump::Status::failed);
  EXPECT_EQ(p.error(), EPIPE);
  EXPECT_FALSE(p.error_on_from());
  timespec zero{};
  while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace
}  // namespace cgscope::proxy
