// Errors as values. A message names the operation, the object and the cause, and
// where it can, what to do about it: it is printed to a person as-is.
//
// A small Result<T> rather than std::expected: libstdc++ 12 only offers <expected>
// to compilers with C++20 concepts complete, which leaves out clang 14, and the
// fuzz targets are built with clang. The interface is the subset of std::expected
// the project uses, so moving over later is a rename.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cgscope {

struct Error {
  std::string message;
  int code = 0;  // errno where there was one, else 0
};

// The failed side of a Result, as std::unexpected is for std::expected.
struct Failure {
  Error error;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Failure f) : v_(std::in_place_index<1>, std::move(f.error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }

 private:
  void check() const {
    if (!has_value()) std::abort();  // a bug: the caller did not look at the error
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Failure f) : err_(std::move(f.error)), ok_(false) {}  // NOLINT
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

// A failed Result, for `return fail("...")`.
inline Failure fail(std::string message, int code = 0) { return Failure{Error{std::move(message), code}}; }

// "<what>: <strerror(err)>", e.g. fail_errno("open /sys/fs/bpf/x", errno).
inline Failure fail_errno(std::string_view what, int err) {
  return Failure{Error{std::string(what) + ": " + std::strerror(err), err}};
}

// Passes an error on with context in front: "loading trace programs: <cause>".
inline Failure fail_with(std::string_view context, const Error& e) {
  return Failure{Error{std::string(context) + ": " + e.message, e.code}};
}

// Passes an error on unchanged (from a Result of another type).
inline Failure fail_with(const Error& e) { return Failure{e}; }

}  // namespace cgscope
