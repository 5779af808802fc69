#include "seccomp/loader.h"

#include <seccomp.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include <fmt/format.h>

#include "trace/schema.h"

namespace cgscope::seccomp {

namespace {

uint32_t to_scmp(const Action& a) {
  switch (a.kind) {
    case ActionKind::allow: return SCMP_ACT_ALLOW;
    case ActionKind::log: return SCMP_ACT_LOG;
    case ActionKind::errno_ret: return SCMP_ACT_ERRNO(a.errno_ret);
    case ActionKind::trap: return SCMP_ACT_TRAP;
    case ActionKind::kill_thread: return SCMP_ACT_KILL_THREAD;
    case ActionKind::kill_process: return SCMP_ACT_KILL_PROCESS;
  }
  return SCMP_ACT_KILL_PROCESS;
}

std::string libseccomp_version() {
  const scmp_version* v = seccomp_version();
  return v ? fmt::format("{}.{}.{}", v->major, v->minor, v->micro) : "?";
}

// "SCMP_ARCH_X86_64" -> libseccomp's token for it ("x86_64"); 0 if unknown.
uint32_t resolve_arch(const std::string& name) {
  std::string lower = name.substr(std::strlen("SCMP_ARCH_"));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return seccomp_arch_resolve_name(lower.c_str());
}

// A name libseccomp does not know yet (mseal with 2.5.4) is still the kernel's:
// cgscope's x86_64 table gives its number, which libseccomp takes as it is, but
// only in a filter for the native x86_64 alone (it cannot place an unknown
// number on another architecture).
int resolve_syscall(const std::string& name, bool native_x86_64_only) {
  int nr = seccomp_syscall_resolve_name(name.c_str());
  if (nr != __NR_SCMP_ERROR || !native_x86_64_only) return nr;
  for (uint32_t n = 0; n < CGS_MAX_SYSCALLS; n++)
    if (const auto* d = trace::Schema::get().find(n); d && d->name == name) return int(n);
  return __NR_SCMP_ERROR;
}

Result<void> add_architectures(scmp_filter_ctx ctx, const Profile& p) {
  for (size_t i = 0; i < p.architectures.size(); i++) {
    uint32_t arch = resolve_arch(p.architectures[i]);
    if (arch == 0)
      return fail(fmt::format("architectures[{}]: libseccomp {} does not know {}", i, libseccomp_version(),
                              p.architectures[i]));
    int rc = seccomp_arch_add(ctx, arch);
    if (rc != 0 && rc != -EEXIST) return fail_errno(fmt::format("architectures[{}]: adding it", i), -rc);
  }
  return {};
}

Result<void> add_rules(scmp_filter_ctx ctx, const Profile& p, bool native_x86_64_only) {
  for (size_t i = 0; i < p.rules.size(); i++) {
    const Rule& rule = p.rules[i];
    // libseccomp refuses a rule that only repeats the default (EACCES): it is one.
    if (rule.action == p.default_action) continue;
    for (size_t j = 0; j < rule.names.size(); j++) {
      std::string field = fmt::format("syscalls[{}].names[{}]", i, j);
      int nr = resolve_syscall(rule.names[j], native_x86_64_only);
      if (nr == __NR_SCMP_ERROR)
        return fail(fmt::format("{}: no syscall \"{}\" (libseccomp {}{} does not know it)", field, rule.names[j],
                                libseccomp_version(), native_x86_64_only ? " and cgscope's table" : ""));
      if (int rc = seccomp_rule_add(ctx, to_scmp(rule.action), nr, 0); rc != 0)
        return fail_errno(fmt::format("{}: adding \"{}\"", field, rule.names[j]), -rc);
    }
  }
  return {};
}

}  // namespace

void Filter::Release::operator()(void* ctx) const { seccomp_release(ctx); }

Result<Filter> Filter::build(const Profile& p) {
  uint32_t def = to_scmp(p.default_action);
  scmp_filter_ctx raw = seccomp_init(def);
  if (!raw) return fail("seccomp_init failed: libseccomp could not make a filter (out of memory?)");
  Filter f(raw);
  // A call of an architecture the profile does not list (an int 0x80 from an
  // x86_64 program) gets the default when that denies; an allowing default
  // keeps libseccomp's kill, so that such a call never gets around the rules.
  if (!p.default_action.lets_run())
    if (int rc = seccomp_attr_set(raw, SCMP_FLTATR_ACT_BADARCH, def); rc != 0)
      return fail_errno("setting the action for other architectures", -rc);
  // Every thread, not only the caller's (cgscope is single-threaded: a guard).
  if (int rc = seccomp_attr_set(raw, SCMP_FLTATR_CTL_TSYNC, 1); rc != 0)
    return fail_errno("asking for the filter on every thread", -rc);
  if (auto r = add_architectures(raw, p); !r) return fail_with(r.error());
  bool native_only = seccomp_arch_native() == SCMP_ARCH_X86_64 &&
                     std::all_of(p.architectures.begin(), p.architectures.end(),
                                 [](const std::string& a) { return a == "SCMP_ARCH_X86_64"; });
  if (auto r = add_rules(raw, p, native_only); !r) return fail_with(r.error());
  return f;
}

Result<void> Filter::load() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("setting no_new_privs", errno);
  if (int rc = seccomp_load(ctx_.get()); rc != 0)
    return fail_errno("loading the seccomp filter", -rc);
  return {};
}

}  // namespace cgscope::seccomp
