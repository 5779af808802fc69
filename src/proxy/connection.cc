// Results are phrased for the access log: "upstream unreachable: ..." when the
// upstream could not be reached, "timeout: ..." when it (or, with direct, the
// destination) did not answer in time, "refused by
// upstream: ..." when it answered no, "upstream error: ..." when it answered
// nonsense. A client that fails before forwarding gets a reset.
#include "proxy/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "proxy/socket_util.h"

namespace cgscope::proxy {
namespace {

constexpr size_t kBudget = 1 << 20;  // bytes a pump moves per turn before others get theirs
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr uint32_t kTrouble = EPOLLERR | EPOLLHUP;
constexpr uint32_t kEnd = EPOLLRDHUP | kTrouble;  // the socket may have nothing more to read

bool add_to_epoll(int epoll_fd, int fd, uint64_t tag) {
  epoll_event ev{};
  ev.events = kEvents;
  ev.data.u64 = tag;
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool fd_shortage(int err) { return err == EMFILE || err == ENFILE; }

// "300 ms", "10 s": for records.
std::string duration_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

}  // namespace

Connection::Connection(uint64_t id, UniqueFd client, Original orig, Clock::time_point accepted,
                       std::chrono::system_clock::time_point wall)
    : id_(id), client_(std::move(client)), orig_(std::move(orig)), accepted_(accepted), wall_(wall) {}

// With direct there is no upstream: what cannot be reached is the destination.
std::string Connection::unreachable(const RelayOptions& opt) const {
  return opt.upstream.kind == Upstream::Kind::direct ? "destination unreachable: " : "upstream unreachable: ";
}

// How long the TCP connect may take: to a proxy upstream, the shorter of
// both limits (0 is none); to a direct destination, connect_timeout.
std::chrono::milliseconds Connection::connect_limit(const RelayOptions& opt) const {
  auto all = opt.connect_timeout, up = opt.upstream_connect_timeout;
  if (opt.upstream.kind == Upstream::Kind::direct || up.count() <= 0) return all;
  return all.count() > 0 ? std::min(all, up) : up;
}

std::string Connection::target_text(const RelayOptions& opt) const {
  return opt.upstream.kind == Upstream::Kind::direct ? format_address(orig_.dst.addr)
                                                     : format_address(opt.upstream.addr);
}

void Connection::start(LoopContext& ctx) {
  const RelayOptions& opt = *ctx.opt;
  const bool direct = opt.upstream.kind == Upstream::Kind::direct;
  if (!opt.splice) {
    up_.copy_only();
    down_.copy_only();
  }
  if (direct && orig_.dst.len == 0) return fail(ctx, "upstream error: direct needs the destination's address");
  auto hs = make_handshake(opt.upstream, orig_.dst);
  if (!hs) return fail(ctx, "upstream error: " + hs.error().message);
  handshake_ = std::move(*hs);

  const sockaddr_storage& target = direct ? orig_.dst.addr : opt.upstream.addr;
  upstream_.reset(::socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!upstream_) {
    int err = errno;
    if (fd_shortage(err) && ctx.fd_shortage) ctx.fd_shortage(err);
    return fail(ctx, std::string(fd_shortage(err) ? "relay out of file descriptors" : "relay error") +
                         ": socket: " + std::strerror(err));
  }
  if (opt.on_upstream_socket) opt.on_upstream_socket(upstream_.get());
  set_nodelay(upstream_.get());  // the client's socket has it from the listener
  if (!add_to_epoll(ctx.epoll_fd, client_.get(), epoll_tag(id_, Side::client)) ||
      !add_to_epoll(ctx.epoll_fd, upstream_.get(), epoll_tag(id_, Side::upstream)))
    return fail(ctx, std::string("relay error: epoll_ctl: ") + std::strerror(errno));
  if (auto limit = connect_limit(opt); limit.count() > 0) arm(ctx, accepted_ + limit);
  int rc = ::connect(upstream_.get(), reinterpret_cast<const sockaddr*>(&target), address_length(target));
  if (rc == 0) return on_connected(ctx);
  if (errno != EINPROGRESS)
    return fail(ctx, unreachable(opt) + "connecting to " + target_text(opt) + ": " + std::strerror(errno));
}

void Connection::on_event(LoopContext& ctx, Side side, uint32_t events) {
  // Remembered at any stage: an end or bytes seen while connecting raise no
  // new event later, so start_forwarding() must know to read them.
  if (events & kEnd) (side == Side::client ? up_ : down_).expect_end();
  if (stage_ != Stage::forwarding && (events & EPOLLIN)) readable_[static_cast<int>(side)] = true;
  switch (stage_) {
    case Stage::connecting:
      // A clean EPOLLOUT is a completed connect; only trouble needs SO_ERROR.
      if (side == Side::upstream && (events & kTrouble)) {
        int err = socket_error(upstream_.get());
        if (err || !(events & EPOLLOUT))
          return fail(ctx, unreachable(*ctx.opt) + "connecting to " + target_text(*ctx.opt) + ": " +
                               std::strerror(err ? err : ECONNRESET));
      }
      if (side == Side::upstream && (events & EPOLLOUT)) return on_connected(ctx);
      break;
    case Stage::handshaking:
      if (side == Side::upstream) {
        if (events & EPOLLOUT) write_handshake(ctx);
        if (stage_ == Stage::handshaking && (events & (EPOLLIN | EPOLLRDHUP | kTrouble))) read_handshake(ctx);
      }
      break;
    case Stage::forwarding: {
      bool broken = events & kTrouble;
      bool readable = events & EPOLLIN, writable = events & EPOLLOUT, ended = events & EPOLLRDHUP;
      // A pump blocked on its destination runs when that becomes writable; a
      // pump waiting for input runs when its source becomes readable or ends
      // (the other pump, writing to that socket, has nothing to do then); an
      // error or hang-up runs both, so that each finds out on its own side.
      bool up = side == Side::client ? ((readable && up_.status() != Pump::Status::blocked) || ended)
                                     : (writable && up_.status() == Pump::Status::blocked);
      bool down = side == Side::upstream ? ((readable && down_.status() != Pump::Status::blocked) || ended)
                                         : (writable && down_.status() == Pump::Status::blocked);
      return forward(ctx, up || broken, down || broken);
    }
    case Stage::closed:
      return;
  }
  // Before forwarding the client's bytes stay in its socket; only its going away matters.
  if (stage_ != Stage::closed && side == Side::client && (events & kTrouble))
    fail(ctx, "client went away before the upstream answered");
}

void Connection::on_connected(LoopContext& ctx) {
  if (!handshake_) return start_forwarding(ctx, {});
  stage_ = Stage::handshaking;
  // The upstream's connect limit is past: the handshake has all of connect_timeout.
  if (ctx.opt->connect_timeout.count() > 0)
    arm(ctx, accepted_ + ctx.opt->connect_timeout);
  else
    armed_ = {};
  handshake_out_ = handshake_->take_output();
  write_handshake(ctx);
}

void Connection::write_handshake(LoopContext& ctx) {
  while (!handshake_out_.empty()) {
    ssize_t n = ::send(upstream_.get(), handshake_out_.data(), handshake_out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0)
      return fail(ctx, "upstream error: sending the " + std::string(handshake_->protocol()) +
                           " request: " + std::strerror(errno));
    handshake_out_.erase(0, static_cast<size_t>(n));
  }
}

void Connection::read_handshake(LoopContext& ctx) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(upstream_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0)
      return fail(ctx, "upstream error: during the " + std::string(handshake_->protocol()) +
                           " handshake: " + std::strerror(errno));
    auto st = n == 0 ? handshake_->end_of_input() : handshake_->feed({buf, static_cast<size_t>(n)});
    if (st == Handshake::Status::failed) {
      const char* kind =
          handshake_->failure() == Handshake::Failure::refused ? "refused by upstream: " : "upstream error: ";
      return fail(ctx, kind + handshake_->error());
    }
    if (st == Handshake::Status::done) {
      upstream_more_ = static_cast<size_t>(n) == sizeof buf;  // a full read: more may wait
      return start_forwarding(ctx, handshake_->take_leftover());
    }
    handshake_out_ += handshake_->take_output();
    write_handshake(ctx);
    if (stage_ != Stage::handshaking) return;
    // A short read drained the socket: the next bytes raise a new edge (an end
    // already reported does not, so then it is read on until it shows).
    if (static_cast<size_t>(n) < sizeof buf && !down_.end_expected()) return;
  }
}

void Connection::start_forwarding(LoopContext& ctx, std::string leftover) {
  stage_ = Stage::forwarding;
  handshake_.reset();
  std::string().swap(handshake_out_);
  ctx.counters.forwarded++;
  // The edges that came before were not acted on: each way is tried now if
  // its socket was readable or ended, or has bytes to pass on. (A read that
  // would only say EAGAIN is a syscall the others wait for.)
  bool up = readable_[static_cast<int>(Side::client)] || up_.end_expected();
  // (A handshake read the upstream until EAGAIN, or until its reply ended.)
  bool direct = ctx.opt->upstream.kind == Upstream::Kind::direct;
  bool down = !leftover.empty() || upstream_more_ || down_.end_expected() ||
              (direct && readable_[static_cast<int>(Side::upstream)]);
  down_.preload(std::move(leftover));
  last_active_ = ctx.now;
  if (ctx.opt->idle_timeout.count() > 0)
    arm(ctx, ctx.now + ctx.opt->idle_timeout);
  else
    armed_ = {};  // the connect deadline, still queued, is stale now
  forward(ctx, up, down);
}

void Connection::forward(LoopContext& ctx, bool up, bool down) {
  const uint64_t before = up_.bytes() + down_.bytes();
  if (up) {
    if (down_.status() == Pump::Status::done) up_.end_with_close();
    up_.run(client_.get(), upstream_.get(), ctx.pipes, kBudget);
  }
  if (down) {
    if (up_.status() == Pump::Status::done) down_.end_with_close();
    down_.run(upstream_.get(), client_.get(), ctx.pipes, kBudget);
  }
  if (up_.bytes() + down_.bytes() != before) last_active_ = ctx.now;
  if (up_.status() == Pump::Status::failed) return finish(ctx, pump_failure(up_, true), true);
  if (down_.status() == Pump::Status::failed) return finish(ctx, pump_failure(down_, false), true);
  if (up_.status() == Pump::Status::done && down_.status() == Pump::Status::done) return finish(ctx, "ok", false);
  if (up_.status() == Pump::Status::again || down_.status() == Pump::Status::again) ctx.resume_later(id_);
  watch_reads(ctx);
}

// A pump blocked on its destination has no use for its source's bytes: that
// socket's EPOLLIN leaves the epoll mask until the pump unblocks, so that the
// segments arriving meanwhile do not wake the loop for nothing (in a 1 GB
// download through the relay, about 7 wakeups per MB did nothing). Putting it
// back reports the socket at once if it is readable, so no edge is lost.
void Connection::watch_reads(LoopContext& ctx) {
  set_reading(ctx, Side::client, up_.status() != Pump::Status::blocked);
  set_reading(ctx, Side::upstream, down_.status() != Pump::Status::blocked);
}

void Connection::set_reading(LoopContext& ctx, Side side, bool on) {
  bool& now = reading_[static_cast<int>(side)];
  if (now == on) return;
  epoll_event ev{};
  ev.events = on ? kEvents : kEvents & ~uint32_t{EPOLLIN};
  ev.data.u64 = epoll_tag(id_, side);
  int fd = side == Side::client ? client_.get() : upstream_.get();
  // A failed change leaves the mask as it was: wakeups for nothing, no harm.
  if (::epoll_ctl(ctx.epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0) now = on;
}

void Connection::resume(LoopContext& ctx) {
  if (stage_ != Stage::forwarding) return;
  forward(ctx, up_.status() == Pump::Status::again, down_.status() == Pump::Status::again);
}

std::string Connection::pump_failure(const Pump& p, bool up) const {
  // The up pump reads the client and writes the upstream; the down pump the reverse.
  bool client_side = p.error_on_from() == up;
  const char* who = client_side ? "client" : "upstream";
  if (p.error() == ECONNRESET || p.error() == EPIPE) return std::string(who) + " reset";
  return std::string(who) + " error: " + std::strerror(p.error());
}

void Connection::arm(LoopContext& ctx, Clock::time_point when) {
  armed_ = when;
  ctx.schedule(id_, when);
}

void Connection::on_deadline(LoopContext& ctx) {
  const RelayOptions& opt = *ctx.opt;
  if (stage_ == Stage::connecting || stage_ == Stage::handshaking) {
    if (stage_ == Stage::connecting)
      return fail(ctx, "timeout: no connection to " + target_text(opt) + " within " +
                           duration_text(connect_limit(opt)));
    return fail(ctx, "timeout: no " + std::string(handshake_->protocol()) + " answer from " + target_text(opt) +
                         " within " + duration_text(opt.connect_timeout));
  }
  if (stage_ != Stage::forwarding || opt.idle_timeout.count() <= 0) return;
  Clock::time_point due = last_active_ + opt.idle_timeout;
  if (due > ctx.now) return arm(ctx, due);  // it moved since: wait the rest
  // Nothing in flight by definition: a plain close, each end reads an end of file.
  finish(ctx, "idle timeout: no bytes either way for " + duration_text(opt.idle_timeout), false);
}

void Connection::stop(LoopContext& ctx) {
  if (stage_ != Stage::closed) finish(ctx, "relay stopped", true);
}

void Connection::fail(LoopContext& ctx, std::string result) {
  ctx.counters.failed++;
  finish(ctx, std::move(result), true);
}

void Connection::finish(LoopContext& ctx, std::string result, bool reset) {
  if (stage_ == Stage::closed) return;
  stage_ = Stage::closed;
  if (reset) {
    close_with_reset(client_);
    close_with_reset(upstream_);
  } else {
    client_.reset();
    upstream_.reset();
  }
  handshake_.reset();
  ctx.counters.active--;
  if (!ctx.opt->on_close) return;
  AccessRecord r;
  r.meta = std::move(orig_.meta);
  r.dst = std::move(orig_.dst);
  r.upstream = ctx.upstream_text;
  r.bytes_up = up_.bytes();
  r.bytes_down = down_.bytes();
  r.seconds = std::chrono::duration<double>(Clock::now() - accepted_).count();
  r.started = wall_;
  r.result = std::move(result);
  ctx.opt->on_close(r);
}

}  // namespace cgscope::proxy
