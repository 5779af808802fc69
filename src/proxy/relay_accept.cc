// Taking connections from the listeners: accept4, the lookup of where each was
// going, and what the relay does when it cannot take one (full, out of fds).
//
// One accept4 per listener event while connections come one at a time (an
// accept4 that only says EAGAIN costs about 1.5 us here: it makes and frees a
// file first). A listener readable two turns running has a queue: then its
// whole queue moves to `waiting` at once, and the connections are set up from
// there a batch a turn, the listeners drained again between batches. Setting
// one up (the lookup, the upstream's socket and connect) takes several times
// as long as the client's connect, so a burst of connects left in the kernel's
// accept queue (net.core.somaxconn, 4096 by default) overflows it, and every
// connect it drops waits a second for its SYN to be sent again.
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "proxy/relay_impl.h"
#include "proxy/socket_util.h"

namespace cgscope::proxy {
namespace {

constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr auto kWarnEvery = std::chrono::seconds(10);
constexpr size_t kWaitingMax = 16384;  // accepted and not set up; past this the kernel's queue holds them
constexpr int kAdmitsPerTurn = 256;    // then the connections already open get a turn
constexpr int kAdmitsPerDrain = 32;    // the listeners are drained again after this many

}  // namespace

// Said once, then at most every kWarnEvery with the count since, so that a
// shortage that lasts does not flood the log.
void Relay::Impl::fd_shortage(int err) {
  ctx.pipes.clear();
  shed_since_warning++;
  auto now = Clock::now();
  bool first = last_warning == Clock::time_point{};
  if (!first && now - last_warning < kWarnEvery) return;
  last_warning = now;
  std::string cause = std::string("out of file descriptors (") + std::strerror(err) + ", open-file limit " +
                      std::to_string(fd_limit) + ")";
  if (first)
    warn(cause +
         ": new connections are reset until some close; raise the open-file limit (ulimit -n, "
         "LimitNOFILE=) or lower the load");
  else
    warn(cause + ": " + std::to_string(shed_since_warning) + " more connection(s) reset since the last report");
  shed_since_warning = 0;
}

// One accept4 on listener `index`. nullopt with *more false: nothing more now
// (the queue is empty, accepting paused, or an error already said); nullopt
// with *more true: that connection was dealt with here (reset for lack of fds,
// or gone before it was accepted).
std::optional<Accepted> Relay::Impl::accept_next(size_t index, bool* more) {
  *more = false;
  Accepted a;
  a.listener = index;
  socklen_t len = sizeof a.peer;
  a.fd.reset(
      ::accept4(listeners[index].get(), reinterpret_cast<sockaddr*>(&a.peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (a.fd) {
    ctx.counters.accepted++;
    *more = true;
    return a;
  }
  int err = errno;
  if (err == EMFILE || err == ENFILE)
    *more = shed_for_fds(index, err);
  else if (err == EINTR || err == ECONNABORTED || err == EPERM)
    *more = true;  // that one is gone; go on
  else if (err != EAGAIN && err != EWOULDBLOCK)
    warn(std::string("accept: ") + std::strerror(err));
  return std::nullopt;
}

// Out of fds. The reserve fd makes room to take one connection and reset it:
// the client fails now instead of waiting in the backlog. Without a reserve,
// accepting stops for a moment rather than spin on the same error. True: one
// was reset, look for more.
bool Relay::Impl::shed_for_fds(size_t index, int err) {
  if (!reserve) {
    fd_shortage(err);
    set_listening(false);
    resume_accept = Clock::now() + kAcceptPause;
    return false;
  }
  reserve.reset();
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  UniqueFd fd(
      ::accept4(listeners[index].get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
  bool took = fd.valid();
  if (took) {
    fd_shortage(err);
    ctx.counters.accepted++;
    auto local = local_of(index, fd.get());
    shed(std::move(fd), peer, local ? *local : sockaddr_storage{},
         std::string("relay out of file descriptors: ") + std::strerror(err));
  }
  reserve.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  return took;  // not: the queue was empty after all
}

// The relay's end of an accepted connection: the listener's own address,
// unless it listens on any address.
Result<sockaddr_storage> Relay::Impl::local_of(size_t index, int fd) const {
  if (!wildcard[index]) return bound[index];
  return local_address(fd);
}

// Connections set up or waiting, against the fds there are (two each): a
// waiting one still needs its second, so past this they stay in the kernel's
// queue and are accepted one at a time (and reset if the fds run out).
bool Relay::Impl::room_to_wait() const { return conns.size() + waiting.size() < fd_room; }

void Relay::Impl::on_listener(size_t index) {
  bool queuing = ready_turn[index] + 1 == turn;
  ready_turn[index] = turn;
  if (queuing && room_to_wait()) return drain(index);
  bool more = false;
  if (auto a = accept_next(index, &more)) admit(std::move(*a));
}

// Moves the listener's queue to `waiting`.
void Relay::Impl::drain(size_t index) {
  bool more = true;
  while (more && !paused && waiting.size() < kWaitingMax && room_to_wait())
    if (auto a = accept_next(index, &more)) waiting.push_back(std::move(*a));
}

void Relay::Impl::admit_waiting() {
  for (int n = 0; n < kAdmitsPerTurn && !waiting.empty(); ++n) {
    if (n > 0 && n % kAdmitsPerDrain == 0)
      for (size_t i = 0; i < listeners.size(); ++i) drain(i);
    Accepted a = std::move(waiting.front());
    waiting.pop_front();
    admit(std::move(a));
  }
}

// An accepted connection checked and set up, or reset.
void Relay::Impl::admit(Accepted a) {
  auto local = local_of(a.listener, a.fd.get());
  if (!local) return shed(std::move(a.fd), a.peer, sockaddr_storage{}, "relay error: " + local.error().message);
  if (conns.size() >= opt.max_connections)
    return shed(std::move(a.fd), a.peer, *local, "relay full: " + std::to_string(opt.max_connections) + " connections");
  take(std::move(a.fd), a.peer, *local);
}

// The record of a connection that was never forwarded.
void Relay::Impl::record_unforwarded(const std::optional<Original>& orig, std::chrono::system_clock::time_point wall,
                                     std::string result) {
  if (!opt.on_close) return;
  AccessRecord r;
  if (orig) {
    r.meta = orig->meta;
    r.dst = orig->dst;
  }
  r.upstream = ctx.upstream_text;
  r.started = wall;
  r.result = std::move(result);
  opt.on_close(r);
}

// A connection the relay cannot take (full, out of fds, stopping): reset at
// once. The lookup runs anyway, so that the record says whose it was.
void Relay::Impl::shed(UniqueFd fd, const sockaddr_storage& peer, const sockaddr_storage& local, std::string why,
                       bool failed) {
  if (failed) ctx.counters.failed++;
  std::optional<Original> orig = opt.lookup(peer, local);
  close_with_reset(fd);
  record_unforwarded(orig, std::chrono::system_clock::now(), std::move(why));
}

void Relay::Impl::take(UniqueFd fd, const sockaddr_storage& peer, const sockaddr_storage& local) {
  auto now = ctx.now;
  auto wall = std::chrono::system_clock::now();
  std::optional<Original> orig = opt.lookup(peer, local);
  // The relay's own upstream connect, redirected back because its socket was
  // not exempted: refused, or it would dial again and again.
  bool own_loop = orig && opt.own_pid != 0 && orig->meta.pid == opt.own_pid;
  std::string refusal;
  if (!orig)
    refusal = "not redirected";
  else if (orig->dst.len == 0)
    refusal = "not redirected: no destination address";
  else if (is_relay_address(orig->dst.addr))
    refusal = "loop: the destination is the relay itself";
  else if (own_loop)
    refusal = "loop: the relay's own connect was sent back to it (cgscope runs in the proxied cgroup now); "
              "its sockets are exempted from now on";
  if (own_loop && opt.on_loop) opt.on_loop();
  if (!refusal.empty()) {
    ctx.counters.refused++;
    close_with_reset(fd);  // nothing was dialled
    return record_unforwarded(orig, wall, std::move(refusal));
  }
  uint64_t id = next_id++;
  auto c = std::make_unique<Connection>(id, std::move(fd), std::move(*orig), now, wall);
  ctx.counters.active++;
  c->start(ctx);
  if (c->closed()) return;
  conns.emplace(id, std::move(c));
}

}  // namespace cgscope::proxy
