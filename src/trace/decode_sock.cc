// Values from <sys/socket.h> (SO_*, MSG_*, SOCK_*, which include the kernel's
// <asm-generic/socket.h>), <netinet/in.h> (IP_*, IPV6_*) and <netinet/tcp.h>
// (TCP_*). Names with one value for two (SO_GET_FILTER, TCP_CM_INQ, IP_RECVRETOPTS)
// are left out: the first name is the one strace shows. The time options are
// named _OLD/_NEW, as the kernel has them: SO_RCVTIMEO is one or the other by the
// C library's time_t, the kernel sees which.
#include "trace/decode_sock.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>

#include "trace/named.h"

namespace cgscope::trace {
namespace {

using namespace named;

// The IP-family levels are protocol numbers; the kernel's <linux/socket.h> names
// them SOL_IP, SOL_TCP, SOL_UDP, SOL_IPV6, and so does strace.
constexpr std::array kLevels = {
    Named{IPPROTO_IP, "SOL_IP"},     NAMED(SOL_SOCKET),            Named{IPPROTO_TCP, "SOL_TCP"},
    Named{IPPROTO_UDP, "SOL_UDP"},   Named{IPPROTO_IPV6, "SOL_IPV6"}, Named{IPPROTO_ICMPV6, "SOL_ICMPV6"},
    Named{IPPROTO_SCTP, "SOL_SCTP"}, Named{IPPROTO_UDPLITE, "SOL_UDPLITE"}, NAMED(SOL_RAW),
    NAMED(SOL_PACKET),  NAMED(SOL_NETLINK), NAMED(SOL_ALG),   NAMED(SOL_TLS),   NAMED(SOL_XDP),
    NAMED(SOL_MPTCP),
};

constexpr std::array kSocketOpts = {
    NAMED(SO_DEBUG),         NAMED(SO_REUSEADDR),       NAMED(SO_TYPE),             NAMED(SO_ERROR),
    NAMED(SO_DONTROUTE),     NAMED(SO_BROADCAST),       NAMED(SO_SNDBUF),           NAMED(SO_RCVBUF),
    NAMED(SO_SNDBUFFORCE),   NAMED(SO_RCVBUFFORCE),     NAMED(SO_KEEPALIVE),        NAMED(SO_OOBINLINE),
    NAMED(SO_NO_CHECK),      NAMED(SO_PRIORITY),        NAMED(SO_LINGER),           NAMED(SO_BSDCOMPAT),
    NAMED(SO_REUSEPORT),     NAMED(SO_PASSCRED),        NAMED(SO_PEERCRED),         NAMED(SO_RCVLOWAT),
    NAMED(SO_SNDLOWAT),      NAMED(SO_RCVTIMEO_OLD),    NAMED(SO_SNDTIMEO_OLD),
    NAMED(SO_SECURITY_AUTHENTICATION), NAMED(SO_SECURITY_ENCRYPTION_TRANSPORT),
    NAMED(SO_SECURITY_ENCRYPTION_NETWORK), NAMED(SO_BINDTODEVICE), NAMED(SO_ATTACH_FILTER),
    NAMED(SO_DETACH_FILTER), NAMED(SO_PEERNAME),        NAMED(SO_TIMESTAMP_OLD),    NAMED(SO_ACCEPTCONN),
    NAMED(SO_PEERSEC),       NAMED(SO_PASSSEC),         NAMED(SO_TIMESTAMPNS_OLD),  NAMED(SO_MARK),
    NAMED(SO_TIMESTAMPING_OLD), NAMED(SO_PROTOCOL),     NAMED(SO_DOMAIN),           NAMED(SO_RXQ_OVFL),
    NAMED(SO_WIFI_STATUS),   NAMED(SO_PEEK_OFF),        NAMED(SO_NOFCS),            NAMED(SO_LOCK_FILTER),
    NAMED(SO_SELECT_ERR_QUEUE), NAMED(SO_BUSY_POLL),    NAMED(SO_MAX_PACING_RATE),  NAMED(SO_BPF_EXTENSIONS),
    NAMED(SO_INCOMING_CPU),  NAMED(SO_ATTACH_BPF),      NAMED(SO_ATTACH_REUSEPORT_CBPF),
    NAMED(SO_ATTACH_REUSEPORT_EBPF), NAMED(SO_CNX_ADVICE), NAMED(SO_MEMINFO),       NAMED(SO_INCOMING_NAPI_ID),
    NAMED(SO_COOKIE),        NAMED(SO_PEERGROUPS),      NAMED(SO_ZEROCOPY),         NAMED(SO_TXTIME),
    NAMED(SO_BINDTOIFINDEX), NAMED(SO_TIMESTAMP_NEW),   NAMED(SO_TIMESTAMPNS_NEW),  NAMED(SO_TIMESTAMPING_NEW),
    NAMED(SO_RCVTIMEO_NEW),  NAMED(SO_SNDTIMEO_NEW),    NAMED(SO_DETACH_REUSEPORT_BPF), NAMED(SO_PREFER_BUSY_POLL),
    NAMED(SO_BUSY_POLL_BUDGET), NAMED(SO_NETNS_COOKIE), NAMED(SO_BUF_LOCK),         NAMED(SO_RESERVE_MEM),
    NAMED(SO_TXREHASH),      NAMED(SO_RCVMARK),
};

constexpr std::array kTcpOpts = {
    NAMED(TCP_NODELAY),       NAMED(TCP_MAXSEG),          NAMED(TCP_CORK),            NAMED(TCP_KEEPIDLE),
    NAMED(TCP_KEEPINTVL),     NAMED(TCP_KEEPCNT),         NAMED(TCP_SYNCNT),          NAMED(TCP_LINGER2),
    NAMED(TCP_DEFER_ACCEPT),  NAMED(TCP_WINDOW_CLAMP),    NAMED(TCP_INFO),            NAMED(TCP_QUICKACK),
    NAMED(TCP_CONGESTION),    NAMED(TCP_MD5SIG),          NAMED(TCP_COOKIE_TRANSACTIONS),
    NAMED(TCP_THIN_LINEAR_TIMEOUTS), NAMED(TCP_THIN_DUPACK), NAMED(TCP_USER_TIMEOUT), NAMED(TCP_REPAIR),
    NAMED(TCP_REPAIR_QUEUE),  NAMED(TCP_QUEUE_SEQ),       NAMED(TCP_REPAIR_OPTIONS),  NAMED(TCP_FASTOPEN),
    NAMED(TCP_TIMESTAMP),     NAMED(TCP_NOTSENT_LOWAT),   NAMED(TCP_CC_INFO),         NAMED(TCP_SAVE_SYN),
    NAMED(TCP_SAVED_SYN),     NAMED(TCP_REPAIR_WINDOW),   NAMED(TCP_FASTOPEN_CONNECT), NAMED(TCP_ULP),
    NAMED(TCP_MD5SIG_EXT),    NAMED(TCP_FASTOPEN_KEY),    NAMED(TCP_FASTOPEN_NO_COOKIE), NAMED(TCP_ZEROCOPY_RECEIVE),
    NAMED(TCP_INQ),           NAMED(TCP_TX_DELAY),
};

constexpr std::array kIpOpts = {
    NAMED(IP_TOS),            NAMED(IP_TTL),              NAMED(IP_HDRINCL),          NAMED(IP_OPTIONS),
    NAMED(IP_ROUTER_ALERT),   NAMED(IP_RECVOPTS),         NAMED(IP_RETOPTS),          NAMED(IP_PKTINFO),
    NAMED(IP_PKTOPTIONS),     NAMED(IP_MTU_DISCOVER),     NAMED(IP_RECVERR),          NAMED(IP_RECVTTL),
    NAMED(IP_RECVTOS),        NAMED(IP_MTU),              NAMED(IP_FREEBIND),         NAMED(IP_IPSEC_POLICY),
    NAMED(IP_XFRM_POLICY),    NAMED(IP_PASSSEC),          NAMED(IP_TRANSPARENT),      NAMED(IP_ORIGDSTADDR),
    NAMED(IP_MINTTL),         NAMED(IP_NODEFRAG),         NAMED(IP_CHECKSUM),         NAMED(IP_BIND_ADDRESS_NO_PORT),
    NAMED(IP_RECVFRAGSIZE),   NAMED(IP_MULTICAST_IF),     NAMED(IP_MULTICAST_TTL),    NAMED(IP_MULTICAST_LOOP),
    NAMED(IP_ADD_MEMBERSHIP), NAMED(IP_DROP_MEMBERSHIP),  NAMED(IP_UNBLOCK_SOURCE),   NAMED(IP_BLOCK_SOURCE),
    NAMED(IP_ADD_SOURCE_MEMBERSHIP), NAMED(IP_DROP_SOURCE_MEMBERSHIP), NAMED(IP_MSFILTER), NAMED(IP_MULTICAST_ALL),
    NAMED(IP_UNICAST_IF),
};

constexpr std::array kIpv6Opts = {
    NAMED(IPV6_ADDRFORM),     NAMED(IPV6_CHECKSUM),       NAMED(IPV6_NEXTHOP),        NAMED(IPV6_AUTHHDR),
    NAMED(IPV6_UNICAST_HOPS), NAMED(IPV6_MULTICAST_IF),   NAMED(IPV6_MULTICAST_HOPS), NAMED(IPV6_MULTICAST_LOOP),
    NAMED(IPV6_JOIN_GROUP),   NAMED(IPV6_LEAVE_GROUP),    NAMED(IPV6_ROUTER_ALERT),   NAMED(IPV6_MTU_DISCOVER),
    NAMED(IPV6_MTU),          NAMED(IPV6_RECVERR),        NAMED(IPV6_V6ONLY),         NAMED(IPV6_JOIN_ANYCAST),
    NAMED(IPV6_LEAVE_ANYCAST), NAMED(IPV6_MULTICAST_ALL), NAMED(IPV6_ROUTER_ALERT_ISOLATE), NAMED(IPV6_IPSEC_POLICY),
    NAMED(IPV6_XFRM_POLICY),  NAMED(IPV6_HDRINCL),        NAMED(IPV6_RECVPKTINFO),    NAMED(IPV6_PKTINFO),
    NAMED(IPV6_RECVHOPLIMIT), NAMED(IPV6_HOPLIMIT),       NAMED(IPV6_RECVHOPOPTS),    NAMED(IPV6_HOPOPTS),
    NAMED(IPV6_RTHDRDSTOPTS), NAMED(IPV6_RECVRTHDR),      NAMED(IPV6_RTHDR),          NAMED(IPV6_RECVDSTOPTS),
    NAMED(IPV6_DSTOPTS),      NAMED(IPV6_RECVPATHMTU),    NAMED(IPV6_PATHMTU),        NAMED(IPV6_DONTFRAG),
    NAMED(IPV6_RECVTCLASS),   NAMED(IPV6_TCLASS),         NAMED(IPV6_AUTOFLOWLABEL),  NAMED(IPV6_ADDR_PREFERENCES),
    NAMED(IPV6_MINHOPCOUNT),  NAMED(IPV6_ORIGDSTADDR),    NAMED(IPV6_TRANSPARENT),    NAMED(IPV6_UNICAST_IF),
    NAMED(IPV6_RECVFRAGSIZE), NAMED(IPV6_FREEBIND),
};

constexpr std::array kMsgFlags = {
    NAMED(MSG_OOB),      NAMED(MSG_PEEK),     NAMED(MSG_DONTROUTE),  NAMED(MSG_CTRUNC),   NAMED(MSG_PROXY),
    NAMED(MSG_TRUNC),    NAMED(MSG_DONTWAIT), NAMED(MSG_EOR),        NAMED(MSG_WAITALL),  NAMED(MSG_FIN),
    NAMED(MSG_SYN),      NAMED(MSG_CONFIRM),  NAMED(MSG_RST),        NAMED(MSG_ERRQUEUE), NAMED(MSG_NOSIGNAL),
    NAMED(MSG_MORE),     NAMED(MSG_WAITFORONE), NAMED(MSG_BATCH),    NAMED(MSG_ZEROCOPY), NAMED(MSG_FASTOPEN),
    NAMED(MSG_CMSG_CLOEXEC),
};

// strace's order for accept4: SOCK_CLOEXEC first.
constexpr std::array kSockFlags = {NAMED(SOCK_CLOEXEC), NAMED(SOCK_NONBLOCK)};

struct LevelOpts {
  int level;
  std::span<const Named> opts;
};
constexpr std::array kOptsByLevel = {
    LevelOpts{SOL_SOCKET, kSocketOpts}, LevelOpts{IPPROTO_TCP, kTcpOpts},
    LevelOpts{IPPROTO_IP, kIpOpts},     LevelOpts{IPPROTO_IPV6, kIpv6Opts},
};

}  // namespace

void format_sockopt_level(std::string& out, uint64_t level) {
  append_enum(out, static_cast<uint32_t>(level), kLevels);
}

void format_sockopt_name(std::string& out, uint64_t level, uint64_t optname) {
  auto lvl = static_cast<int32_t>(static_cast<uint32_t>(level));
  for (const LevelOpts& l : kOptsByLevel) {
    if (l.level == lvl) {
      append_enum(out, static_cast<uint32_t>(optname), l.opts);
      return;
    }
  }
  append_dec(out, static_cast<int32_t>(static_cast<uint32_t>(optname)));
}

void format_msg_flags(std::string& out, uint64_t v) { append_flags(out, static_cast<uint32_t>(v), kMsgFlags); }

void format_sock_flags(std::string& out, uint64_t v) { append_flags(out, static_cast<uint32_t>(v), kSockFlags); }

}  // namespace cgscope::trace
