#include "trace/event_select.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "trace/event_table.h"

namespace cgscope::trace {
namespace {

using Items = std::vector<std::string>;

EventSelection parse_ok(const Items& items) {
  auto r = parse_event_selection(items);
  if (!r) ADD_FAILURE() << "parse failed: " << r.error().message;
  return r ? *r : EventSelection{};
}

std::string parse_error(const Items& items) {
  auto r = parse_event_selection(items);
  if (r) {
    ADD_FAILURE() << "parse of the items succeeded, expected an error";
    return {};
  }
  return r.error().message;
}

bool has(const EventSelection& sel, std::string_view name) {
  const EventInfo* e = find_event(name);
  if (!e) throw std::runtime_error("test names an unknown event " + std::string(name));
  return selected(sel, e->nr);
}

size_t count(const EventSelection& sel) {
  size_t n = 0;
  for (const EventInfo& e : all_events()) n += selected(sel, e.nr);
  return n;
}

size_t count_in_set(uint32_t bit) {
  size_t n = 0;
  for (const EventInfo& e : all_events()) n += (e.sets & bit) != 0;
  return n;
}

TEST(EventSelect, NoItemsMeansTheDefaultSet) {
  EventSelection sel = parse_ok({});
  EXPECT_EQ(count(sel), count_in_set(SET_DEFAULT));
  EXPECT_TRUE(has(sel, "openat"));
  EXPECT_TRUE(has(sel, "execve"));
  EXPECT_TRUE(has(sel, "connect"));
  EXPECT_FALSE(has(sel, "read"));
  EXPECT_FALSE(has(sel, "write"));
  EXPECT_TRUE(sel.fork);
  EXPECT_TRUE(sel.exec);
  EXPECT_TRUE(sel.exit);
  EXPECT_FALSE(sel.cgroup_mkdir);
}

TEST(EventSelect, NamesSelectExactlyThoseEvents) {
  EventSelection sel = parse_ok({"openat,connect"});
  EXPECT_EQ(sel.syscalls.count(), 2u);
  EXPECT_TRUE(sel.syscalls.test(257));
  EXPECT_TRUE(sel.syscalls.test(42));
  EXPECT_FALSE(sel.fork || sel.exec || sel.exit || sel.cgroup_mkdir);
}

TEST(EventSelect, RepeatedOptionsAndSpacesAddUp) {
  EventSelection sel = parse_ok({" openat , close", "execve"});
  EXPECT_EQ(count(sel), 3u);
  EXPECT_TRUE(has(sel, "openat"));
  EXPECT_TRUE(has(sel, "close"));
  EXPECT_TRUE(has(sel, "execve"));
}

TEST(EventSelect, PseudoEventsByName) {
  EventSelection sel = parse_ok({"sched_process_exec,cgroup_mkdir"});
  EXPECT_TRUE(sel.exec);
  EXPECT_TRUE(sel.cgroup_mkdir);
  EXPECT_FALSE(sel.fork);
  EXPECT_FALSE(sel.exit);
  EXPECT_TRUE(sel.syscalls.none());
  EXPECT_TRUE(selected(sel, CGS_EV_PROCESS_EXEC));
  EXPECT_TRUE(selected(sel, CGS_EV_CGROUP_MKDIR));
  EXPECT_FALSE(selected(sel, CGS_EV_PROCESS_FORK));
}

TEST(EventSelect, SetsSelectTheirMembers) {
  EventSelection sel = parse_ok({"set:fs"});
  EXPECT_EQ(count(sel), count_in_set(SET_FS));
  EXPECT_TRUE(has(sel, "read"));
  EXPECT_TRUE(has(sel, "openat"));
  EXPECT_FALSE(has(sel, "connect"));

  EventSelection two = parse_ok({"set:net_sock,set:proc_life"});
  EXPECT_TRUE(has(two, "connect"));
  EXPECT_TRUE(has(two, "execve"));
  EXPECT_TRUE(two.fork && two.exec && two.exit && two.cgroup_mkdir);
  EXPECT_FALSE(has(two, "sendto"));
}

TEST(EventSelect, AllSelectsEverything) {
  EventSelection sel = parse_ok({"all"});
  EXPECT_EQ(count(sel), all_events().size());
  EXPECT_TRUE(sel.fork && sel.exec && sel.exit && sel.cgroup_mkdir);
}

TEST(EventSelect, NegationsRemoveFromPositiveItems) {
  EventSelection sel = parse_ok({"set:fs", "!read"});
  EXPECT_FALSE(has(sel, "read"));
  EXPECT_TRUE(has(sel, "write"));
  EXPECT_EQ(count(sel), count_in_set(SET_FS) - 1);

  EventSelection most = parse_ok({"all,!set:memory"});
  EXPECT_FALSE(has(most, "mmap"));
  EXPECT_TRUE(has(most, "openat"));
  EXPECT_EQ(count(most), all_events().size() - count_in_set(SET_MEMORY));
}

TEST(EventSelect, NegationsApplyWhateverTheirPosition) {
  EventSelection before = parse_ok({"!read", "set:fs"});
  EventSelection after = parse_ok({"set:fs,!read"});
  EXPECT_EQ(before.syscalls, after.syscalls);
  EXPECT_FALSE(has(before, "read"));
  // A negation wins over a later positive item naming the same event.
  EXPECT_FALSE(has(parse_ok({"!openat", "openat,close"}), "openat"));
}

TEST(EventSelect, OnlyNegationsStartFromTheDefaultSet) {
  EventSelection sel = parse_ok({"!openat"});
  EXPECT_FALSE(has(sel, "openat"));
  EXPECT_TRUE(has(sel, "execve"));
  EXPECT_FALSE(has(sel, "read"));
  EXPECT_EQ(count(sel), count_in_set(SET_DEFAULT) - 1);

  EventSelection no_net = parse_ok({"!set:net"});
  EXPECT_FALSE(has(no_net, "connect"));
  EXPECT_TRUE(has(no_net, "execve"));
  EXPECT_TRUE(no_net.exec);
}

TEST(EventSelect, UnknownEventSuggestsTheClosestNames) {
  std::string msg = parse_error({"openat,opnat"});
  EXPECT_NE(msg.find("\"opnat\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean \"openat\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("cgscope trace --list"), std::string::npos) << msg;

  msg = parse_error({"exceve"});
  EXPECT_NE(msg.find("\"execve\""), std::string::npos) << msg;
}

TEST(EventSelect, UnknownNegatedEventNamesTheWholeItem) {
  std::string msg = parse_error({"set:fs", "!reed"});
  EXPECT_NE(msg.find("\"!reed\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"read\""), std::string::npos) << msg;
}

TEST(EventSelect, FarFetchedNamesGetNoSuggestion) {
  std::string msg = parse_error({"xyzzyplughfrobnicate"});
  EXPECT_NE(msg.find("xyzzyplughfrobnicate"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cgscope trace --list"), std::string::npos) << msg;
}

TEST(EventSelect, UnknownSetSuggestsSets) {
  std::string msg = parse_error({"set:nett"});
  EXPECT_NE(msg.find("\"set:nett\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"set:net\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("set"), std::string::npos) << msg;

  msg = parse_error({"set:"});
  EXPECT_NE(msg.find("unknown event set"), std::string::npos) << msg;
}

TEST(EventSelect, SetNameWithoutPrefixSuggestsThePrefix) {
  std::string msg = parse_error({"fs"});
  EXPECT_NE(msg.find("\"set:fs\""), std::string::npos) << msg;
}

TEST(EventSelect, TracepointStyleNameSuggestsTheSyscall) {
  std::string msg = parse_error({"sys_enter_openat"});
  EXPECT_NE(msg.find("did you mean \"openat\""), std::string::npos) << msg;
}

TEST(EventSelect, EmptyItemsAndBareNegationsAreErrors) {
  EXPECT_NE(parse_error({"openat,,close"}).find("empty item"), std::string::npos);
  EXPECT_NE(parse_error({"openat,"}).find("empty item"), std::string::npos);
  EXPECT_NE(parse_error({""}).find("empty item"), std::string::npos);
  EXPECT_NE(parse_error({"!"}).find("\"!\""), std::string::npos);
}

TEST(EventSelect, SelectingNothingIsAnError) {
  EXPECT_NE(parse_error({"!all"}).find("nothing would be traced"), std::string::npos);
  EXPECT_NE(parse_error({"openat", "!openat"}).find("nothing would be traced"), std::string::npos);
}

TEST(EventSelect, SelectedIsFalseOutsideTheTable) {
  EventSelection sel = parse_ok({"all"});
  EXPECT_FALSE(selected(sel, 999));
  EXPECT_FALSE(selected(sel, CGS_EV_LAST + 1));
  EXPECT_FALSE(selected(sel, CGS_MAX_SYSCALLS));
  EXPECT_FALSE(selected(EventSelection{}, 257));
}

TEST(EventSelect, ListShowsEverySetAndEvent) {
  std::string list = format_event_list();
  for (std::string_view name : set_names())
    EXPECT_NE(list.find("\nset:" + std::string(name) + "\n"), std::string::npos) << name;
  for (const EventInfo& e : all_events())
    EXPECT_NE(list.find(" " + std::string(e.name)), std::string::npos) << e.name;
  EXPECT_NE(list.find("sched_process_exec"), std::string::npos);
  for (size_t start = 0, end; start < list.size(); start = end + 1) {
    end = list.find('\n', start);
    if (end == std::string::npos) end = list.size();
    EXPECT_LE(end - start, 79u) << list.substr(start, end - start);
  }
}

}  // namespace
}  // namespace cgscope::trace
