// sendmsg/recvmsg's msghdr section (struct cgs_msghdr and its parts, as
// bpf/lib/trace_msghdr.bpf.h writes it), decoded as strace prints the struct;
// and sections no kernel wrote (lengths past the bytes, a malformed control
// message) never read outside what they hold.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include "cgscope/abi/trace.h"
#include "trace/decode_struct.h"

namespace cgscope::trace {
namespace {

struct Section {
  cgs_msghdr m{};
  std::vector<uint8_t> name, iov, control;

  std::vector<uint8_t> bytes() {
    m.name_kept = uint16_t(name.size());
    m.iov_kept = uint16_t(iov.size());
    m.control_kept = uint16_t(control.size());
    std::vector<uint8_t> b(sizeof m);
    std::memcpy(b.data(), &m, sizeof m);
    for (auto* part : {&name, &iov, &control}) {
      b.insert(b.end(), part->begin(), part->end());
      b.resize((b.size() + 7) & ~size_t(7));
    }
    return b;
  }
};

template <class T>
void append(std::vector<uint8_t>& b, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof v);
}

std::string decoded(std::vector<uint8_t> d, bool json) {
  std::string out;
  StructOut o(out, json);
  if (!decode_struct(o, ArgFormat::msghdr, d, 0)) return "(not decoded)";
  return out;
}

Section datagram() {
  Section s;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(8080);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  append(s.name, a);
  s.m.msg_name = 0x7ffd0000;
  s.m.msg_namelen = sizeof a;
  iovec v[2] = {{reinterpret_cast<void*>(0x1000), 2}, {reinterpret_cast<void*>(0x2000), 5}};
  append(s.iov, v);
  s.m.msg_iov = 0x7ffd1000;
  s.m.msg_iovlen = 2;
  return s;
}

TEST(DecodeMsghdr, AnAddressAndIovecs) {
  Section s = datagram();
  EXPECT_EQ(decoded(s.bytes(), false),
            "{msg_name=127.0.0.1:8080, msg_namelen=16, msg_iov=[{iov_base=0x1000, iov_len=2}, "
            "{iov_base=0x2000, iov_len=5}], msg_iovlen=2, msg_controllen=0, msg_flags=0}");
  EXPECT_EQ(decoded(s.bytes(), true),
            R"({"msg_name":{"family":"AF_INET","address":"127.0.0.1","port":8080},"msg_namelen":16,)"
            R"("msg_iov":[{"iov_base":"0x1000","iov_len":2},{"iov_base":"0x2000","iov_len":5}],)"
            R"("msg_iovlen":2,"msg_controllen":0,"msg_flags":"0"})");
}

std::vector<uint8_t> cmsg(int level, int type, std::vector<int32_t> data) {
  std::vector<uint8_t> b;
  append(b, uint64_t(16 + 4 * data.size()));
  append(b, int32_t(level));
  append(b, int32_t(type));
  for (int32_t v : data) append(b, v);
  b.resize((b.size() + 7) & ~size_t(7));
  return b;
}

TEST(DecodeMsghdr, PassedFdsAndCredentials) {
  Section s;
  s.control = cmsg(SOL_SOCKET, SCM_RIGHTS, {7, 8});
  auto cred = cmsg(SOL_SOCKET, SCM_CREDENTIALS, {42, 1000, 1001});
  s.control.insert(s.control.end(), cred.begin(), cred.end());
  s.m.msg_control = 0x7ffd2000;
  s.m.msg_controllen = s.control.size();
  s.m.msg_flags = MSG_CTRUNC;
  EXPECT_EQ(decoded(s.bytes(), false),
            "{msg_name=NULL, msg_namelen=0, msg_iov=NULL, msg_iovlen=0, msg_control=[{cmsg_len=24, "
            "cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[7, 8]}, {cmsg_len=28, cmsg_level=SOL_SOCKET, "
            "cmsg_type=SCM_CREDENTIALS, cmsg_data={pid=42, uid=1000, gid=1001}}], msg_controllen=56, "
            "msg_flags=MSG_CTRUNC}");
}

TEST(DecodeMsghdr, AFailedRecvmsgShowsTheLengthItWasGiven) {
  Section s = datagram();
  s.name.clear();
  s.iov.clear();
  s.m.msg_namelen = 128;
  s.m.cut = CGS_MSG_HEADER_ONLY;
  EXPECT_EQ(decoded(s.bytes(), false), "{msg_namelen=128}");
  EXPECT_EQ(decoded(s.bytes(), true), R"({"msg_namelen":128})");
}

TEST(DecodeMsghdr, CutAndUnreadablePartsAreMarked) {
  Section s = datagram();
  s.m.msg_iovlen = 40;  // 2 kept
  s.m.cut = CGS_MSG_IOV_CUT;
  EXPECT_NE(decoded(s.bytes(), false).find("iov_len=5}, ...], msg_iovlen=40"), std::string::npos)
      << decoded(s.bytes(), false);
  EXPECT_NE(decoded(s.bytes(), true).find(R"("iov_len":5},"..."],"msg_iovlen":40)"), std::string::npos)
      << decoded(s.bytes(), true);

  Section f = datagram();
  f.name.clear();
  f.m.cut = CGS_MSG_NAME_FAULT;
  EXPECT_EQ(decoded(f.bytes(), false).rfind("{msg_name=0x7ffd0000, msg_namelen=16,", 0), 0u)
      << decoded(f.bytes(), false);

  // A control message longer than what was kept: shown as far as it goes, then the mark.
  Section c;
  c.control = cmsg(SOL_SOCKET, SCM_RIGHTS, {3, 4, 5, 6});
  c.control.resize(20);
  c.m.msg_control = 0x10;
  c.m.msg_controllen = 32;
  c.m.cut = CGS_MSG_CONTROL_CUT;
  EXPECT_NE(decoded(c.bytes(), false).find("cmsg_data=[3]}, ...], msg_controllen=32"), std::string::npos)
      << decoded(c.bytes(), false);
}

TEST(DecodeMsghdr, SectionsNoKernelWroteAreNotDecoded) {
  Section s = datagram();
  auto b = s.bytes();
  EXPECT_EQ(decoded(std::vector<uint8_t>(b.begin(), b.begin() + 40), false), "(not decoded)") << "short header";
  auto* m = reinterpret_cast<cgs_msghdr*>(b.data());
  m->iov_kept = 4096;  // past the limit, and past the bytes
  EXPECT_EQ(decoded(b, false), "(not decoded)");
  m->iov_kept = 32;
  m->control_kept = 200;  // within the limit, past the bytes
  EXPECT_EQ(decoded(b, false), "(not decoded)");

  // A control message whose length is below its own header's: the list stops there.
  Section c;
  c.control = cmsg(SOL_SOCKET, SCM_RIGHTS, {3});
  uint64_t bad = 4;
  std::memcpy(c.control.data(), &bad, sizeof bad);
  c.m.msg_control = 0x10;
  c.m.msg_controllen = c.control.size();
  EXPECT_NE(decoded(c.bytes(), false).find("msg_control=[], msg_controllen=24"), std::string::npos)
      << decoded(c.bytes(), false);
}

}  // namespace
}  // namespace cgscope::trace
