#include "trace/proc_sockets.h"

#include <dirent.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <unordered_set>

#include "core/small_file.h"

namespace cgscope::trace {
namespace {

constexpr int kTcpListen = 10, kTcpClose = 7;

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) i++;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') i++;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <class T>
bool parse_hex(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && end == s.data() + s.size();
}

// "0100007F:1F90" (IPv4) or 32 hex digits and a port (IPv6). The kernel prints
// each 32-bit word of the address as a host-order number: its bytes in memory
// are the address's, in network order.
bool parse_endpoint(std::string_view s, rtnl::IpAddress& addr, uint16_t& port) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || !parse_hex(s.substr(colon + 1), port)) return false;
  std::string_view hex = s.substr(0, colon);
  if (hex.size() != 8 && hex.size() != 32) return false;
  addr = rtnl::IpAddress{static_cast<uint8_t>(hex.size() == 8 ? AF_INET : AF_INET6), {}};
  for (size_t w = 0; w < hex.size() / 8; w++) {
    uint32_t word;
    if (!parse_hex(hex.substr(w * 8, 8), word)) return false;
    std::memcpy(addr.bytes.data() + w * 4, &word, 4);
  }
  return true;
}

// The socket inode of an fd's link text, "socket:[12345]"; 0 for anything else.
uint64_t socket_inode(std::string_view link) {
  if (!link.starts_with("socket:[") || !link.ends_with("]")) return 0;
  uint64_t ino = 0;
  std::string_view digits = link.substr(8, link.size() - 9);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ino);
  return ec == std::errc() && end == digits.data() + digits.size() ? ino : 0;
}

bool all_digits(const char* s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

}  // namespace

std::vector<ProcSocket> parse_proc_net_sockets(std::string_view text) {
  std::vector<ProcSocket> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::vector<std::string_view> f = fields_of(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ProcSocket s;
    rtnl::IpAddress remote;
    uint16_t rport;
    uint64_t inode = 0;
    if (f.size() < 10 || !f[0].ends_with(':') || !parse_endpoint(f[1], s.local, s.port) ||
        !parse_endpoint(f[2], remote, rport) || !parse_hex(f[3], s.state))
      continue;
    auto [end, ec] = std::from_chars(f[9].data(), f[9].data() + f[9].size(), inode);
    if (ec != std::errc() || end != f[9].data() + f[9].size()) continue;
    s.inode = inode;
    out.push_back(s);
  }
  return out;
}

std::vector<ProcSocket> servers_of(const std::vector<ProcSocket>& rows, bool udp) {
  std::vector<ProcSocket> out;
  for (const ProcSocket& s : rows)
    if (s.inode && s.port && s.state == (udp ? kTcpClose : kTcpListen)) out.push_back(s);
  return out;
}

std::unordered_map<uint64_t, SocketHolder> find_socket_holders(const std::vector<uint64_t>& inodes,
                                                              HolderSearchLimits limits) {
  std::unordered_map<uint64_t, SocketHolder> found;
  std::unordered_set<uint64_t> wanted(inodes.begin(), inodes.end());
  wanted.erase(0);
  DirPtr proc(::opendir("/proc"));
  if (!proc || wanted.empty()) return found;
  size_t processes = 0, fds = 0;
  while (dirent* p = ::readdir(proc.get())) {
    if (!all_digits(p->d_name)) continue;
    if (++processes > limits.max_processes || found.size() == wanted.size()) break;
    std::string base = std::string("/proc/") + p->d_name;
    DirPtr fd_dir(::opendir((base + "/fd").c_str()));
    if (!fd_dir) continue;  // gone, or not ours to read
    while (dirent* f = ::readdir(fd_dir.get())) {
      if (!all_digits(f->d_name)) continue;
      if (++fds > limits.max_fds) return found;
      char link[64];
      ssize_t n = ::readlinkat(::dirfd(fd_dir.get()), f->d_name, link, sizeof link);
      if (n <= 0 || n == sizeof link) continue;
      uint64_t ino = socket_inode(std::string_view(link, static_cast<size_t>(n)));
      if (!ino || !wanted.count(ino) || found.count(ino)) continue;
      SocketHolder h;
      std::from_chars(p->d_name, p->d_name + std::strlen(p->d_name), h.pid);
      if (auto comm = read_small_file(base + "/comm")) {
        h.comm = *comm;
        while (!h.comm.empty() && h.comm.back() == '\n') h.comm.pop_back();
      }
      found.emplace(ino, std::move(h));
    }
  }
  return found;
}

}  // namespace cgscope::trace
