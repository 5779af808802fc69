// select/pselect6 (a CGS_ARG_SELECT section: struct cgs_select, the sets and
// the timeout as the call was given them and as it left them), shown as strace
// shows them: `pselect6(5, [3], [4], NULL, {tv_sec=1, tv_nsec=0}, NULL) = 2
// (in [3], out [4], left {tv_sec=0, tv_nsec=999000})`.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "trace/arg_spec.h"
#include "trace/struct_out.h"

namespace cgscope::trace {

// One argument as it went in (f: fd_set_read ... select_timespec). False, with
// nothing written, where the section does not hold it (no entry was seen, the
// pointer could not be read, not such a section): the caller shows the address.
bool decode_select_arg(StructOut& o, ArgFormat f, std::span<const uint8_t> d);

// The text strace puts after a successful return: "in [3], out [4], left
// {...}" with the ready sets and, when a timeout was given, the time left, or
// "Timeout" for 0. False, with nothing appended, where there is nothing to say.
bool append_select_ret(std::string& out, std::span<const uint8_t> d, int64_t ret, bool timespec);

}  // namespace cgscope::trace
