#include "proxy/log_sink.h"

#include <fcntl.h>
#include <unistd.h>

namespace cgscope::proxy {

Result<LogSink> LogSink::open(const std::string& file, bool json) {
  LogSink s;
  s.json_ = json;
  if (!file.empty()) {
    s.fd_.reset(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!s.fd_) return fail_errno("opening the access log " + file, errno);
  }
  return s;
}

void LogSink::write(const AccessRecord& r) const {
  line(json_ ? format_access_json(r).dump() : format_access_text(r));
}

void LogSink::write(const DnsRecord& r, const std::string& upstream) const {
  auto now = std::chrono::system_clock::now();
  line(json_ ? format_dns_json(r, upstream, now).dump() : format_dns_text(r, upstream, now));
}

void LogSink::line(std::string text) const {
  text += '\n';
  (void)!::write(fd_ ? fd_.get() : STDERR_FILENO, text.data(), text.size());
}

}  // namespace cgscope::proxy
