// sendmsg/recvmsg's struct msghdr (a CGS_ARG_MSGHDR section: struct cgs_msghdr,
// then the name, the iovecs and the control data the kernel kept, each part
// 8-byte aligned; bpf/lib/trace_msghdr.bpf.h), with strace's field names:
//   {msg_name=127.0.0.1:8080, msg_namelen=16, msg_iov=[{iov_base=0x..., iov_len=3}],
//    msg_iovlen=1, msg_control=[{cmsg_len=20, cmsg_level=SOL_SOCKET,
//    cmsg_type=SCM_RIGHTS, cmsg_data=[5]}], msg_controllen=24, msg_flags=0}
// The address reads as every other address of cgscope reads (sockaddr.h), not
// as strace's sa_family=... form. Everything here comes from the traced
// program: every length is checked against the bytes there are.
#include <array>

#include "cgscope/abi/trace.h"
#include "trace/decode_sock.h"
#include "trace/decode_struct.h"
#include "trace/named.h"
#include "trace/sockaddr.h"
#include "trace/struct_bytes.h"

namespace cgscope::trace {
namespace {

using named::Named;

constexpr size_t kHeader = sizeof(cgs_msghdr);
constexpr size_t kCmsgHeader = 16;  // cmsg_len (size_t), cmsg_level, cmsg_type
constexpr int kSolSocket = 1;

constexpr std::array<Named, 4> kScmTypes = {{
    {1, "SCM_RIGHTS"}, {2, "SCM_CREDENTIALS"}, {3, "SCM_SECURITY"}, {4, "SCM_PIDFD"},
}};

size_t align8(size_t n) { return (n + 7) & ~size_t(7); }

void name_field(StructOut& o, const cgs_msghdr& m, std::span<const uint8_t> name) {
  o.key("msg_name");
  if (!m.msg_name) return o.null();
  // Unreadable, or empty (recvmsg on a stream socket): the address, as strace shows it.
  if (name.empty() || (m.cut & CGS_MSG_NAME_FAULT)) return o.hex(m.msg_name);
  if (!o.json()) return o.sym([&](std::string& out) { format_sockaddr(out, name); });
  SockaddrView sa = decode_sockaddr(name);
  o.open_obj();
  o.key("family");
  o.str(sa.family);
  o.key("address");
  o.str(sa.address);
  if (sa.port >= 0) {
    o.key("port");
    o.num(sa.port);
  }
  o.close_obj();
}

void iov_field(StructOut& o, const cgs_msghdr& m, std::span<const uint8_t> iov, const IovData* data) {
  o.key("msg_iov");
  if (!m.msg_iov) return o.null();
  if (m.cut & CGS_MSG_IOV_FAULT) return o.hex(m.msg_iov);
  decode_iovecs(o, iov, iov.size() / 16 < m.msg_iovlen, data);
}

void cmsg_data(StructOut& o, int level, int type, std::span<const uint8_t> data) {
  o.key("cmsg_data");
  if (level == kSolSocket && type == 1) {  // SCM_RIGHTS: the fds passed
    o.open_arr();
    for (size_t off = 0; off + 4 <= data.size(); off += 4) o.num(field<int32_t>(data, off));
    o.close_arr();
  } else if (level == kSolSocket && type == 2 && data.size() >= 12) {  // SCM_CREDENTIALS: struct ucred
    o.open_obj();
    o.key("pid");
    o.num(field<int32_t>(data, 0));
    o.key("uid");
    o.unum(field<uint32_t>(data, 4));
    o.key("gid");
    o.unum(field<uint32_t>(data, 8));
    o.close_obj();
  } else {
    o.str(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  }
}

// The control messages, as far as the kept bytes hold whole headers.
void control_field(StructOut& o, const cgs_msghdr& m, std::span<const uint8_t> control) {
  o.key("msg_control");
  if (!m.msg_control) return o.null();
  if (control.empty()) return o.hex(m.msg_control);
  o.open_arr();
  size_t off = 0;
  bool cut = (m.cut & CGS_MSG_CONTROL_CUT) != 0;
  while (off + kCmsgHeader <= control.size()) {
    uint64_t len = field<uint64_t>(control, off);
    if (len < kCmsgHeader) break;  // malformed: the kernel stops here too
    int level = field<int32_t>(control, off + 8), type = field<int32_t>(control, off + 12);
    size_t avail = control.size() - off;
    size_t have = len <= avail ? size_t(len) : avail;
    cut |= len > avail;
    o.open_obj();
    o.key("cmsg_len");
    o.unum(len);
    o.key("cmsg_level");
    o.sym([&](std::string& out) { format_sockopt_level(out, uint32_t(level)); });
    o.key("cmsg_type");
    if (level == kSolSocket)
      o.sym([&](std::string& out) { named::append_enum(out, uint32_t(type), kScmTypes); });
    else
      o.num(type);
    cmsg_data(o, level, type, control.subspan(off + kCmsgHeader, have - kCmsgHeader));
    o.close_obj();
    if (len > avail) break;
    off += align8(size_t(len));
  }
  o.close_arr(cut);
}

}  // namespace

bool decode_msghdr(StructOut& o, std::span<const uint8_t> d, const IovData* data) {
  if (d.size() < kHeader) return false;
  cgs_msghdr m;
  std::memcpy(&m, d.data(), sizeof m);
  size_t name_at = kHeader, iov_at = name_at + align8(m.name_kept), control_at = iov_at + align8(m.iov_kept);
  if (m.name_kept > CGS_MSG_NAME_MAX || m.iov_kept > CGS_MSG_IOV_MAX * 16 || m.control_kept > CGS_MSG_CONTROL_MAX ||
      control_at + m.control_kept > d.size())
    return false;  // not a section the kernel wrote: the address instead
  o.open_obj();
  if (m.cut & CGS_MSG_HEADER_ONLY) {  // a failed recvmsg: strace shows the length it was given
    o.key("msg_namelen");
    o.unum(m.msg_namelen);
    o.close_obj();
    return true;
  }
  name_field(o, m, d.subspan(name_at, m.name_kept));
  o.key("msg_namelen");
  o.unum(m.msg_namelen);
  iov_field(o, m, d.subspan(iov_at, m.iov_kept & ~15u), data);
  o.key("msg_iovlen");
  o.unum(m.msg_iovlen);
  if (m.msg_controllen) control_field(o, m, d.subspan(control_at, m.control_kept));
  o.key("msg_controllen");
  o.unum(m.msg_controllen);
  o.key("msg_flags");
  o.sym([&](std::string& out) { format_msg_flags(out, m.msg_flags); });
  o.close_obj();
  return true;
}

}  // namespace cgscope::trace
