// The JSON event writer (format.h): one object per line.
#include "trace/format.h"

#include <ctime>

#include <fmt/format.h>

#include "core/base64.h"
#include "trace/arg_value.h"
#include "trace/containers.h"
#include "trace/decode_fcntl.h"
#include "trace/fast_out.h"
#include "trace/flags.h"
#include "trace/ia32_events.h"
#include "trace/sockaddr.h"
#include "trace/signal_text.h"
#include "trace/syscall_time.h"
#include "trace/format_parts.h"

namespace cgscope::trace {

using namespace format_parts;

namespace {

// The `_raw` companion of a string or list that held bytes that are not UTF-8:
// the exact bytes in base64 (a list: one per element, null for the valid ones).
void append_json_raw(std::string& out, const ArgValue& v) {
  auto one = [&](std::string_view s) {
    out += '"';
    append_base64(out, s);
    out += '"';
  };
  if (v.kind == ArgValue::Kind::string) {
    one(v.str);
    return;
  }
  out += '[';
  bool first = true;
  bool cut = for_each_element(*v.var, [&](std::string_view s, bool) {
    if (!first) out += ',';
    first = false;
    std::string scratch;
    if (append_json_escaped(scratch, s)) one(s);
    else out += "null";
  });
  if (cut) out += first ? "null" : ",null";  // the "..." element: one entry per element, that one too
  out += ']';
}

// How each kind of value looks in JSON. Returns whether it needs a `_raw`
// companion (bytes that are not UTF-8).
bool append_json_value(std::string& out, const ArgValue& v) {
  switch (v.kind) {
    case ArgValue::Kind::null:
      out += "null";
      return false;
    case ArgValue::Kind::number:
      append_scalar_text(out, v.format, v.raw, v.ctx);
      return false;
    case ArgValue::Kind::scalar:
      out += '"';
      append_scalar_text(out, v.format, v.raw, v.ctx);
      out += '"';
      return false;
    case ArgValue::Kind::string: {
      out += '"';
      bool invalid = append_json_escaped(out, v.str);
      if (v.truncated) out += "...";
      out += '"';
      return invalid;
    }
    case ArgValue::Kind::strings:
      return append_list(out, *v.var, ",", "\"");
    case ArgValue::Kind::sockaddr: {
      SockaddrView sa = decode_sockaddr(v.var->data);
      out += "{\"family\":\"";
      append_json_escaped(out, sa.family);
      out += "\",\"address\":\"";
      append_json_escaped(out, sa.address);
      out += '"';
      if (sa.port >= 0) fmt::format_to(std::back_inserter(out), ",\"port\":{}", sa.port);
      out += '}';
      return false;
    }
    case ArgValue::Kind::structure:
      append_struct_value(out, v, true);
      return false;
  }
  return false;
}

}  // namespace

namespace {

// `,"cgroup_id":N,"container_id":`.
void put_json_ids(FastOut& o, const EventView& ev) {
  o.lit(",\"cgroup_id\":");
  o.dec(ev.rec->hdr->cgroup_id);
  o.lit(",\"container_id\":");
}
constexpr size_t kIdsMax = FastOut::kDecMax + 32;

// The same from `"comm":"` on, for a comm that needs escaping.
void append_json_odd_comm(std::string& out, const EventView& ev) {
  std::string_view comm = comm_of(ev.rec->hdr);
  if (append_json_escaped(out, comm)) {
    out += "\",\"comm_raw\":\"";
    append_base64(out, comm);
  }
  FastOut o(out, 1 + kIdsMax);
  o.ch('"');
  put_json_ids(o, ev);
}

// `,"ret":...}` and the newline.
void append_json_ret(std::string& out, const EventView& ev) {
  if (!ev.has_ret) {
    append_lit(out, ",\"ret\":null}\n");
    return;
  }
  {
    FastOut o(out, FastOut::kDecMax + 8);
    o.lit(",\"ret\":");
    o.dec(ev.ret);
  }
  if (has_ret_name(ev)) {
    size_t at = out.size();
    append_lit(out, ",\"ret_text\":\"");
    if (append_ret_name(out, ev)) out += '"';
    else out.resize(at);
  }
  if (is_error(ev)) {
    append_lit(out, ",\"error\":\"");
    out += errno_name(static_cast<int>(-ev.ret));
    out += '"';
  }
  if (ev.rec->has_duration) {
    FastOut o(out, FastOut::kDecMax + 16);
    o.lit(",\"duration_ns\":");
    o.dec(ev.rec->duration_ns);
  }
  append_lit(out, "}\n");
}

}  // namespace

void append_json_ident(std::string& out, const EventView& ev) {
  const cgs_record* h = ev.rec->hdr;
  std::string_view comm = comm_of(h);
  std::string_view name = ev.desc ? std::string_view(ev.desc->name) : std::string_view();
  // 7 numbers (the 6 fields, and syscall_N's when the name is unknown), the field
  // names (under 96 bytes with "abi"), the name, a plain comm, the ids.
  size_t bound = 7 * FastOut::kDecMax + 112 + name.size() + comm.size() + kIdsMax;
  auto up_to_comm = [&](FastOut& o) {
    // An ia32 call: its bare name, "abi":"ia32" and its i386 number.
    bool ia32 = is_ia32_nr(h->nr);
    uint32_t id = ia32 ? h->nr - CGS_IA32_NR_BASE : h->nr;
    o.lit(",\"event\":\"");
    if (ev.desc) {
      o.bytes(name);
    } else {
      o.lit("syscall_");
      o.dec(id);
    }
    if (ia32) o.lit("\",\"abi\":\"ia32");
    o.lit("\",\"id\":");
    o.dec(id);
    o.lit(",\"pid\":");
    o.dec(h->pid);
    o.lit(",\"tid\":");
    o.dec(h->tid);
    o.lit(",\"ppid\":");
    o.dec(h->ppid);
    o.lit(",\"uid\":");
    o.dec(h->uid);
    o.lit(",\"gid\":");
    o.dec(h->gid);
    o.lit(",\"comm\":\"");
  };
  if (plain_ascii(comm)) {
    FastOut o(out, bound);
    up_to_comm(o);
    o.bytes(comm);
    o.ch('"');
    put_json_ids(o, ev);
    return;
  }
  {
    FastOut o(out, bound);
    up_to_comm(o);
  }
  append_json_odd_comm(out, ev);
}

void append_json(std::string& out, const EventView& ev) {
  {
    FastOut o(out, 6 + FastOut::kDecMax);
    o.lit("{\"ts\":");
    o.dec(ev.wall_ns);
  }
  append_json_ident(out, ev);
  append_json_rest(out, ev);
}

void append_json_rest(std::string& out, const EventView& ev) {
  if (!ev.container) {
    append_lit(out, "null");
  } else {
    out += '"';
    append_json_escaped(out, ev.container->id);
    append_lit(out, "\",\"container_runtime\":\"");
    append_json_escaped(out, ev.container->runtime);
    out += '"';
    if (!ev.container->pod_uid.empty()) {
      append_lit(out, ",\"pod_uid\":\"");
      append_json_escaped(out, ev.container->pod_uid);
      out += '"';
    }
  }
  append_lit(out, ",\"args\":{");
  if (is_signal_event(ev.rec->hdr->nr)) append_signal_json_args(out, *ev.rec->hdr);
  bool first = true;
  if (!is_signal_event(ev.rec->hdr->nr)) for_each_arg(ev, [&](std::string_view name, const ArgValue& v) {
    if (!first) out += ',';
    first = false;
    out += '"';
    out += name;
    append_lit(out, "\":");
    if (append_json_value(out, v)) {
      append_lit(out, ",\"");
      out += name;
      append_lit(out, "_raw\":");
      append_json_raw(out, v);
    }
  });
  out += '}';
  append_json_ret(out, ev);
}

}  // namespace cgscope::trace
