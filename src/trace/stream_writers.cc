#include "trace/stream_writers.h"

#include "trace/fast_out.h"

namespace cgscope::trace {

// `{"ts":` and the nanoseconds since the epoch: the seconds from the kept text,
// the nine digits after them written each time.
void JsonWriter::append_ts(std::string& out, uint64_t wall_ns) {
  uint64_t sec = wall_ns / 1000000000, frac = wall_ns % 1000000000;
  if (sec == 0) {  // no leading digits to keep: the plain number
    FastOut o(out, 6 + FastOut::kDecMax);
    o.lit("{\"ts\":");
    o.dec(wall_ns);
    return;
  }
  if (sec != sec_) {
    sec_text_.clear();
    FastOut o(sec_text_, 6 + FastOut::kDecMax);
    o.lit("{\"ts\":");
    o.dec(sec);
    sec_ = sec;
  }
  FastOut o(out, sec_text_.size() + 9);
  o.bytes(sec_text_);
  o.dec_padded9(uint32_t(frac));
}

void JsonWriter::append(std::string& out, const EventView& ev) {
  append_ts(out, ev.wall_ns);
  out += ident_.get(ev, 0, [&](std::string& text) { append_json_ident(text, ev); });
  append_json_rest(out, ev);
}

void TableWriter::append(std::string& out, const EventView& ev, size_t width) {
  size_t row = out.size();
  bool compact = compact_layout(width);
  append_table_lead(out, ev, compact);
  out += ident_.get(ev, compact, [&](std::string& text) { append_table_ident(text, ev, compact); });
  append_table_rest(out, ev, row, width);
}

}  // namespace cgscope::trace
