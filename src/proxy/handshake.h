// An upstream handshake as a state machine over bytes, with no sockets: the
// relay writes what output() holds to the upstream, feeds what it reads back with
// feed(), and goes on until done or failed. The same object runs in the unit
// tests and the fuzzers, split at any byte boundary.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "proxy/destination.h"
#include "proxy/upstream.h"

namespace cgscope::proxy {

class Handshake {
 public:
  enum class Status { need_more, done, failed };
  // Why a handshake failed: the proxy said no (a reply code, a status), or it
  // broke the protocol (garbage, a reply of the wrong kind, closed early).
  enum class Failure { none, refused, protocol };

  virtual ~Handshake() = default;

  // Bytes to send to the upstream now; the caller takes them all (and writes
  // them in order, however many writes that takes).
  std::string take_output() { return std::exchange(out_, {}); }
  // Bytes read from the upstream, in any pieces.
  Status feed(std::string_view in);
  // The upstream closed its side before the handshake was over.
  Status end_of_input();

  Status status() const { return status_; }
  Failure failure() const { return failure_; }
  // failed: one sentence for a person ("authentication failed: ...").
  const std::string& error() const { return error_; }
  // done: what the upstream sent after its reply. It is the destination's data
  // (a server that speaks first) and belongs to the client.
  std::string take_leftover() { return std::exchange(in_, {}); }
  // "SOCKS5", "HTTP CONNECT": for messages.
  virtual std::string_view protocol() const = 0;

 protected:
  // Parses in_ from the front, removing what it used; returns the new status.
  virtual Status step() = 0;
  Status refuse(std::string why);
  Status broken(std::string why);

  std::string out_, in_;

 private:
  Status status_ = Status::need_more;
  Failure failure_ = Failure::none;
  std::string error_;
};

// The handshake for `u` toward `dst`; nullptr for direct (nothing to say). Fails
// when the destination cannot be put in the request (a host name over 255
// bytes for SOCKS5, a name with control characters).
Result<std::unique_ptr<Handshake>> make_handshake(const Upstream& u, const Destination& dst);

}  // namespace cgscope::proxy
