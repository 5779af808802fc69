// Where the access log goes: standard error or a file (appended), as text lines
// or JSON lines. Connections and DNS queries share it, in the order they end.
// Writes come from the relay's loop and the DNS workers at once: each record is
// one write(2) of one line, so lines never interleave.
#pragma once

#include <string>

#include "core/result.h"
#include "core/unique_fd.h"
#include "proxy/access_log.h"

namespace cgscope::proxy {

class LogSink {
 public:
  // `file` "" is standard error.
  static Result<LogSink> open(const std::string& file, bool json);
  void write(const AccessRecord& r) const;
  void write(const DnsRecord& r, const std::string& upstream) const;

 private:
  void line(std::string text) const;
  UniqueFd fd_;
  bool json_ = false;
};

}  // namespace cgscope::proxy
