#include "trace/schema.h"

#include "trace/event_table.h"
#include "trace/file_syscalls.h"
#include "trace/ia32_events.h"

namespace cgscope::trace {

namespace {

EventDesc describe(const EventInfo& ev) {
  EventDesc d;
  d.nr = ev.nr;
  d.name = ev.name;
  d.nargs = ev.nargs;
  d.abi = ev.abi;
  // An ia32 call reads its arguments as its x86_64 twin does (ev.spec).
  std::string_view spec_name = ev.abi == Abi::ia32 ? ev.spec : ev.name;
  std::array<std::string_view, CGS_NARGS> names{};
  for (unsigned i = 0; i < ev.nargs && i < CGS_NARGS; i++) names[i] = ev.args[i].name;
  std::span<const std::string_view> all(names.data(), ev.nargs);
  for (unsigned i = 0; i < ev.nargs && i < CGS_NARGS; i++) {
    ArgSpec spec = classify_arg(spec_name, ev.args[i].type, ev.args[i].name, all);
    uint8_t kind = CGS_KIND(spec.kind_byte);
    if (ev.abi == Abi::ia32 && (kind == CGS_ARG_STRUCT || kind == CGS_ARG_ARRAY || kind == CGS_ARG_MSGHDR)) {
      // The x86_64 twin's struct has other sizes and offsets in i386 (32-bit
      // longs and pointers): the address, as before structs were decoded.
      spec.kind_byte = CGS_ARG_RAW;
      spec.format = ArgFormat::pointer;
      spec.struct_size = 0;
    } else if (ev.abi == Abi::ia32 && kind != CGS_ARG_STR && kind != CGS_ARG_STRARR && kind != CGS_ARG_RAW) {
      // The ia32 exit captures strings only (trace.bpf.c, capture_args; argv at
      // execve comes from its entry): asked
      // for nothing else, its calls keep the fixed record, built in place.
      spec.kind_byte = CGS_ARG_RAW;
    }
    d.args[i] = ArgDesc{ev.args[i].name, spec.format, ev.is_syscall ? spec.kind_byte : uint8_t{CGS_ARG_RAW}};
    d.args[i].struct_size = spec.struct_size;
  }
  auto index = [&](std::string_view name) {
    for (unsigned j = 0; j < ev.nargs && j < CGS_NARGS; j++)
      if (names[j] == name) return static_cast<uint8_t>(j);
    return static_cast<uint8_t>(CGS_NARGS);
  };
  for (unsigned i = 0; i < ev.nargs && i < CGS_NARGS; i++)
    if (std::string_view ctx = context_arg_name(d.args[i].format); !ctx.empty()) d.args[i].ctx_arg = index(ctx);
  if (ev.is_syscall) {
    d.ret = classify_ret(spec_name);
    if (d.ret == RetFormat::fcntl) d.ret_ctx_arg = index("cmd");
  }
  // The files an fd or path argument names (file_syscalls.h): sections on the
  // fd's own index, or on indexes past the arguments (the cwd, a new fd).
  // Not for ia32 calls: the fd table follows x86_64 calls only.
  if (ev.is_syscall && ev.abi == Abi::x86_64)
    for (unsigned i = 0; i < CGS_NARGS; i++)
      if (uint8_t k = file_call(ev.nr).kinds[i]) d.args[i].kind_byte = k;
  return d;
}

}  // namespace

Schema::Schema() : syscalls_(CGS_MAX_SYSCALLS), known_(CGS_MAX_SYSCALLS, false) {
  for (const EventInfo& ev : all_events()) {
    if (ev.is_syscall && ev.nr < CGS_MAX_SYSCALLS) {
      syscalls_[ev.nr] = describe(ev);
      known_[ev.nr] = true;
    } else if (ev.nr >= CGS_EV_PROCESS_FORK && ev.nr <= CGS_EV_LAST) {
      size_t i = ev.nr - CGS_EV_PROCESS_FORK;
      if (pseudo_.size() <= i) pseudo_.resize(i + 1);
      pseudo_[i] = describe(ev);
    }
  }
  ia32_.resize(CGS_IA32_MAX_SYSCALLS);
  for (const EventInfo& ev : ia32_events()) ia32_[ev.nr - CGS_IA32_NR_BASE] = describe(ev);
}

const Schema& Schema::get() {
  static const Schema schema;
  return schema;
}

const EventDesc* Schema::find(uint32_t nr) const {
  if (is_ia32_nr(nr)) {
    const EventDesc& d = ia32_[nr - CGS_IA32_NR_BASE];
    return d.name.empty() ? nullptr : &d;
  }
  if (nr < CGS_MAX_SYSCALLS) return known_[nr] ? &syscalls_[nr] : nullptr;
  if (nr >= CGS_EV_PROCESS_FORK && nr - CGS_EV_PROCESS_FORK < pseudo_.size()) {
    const EventDesc& d = pseudo_[nr - CGS_EV_PROCESS_FORK];
    return d.name.empty() ? nullptr : &d;
  }
  return nullptr;
}

std::array<uint8_t, CGS_NARGS> Schema::kernel_kinds(uint32_t nr) const {
  std::array<uint8_t, CGS_NARGS> k{};
  if (const EventDesc* d = find(nr); d && is_syscall_nr(nr))
    for (unsigned i = 0; i < CGS_NARGS; i++) k[i] = d->args[i].kind_byte;
  return k;
}

std::array<uint16_t, CGS_NARGS> Schema::kernel_struct_sizes(uint32_t nr) const {
  std::array<uint16_t, CGS_NARGS> z{};
  if (const EventDesc* d = find(nr); d && nr < CGS_MAX_SYSCALLS)
    for (unsigned i = 0; i < CGS_NARGS; i++) z[i] = d->args[i].struct_size;
  return z;
}

uint8_t Schema::kernel_iov_data_arg(uint32_t nr) const {
  const EventDesc* d = find(nr);
  if (!d || !is_syscall_nr(nr)) return 0;
  // Write calls keep their elements whatever they returned (sendmsg's header is
  // read whatever it returned: not CGS_STRUCT_OUT).
  bool writes = d->name == "writev" || d->name == "pwritev" || d->name == "pwritev2";
  for (unsigned i = 0; i < CGS_NARGS; i++) {
    const ArgDesc& a = d->args[i];
    if (a.format == ArgFormat::msghdr) {
      bool sends = !(CGS_LEN_ARG(a.kind_byte) & CGS_STRUCT_OUT);
      return static_cast<uint8_t>((i + 1) | CGS_IOV_DATA_MSGHDR | (sends ? CGS_IOV_DATA_WRITE : 0));
    }
    // The kernel reads the count from the next argument (readv's vlen).
    if (a.format == ArgFormat::iovec_array && CGS_KIND(a.kind_byte) == CGS_ARG_ARRAY &&
        CGS_LEN_ARG(a.kind_byte) == i + 1)
      return static_cast<uint8_t>((i + 1) | (writes ? CGS_IOV_DATA_WRITE : 0));
  }
  return 0;
}

}  // namespace cgscope::trace
