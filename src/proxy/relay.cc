// The loop: listeners level-triggered (so that pausing them is a mask change),
// connections edge-triggered with both directions registered once (so that no
// epoll_ctl is needed per read or write). Connections are found by id, never by
// pointer: an event for a connection closed earlier in the same batch finds
// nothing and is dropped.
#include "proxy/relay.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "proxy/connection.h"
#include "proxy/socket_util.h"

namespace cgscope::proxy {
namespace {

constexpr uint64_t kListenerTag = 1ull << 63;
constexpr int kBacklog = 4096;
constexpr int kMaxEvents = 256;
constexpr int kAcceptsPerWake = 64;  // then other listeners and connections get a turn
constexpr auto kStopCheck = std::chrono::milliseconds(100);
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr auto kWarnEvery = std::chrono::seconds(10);
constexpr uint64_t kFdsOther = 64;          // fds the rest of the process may hold, roughly
constexpr uint64_t kFewConnections = 1000;  // fewer than this in reach of the fd limit: say so

}  // namespace

struct Relay::Impl {
  RelayOptions opt;
  UniqueFd epoll;
  std::vector<UniqueFd> listeners;
  std::vector<sockaddr_storage> bound;
  LoopContext ctx;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns;
  std::deque<std::pair<Clock::time_point, uint64_t>> deadlines;  // in order: one timeout for all
  std::vector<uint64_t> resume;
  uint64_t next_id = 1;
  UniqueFd reserve;  // an fd given up to accept-and-reset one connection when out of fds
  bool paused = false;
  Clock::time_point resume_accept{};
  Clock::time_point last_warning{};
  uint64_t shed_since_warning = 0;
  uint64_t fd_limit = 0;

  void warn(const std::string& msg) {
    if (opt.on_warning)
      opt.on_warning(msg);
    else
      std::fprintf(stderr, "cgscope proxy: %s\n", msg.c_str());
  }
  void fd_shortage(int err);
  void on_listener(size_t index);
  bool accept_one(int listen_fd);
  void record_unforwarded(const std::optional<Original>& orig, std::chrono::system_clock::time_point wall,
                          std::string result);
  void shed(UniqueFd fd, const sockaddr_storage& peer, const sockaddr_storage& local, std::string why);
  void take(UniqueFd fd, const sockaddr_storage& peer, const sockaddr_storage& local);
  bool is_relay_address(const sockaddr_storage& a) const;
  void set_listening(bool on);
  void dispatch(const epoll_event& ev);
  void run_timers();
  int wait_ms() const;
  void stop_all();
};

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

bool Relay::Impl::is_relay_address(const sockaddr_storage& a) const {
  for (const auto& b : bound)
    if (same_address(a, b)) return true;
  return false;
}

void Relay::Impl::set_listening(bool on) {
  for (size_t i = 0; i < listeners.size(); ++i) {
    epoll_event ev{};
    ev.events = on ? uint32_t{EPOLLIN} : 0u;
    ev.data.u64 = kListenerTag | i;
    ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, listeners[i].get(), &ev);
  }
  paused = !on;
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

// A connection the relay cannot take (full, out of fds): reset at once. The
// lookup runs anyway, so that the record says whose it was.
void Relay::Impl::shed(UniqueFd fd, const sockaddr_storage& peer, const sockaddr_storage& local, std::string why) {
  ctx.counters.failed++;
  std::optional<Original> orig = opt.lookup(peer, local);
  close_with_reset(fd);
  record_unforwarded(orig, std::chrono::system_clock::now(), std::move(why));
}

void Relay::Impl::take(UniqueFd fd, const sockaddr_storage& peer, const sockaddr_storage& local) {
  auto now = Clock::now();
  auto wall = std::chrono::system_clock::now();
  std::optional<Original> orig = opt.lookup(peer, local);
  std::string refusal;
  if (!orig)
    refusal = "not redirected";
  else if (orig->dst.len == 0)
    refusal = "not redirected: no destination address";
  else if (is_relay_address(orig->dst.addr))
    refusal = "loop: the destination is the relay itself";
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
  deadlines.emplace_back(now + opt.connect_timeout, id);
  conns.emplace(id, std::move(c));
}

bool Relay::Impl::accept_one(int listen_fd) {
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  UniqueFd fd(::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return false;
    if (err == EMFILE || err == ENFILE) {
      fd_shortage(err);
      // The reserve fd makes room to take the connection and reset it: the
      // client fails now instead of waiting in the backlog. Without a reserve,
      // stop accepting for a moment rather than spin on the same error.
      if (!reserve) {
        set_listening(false);
        resume_accept = Clock::now() + kAcceptPause;
        return false;
      }
      reserve.reset();
      ctx.counters.accepted++;
      len = sizeof peer;
      fd.reset(::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
      sockaddr_storage local{};
      if (fd) {
        if (auto l = local_address(fd.get())) local = *l;
        shed(std::move(fd), peer, local, std::string("relay out of file descriptors: ") + std::strerror(err));
      }
      reserve.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      return true;
    }
    if (err == EINTR || err == ECONNABORTED || err == EPERM) return true;  // that one is gone; go on
    warn(std::string("accept: ") + std::strerror(err));
    return false;
  }
  ctx.counters.accepted++;
  auto local = local_address(fd.get());
  if (!local) {
    shed(std::move(fd), peer, sockaddr_storage{}, "relay error: " + local.error().message);
    return true;
  }
  if (conns.size() >= opt.max_connections) {
    shed(std::move(fd), peer, *local, "relay full: " + std::to_string(opt.max_connections) + " connections");
    return true;
  }
  take(std::move(fd), peer, *local);
  return true;
}

void Relay::Impl::on_listener(size_t index) {
  for (int i = 0; i < kAcceptsPerWake && !paused; ++i)
    if (!accept_one(listeners[index].get())) break;
}

void Relay::Impl::dispatch(const epoll_event& ev) {
  if (ev.data.u64 & kListenerTag) return on_listener(ev.data.u64 & ~kListenerTag);
  uint64_t id = ev.data.u64 >> 1;
  auto it = conns.find(id);
  if (it == conns.end()) return;  // closed earlier in this batch
  it->second->on_event(ctx, static_cast<Side>(ev.data.u64 & 1), ev.events);
  if (it->second->closed()) conns.erase(it);
}

void Relay::Impl::run_timers() {
  auto now = Clock::now();
  while (!deadlines.empty() && deadlines.front().first <= now) {
    uint64_t id = deadlines.front().second;
    deadlines.pop_front();
    auto it = conns.find(id);
    if (it == conns.end()) continue;
    it->second->on_deadline(ctx);
    if (it->second->closed()) conns.erase(it);
  }
  if (paused && now >= resume_accept) set_listening(true);
}

int Relay::Impl::wait_ms() const {
  if (!resume.empty()) return 0;
  auto now = Clock::now();
  auto until = now + kStopCheck;
  if (!deadlines.empty() && deadlines.front().first < until) until = deadlines.front().first;
  if (paused && resume_accept < until) until = resume_accept;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

void Relay::Impl::stop_all() {
  for (auto& [id, c] : conns) c->stop(ctx);
  conns.clear();
  deadlines.clear();
  resume.clear();
}

Result<Relay> Relay::create(RelayOptions opt) {
  if (opt.listen.empty()) return fail("relay: no address to listen on");
  if (!opt.lookup) return fail("relay: no lookup for the original destinations");
  if (opt.upstream.kind != Upstream::Kind::direct && opt.upstream.len == 0)
    return fail("relay: the upstream " + describe(opt.upstream) + " has no address (resolve it first)");
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(opt);
  Impl& m = *impl;
  // Said only when it matters: the limit could not be raised, or it leaves
  // room for fewer than kFewConnections (thousands is what a relay is for).
  FdLimit fds = raise_fd_limit();
  m.fd_limit = fds.limit;
  uint64_t room = fds.limit > kFdsOther ? (fds.limit - kFdsOther) / 2 : 0;
  if (!fds.error.empty() || room < std::min<uint64_t>(kFewConnections, m.opt.max_connections))
    m.warn((fds.error.empty() ? "" : fds.error + "; ") + "the open-file limit (" + std::to_string(fds.limit) +
           ") leaves room for about " + std::to_string(room) +
           " connections, 2 fds each (raise it: ulimit -Hn, LimitNOFILE=)");
  m.epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!m.epoll) return fail_errno("relay: epoll_create1", errno);
  for (const auto& a : m.opt.listen) {
    auto fd = listen_tcp(a, kBacklog);
    if (!fd) return fail_with("relay", fd.error());
    auto local = local_address(fd->get());
    if (!local) return fail_with("relay", local.error());
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag | m.listeners.size();
    if (::epoll_ctl(m.epoll.get(), EPOLL_CTL_ADD, fd->get(), &ev) != 0) return fail_errno("relay: epoll_ctl", errno);
    m.bound.push_back(*local);
    m.listeners.push_back(std::move(*fd));
  }
  if (m.opt.upstream.kind != Upstream::Kind::direct && m.is_relay_address(m.opt.upstream.addr))
    return fail("relay: the upstream " + describe(m.opt.upstream) + " is the relay's own address");
  m.reserve.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  m.ctx.epoll_fd = m.epoll.get();
  m.ctx.opt = &m.opt;
  m.ctx.upstream_text = describe(m.opt.upstream);
  m.ctx.fd_shortage = [&m](int err) { m.fd_shortage(err); };
  m.ctx.resume_later = [&m](uint64_t id) { m.resume.push_back(id); };
  return Relay(std::move(impl));
}

Relay::Relay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Relay::Relay(Relay&&) noexcept = default;
Relay& Relay::operator=(Relay&&) noexcept = default;
Relay::~Relay() = default;

std::vector<sockaddr_storage> Relay::bound() const { return impl_->bound; }

Relay::Stats Relay::stats() const {
  const Counters& c = impl_->ctx.counters;
  return {c.accepted.load(), c.forwarded.load(), c.refused.load(), c.failed.load(), c.active.load()};
}

Result<void> Relay::run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  // splice(2) to a socket the peer has closed raises SIGPIPE (it has no
  // MSG_NOSIGNAL): blocked on this thread while it runs, and taken back after.
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  epoll_event events[kMaxEvents];
  Result<void> result;
  while (!stop.load(std::memory_order_relaxed)) {
    int n = ::epoll_wait(m.epoll.get(), events, kMaxEvents, m.wait_ms());
    if (n < 0 && errno != EINTR) {
      result = fail_errno("relay: epoll_wait", errno);
      break;
    }
    for (int i = 0; i < n; ++i) m.dispatch(events[i]);
    std::vector<uint64_t> again;
    again.swap(m.resume);
    for (uint64_t id : again) {
      auto it = m.conns.find(id);
      if (it == m.conns.end()) continue;
      it->second->resume(m.ctx);
      if (it->second->closed()) m.conns.erase(it);
    }
    m.run_timers();
  }
  m.stop_all();
  timespec zero{};
  while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return result;
}

}  // namespace cgscope::proxy
