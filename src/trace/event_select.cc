#include "trace/event_select.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>

#include "trace/event_table.h"
#include "trace/ia32_events.h"

namespace cgscope::trace {
namespace {

constexpr std::string_view kListHint = "`cgscope trace --list` lists the events and sets";

void add(EventSelection& sel, uint32_t nr) {
  if (is_ia32_nr(nr)) {
    sel.ia32.set(nr - CGS_IA32_NR_BASE);
    return;
  }
  if (nr < CGS_MAX_SYSCALLS) {
    sel.syscalls.set(nr);
    return;
  }
  switch (nr) {
    case CGS_EV_PROCESS_FORK: sel.fork = true; break;
    case CGS_EV_PROCESS_EXEC: sel.exec = true; break;
    case CGS_EV_PROCESS_EXIT: sel.exit = true; break;
    case CGS_EV_CGROUP_MKDIR: sel.cgroup_mkdir = true; break;
    case CGS_EV_TCP_STATE: sel.tcp_state = true; break;
    case CGS_EV_FILE_WRITE: sel.file_write = true; break;
    case CGS_EV_FILE_READ: sel.file_read = true; break;
    case CGS_EV_SIGNAL_GENERATE: sel.signal_generate = true; break;
    case CGS_EV_SIGNAL_DELIVER: sel.signal_deliver = true; break;
    case CGS_EV_UDP_PEER: sel.udp_peer = true; break;
    case CGS_EV_UDP_CLOSE: sel.udp_close = true; break;
    default: break;
  }
}

// Adds every event in any of `sets`.
void add_sets(EventSelection& sel, uint32_t sets) {
  for (auto table : {all_events(), ia32_events()})
    for (const EventInfo& e : table)
      if (e.sets & sets) add(sel, e.nr);
}

void add_all(EventSelection& sel) {
  for (auto table : {all_events(), ia32_events()})
    for (const EventInfo& e : table) add(sel, e.nr);
}

bool empty(const EventSelection& sel) {
  return sel.syscalls.none() && sel.ia32.none() && !sel.fork && !sel.exec && !sel.exit && !sel.cgroup_mkdir &&
         !sel.tcp_state && !sel.file_write && !sel.file_read && !sel.signal_generate && !sel.signal_deliver &&
         !sel.udp_peer && !sel.udp_close;
}

// `base` minus everything in `removed`.
EventSelection subtract(EventSelection base, const EventSelection& removed) {
  base.syscalls &= ~removed.syscalls;
  base.ia32 &= ~removed.ia32;
  base.fork = base.fork && !removed.fork;
  base.exec = base.exec && !removed.exec;
  base.exit = base.exit && !removed.exit;
  base.cgroup_mkdir = base.cgroup_mkdir && !removed.cgroup_mkdir;
  base.tcp_state = base.tcp_state && !removed.tcp_state;
  base.file_write = base.file_write && !removed.file_write;
  base.file_read = base.file_read && !removed.file_read;
  base.signal_generate = base.signal_generate && !removed.signal_generate;
  base.signal_deliver = base.signal_deliver && !removed.signal_deliver;
  base.udp_peer = base.udp_peer && !removed.udp_peer;
  base.udp_close = base.udp_close && !removed.udp_close;
  return base;
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Levenshtein distance, two rows.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The known names closest to `typo`, at most four, if any is close enough to be
// a plausible misspelling.
std::vector<std::string_view> closest(std::string_view typo, const std::vector<std::string_view>& known) {
  std::string t = lower(typo);
  size_t limit = t.size() <= 3 ? 1 : std::max<size_t>(2, t.size() / 3);
  size_t best = limit + 1;
  std::vector<std::string_view> out;
  for (std::string_view k : known) {
    size_t d = edit_distance(t, k);
    if (d < best) {
      best = d;
      out.clear();
    }
    if (d == best) out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  if (out.size() > 4) out.resize(4);
  return out;
}

// `did you mean "a", "b" or "c"?`, or "" with no suggestion.
std::string did_you_mean(const std::vector<std::string>& names) {
  if (names.empty()) return {};
  std::string s = "did you mean ";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += i + 1 == names.size() ? " or " : ", ";
    s += '"' + names[i] + '"';
  }
  return s + "?";
}

std::vector<std::string_view> event_names() {
  std::vector<std::string_view> out;
  for (const EventInfo& e : all_events()) out.push_back(e.name);
  return out;
}

// `abi` is the "ia32:" or "x86_64:" the item began with, given back with the hints.
Failure unknown_event(std::string_view item, std::string_view name, std::string_view abi = {}) {
  std::vector<std::string> hints;
  std::string_view stripped = name;
  for (std::string_view prefix : {"sys_enter_", "sys_exit_", "__x64_sys_", "sys_"}) {
    if (stripped.starts_with(prefix)) {
      stripped.remove_prefix(prefix.size());
      break;
    }
  }
  if (find_set(name)) hints.push_back("set:" + std::string(name));  // a set without "set:"
  if (stripped != name && find_event(stripped)) {
    hints.emplace_back(stripped);
  } else if (hints.empty()) {
    for (std::string_view n : closest(name, event_names())) hints.emplace_back(n);
  }
  std::string msg = "-e: unknown event \"" + std::string(item) + "\"";
  for (std::string& h : hints)
    if (!h.starts_with("set:")) h.insert(0, abi);
  if (!hints.empty()) msg += "; " + did_you_mean(hints);
  return fail(msg + " (" + std::string(kListHint) + ")");
}

Failure unknown_set(std::string_view item, std::string_view name) {
  std::vector<std::string> hints;
  for (std::string_view n : closest(name, set_names())) hints.push_back("set:" + std::string(n));
  std::string msg = "-e: unknown event set \"" + std::string(item) + "\"";
  if (!hints.empty()) msg += "; " + did_you_mean(hints);
  return fail(msg + " (" + std::string(kListHint) + ")");
}

// Adds what one item (without its "!") names to `sel`.
Result<void> apply_item(EventSelection& sel, std::string_view item, std::string_view body) {
  if (body == "all") {
    add_all(sel);
    return {};
  }
  if (body.starts_with("set:")) {
    std::string_view name = body.substr(4);
    auto bit = find_set(name);
    if (!bit) return unknown_set(item, name);
    add_sets(sel, *bit);
    return {};
  }
  // "ia32:open" and "x86_64:open" name one table's call; a plain "open" both.
  std::string_view name = body;
  bool x86_64 = true, ia32 = true;
  if (body.starts_with("ia32:")) {
    name = body.substr(5);
    x86_64 = false;
  } else if (body.starts_with("x86_64:")) {
    name = body.substr(7);
    ia32 = false;
  }
  const EventInfo* e = x86_64 ? find_event(name) : nullptr;
  if (e && !e->is_syscall && !ia32) e = nullptr;  // "x86_64:" names syscalls only
  const EventInfo* e32 = ia32 ? find_ia32_event(name) : nullptr;
  if (!e && !e32) return unknown_event(item, name, body.substr(0, body.size() - name.size()));
  if (e) add(sel, e->nr);
  if (e32) add(sel, e32->nr);
  return {};
}

void append_wrapped(std::string& out, const std::vector<std::string_view>& words) {
  constexpr size_t kWidth = 79;
  constexpr std::string_view kIndent = "    ";
  size_t col = 0;
  for (std::string_view w : words) {
    if (col > 0 && col + 1 + w.size() > kWidth) {
      out += '\n';
      col = 0;
    }
    if (col == 0) {
      out += kIndent;
      col = kIndent.size();
    } else {
      out += ' ';
      ++col;
    }
    out += w;
    col += w.size();
  }
  if (col > 0) out += '\n';
}

std::vector<std::string_view> sorted_names_where(auto pred) {
  std::vector<std::string_view> out;
  for (const EventInfo& e : all_events())
    if (pred(e)) out.push_back(e.name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool selected(const EventSelection& sel, uint32_t nr) {
  if (is_ia32_nr(nr)) return sel.ia32.test(nr - CGS_IA32_NR_BASE);
  if (nr < CGS_MAX_SYSCALLS) return sel.syscalls.test(nr);
  switch (nr) {
    case CGS_EV_PROCESS_FORK: return sel.fork;
    case CGS_EV_PROCESS_EXEC: return sel.exec;
    case CGS_EV_PROCESS_EXIT: return sel.exit;
    case CGS_EV_CGROUP_MKDIR: return sel.cgroup_mkdir;
    case CGS_EV_TCP_STATE: return sel.tcp_state;
    case CGS_EV_FILE_WRITE: return sel.file_write;
    case CGS_EV_FILE_READ: return sel.file_read;
    case CGS_EV_SIGNAL_GENERATE: return sel.signal_generate;
    case CGS_EV_SIGNAL_DELIVER: return sel.signal_deliver;
    case CGS_EV_UDP_PEER: return sel.udp_peer;
    case CGS_EV_UDP_CLOSE: return sel.udp_close;
    default: return false;
  }
}

Result<EventSelection> parse_event_selection(const std::vector<std::string>& items) {
  EventSelection chosen, removed;
  bool any_positive = false;
  for (const std::string& value : items) {
    std::string_view rest = value;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view item = trim(rest.substr(0, comma));
      if (item.empty())
        return fail("-e: empty item in \"" + value + "\": give event names or set:NAME, separated by commas (" +
                    std::string(kListHint) + ")");
      bool negated = item.front() == '!';
      std::string_view body = negated ? trim(item.substr(1)) : item;
      if (body.empty()) return fail("-e: \"!\" needs an event name or set:NAME after it, in \"" + value + "\"");
      if (auto r = apply_item(negated ? removed : chosen, item, body); !r) return fail_with(r.error());
      any_positive = any_positive || !negated;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (!any_positive) add_sets(chosen, SET_DEFAULT);
  EventSelection result = subtract(chosen, removed);
  if (empty(result))
    return fail("-e: the negations remove every event the selection had; nothing would be traced");
  return result;
}

std::string format_event_list() {
  std::string out =
      "Select events with -e ITEM[,ITEM...], repeatable. ITEM is an event name,\n"
      "set:NAME or all; !ITEM removes those events from what the other items select.\n"
      "A syscall name matches both syscall tables, x86_64 and ia32 (int 0x80, 32-bit\n"
      "programs); ia32:NAME or x86_64:NAME names one. Sets and all include ia32 calls.\n"
      "Without a positive item, cgscope traces set:default.\n"
      "\nSets:\n";
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> members;
  for (std::string_view name : set_names()) {
    uint32_t bit = *find_set(name);
    auto events = sorted_names_where([bit](const EventInfo& e) { return (e.sets & bit) != 0; });
    std::string count = std::to_string(events.size());
    out += "  " + std::string(name) + std::string(15 - std::min<size_t>(14, name.size()), ' ') +
           std::string(4 - std::min<size_t>(3, count.size()), ' ') + count + "  " +
           std::string(set_description(bit)) + "\n";
    members.emplace_back(name, std::move(events));
  }

  out += "\nEvents that are not syscalls:\n";
  append_wrapped(out, sorted_names_where([](const EventInfo& e) { return !e.is_syscall; }));
  for (const auto& [name, events] : members) {
    out += "\nset:" + std::string(name) + "\n";
    append_wrapped(out, events);
  }
  auto loose = sorted_names_where([](const EventInfo& e) { return e.sets == 0; });
  if (!loose.empty()) {
    out += "\nIn no set (select them by name or with all):\n";
    append_wrapped(out, loose);
  }
  return out;
}

}  // namespace cgscope::trace
