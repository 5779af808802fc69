#include "core/sock_cookie.h"

#include <sys/socket.h>

#include <cerrno>

#include "core/unique_fd.h"

// Older libc headers lack them; the values are the kernel's ABI.
#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace cgscope {

Result<uint64_t> socket_cookie(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) return fail_errno("reading SO_COOKIE", errno);
  return cookie;
}

Result<uint64_t> current_netns_cookie() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return fail_errno("making a socket to read this network namespace's cookie", errno);
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (getsockopt(s.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
    return fail_errno("reading this network namespace's cookie (SO_NETNS_COOKIE, Linux 5.14)", errno);
  return cookie;
}

}  // namespace cgscope
