#include "seccomp/profile_json.h"

#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace cgscope::seccomp {

namespace {

using nlohmann::json;

// Deeper than any profile goes; the limit keeps a hostile file from costing
// much before it is refused.
constexpr int kMaxDepth = 8;
// The kernel keeps an errno below 4096 (MAX_ERRNO).
constexpr uint64_t kMaxErrno = 4095;

struct ActionName {
  std::string_view name;
  ActionKind kind;
};
// SCMP_ACT_KILL is libseccomp's old name for KILL_THREAD.
constexpr ActionName kActions[] = {
    {"SCMP_ACT_ALLOW", ActionKind::allow},         {"SCMP_ACT_LOG", ActionKind::log},
    {"SCMP_ACT_ERRNO", ActionKind::errno_ret},     {"SCMP_ACT_TRAP", ActionKind::trap},
    {"SCMP_ACT_KILL_THREAD", ActionKind::kill_thread}, {"SCMP_ACT_KILL", ActionKind::kill_thread},
    {"SCMP_ACT_KILL_PROCESS", ActionKind::kill_process},
};

// Parses with a check nlohmann does not make: a key given twice in one object
// (readers differ on which one counts; Docker's takes the last).
Result<json> parse_strict(std::string_view text) {
  std::vector<std::set<std::string>> keys;
  std::string error;
  auto check = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxDepth && error.empty()) error = fmt::format("nested deeper than {} levels", kMaxDepth);
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.empty() && parsed.is_string() &&
        !keys.back().insert(parsed.get<std::string>()).second && error.empty())
      error = fmt::format("the key \"{}\" is given twice in one object", parsed.get<std::string>());
    return error.empty();
  };
  json doc = json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/false);
  if (!error.empty()) return fail(error);
  if (doc.is_discarded()) return fail("not valid JSON");
  return doc;
}

Result<Action> parse_action(const json& v, const std::string& field) {
  if (!v.is_string()) return fail(field + ": an action name in quotes, e.g. \"SCMP_ACT_ALLOW\"");
  const auto& name = v.get_ref<const std::string&>();
  for (const auto& a : kActions)
    if (name == a.name) return Action{a.kind, 1};
  if (name == "SCMP_ACT_TRACE" || name == "SCMP_ACT_NOTIFY")
    return fail(fmt::format("{}: {} is not supported by cgscope seccomp run (it needs a tracer or a listener); "
                            "use docker for this profile",
                            field, name));
  return fail(fmt::format("{}: unknown action \"{}\"", field, name));
}

// An errnoRet: applies to SCMP_ACT_ERRNO only (elsewhere it means nothing and
// is refused, so that a typo in the action is not silently taken).
Result<void> parse_errno(const json& v, const std::string& field, Action& action) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > kMaxErrno)
    return fail(fmt::format("{}: an errno from 0 to {}, e.g. 1 (EPERM)", field, kMaxErrno));
  if (action.kind != ActionKind::errno_ret) return fail(field + ": only SCMP_ACT_ERRNO returns an errno");
  action.errno_ret = uint16_t(v.get<uint64_t>());
  return {};
}

bool is_syscall_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// An empty args/includes/excludes is the same as none (docker writes "args": []).
bool empty_or_null(const json& v) { return v.is_null() || ((v.is_array() || v.is_object()) && v.empty()); }

Result<void> check_entry_key(const std::string& key, const json& v, const std::string& field) {
  if (key == "names" || key == "action" || key == "errnoRet") return {};
  if (key == "comment") return v.is_string() ? Result<void>{} : fail(field + ": a string");
  if (key == "args" || key == "includes" || key == "excludes") {
    if (empty_or_null(v)) return {};
    return fail(field + (key == "args" ? ": argument conditions are not supported by cgscope seccomp run (it "
                                         "allows or denies whole syscalls); use docker for this profile"
                                       : ": includes/excludes (by kernel, architecture or capability) are not "
                                         "supported by cgscope seccomp run; use docker for this profile"));
  }
  if (key == "name") return fail(field + ": the old one-name form is not supported; write \"names\": [...]");
  return fail(field + ": unknown field");
}

Result<Rule> parse_rule(const json& entry, const std::string& field) {
  if (!entry.is_object()) return fail(field + ": an object with \"names\" and \"action\"");
  for (const auto& [key, v] : entry.items())
    if (auto r = check_entry_key(key, v, field + "." + key); !r) return fail_with(r.error());
  if (!entry.contains("action")) return fail(field + ": no \"action\"");
  auto action = parse_action(entry["action"], field + ".action");
  if (!action) return fail_with(action.error());
  Rule rule{{}, *action};
  if (entry.contains("errnoRet"))
    if (auto r = parse_errno(entry["errnoRet"], field + ".errnoRet", rule.action); !r) return fail_with(r.error());
  const json* names = entry.contains("names") ? &entry["names"] : nullptr;
  if (!names || !names->is_array() || names->empty())
    return fail(field + ".names: a list of syscall names, e.g. [\"read\", \"write\"]");
  for (size_t i = 0; i < names->size(); i++) {
    const json& n = (*names)[i];
    if (!n.is_string() || !is_syscall_name(n.get_ref<const std::string&>()))
      return fail(fmt::format("{}.names[{}]: not a syscall name (lower-case letters, digits, _)", field, i));
    rule.names.push_back(n.get<std::string>());
  }
  return rule;
}

Result<void> parse_architectures(const json& v, Profile& p) {
  if (!v.is_array()) return fail("architectures: a list, e.g. [\"SCMP_ARCH_X86_64\"]");
  for (size_t i = 0; i < v.size(); i++) {
    if (!v[i].is_string() || v[i].get_ref<const std::string&>().rfind("SCMP_ARCH_", 0) != 0)
      return fail(fmt::format("architectures[{}]: an architecture such as \"SCMP_ARCH_X86_64\"", i));
    p.architectures.push_back(v[i].get<std::string>());
  }
  return {};
}

// A name in two entries must have one action: which one wins would otherwise be
// the loader's choice (libseccomp takes both without a word).
Result<void> check_conflicts(const Profile& p) {
  std::map<std::string_view, size_t> first;  // name -> index of its first rule
  for (size_t i = 0; i < p.rules.size(); i++)
    for (const std::string& n : p.rules[i].names) {
      auto [it, fresh] = first.emplace(n, i);
      if (!fresh && !(p.rules[it->second].action == p.rules[i].action))
        return fail(fmt::format("syscalls[{}]: \"{}\" is also in syscalls[{}], with another action", i, n,
                                it->second));
    }
  return {};
}

Result<void> check_top_key(const std::string& key) {
  if (key == "defaultAction" || key == "defaultErrnoRet" || key == "architectures" || key == "syscalls") return {};
  if (key == "archMap")
    return fail("archMap: not supported by cgscope seccomp run; list the architectures in \"architectures\"");
  if (key == "flags") return fail("flags: seccomp filter flags are not supported by cgscope seccomp run");
  if (key == "listenerPath" || key == "listenerMetadata")
    return fail(key + ": SCMP_ACT_NOTIFY listeners are not supported by cgscope seccomp run");
  return fail(key + ": unknown field");
}

}  // namespace

Result<Profile> parse_profile_json(std::string_view text) {
  auto doc = parse_strict(text);
  if (!doc) return fail_with(doc.error());
  if (!doc->is_object()) return fail("the profile is not a JSON object ({\"defaultAction\": ...})");
  for (const auto& [key, v] : doc->items())
    if (auto r = check_top_key(key); !r) return fail_with(r.error());
  if (!doc->contains("defaultAction")) return fail("defaultAction: missing (e.g. \"SCMP_ACT_ERRNO\")");
  auto def = parse_action((*doc)["defaultAction"], "defaultAction");
  if (!def) return fail_with(def.error());
  Profile p{*def, {}, {}};
  if (doc->contains("defaultErrnoRet"))
    if (auto r = parse_errno((*doc)["defaultErrnoRet"], "defaultErrnoRet", p.default_action); !r)
      return fail_with(r.error());
  if (doc->contains("architectures"))
    if (auto r = parse_architectures((*doc)["architectures"], p); !r) return fail_with(r.error());
  if (doc->contains("syscalls")) {
    const json& calls = (*doc)["syscalls"];
    if (!calls.is_array() && !calls.is_null()) return fail("syscalls: a list of {\"names\": [...], \"action\": ...}");
    for (size_t i = 0; calls.is_array() && i < calls.size(); i++) {
      auto rule = parse_rule(calls[i], fmt::format("syscalls[{}]", i));
      if (!rule) return fail_with(rule.error());
      p.rules.push_back(std::move(*rule));
    }
  }
  if (auto r = check_conflicts(p); !r) return fail_with(r.error());
  return p;
}

Action Profile::action_for(std::string_view name) const {
  for (const Rule& r : rules)
    for (const std::string& n : r.names)
      if (n == name) return r.action;
  return default_action;
}

std::string_view action_name(ActionKind kind) {
  for (const auto& a : kActions)
    if (a.kind == kind) return a.name;
  return "SCMP_ACT_ERRNO";
}

}  // namespace cgscope::seccomp
