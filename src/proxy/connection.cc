// Results are phrased for the access log: "upstream unreachable: ..." when the
// upstream could not be reached or did not answer in time, "refused by
// upstream: ..." when it answered no, "upstream error: ..." when it answered
// nonsense. A client that fails before forwarding gets a reset.
#include "proxy/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "proxy/socket_util.h"

namespace cgscope::proxy {
namespace {

constexpr size_t kBudget = 1 << 20;  // bytes a pump moves per turn before others get theirs
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr uint32_t kTrouble = EPOLLERR | EPOLLHUP;

bool add_to_epoll(int epoll_fd, int fd, uint64_t tag) {
  epoll_event ev{};
  ev.events = kEvents;
  ev.data.u64 = tag;
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool fd_shortage(int err) { return err == EMFILE || err == ENFILE; }

}  // namespace

Connection::Connection(uint64_t id, UniqueFd client, Original orig, Clock::time_point accepted,
                       std::chrono::system_clock::time_point wall)
    : id_(id), client_(std::move(client)), orig_(std::move(orig)), accepted_(accepted), wall_(wall) {}

// With direct there is no upstream: what cannot be reached is the destination.
std::string Connection::unreachable(const RelayOptions& opt) const {
  return opt.upstream.kind == Upstream::Kind::direct ? "destination unreachable: " : "upstream unreachable: ";
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
  set_nodelay(upstream_.get());
  set_nodelay(client_.get());
  if (!add_to_epoll(ctx.epoll_fd, client_.get(), epoll_tag(id_, Side::client)) ||
      !add_to_epoll(ctx.epoll_fd, upstream_.get(), epoll_tag(id_, Side::upstream)))
    return fail(ctx, std::string("relay error: epoll_ctl: ") + std::strerror(errno));
  int rc = ::connect(upstream_.get(), reinterpret_cast<const sockaddr*>(&target), address_length(target));
  if (rc == 0) return on_connected(ctx);
  if (errno != EINPROGRESS)
    return fail(ctx, unreachable(opt) + "connecting to " + target_text(opt) + ": " + std::strerror(errno));
}

void Connection::on_event(LoopContext& ctx, Side side, uint32_t events) {
  switch (stage_) {
    case Stage::connecting:
      if (side == Side::upstream && (events & (EPOLLOUT | kTrouble))) {
        if (int err = socket_error(upstream_.get()))
          return fail(ctx,
                      unreachable(*ctx.opt) + "connecting to " + target_text(*ctx.opt) + ": " + std::strerror(err));
        if (events & EPOLLOUT) return on_connected(ctx);
      }
      break;
    case Stage::handshaking:
      if (side == Side::upstream) {
        if (events & EPOLLOUT) write_handshake(ctx);
        if (stage_ == Stage::handshaking && (events & (EPOLLIN | EPOLLRDHUP | kTrouble))) read_handshake(ctx);
      }
      break;
    case Stage::forwarding: {
      bool trouble = events & (kTrouble | EPOLLRDHUP);
      bool readable = events & EPOLLIN, writable = events & EPOLLOUT;
      // A pump blocked on its destination runs when that becomes writable; a
      // pump waiting for input runs when its source becomes readable.
      bool up = side == Side::client ? (readable && up_.status() != Pump::Status::blocked)
                                     : (writable && up_.status() == Pump::Status::blocked);
      bool down = side == Side::upstream ? (readable && down_.status() != Pump::Status::blocked)
                                         : (writable && down_.status() == Pump::Status::blocked);
      return forward(ctx, up || trouble, down || trouble);
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
    if (st == Handshake::Status::done) return start_forwarding(ctx, handshake_->take_leftover());
    handshake_out_ += handshake_->take_output();
    write_handshake(ctx);
    if (stage_ != Stage::handshaking) return;
  }
}

void Connection::start_forwarding(LoopContext& ctx, std::string leftover) {
  stage_ = Stage::forwarding;
  handshake_.reset();
  std::string().swap(handshake_out_);
  ctx.counters.forwarded++;
  down_.preload(std::move(leftover));
  // The edges that came while connecting were not acted on: try both ways now.
  forward(ctx, true, true);
}

void Connection::forward(LoopContext& ctx, bool up, bool down) {
  if (up) up_.run(client_.get(), upstream_.get(), ctx.pipes, kBudget);
  if (down) down_.run(upstream_.get(), client_.get(), ctx.pipes, kBudget);
  if (up_.status() == Pump::Status::failed) return finish(ctx, pump_failure(up_, true), true);
  if (down_.status() == Pump::Status::failed) return finish(ctx, pump_failure(down_, false), true);
  if (up_.status() == Pump::Status::done && down_.status() == Pump::Status::done) return finish(ctx, "ok", false);
  if (up_.status() == Pump::Status::again || down_.status() == Pump::Status::again) ctx.resume_later(id_);
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

void Connection::on_deadline(LoopContext& ctx) {
  if (stage_ != Stage::connecting && stage_ != Stage::handshaking) return;
  std::string ms = std::to_string(ctx.opt->connect_timeout.count()) + " ms";
  if (stage_ == Stage::connecting)
    return fail(ctx, unreachable(*ctx.opt) + "no connection to " + target_text(*ctx.opt) + " within " + ms);
  fail(ctx, "upstream unreachable: no " + std::string(handshake_->protocol()) + " answer from " +
                target_text(*ctx.opt) + " within " + ms);
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
