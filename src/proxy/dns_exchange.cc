#include "proxy/dns_exchange.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/unique_fd.h"
#include "proxy/handshake.h"
#include "proxy/socket_util.h"

namespace cgscope::proxy {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until the deadline: false when it passed.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, int(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

Result<void> send_all(int fd, std::string_view data, Clock::time_point deadline, const std::string& to) {
  while (!data.empty()) {
    if (!wait_for(fd, POLLOUT, deadline)) return fail(fmt::format("timed out sending to {}", to), ETIMEDOUT);
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return fail_errno("sending to " + to, errno);
    data.remove_prefix(size_t(n));
  }
  return {};
}

// Appends what is readable to `buf`; 0 bytes read means the peer closed.
Result<size_t> receive_some(int fd, std::string& buf, Clock::time_point deadline, const std::string& from) {
  for (;;) {
    if (!wait_for(fd, POLLIN, deadline)) return fail(fmt::format("no reply from {} in time", from), ETIMEDOUT);
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return fail_errno("reading from " + from, errno);
    buf.append(chunk, size_t(n));
    return size_t(n);
  }
}

Result<UniqueFd> connect_within(const sockaddr_storage& to, Clock::time_point deadline,
                                const std::function<void(int)>& on_socket, const std::string& what) {
  UniqueFd fd(::socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("creating a socket for " + what, errno);
  if (on_socket) on_socket(fd.get());
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), address_length(to)) != 0 && errno != EINPROGRESS)
    return fail_errno("connecting to " + what, errno);
  if (!wait_for(fd.get(), POLLOUT, deadline)) return fail("timed out connecting to " + what, ETIMEDOUT);
  if (int err = socket_error(fd.get())) return fail_errno("connecting to " + what, err);
  return fd;
}

// The upstream's handshake for `dst`; what the upstream sent after its reply is
// left in `rest`.
Result<void> handshake(int fd, Handshake& h, Clock::time_point deadline, std::string& rest, const std::string& up) {
  std::string in;
  while (h.status() == Handshake::Status::need_more) {
    if (auto r = send_all(fd, h.take_output(), deadline, up); !r) return r;
    in.clear();
    auto n = receive_some(fd, in, deadline, up);
    if (!n) return fail_with(n.error());
    if (*n == 0) h.end_of_input();
    else h.feed(in);
  }
  if (h.status() == Handshake::Status::failed) return fail(fmt::format("the upstream {}: {}", up, h.error()));
  rest = h.take_leftover();
  return {};
}

}  // namespace

Result<std::string> dns_over_tcp(const Upstream& upstream, const sockaddr_storage& server, std::string_view query,
                                 std::chrono::milliseconds timeout, const std::function<void(int)>& on_socket) {
  if (query.size() > 0xffff) return fail("a DNS query over 65535 bytes", EMSGSIZE);
  const auto deadline = Clock::now() + timeout;
  const std::string ns = format_address(server);
  const bool direct = upstream.kind == Upstream::Kind::direct;
  const std::string up = direct ? ns : describe(upstream);
  auto fd = connect_within(direct ? server : upstream.addr, deadline, on_socket,
                           direct ? "the nameserver " + ns : "the upstream " + up);
  if (!fd) return fail_with(fd.error());
  std::string buf;
  if (!direct) {
    Destination dst{server, address_length(server), ""};
    auto h = make_handshake(upstream, dst);
    if (!h) return fail_with(h.error());
    if (auto r = handshake(fd->get(), **h, deadline, buf, up); !r) return fail_with(r.error());
  }
  std::string framed(2 + query.size(), '\0');
  framed[0] = char(query.size() >> 8);
  framed[1] = char(query.size() & 0xff);
  query.copy(framed.data() + 2, query.size());
  if (auto r = send_all(fd->get(), framed, deadline, ns); !r) return fail_with(r.error());
  for (;;) {
    if (buf.size() >= 2) {
      size_t len = (size_t(uint8_t(buf[0])) << 8) | uint8_t(buf[1]);
      if (buf.size() >= 2 + len) return buf.substr(2, len);
    }
    auto n = receive_some(fd->get(), buf, deadline, ns);
    if (!n) return fail_with(n.error());
    if (*n == 0) return fail(fmt::format("{} closed the connection before its whole reply", ns), ECONNRESET);
    if (buf.size() > 2 + 0xffff) return fail("a DNS reply longer than its length", EPROTO);
  }
}

}  // namespace cgscope::proxy
