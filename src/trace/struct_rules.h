// Which syscall arguments are structs the kernel copies (CGS_ARG_STRUCT, one
// struct; CGS_ARG_ARRAY, elements counted by another argument or the return
// value), with their sizes and how they are shown (decode_struct.h).
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "trace/arg_spec.h"

namespace cgscope::trace {

// The struct capture of (syscall, argument `name`), or nullopt for an argument
// that is no struct cgscope decodes. `names` are all the call's argument names.
std::optional<ArgSpec> classify_struct(std::string_view syscall, std::string_view name,
                                       std::span<const std::string_view> names);

}  // namespace cgscope::trace
