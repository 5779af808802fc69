// The structs the kernel copies for a syscall (CGS_ARG_STRUCT/ARRAY sections,
// struct_rules.h), shown as strace shows them without -v: only the fields strace
// prints, then "..." where it leaves some out. JSON gets every field, under
// strace's names. The bytes are the x86_64 user ABI's layouts.
#pragma once

#include <cstdint>
#include <span>

#include "trace/arg_spec.h"
#include "trace/iov_data.h"
#include "trace/struct_out.h"

namespace cgscope::trace {

// Whether `f` is a struct format (a struct or an array of them).
bool is_struct_format(ArgFormat f);

// Writes the section `data` of struct format `f`, for a call that returned `ret`;
// `cut`: the kernel cut an array short (a trailing "..."). Returns false, having
// written nothing, when `data` is not such a struct (too short): the caller shows
// the address instead. `iov`: the iovecs' contents for an iovec array or a
// msghdr, when the kernel kept them (--capture-buffers).
bool decode_struct(StructOut& o, ArgFormat f, std::span<const uint8_t> data, int64_t ret, bool cut = false,
                   const IovData* iov = nullptr);

// The parts, for the tests and for each other.
bool decode_stat(StructOut& o, std::span<const uint8_t> d);
bool decode_statx(StructOut& o, std::span<const uint8_t> d);
bool decode_wait_status(StructOut& o, std::span<const uint8_t> d);
bool decode_fd_pair(StructOut& o, std::span<const uint8_t> d);
bool decode_socklen(StructOut& o, std::span<const uint8_t> d);
bool decode_dirents64(StructOut& o, std::span<const uint8_t> d, bool cut);
bool decode_timespec(StructOut& o, std::span<const uint8_t> d);
bool decode_utsname(StructOut& o, std::span<const uint8_t> d);
bool decode_pollfds(StructOut& o, std::span<const uint8_t> d, int64_t ret, bool cut);
bool decode_iovecs(StructOut& o, std::span<const uint8_t> d, bool cut, const IovData* data = nullptr);
bool decode_epoll_event(StructOut& o, std::span<const uint8_t> d);
bool decode_epoll_events(StructOut& o, std::span<const uint8_t> d, bool cut);
bool decode_sigaction(StructOut& o, std::span<const uint8_t> d);
bool decode_clone_args(StructOut& o, std::span<const uint8_t> d);
bool decode_msghdr(StructOut& o, std::span<const uint8_t> d, const IovData* data = nullptr);

}  // namespace cgscope::trace
