// --summary: the per-syscall totals the kernel counted (bpf/lib/trace_summary.bpf.h),
// as a table in the layout strace -c prints (% time, seconds, usecs/call, calls,
// errors, syscall; by time, a total line) or as one JSON object.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cgscope::trace {

struct SummaryRow {
  std::string name;
  uint64_t calls = 0, errors = 0, ns = 0;
};

struct SummaryInput {
  uint32_t nr = 0;
  uint64_t calls = 0, errors = 0, ns = 0;
};

// Named rows, most time first; equal times by more calls, then by name.
// `name_of` names a syscall number (the caller knows the tables).
std::vector<SummaryRow> summary_rows(std::span<const SummaryInput> totals,
                                     const std::function<std::string(uint32_t)>& name_of);

// The table: header, a row per syscall, a dashed line and the total. Errors are
// blank when 0, as strace prints them.
std::string format_summary_table(std::span<const SummaryRow> rows);

// {"summary":[{"syscall":...,"calls":N,"errors":N,"seconds":S,"usecs_per_call":N,
// "percent_time":P},...],"total":{...}} and a newline.
std::string format_summary_json(std::span<const SummaryRow> rows);

}  // namespace cgscope::trace
