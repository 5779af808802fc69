// The flow tracker (flows.h), its output (flow_sink.h), the graph renderers
// (flow_graph.h), the netns address parsers (netns_addrs.h) and the tcp_state
// event as the stream shows it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/unit/mermaid_subset.h"
#include "trace/decoder.h"
#include "trace/event_table.h"
#include "trace/flow_graph.h"
#include "trace/flow_sink.h"
#include "trace/flows.h"
#include "trace/format.h"
#include "trace/netns_addrs.h"
#include "trace/schema.h"

namespace cgscope::trace {
namespace {

constexpr int kEstablished = 1, kSynSent = 2, kSynRecv = 3, kFinWait1 = 4, kFinWait2 = 5, kClose = 7,
              kCloseWait = 8, kLastAck = 9, kListen = 10;

IpAddress ip(const char* text) { return *rtnl::parse_ip(text); }

const Place kA{PlaceKind::container, std::string(64, 'a'), "docker"};
const Place kB{PlaceKind::container, std::string(64, 'b'), "docker"};

// One end's transitions, written the way the kernel reports them.
struct End {
  uint64_t cookie;
  const char *local, *remote;
  uint16_t lport, rport;
  uint32_t netns;
  Place place;
  uint32_t pid;
  const char* comm;

  TcpTransition at(uint64_t ms, int from, int to, bool by_task, uint64_t sent = 0, uint64_t received = 0) const {
    TcpTransition t;
    t.wall_ns = ms * 1000000;
    t.cookie = cookie;
    t.old_state = from;
    t.new_state = to;
    t.local = ip(local);
    t.remote = ip(remote);
    t.local_port = lport;
    t.remote_port = rport;
    t.netns = netns;
    t.bytes_sent = sent;
    t.bytes_received = received;
    t.by_task = by_task;
    t.pid = by_task ? pid : 0;
    t.comm = by_task ? comm : "";
    t.place = place;
    return t;
  }
};

const End kClient{1, "198.18.9.1", "198.18.9.2", 40000, 8080, 11, kA, 100, "client"};
const End kServer{2, "198.18.9.2", "198.18.9.1", 8080, 40000, 22, kB, 200, "server"};

// A whole connection, client and server traced, as the ring delivers it.
std::vector<Flow> both_ends(FlowTracker& t) {
  std::vector<Flow> done;
  End listener = kServer;
  listener.cookie = 3;
  t.on_transition(listener.at(0, kClose, kListen, true), done);
  End syn = kClient;
  syn.lport = 0;  // connect() reports SYN_SENT before the port is chosen
  t.on_transition(syn.at(10, kClose, kSynSent, true), done);
  End clone = kServer;  // a child being cloned still has its listener's addresses
  clone.remote = "0.0.0.0";
  clone.rport = 0;
  t.on_transition(clone.at(11, kListen, kSynRecv, false), done);
  t.on_transition(kClient.at(11, kSynSent, kEstablished, false), done);
  t.on_transition(kServer.at(12, kSynRecv, kEstablished, false), done);
  t.on_transition(kClient.at(20, kEstablished, kFinWait1, true, 1000, 5000), done);
  t.on_transition(kServer.at(21, kEstablished, kCloseWait, false, 5000, 1000), done);
  t.on_transition(kServer.at(22, kCloseWait, kLastAck, true, 5000, 1000), done);
  t.on_transition(kClient.at(22, kFinWait1, kFinWait2, false, 1000, 5000), done);
  EXPECT_TRUE(done.empty()) << "nothing is complete before a CLOSE";
  t.on_transition(kClient.at(23, kFinWait2, kClose, false, 1000, 5000), done);
  EXPECT_TRUE(done.empty()) << "the record waits for the server's end";
  t.on_transition(kServer.at(24, kLastAck, kClose, false, 5000, 1000), done);
  return done;
}

TEST(FlowTracker, BothEndsTracedMakeOneRecordNamingBoth) {
  FlowTracker t(nullptr);
  auto done = both_ends(t);
  ASSERT_EQ(done.size(), 1u);
  const Flow& f = done[0];
  EXPECT_EQ(f.src.place, kA);
  EXPECT_EQ(f.src.pid, 100u);
  EXPECT_EQ(f.src.comm, "client");
  EXPECT_EQ(rtnl::format_ip(f.src.addr), "198.18.9.1");
  EXPECT_EQ(f.src.port, 40000);
  EXPECT_EQ(f.dst.place, kB);
  EXPECT_EQ(f.dst.pid, 200u) << "the server that closed it";
  EXPECT_EQ(f.dst.comm, "server");
  EXPECT_EQ(f.dst.port, 8080);
  EXPECT_EQ(f.bytes_sent, 1000u);
  EXPECT_EQ(f.bytes_received, 5000u);
  EXPECT_EQ(f.start_ns, 10000000u);
  EXPECT_EQ(f.end_ns, 24000000u);
  EXPECT_EQ(f.state, kClose);
  EXPECT_TRUE(f.established);
  EXPECT_FALSE(f.open);
  EXPECT_TRUE(f.seen_from_start);
  EXPECT_EQ(t.sockets(), 0u) << "both ends forgotten";
}

// 6.1 reports a child's LISTEN->SYN_RECV under its listener's cookie (seen in
// the 6.1 guest: the listener's cookie 1, then the child's 4097 from
// SYN_RECV->ESTABLISHED on); 6.18 under the child's own.
TEST(FlowTracker, AChildFirstReportedUnderItsListenersCookieIsStillOneRecordFromTheStart) {
  FlowTracker t(nullptr);
  std::vector<Flow> done;
  End listener = kServer;
  listener.cookie = 3;
  listener.remote = "0.0.0.0";
  listener.rport = 0;
  t.on_transition(listener.at(0, kClose, kListen, true), done);
  t.on_transition(kClient.at(10, kClose, kSynSent, true), done);
  t.on_transition(listener.at(11, kListen, kSynRecv, false), done);  // the clone, under cookie 3
  t.on_transition(kClient.at(11, kSynSent, kEstablished, false), done);
  t.on_transition(kServer.at(12, kSynRecv, kEstablished, false), done);
  t.on_transition(kClient.at(20, kEstablished, kClose, true, 10, 20), done);
  t.on_transition(kServer.at(21, kEstablished, kClose, true, 20, 10), done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].seen_from_start);
  EXPECT_EQ(done[0].dst.pid, 200u);
  EXPECT_EQ(t.sockets(), 0u) << "no record was made for the listener's cookie";
  EXPECT_TRUE(t.take_open(30000000).empty());
}

TEST(FlowTracker, AServerThatNeverActedIsTheListenersProcess) {
  FlowTracker t(nullptr);
  std::vector<Flow> done;
  End listener = kServer;
  listener.cookie = 3;
  listener.pid = 300;
  listener.comm = "nginx";
  t.on_transition(listener.at(0, kClose, kListen, true), done);
  t.on_transition(kClient.at(10, kClose, kSynSent, true), done);
  t.on_transition(kServer.at(11, kListen, kSynRecv, false), done);
  t.on_transition(kClient.at(11, kSynSent, kEstablished, false), done);
  t.on_transition(kServer.at(12, kSynRecv, kEstablished, false), done);
  auto open = t.take_open(99000000);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].dst.pid, 300u);
  EXPECT_EQ(open[0].dst.comm, "nginx");
  EXPECT_TRUE(open[0].open);
  EXPECT_EQ(open[0].end_ns, 99000000u);
}

TEST(FlowTracker, AClientAloneGetsItsDestinationFromTheAddressOwners) {
  FlowTracker t([](const IpAddress& a) -> std::optional<Place> {
    if (rtnl::format_ip(a) == "198.18.9.2") return kB;
    return std::nullopt;
  });
  std::vector<Flow> done;
  t.on_transition(kClient.at(10, kClose, kSynSent, true), done);
  t.on_transition(kClient.at(11, kSynSent, kEstablished, false), done);
  t.on_transition(kClient.at(20, kEstablished, kClose, true, 7, 9), done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].dst.place, kB);
  EXPECT_FALSE(done[0].dst.pid) << "B's process was not traced";
  EXPECT_EQ(done[0].bytes_sent, 7u);

  End out = kClient;
  out.cookie = 9;
  out.remote = "203.0.113.5";
  t.on_transition(out.at(30, kClose, kSynSent, true), done);
  t.on_transition(out.at(31, kSynSent, kClose, false), done);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[1].dst.place.kind, PlaceKind::outside);
  EXPECT_FALSE(done[1].established) << "refused or timed out";

  End lo = kClient;
  lo.cookie = 10;
  lo.local = lo.remote = "127.0.0.1";
  t.on_transition(lo.at(40, kClose, kSynSent, true), done);
  t.on_transition(lo.at(41, kSynSent, kClose, false), done);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[2].dst.place, kA) << "loopback stays in the client's namespace";
}

TEST(FlowTracker, AServerAloneIsTheDestinationAndBytesAreTurnedAround) {
  FlowTracker t(nullptr);
  std::vector<Flow> done;
  t.on_transition(kServer.at(11, kListen, kSynRecv, false), done);
  t.on_transition(kServer.at(12, kSynRecv, kEstablished, false), done);
  t.on_transition(kServer.at(13, kEstablished, kFinWait1, true, 300, 100), done);
  t.on_transition(kServer.at(14, kFinWait1, kClose, false, 300, 100), done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].src.place.kind, PlaceKind::outside);
  EXPECT_EQ(rtnl::format_ip(done[0].src.addr), "198.18.9.1");
  EXPECT_EQ(done[0].dst.place, kB);
  EXPECT_EQ(done[0].dst.pid, 200u);
  EXPECT_EQ(done[0].bytes_sent, 100u) << "what the client sent is what the server received";
  EXPECT_EQ(done[0].bytes_received, 300u);
}

TEST(FlowTracker, AConnectionOlderThanTheTraceIsMarked) {
  FlowTracker t(nullptr);
  std::vector<Flow> done;
  t.on_transition(kClient.at(5, kEstablished, kFinWait1, true, 1, 2), done);
  t.on_transition(kClient.at(6, kFinWait1, kClose, false, 1, 2), done);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0].seen_from_start);
  EXPECT_EQ(done[0].src.pid, 100u);
  EXPECT_EQ(done[0].dst.port, 8080) << "the low port is the server's";
}

// A tcp_state record as trace_net.bpf.h lays it out (IPv6 sockets).
std::vector<uint8_t> tcp_record_v6(const char* local, uint16_t lport, const char* remote, uint16_t rport, uint64_t ctx) {
  std::vector<uint8_t> b(sizeof(cgs_record));
  auto* h = reinterpret_cast<cgs_record*>(b.data());
  h->nr = CGS_EV_TCP_STATE;
  h->args[0] = kSynRecv;
  h->args[1] = kEstablished;
  h->args[4] = 77;
  h->args[5] = ctx;
  auto section = [&b](uint8_t arg, uint8_t kind, const void* data, uint32_t len) {
    cgs_var v{arg, kind, 0, len};
    size_t off = b.size();
    b.resize(off + sizeof(v) + ((len + 7) & ~7u));
    std::memcpy(b.data() + off, &v, sizeof(v));
    std::memcpy(b.data() + off + sizeof(v), data, len);
    reinterpret_cast<cgs_record*>(b.data())->nvar++;
  };
  for (auto [arg, addr, port] : {std::tuple{uint8_t{2}, local, lport}, std::tuple{uint8_t{3}, remote, rport}}) {
    sockaddr_in6 s{};
    s.sin6_family = AF_INET6;
    s.sin6_port = htons(port);
    inet_pton(AF_INET6, addr, &s.sin6_addr);
    section(arg, CGS_ARG_SOCKADDR, &s, sizeof(s));
  }
  cgs_tcp_info info{1234, 5678, 4026531840u, 0};
  section(5, CGS_ARG_AUX, &info, sizeof(info));
  reinterpret_cast<cgs_record*>(b.data())->size = static_cast<uint32_t>(b.size());
  return b;
}

TEST(TcpStateEvent, TheStreamShowsStatesAddressesAndContextButNotTheCounters) {
  auto bytes = tcp_record_v6("::ffff:198.18.9.2", 8080, "::ffff:198.18.9.1", 40000, CGS_TCP_CTX_SOFTIRQ);
  auto rec = decode_record(bytes);
  ASSERT_TRUE(rec) << rec.error().message;
  EventView ev{&*rec, Schema::get().find(CGS_EV_TCP_STATE), nullptr, 0, true, 1000};
  ASSERT_NE(ev.desc, nullptr);
  std::string out;
  append_json(out, ev);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["event"], "tcp_state");
  EXPECT_EQ(j["args"]["oldstate"], "SYN_RECV");
  EXPECT_EQ(j["args"]["newstate"], "ESTABLISHED");
  EXPECT_EQ(j["args"]["saddr"]["address"], "::ffff:198.18.9.2");
  EXPECT_EQ(j["args"]["daddr"]["port"], 40000);
  EXPECT_EQ(j["args"]["sock"], 77);
  EXPECT_EQ(j["args"]["context"], "softirq") << "an AUX section never replaces the raw value: " << out;
  EXPECT_EQ(j["pid"], 0);

  auto t = tcp_transition_of(ev);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->local.family, AF_INET) << "IPv4-mapped addresses are IPv4";
  EXPECT_EQ(rtnl::format_ip(t->remote), "198.18.9.1");
  EXPECT_EQ(t->local_port, 8080);
  EXPECT_EQ(t->bytes_sent, 1234u);
  EXPECT_EQ(t->bytes_received, 5678u);
  EXPECT_EQ(t->netns, 4026531840u);
  EXPECT_FALSE(t->by_task);
  EXPECT_EQ(t->place.kind, PlaceKind::host);
}

TEST(FlowOutput, JsonNamesBothEndsWithNullsForWhatIsUnknown) {
  FlowTracker t(nullptr);
  auto done = both_ends(t);
  ASSERT_EQ(done.size(), 1u);
  std::string out;
  append_flow_json(out, done[0]);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["src"]["container_id"], std::string(64, 'a'));
  EXPECT_EQ(j["src"]["pid"], 100);
  EXPECT_EQ(j["src"]["comm"], "client");
  EXPECT_EQ(j["src"]["addr"], "198.18.9.1");
  EXPECT_EQ(j["dst"]["port"], 8080);
  EXPECT_EQ(j["bytes_sent"], 1000);
  EXPECT_EQ(j["bytes_received"], 5000);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 14.0);
  EXPECT_EQ(j["state"], "CLOSE");

  Flow lone;
  lone.dst.place.kind = PlaceKind::outside;
  out.clear();
  append_flow_json(out, lone);
  j = nlohmann::json::parse(out);
  for (const char* key : {"container_id", "pid", "comm", "addr", "port"}) EXPECT_TRUE(j["dst"][key].is_null()) << key;
  EXPECT_EQ(j["dst"]["kind"], "outside");

  out.clear();
  append_flow_text(out, done[0]);
  EXPECT_NE(out.find("docker aaaaaaaaaaaa client[100] 198.18.9.1:40000 -> docker bbbbbbbbbbbb server[200] "
                     "198.18.9.2:8080: 1000 B sent, 5000 B received, 14.0 ms, CLOSE\n"),
            std::string::npos)
      << out;
}

std::vector<Flow> sample_flows() {
  FlowTracker t(nullptr);
  auto flows = both_ends(t);
  Flow f = flows[0];
  flows.push_back(f);  // a second connection on the same edge
  f.dst = FlowEnd{Place{PlaceKind::outside}, std::nullopt, "", ip("203.0.113.77"), 443};
  f.src.comm = "we\"ird\\ <name>|#x\n\xff";
  flows.push_back(f);
  f.src.place = Place{PlaceKind::host};
  f.dst.place = kB;
  f.dst.port = 8080;
  flows.push_back(f);
  return flows;
}

TEST(FlowGraph, OneNodePerPlaceOneEdgePerPortWithCounts) {
  FlowGraph g = build_flow_graph(sample_flows());
  ASSERT_EQ(g.nodes.size(), 4u);  // A, B, the outside /24, the host
  EXPECT_EQ(g.nodes[2].title, "203.0.113.0/24");
  EXPECT_EQ(g.nodes[3].title, "host");
  ASSERT_EQ(g.edges.size(), 3u);
  EXPECT_EQ(g.edges[0].connections, 2u);
  EXPECT_EQ(g.edges[0].bytes_sent, 2000u);
  EXPECT_EQ(g.edges[1].port, 443);
  EXPECT_EQ(g.nodes[0].comms.size(), 2u) << "client and the odd name";
}

TEST(FlowGraph, EscapingForBothLanguages) {
  EXPECT_EQ(dot_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(dot_escape("x\ny\xff"), "x?y?");
  EXPECT_EQ(dot_escape("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(mermaid_escape("a\"b<c>#|;"), "a#34;b#60;c#62;#35;#124;#59;");
  EXPECT_EQ(mermaid_escape("caf\xc3\xa9 1.2/3"), "caf#233; 1.2/3");
  EXPECT_EQ(mermaid_escape("\xed\xa0\x80"), "#63;") << "a surrogate is no character";
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
}

TEST(FlowGraph, MermaidIsInTheSubsetAndDotParses) {
  FlowGraph g = build_flow_graph(sample_flows());
  std::string mermaid = render_mermaid(g);
  EXPECT_EQ(testing::mermaid_subset_error(mermaid), "") << mermaid;
  EXPECT_NE(mermaid.find("n0 -->|\"8080/tcp: 2 conns, 2.0 KiB sent, 9.8 KiB back\"| n1"), std::string::npos)
      << mermaid;
  EXPECT_NE(testing::mermaid_subset_error("flowchart LR\n  n0[\"a\"b\"]\n"), "") << "the checker can fail";

  std::string dot = render_dot(g);
  EXPECT_NE(dot.find("n0 -> n1 [label=\"8080/tcp: 2 conns"), std::string::npos) << dot;
  if (access("/usr/bin/dot", X_OK) != 0) GTEST_SKIP() << "no Graphviz (scripts/install-deps.sh installs it)";
  char path[] = "/tmp/cgscope-unit-dot-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, dot.data(), dot.size()), static_cast<ssize_t>(dot.size()));
  close(fd);
  int rc = std::system(("/usr/bin/dot -Tsvg -o /dev/null " + std::string(path) + " 2>/dev/null").c_str());
  unlink(path);
  EXPECT_EQ(rc, 0) << dot;
}

// Issue 9's audit of the socket syscalls: every sockaddr argument is captured,
// with its length from the right argument (a value, or an int* the call fills).
TEST(SocketSyscalls, EverySockaddrArgumentIsCaptured) {
  struct Want {
    const char* syscall;
    unsigned arg;
    uint8_t kind;
    unsigned len_arg;
  };
  for (Want w : {Want{"connect", 1, CGS_ARG_SOCKADDR, 2}, Want{"bind", 1, CGS_ARG_SOCKADDR, 2},
                 Want{"sendto", 4, CGS_ARG_SOCKADDR, 5}, Want{"accept", 1, CGS_ARG_SOCKADDR_PLEN, 2},
                 Want{"accept4", 1, CGS_ARG_SOCKADDR_PLEN, 2}, Want{"recvfrom", 4, CGS_ARG_SOCKADDR_PLEN, 5},
                 Want{"getsockname", 1, CGS_ARG_SOCKADDR_PLEN, 2}, Want{"getpeername", 1, CGS_ARG_SOCKADDR_PLEN, 2}}) {
    const EventInfo* e = find_event(std::string_view(w.syscall));
    ASSERT_NE(e, nullptr) << w.syscall;
    uint8_t kb = Schema::get().kernel_kinds(e->nr)[w.arg];
    EXPECT_EQ(CGS_KIND(kb), w.kind) << w.syscall;
    EXPECT_EQ(CGS_LEN_ARG(kb), w.len_arg) << w.syscall;
    EXPECT_EQ(Schema::get().find(e->nr)->args[w.arg].format, ArgFormat::sockaddr) << w.syscall;
  }
  // listen has no address; sendmsg/recvmsg keep theirs inside the msghdr, which
  // the kernel reads with the header (recvmsg's after the call: CGS_STRUCT_OUT).
  for (const char* name : {"sendmsg", "recvmsg"}) {
    const EventInfo* e = find_event(std::string_view(name));
    ASSERT_NE(e, nullptr) << name;
    uint8_t kb = Schema::get().kernel_kinds(e->nr)[1];
    EXPECT_EQ(CGS_KIND(kb), CGS_ARG_MSGHDR) << name;
    EXPECT_EQ(CGS_LEN_ARG(kb), std::string_view(name) == "recvmsg" ? CGS_STRUCT_OUT : 0) << name;
    EXPECT_EQ(Schema::get().find(e->nr)->args[1].format, ArgFormat::msghdr) << name;
  }
}

TEST(NetnsAddrs, FibTrieLocalAddressesButLoopback) {
  const char* trie =
      "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n"
      "     |-- 198.18.9.0\n        /24 link UNICAST\n"
      "Local:\n  +-- 0.0.0.0/0 2 0 2\n     +-- 127.0.0.0/8 2 0 2\n"
      "        +-- 127.0.0.0/31 1 0 0\n           |-- 127.0.0.0\n              /8 host LOCAL\n"
      "           |-- 127.0.0.1\n              /32 host LOCAL\n"
      "     +-- 198.18.9.0/24 2 0 2\n        |-- 198.18.9.2\n           /32 host LOCAL\n"
      "        |-- 198.18.9.255\n           /32 link BROADCAST\n"
      "        |-- 198.18.9.2\n           /32 host LOCAL\n";
  auto addrs = parse_fib_trie_local(trie);
  ASSERT_EQ(addrs.size(), 1u);
  EXPECT_EQ(rtnl::format_ip(addrs[0]), "198.18.9.2");
  EXPECT_TRUE(parse_fib_trie_local("/32 host LOCAL\n|-- nonsense\n/32 host LOCAL").empty());
}

TEST(NetnsAddrs, IfInet6GlobalAddressesOnly) {
  const char* text =
      "fd000000000000000000000000000002 04 40 00 82     eth0\n"
      "00000000000000000000000000000001 01 80 10 80       lo\n"
      "fe8000000000000070443ffffe35c296 9c 40 20 80    veth0\n"
      "zz000000000000000000000000000002 04 40 00 82     bad\n";
  auto addrs = parse_if_inet6(text);
  ASSERT_EQ(addrs.size(), 1u);
  EXPECT_EQ(rtnl::format_ip(addrs[0]), "fd00::2");
}

}  // namespace
}  // namespace cgscope::trace
