#include "proxy/name_cache.h"

#include <algorithm>

namespace cgscope::proxy {

void NameCache::remember(uint64_t client, const std::string& ip, const std::string& name, uint32_t ttl,
                         Clock::time_point now) {
  auto keep = std::chrono::seconds(std::max<uint32_t>(ttl, 60));
  std::lock_guard lock(mu_);
  Key key{client, ip};
  auto [it, fresh] = by_key_.insert_or_assign(key, Entry{name, now + keep});
  if (!fresh) return;
  order_.push_back(std::move(key));
  while (by_key_.size() > capacity_ && !order_.empty()) {
    by_key_.erase(order_.front());
    order_.pop_front();
  }
}

std::optional<std::string> NameCache::name_of(uint64_t client, const std::string& ip, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = by_key_.find(Key{client, ip});
  if (it == by_key_.end() || it->second.until < now) return std::nullopt;
  return it->second.name;
}

size_t NameCache::size() const {
  std::lock_guard lock(mu_);
  return by_key_.size();
}

}  // namespace cgscope::proxy
