#include "proxy/socket_util.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "proxy/destination.h"

namespace cgscope::proxy {

Result<UniqueFd> listen_tcp(const sockaddr_storage& addr, int backlog) {
  const std::string where = format_address(addr);
  socklen_t len = address_length(addr);
  if (len == 0) return fail("listening: not an IPv4 or IPv6 address");
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("creating a socket to listen on " + where, errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.ss_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0)
    return fail_errno("binding the relay to " + where, errno);
  if (::listen(fd.get(), backlog) != 0) return fail_errno("listening on " + where, errno);
  return fd;
}

Result<sockaddr_storage> local_address(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return fail_errno("getsockname", errno);
  return a;
}

void close_with_reset(UniqueFd& fd) {
  if (!fd) return;
  linger l{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd.reset();
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

FdLimit raise_fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return {0, std::string("getrlimit: ") + std::strerror(errno)};
  FdLimit out{r.rlim_cur, ""};
  if (r.rlim_cur < r.rlim_max) {
    rlimit want{r.rlim_max, r.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0)
      out.limit = want.rlim_cur;
    else
      out.error = "raising the open-file limit from " + std::to_string(r.rlim_cur) + " to " +
                  std::to_string(r.rlim_max) + ": " + std::strerror(errno);
  }
  return out;
}

}  // namespace cgscope::proxy
