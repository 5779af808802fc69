#include "trace/summary_table.h"

#include <algorithm>

#include <fmt/format.h>

namespace cgscope::trace {

namespace {

struct Totals {
  uint64_t calls = 0, errors = 0, ns = 0;
};

Totals sum(std::span<const SummaryRow> rows) {
  Totals t;
  for (const SummaryRow& r : rows) {
    t.calls += r.calls;
    t.errors += r.errors;
    t.ns += r.ns;
  }
  return t;
}

double percent(uint64_t ns, uint64_t total_ns) { return total_ns ? 100.0 * double(ns) / double(total_ns) : 0.0; }
uint64_t usecs_per_call(uint64_t ns, uint64_t calls) { return calls ? ns / 1000 / calls : 0; }
std::string errors_text(uint64_t errors) { return errors ? std::to_string(errors) : std::string(); }

void append_row(std::string& out, double pct, uint64_t ns, uint64_t calls, uint64_t errors, std::string_view name) {
  fmt::format_to(std::back_inserter(out), "{:6.2f} {:11.6f} {:11} {:9} {:>9} {}\n", pct, double(ns) / 1e9,
                 usecs_per_call(ns, calls), calls, errors_text(errors), name);
}

void append_json_fields(std::string& out, double pct, uint64_t ns, uint64_t calls, uint64_t errors) {
  fmt::format_to(std::back_inserter(out), "\"calls\":{},\"errors\":{},\"seconds\":{:.6f},\"usecs_per_call\":{},"
                 "\"percent_time\":{:.2f}",
                 calls, errors, double(ns) / 1e9, usecs_per_call(ns, calls), pct);
}

constexpr std::string_view kDashes = "------ ----------- ----------- --------- --------- ----------------\n";

}  // namespace

std::vector<SummaryRow> summary_rows(std::span<const SummaryInput> totals,
                                     const std::function<std::string(uint32_t)>& name_of) {
  std::vector<SummaryRow> rows;
  for (const SummaryInput& t : totals)
    if (t.calls) rows.push_back(SummaryRow{name_of(t.nr), t.calls, t.errors, t.ns});
  std::sort(rows.begin(), rows.end(), [](const SummaryRow& a, const SummaryRow& b) {
    if (a.ns != b.ns) return a.ns > b.ns;
    if (a.calls != b.calls) return a.calls > b.calls;
    return a.name < b.name;
  });
  return rows;
}

std::string format_summary_table(std::span<const SummaryRow> rows) {
  Totals t = sum(rows);
  std::string out = "% time     seconds  usecs/call     calls    errors syscall\n";
  out += kDashes;
  for (const SummaryRow& r : rows) append_row(out, percent(r.ns, t.ns), r.ns, r.calls, r.errors, r.name);
  out += kDashes;
  append_row(out, t.ns ? 100.0 : 0.0, t.ns, t.calls, t.errors, "total");
  return out;
}

std::string format_summary_json(std::span<const SummaryRow> rows) {
  Totals t = sum(rows);
  std::string out = "{\"summary\":[";
  for (size_t i = 0; i < rows.size(); i++) {
    const SummaryRow& r = rows[i];
    // Syscall names are the table's own identifiers (or "syscall_N"): no escaping needed.
    fmt::format_to(std::back_inserter(out), "{}{{\"syscall\":\"{}\",", i ? "," : "", r.name);
    append_json_fields(out, percent(r.ns, t.ns), r.ns, r.calls, r.errors);
    out += '}';
  }
  out += "],\"total\":{";
  append_json_fields(out, t.ns ? 100.0 : 0.0, t.ns, t.calls, t.errors);
  out += "}}\n";
  return out;
}

}  // namespace cgscope::trace
