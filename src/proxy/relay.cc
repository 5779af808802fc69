// The loop: listeners level-triggered (so that pausing them is a mask change,
// and so that a connection left in the queue is reported again), connections
// edge-triggered with both directions registered once (so that no epoll_ctl is
// needed per read or write). Connections are found by id, never by pointer: an
// event for a connection closed earlier in the same batch finds nothing and is
// dropped.
//
// Per connection the relay makes as few syscalls as it can (client, relay and
// server share the CPUs, and each one is time the others wait): see
// relay_accept.cc for the accepting, pump.h for the reads; TCP_NODELAY is set
// once, on the listener, whose connections inherit it.
#include "proxy/relay.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "proxy/relay_impl.h"
#include "proxy/socket_util.h"

namespace cgscope::proxy {
namespace {

// The accept queue: the kernel caps it at net.core.somaxconn (4096 by
// default); asking for more lets a raised limit count without a change here.
constexpr int kBacklog = 65535;
constexpr int kMaxEvents = 256;
constexpr auto kStopCheck = std::chrono::milliseconds(100);
constexpr uint64_t kFdsOther = 64;          // fds the rest of the process may hold, roughly
constexpr uint64_t kFewConnections = 1000;  // fewer than this in reach of the fd limit: say so

}  // namespace

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

void Relay::Impl::dispatch(const epoll_event& ev) {
  if (ev.data.u64 & kListenerTag) return on_listener(ev.data.u64 & ~kListenerTag);
  uint64_t id = ev.data.u64 >> 1;
  auto it = conns.find(id);
  if (it == conns.end()) return;  // closed earlier in this batch
  it->second->on_event(ctx, static_cast<Side>(ev.data.u64 & 1), ev.events);
  if (it->second->closed()) conns.erase(it);
}

void Relay::Impl::run_timers() {
  auto now = ctx.now = Clock::now();
  while (auto due = deadlines.pop_due(now)) {
    auto it = conns.find(due->second);
    if (it == conns.end() || it->second->armed() != due->first) continue;  // closed, or stale
    it->second->on_deadline(ctx);
    if (it->second->closed()) conns.erase(it);
  }
  if (paused && now >= resume_accept) set_listening(true);
}

int Relay::Impl::wait_ms() const {
  if (!resume.empty() || !waiting.empty()) return 0;
  auto now = Clock::now();
  auto until = now + kStopCheck;
  if (auto next = deadlines.next(); next && *next < until) until = *next;
  if (paused && resume_accept < until) until = resume_accept;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

void Relay::Impl::stop_all() {
  for (auto& [id, c] : conns) c->stop(ctx);
  conns.clear();
  for (Accepted& a : waiting) {
    auto local = local_of(a.listener, a.fd.get());
    shed(std::move(a.fd), a.peer, local ? *local : sockaddr_storage{}, "relay stopped", false);
  }
  waiting.clear();
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
  m.fd_room = room;
  if (!fds.error.empty() || room < std::min<uint64_t>(kFewConnections, m.opt.max_connections))
    m.warn((fds.error.empty() ? "" : fds.error + "; ") + "the open-file limit (" + std::to_string(fds.limit) +
           ") leaves room for about " + std::to_string(room) +
           " connections, 2 fds each (raise it: ulimit -Hn, LimitNOFILE=)");
  m.epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!m.epoll) return fail_errno("relay: epoll_create1", errno);
  for (const auto& a : m.opt.listen) {
    auto fd = listen_tcp(a, kBacklog);
    if (!fd) return fail_with("relay", fd.error());
    set_nodelay(fd->get());  // accepted sockets inherit it: one setsockopt fewer per connection
    auto local = local_address(fd->get());
    if (!local) return fail_with("relay", local.error());
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag | m.listeners.size();
    if (::epoll_ctl(m.epoll.get(), EPOLL_CTL_ADD, fd->get(), &ev) != 0) return fail_errno("relay: epoll_ctl", errno);
    m.bound.push_back(*local);
    m.wildcard.push_back(is_any_address(*local));
    m.ready_turn.push_back(~0ull);  // never "the turn before"
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
  m.ctx.schedule = [&m](uint64_t id, Clock::time_point when) { m.deadlines.push(when, id); };
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
    m.ctx.now = Clock::now();
    m.turn++;
    for (int i = 0; i < n; ++i) m.dispatch(events[i]);
    std::vector<uint64_t> again;
    again.swap(m.resume);
    for (uint64_t id : again) {
      auto it = m.conns.find(id);
      if (it == m.conns.end()) continue;
      it->second->resume(m.ctx);
      if (it->second->closed()) m.conns.erase(it);
    }
    m.admit_waiting();
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
