#include "proxy/dns_forwarder.h"

#include <netinet/in.h>
#include <poll.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/unique_fd.h"
#include "proxy/destination.h"
#include "proxy/dns_exchange.h"
#include "proxy/dns_message.h"
#include "proxy/socket_util.h"

namespace cgscope::proxy {
namespace {

constexpr size_t kQueueLimit = 256;
constexpr size_t kMaxDatagram = 4096;  // EDNS0 sizes; larger is cut, and the resolver retries over TCP

struct Slot {
  UniqueFd fd;
  unsigned index = 0;  // the hooks' slot
  uint16_t port = 0;
  sockaddr_storage at{};  // the address:port it is bound to
};

struct Query {
  const Slot* slot = nullptr;
  sockaddr_storage client{};
  uint64_t client_cgroup = 0;
  std::string bytes;
};

Result<Slot> bind_slot(const sockaddr_storage& addr, unsigned index) {
  Slot s;
  s.index = index;
  s.fd.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.fd) return fail_errno("creating a DNS forwarder socket", errno);
  if (::bind(s.fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(sockaddr_in)) != 0)
    return fail_errno("binding the DNS forwarder to " + format_ip(addr), errno);
  auto bound = local_address(s.fd.get());
  if (!bound) return fail_with(bound.error());
  s.port = address_port(*bound);
  s.at = *bound;
  return s;
}

}  // namespace

struct DnsForwarder::Impl {
  DnsForwarderOptions opts;
  std::vector<Slot> slots;  // listen address by listen address, `opts.slots` each
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Query> queue;
  bool stopping = false;
  std::atomic<uint64_t> queries{0}, answered{0}, failed{0}, dropped{0}, foreign{0};

  void receive(const Slot& slot);
  void answer(Query& q);
  void work();
};

void DnsForwarder::Impl::answer(Query& q) {
  auto start = std::chrono::steady_clock::now();
  DnsRecord rec;
  rec.client = q.client;
  rec.client_cgroup = q.client_cgroup;
  if (auto question = parse_dns_question(q.bytes)) {
    rec.name = question->name;
    rec.type = question->type;
  }
  auto server = opts.server_of ? opts.server_of(q.slot->index) : std::nullopt;
  Result<std::string> reply = fail("no nameserver for this forwarder port (the hooks gave it none)", ENOENT);
  if (server) {
    rec.server = *server;
    reply = dns_over_tcp(opts.upstream, *server, q.bytes, opts.timeout, opts.on_upstream_socket);
  }
  if (reply) {
    if (auto a = parse_dns_answers(*reply)) {
      rec.answers = a->addresses.size();
      if (opts.names && plain_host_name(a->name))
        for (const DnsAddress& addr : a->addresses) opts.names->remember(q.client_cgroup, addr.ip, a->name, addr.ttl);
    }
    // A reply larger than the asker takes over UDP goes back as "truncated"
    // (TC, the question only): its resolver then asks over TCP, which the relay
    // carries through the upstream like any connection.
    std::string cut;
    if (reply->size() > dns_udp_limit(q.bytes)) cut = dns_truncated(*reply);
    const std::string& out = cut.empty() ? *reply : cut;
    if (::sendto(q.slot->fd.get(), out.data(), out.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&q.client), address_length(q.client)) >= 0) {
      answered++;
      if (!cut.empty()) rec.error = "truncated for UDP (the resolver retries over TCP)";
    } else {
      rec.error = std::string("sending the reply failed: ") + std::strerror(errno);
      failed++;
    }
  } else {
    rec.error = reply.error().message;
    failed++;
  }
  rec.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  if (opts.on_query) opts.on_query(rec);
}

void DnsForwarder::Impl::work() {
  for (;;) {
    Query q;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and nothing left
      q = std::move(queue.front());
      queue.pop_front();
    }
    answer(q);
  }
}

// One datagram off `slot`, queued for a worker if the proxied cgroup sent it.
// Asked here, at once: the egress hook's record is fresh only for a moment.
void DnsForwarder::Impl::receive(const Slot& slot) {
  Query q;
  q.slot = &slot;
  q.bytes.resize(kMaxDatagram);
  socklen_t len = sizeof q.client;
  ssize_t n =
      ::recvfrom(slot.fd.get(), q.bytes.data(), q.bytes.size(), 0, reinterpret_cast<sockaddr*>(&q.client), &len);
  if (n <= 0) return;
  q.bytes.resize(size_t(n));
  if (opts.admit) {
    auto who = opts.admit(slot.at, q.client);
    if (!who) {
      foreign++;
      return;
    }
    q.client_cgroup = *who;
  }
  queries++;
  std::lock_guard lock(mu);
  if (queue.size() >= kQueueLimit) {
    dropped++;
    return;
  }
  queue.push_back(std::move(q));
  cv.notify_one();
}

DnsForwarder::DnsForwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DnsForwarder::~DnsForwarder() = default;

Result<std::unique_ptr<DnsForwarder>> DnsForwarder::create(DnsForwarderOptions opts) {
  auto impl = std::make_unique<Impl>();
  for (const sockaddr_storage& addr : opts.listen) {
    if (addr.ss_family != AF_INET) return fail("the DNS forwarder listens on IPv4 addresses only", EINVAL);
    for (unsigned i = 0; i < opts.slots; i++) {
      auto s = bind_slot(addr, i);
      if (!s) return fail_with(s.error());
      impl->slots.push_back(std::move(*s));
    }
  }
  impl->opts = std::move(opts);
  return std::unique_ptr<DnsForwarder>(new DnsForwarder(std::move(impl)));
}

std::vector<uint16_t> DnsForwarder::ports(size_t listen_index) const {
  std::vector<uint16_t> out;
  size_t n = impl_->opts.slots;
  for (size_t i = listen_index * n; i < (listen_index + 1) * n && i < impl_->slots.size(); i++)
    out.push_back(impl_->slots[i].port);
  return out;
}

Result<void> DnsForwarder::run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < std::max(1u, m.opts.workers); i++) workers.emplace_back([&m] { m.work(); });
  std::vector<pollfd> fds;
  for (const Slot& s : m.slots) fds.push_back({s.fd.get(), POLLIN, 0});
  while (!stop) {
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (size_t i = 0; i < fds.size(); i++)
      if (fds[i].revents & POLLIN) m.receive(m.slots[i]);
  }
  {
    std::lock_guard lock(m.mu);
    m.stopping = true;
    m.queue.clear();  // unanswered: the resolvers time out, as with a server that went away
  }
  m.cv.notify_all();
  for (std::thread& t : workers) t.join();
  return {};
}

DnsForwarder::Stats DnsForwarder::stats() const {
  return {impl_->queries, impl_->answered, impl_->failed, impl_->dropped, impl_->foreign};
}

}  // namespace cgscope::proxy
