// The ia32 syscall table (data/syscalls_ia32.inc), its names, and -e over both
// tables.
#include <gtest/gtest.h>

#include "cgscope/abi/trace.h"
#include "trace/event_select.h"
#include "trace/ia32_events.h"
#include "trace/schema.h"

namespace cgscope::trace {
namespace {

TEST(Ia32Table, NumbersAreTheI386Ones) {
  struct Row {
    uint32_t nr;
    const char* name;
  } rows[] = {{1, "exit"},     {3, "read"},          {4, "write"},       {5, "open"},      {6, "close"},
              {11, "execve"},  {102, "socketcall"},  {117, "ipc"},       {192, "mmap2"},   {252, "exit_group"},
              {295, "openat"}, {358, "execveat"},    {359, "socket"},    {383, "statx"},   {462, "mseal"}};
  for (const Row& r : rows) {
    const EventInfo* e = find_ia32_event(r.nr);
    ASSERT_NE(e, nullptr) << r.nr;
    EXPECT_EQ(e->name, r.name);
    EXPECT_EQ(e->nr, CGS_IA32_NR_BASE + r.nr);
    EXPECT_EQ(e->abi, Abi::ia32);
    EXPECT_EQ(find_event(CGS_IA32_NR_BASE + r.nr), e);  // one number space with x86_64
    EXPECT_EQ(find_ia32_event(r.name), e);
  }
  EXPECT_EQ(find_event(5)->name, "fstat");  // the x86_64 5 is another call
  EXPECT_EQ(find_ia32_event(uint32_t{453}), nullptr);  // map_shadow_stack is x86_64 only
  EXPECT_EQ(find_ia32_event(uint32_t{CGS_IA32_MAX_SYSCALLS}), nullptr);
  EXPECT_EQ(find_event("socketcall"), nullptr);  // x86_64 lookups stay x86_64
}

TEST(Ia32Table, ArgumentsAreBorrowedWhereTheyMatch) {
  const EventInfo* open = find_ia32_event("open");
  EXPECT_TRUE(open->args_known);
  EXPECT_EQ(open->spec, "open");
  EXPECT_EQ(open->args[0].name, "filename");
  EXPECT_EQ(open->sets & SET_DEFAULT, SET_DEFAULT);
  const EventInfo* mmap2 = find_ia32_event("mmap2");
  EXPECT_EQ(mmap2->spec, "mmap");
  EXPECT_TRUE(mmap2->args_known);
  // Other arguments than the x86_64 namesake's: raw.
  for (const char* raw : {"mmap", "clone", "pread64", "socketcall", "ipc"}) {
    const EventInfo* e = find_ia32_event(raw);
    ASSERT_NE(e, nullptr) << raw;
    EXPECT_FALSE(e->args_known) << raw;
    EXPECT_EQ(e->spec, "") << raw;
  }
  EXPECT_NE(find_ia32_event("socketcall")->sets & SET_NET, 0u);
}

TEST(Ia32Table, SchemaCapturesStringsAsX86_64Does) {
  const EventDesc* open = Schema::get().find(CGS_IA32_NR_BASE + 5);
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->abi, Abi::ia32);
  EXPECT_EQ(open->args[1].format, ArgFormat::open_flags);
  auto k = Schema::get().kernel_kinds(CGS_IA32_NR_BASE + 5);
  EXPECT_EQ(CGS_KIND(k[0]), CGS_ARG_STR);
  // Strings only: buffers, socket addresses and structs stay addresses for an
  // ia32 call (the ia32 exit captures nothing else), where x86_64 captures them.
  auto w = Schema::get().kernel_kinds(CGS_IA32_NR_BASE + 4);
  EXPECT_EQ(CGS_KIND(w[1]), CGS_ARG_RAW);
  EXPECT_EQ(CGS_KIND(Schema::get().kernel_kinds(1)[1]), CGS_ARG_BUF);  // x86_64 write
  auto st = Schema::get().kernel_kinds(CGS_IA32_NR_BASE + 106);        // i386 stat
  EXPECT_EQ(CGS_KIND(st[1]), CGS_ARG_RAW);
  // No fd-path sections: the fd table is x86_64's only (the x86_64 read has one).
  auto r = Schema::get().kernel_kinds(CGS_IA32_NR_BASE + 3);
  EXPECT_EQ(CGS_KIND(r[0]), CGS_ARG_RAW);
  const EventDesc* fcntl64 = Schema::get().find(CGS_IA32_NR_BASE + 221);
  EXPECT_EQ(fcntl64->ret, RetFormat::fcntl);
}

TEST(Ia32Names, QualifiedAndSlots) {
  EXPECT_EQ(qualified_name(*find_ia32_event("open")), "ia32:open");
  EXPECT_EQ(qualified_name(*find_event("open")), "open");
  EXPECT_EQ(abi_name(Abi::ia32), "ia32");
  EXPECT_EQ(kernel_slot(CGS_IA32_NR_BASE + 5), uint32_t{CGS_IA32_SLOT + 5});
  EXPECT_EQ(kernel_slot(2), 2u);
  EXPECT_TRUE(is_syscall_nr(CGS_IA32_NR_BASE));
  EXPECT_FALSE(is_syscall_nr(CGS_EV_PROCESS_EXEC));
  EXPECT_FALSE(is_ia32_nr(CGS_IA32_NR_BASE + CGS_IA32_MAX_SYSCALLS));
}

TEST(Ia32Names, SignedArgumentsAreWidened) {
  EXPECT_EQ(int64_t(ia32_arg_value(ArgFormat::dirfd, 0xffffff9c)), -100);
  EXPECT_EQ(int64_t(ia32_arg_value(ArgFormat::signed_dec, 0xffffffff)), -1);
  EXPECT_EQ(ia32_arg_value(ArgFormat::unsigned_dec, 0xffffffff), 0xffffffffu);
  EXPECT_EQ(ia32_arg_value(ArgFormat::pointer, 0x80001000), 0x80001000u);
}

EventSelection select(std::vector<std::string> items) {
  auto r = parse_event_selection(items);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : EventSelection{};
}

TEST(Ia32Select, PrefixesPickOneTablePlainNamesBoth) {
  auto only32 = select({"ia32:open"});
  EXPECT_TRUE(only32.ia32.test(5));
  EXPECT_FALSE(only32.syscalls.test(2));
  EXPECT_TRUE(selected(only32, CGS_IA32_NR_BASE + 5));
  EXPECT_FALSE(selected(only32, 2));
  auto only64 = select({"x86_64:open"});
  EXPECT_TRUE(only64.syscalls.test(2));
  EXPECT_TRUE(only64.ia32.none());
  auto both = select({"open"});
  EXPECT_TRUE(both.syscalls.test(2));
  EXPECT_TRUE(both.ia32.test(5));
  EXPECT_EQ(both.ia32.count(), 1u);
  auto minus = select({"open,!ia32:open"});
  EXPECT_TRUE(minus.syscalls.test(2));
  EXPECT_TRUE(minus.ia32.none());
  auto ia32_only_name = select({"socketcall"});
  EXPECT_TRUE(ia32_only_name.ia32.test(102));
  EXPECT_TRUE(ia32_only_name.syscalls.none());
}

TEST(Ia32Select, SetsDefaultAndAllIncludeIa32) {
  auto def = select({});
  EXPECT_TRUE(def.ia32.test(5));    // open
  EXPECT_TRUE(def.ia32.test(11));   // execve
  EXPECT_TRUE(def.ia32.test(102));  // socketcall: socket and connect through it
  EXPECT_FALSE(def.ia32.test(3));   // read, as on x86_64
  auto all = select({"all"});
  EXPECT_TRUE(all.ia32.test(3));
  EXPECT_TRUE(all.ia32.test(117));
  auto fs = select({"set:fs_read_write"});
  EXPECT_TRUE(fs.ia32.test(3));
  EXPECT_TRUE(fs.ia32.test(4));
  EXPECT_TRUE(fs.ia32.test(140));  // _llseek
}

TEST(Ia32Select, UnknownPrefixedNamesFail) {
  EXPECT_FALSE(parse_event_selection({"ia32:nosuch"}).has_value());
  auto typo = parse_event_selection({"ia32:opne"});
  ASSERT_FALSE(typo.has_value());
  EXPECT_NE(typo.error().message.find("did you mean \"ia32:open\""), std::string::npos) << typo.error().message;
  EXPECT_FALSE(parse_event_selection({"x86_64:socketcall"}).has_value());
  EXPECT_FALSE(parse_event_selection({"x86_64:sched_process_exec"}).has_value());
  EXPECT_FALSE(parse_event_selection({"ia32:sched_process_exec"}).has_value());
  EXPECT_TRUE(parse_event_selection({"sched_process_exec"}).has_value());
}

}  // namespace
}  // namespace cgscope::trace
