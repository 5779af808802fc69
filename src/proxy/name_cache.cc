#include "proxy/name_cache.h"

#include <algorithm>

namespace cgscope::proxy {

void NameCache::remember(const std::string& ip, const std::string& name, uint32_t ttl, Clock::time_point now) {
  auto keep = std::chrono::seconds(std::max<uint32_t>(ttl, 60));
  std::lock_guard lock(mu_);
  auto [it, fresh] = by_ip_.insert_or_assign(ip, Entry{name, now + keep});
  if (!fresh) return;
  order_.push_back(ip);
  while (by_ip_.size() > capacity_ && !order_.empty()) {
    by_ip_.erase(order_.front());
    order_.pop_front();
  }
}

std::optional<std::string> NameCache::name_of(const std::string& ip, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end() || it->second.until < now) return std::nullopt;
  return it->second.name;
}

size_t NameCache::size() const {
  std::lock_guard lock(mu_);
  return by_ip_.size();
}

}  // namespace cgscope::proxy
