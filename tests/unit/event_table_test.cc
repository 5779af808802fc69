#include "trace/event_table.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "cgscope/abi/trace.h"

namespace cgscope::trace {
namespace {

// The argument list of an event as "type name" strings, for readable comparisons.
std::vector<std::string> args_of(const EventInfo& e) {
  std::vector<std::string> out;
  for (unsigned i = 0; i < e.nargs; ++i) out.push_back(std::string(e.args[i].type) + " " + std::string(e.args[i].name));
  return out;
}

const EventInfo& must_find(std::string_view name) {
  const EventInfo* e = find_event(name);
  if (!e) throw std::runtime_error("no event " + std::string(name));
  return *e;
}

TEST(EventTable, FindsSyscallsByNumberAndName) {
  const EventInfo* by_nr = find_event(257u);
  ASSERT_NE(by_nr, nullptr);
  EXPECT_EQ(by_nr->name, "openat");
  EXPECT_TRUE(by_nr->is_syscall);
  EXPECT_EQ(find_event("openat"), by_nr);

  ASSERT_NE(find_event(0u), nullptr);
  EXPECT_EQ(find_event(0u)->name, "read");
  ASSERT_NE(find_event(59u), nullptr);
  EXPECT_EQ(find_event(59u)->name, "execve");
  ASSERT_NE(find_event("connect"), nullptr);
  EXPECT_EQ(find_event("connect")->nr, 42u);
  ASSERT_NE(find_event("clone3"), nullptr);
  EXPECT_EQ(find_event("clone3")->nr, 435u);
}

TEST(EventTable, UnknownNumbersAndNamesAreNull) {
  EXPECT_EQ(find_event(400u), nullptr);  // x86_64 has no syscalls numbered 337..423
  EXPECT_EQ(find_event(uint32_t{CGS_MAX_SYSCALLS}), nullptr);
  EXPECT_EQ(find_event(999u), nullptr);
  EXPECT_EQ(find_event(uint32_t{CGS_EV_LAST + 1}), nullptr);
  EXPECT_EQ(find_event(0xffffffffu), nullptr);
  EXPECT_EQ(find_event("no_such_syscall"), nullptr);
  EXPECT_EQ(find_event(""), nullptr);
  EXPECT_EQ(find_event("OPENAT"), nullptr);
}

TEST(EventTable, ArgumentsAreNamedAsTheKernelNamesThem) {
  EXPECT_EQ(args_of(must_find("openat")),
            (std::vector<std::string>{"int dfd", "const char * filename", "int flags", "umode_t mode"}));
  EXPECT_EQ(args_of(must_find("execve")), (std::vector<std::string>{"const char * filename",
                                                                    "const char *const * argv",
                                                                    "const char *const * envp"}));
  EXPECT_EQ(args_of(must_find("connect")),
            (std::vector<std::string>{"int fd", "struct sockaddr * uservaddr", "int addrlen"}));
  EXPECT_EQ(args_of(must_find("execveat")),
            (std::vector<std::string>{"int fd", "const char * filename", "const char *const * argv",
                                      "const char *const * envp", "int flags"}));
  EXPECT_TRUE(must_find("openat").args_known);
  EXPECT_EQ(must_find("getpid").nargs, 0);
  EXPECT_EQ(must_find("mmap").nargs, 6);
}

TEST(EventTable, SyscallsWithRenamedTracepointsHaveKnownArgs) {
  // tracefs calls these newstat, newfstat, newuname, sendfile64, umount.
  EXPECT_EQ(args_of(must_find("stat")), (std::vector<std::string>{"const char * filename", "struct stat * statbuf"}));
  EXPECT_TRUE(must_find("fstat").args_known);
  EXPECT_TRUE(must_find("lstat").args_known);
  EXPECT_TRUE(must_find("uname").args_known);
  EXPECT_TRUE(must_find("newfstatat").args_known);
  EXPECT_EQ(must_find("sendfile").nargs, 4);
  EXPECT_TRUE(must_find("sendfile").args_known);
  EXPECT_TRUE(must_find("umount2").args_known);
}

TEST(EventTable, UndescribedSyscallsGetGenericArgs) {
  // afs_syscall is not implemented on x86_64, so no kernel describes it.
  const EventInfo& e = must_find("afs_syscall");
  EXPECT_FALSE(e.args_known);
  EXPECT_EQ(args_of(e), (std::vector<std::string>{"unsigned long arg0", "unsigned long arg1", "unsigned long arg2",
                                                  "unsigned long arg3", "unsigned long arg4", "unsigned long arg5"}));
  // Nearly every syscall is described.
  size_t known = 0;
  for (const EventInfo& ev : all_events()) known += ev.args_known;
  EXPECT_GT(known, 330u);
}

TEST(EventTable, EverySyscallOfTheUapiHeaderIsPresent) {
  const char* path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << path << " is not installed";
  std::regex define(R"(^#define __NR_(\w+) (\d+)\s*$)");
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, define)) continue;
    ++n;
    uint32_t nr = static_cast<uint32_t>(std::stoul(m[2]));
    const EventInfo* e = find_event(nr);
    ASSERT_NE(e, nullptr) << m[1] << " (" << nr << ") is missing";
    EXPECT_EQ(e->name, m[1].str()) << "nr " << nr;
    EXPECT_TRUE(e->is_syscall);
  }
  EXPECT_GT(n, 350u);
}

TEST(EventTable, AllEventsAreOrderedAndUnique) {
  auto events = all_events();
  ASSERT_GT(events.size(), 370u);
  std::set<std::string_view> names;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_TRUE(names.insert(events[i].name).second) << events[i].name;
    if (i > 0) {
      EXPECT_LT(events[i - 1].nr, events[i].nr);
    }
    EXPECT_EQ(find_event(events[i].nr), &events[i]);
    EXPECT_EQ(find_event(events[i].name), &events[i]);
    for (unsigned a = 0; a < events[i].nargs; ++a) {
      EXPECT_FALSE(events[i].args[a].type.empty()) << events[i].name << " arg " << a;
      EXPECT_FALSE(events[i].args[a].name.empty()) << events[i].name << " arg " << a;
    }
  }
}

TEST(EventTable, PseudoEventsMatchTheAbi) {
  const EventInfo* fork = find_event(uint32_t{CGS_EV_PROCESS_FORK});
  ASSERT_NE(fork, nullptr);
  EXPECT_EQ(fork->name, "sched_process_fork");
  EXPECT_FALSE(fork->is_syscall);
  EXPECT_EQ(args_of(*fork),
            (std::vector<std::string>{"pid_t child_pid", "pid_t child_tid", "u32 pidns", "u32 pidns_level"}));

  const EventInfo* exec = find_event(uint32_t{CGS_EV_PROCESS_EXEC});
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->name, "sched_process_exec");
  EXPECT_EQ(args_of(*exec), (std::vector<std::string>{"const char * filename", "const char *const * argv",
                                                      "pid_t old_pid", "u32 pidns", "u32 pidns_level"}));

  const EventInfo* exit = find_event(uint32_t{CGS_EV_PROCESS_EXIT});
  ASSERT_NE(exit, nullptr);
  EXPECT_EQ(exit->name, "sched_process_exit");
  EXPECT_EQ(args_of(*exit), (std::vector<std::string>{"int exit_code", "int signal", "u32 pidns"}));

  const EventInfo* mkdir = find_event(uint32_t{CGS_EV_CGROUP_MKDIR});
  ASSERT_NE(mkdir, nullptr);
  EXPECT_EQ(mkdir->name, "cgroup_mkdir");
  EXPECT_EQ(args_of(*mkdir), (std::vector<std::string>{"u64 id", "u32 level", "const char * path"}));

  for (const EventInfo* e : {fork, exec, exit, mkdir}) {
    EXPECT_EQ(find_event(e->name), e);
    EXPECT_TRUE(e->sets & SET_PROC) << e->name;
    EXPECT_TRUE(e->sets & SET_PROC_LIFE) << e->name;
  }
  EXPECT_TRUE(fork->sets & SET_DEFAULT);
  EXPECT_TRUE(exec->sets & SET_DEFAULT);
  EXPECT_TRUE(exit->sets & SET_DEFAULT);
  EXPECT_FALSE(mkdir->sets & SET_DEFAULT);
}

TEST(EventTable, EverySetHasEvents) {
  ASSERT_EQ(set_names().size(), kEventSetCount);
  for (std::string_view name : set_names()) {
    auto bit = find_set(name);
    ASSERT_TRUE(bit.has_value()) << name;
    size_t n = 0;
    for (const EventInfo& e : all_events()) n += (e.sets & *bit) != 0;
    EXPECT_GT(n, 0u) << "set " << name << " is empty";
    EXPECT_FALSE(set_description(*bit).empty()) << name;
  }
}

TEST(EventTable, SetNamesRoundTrip) {
  EXPECT_EQ(find_set("default"), uint32_t{SET_DEFAULT});
  EXPECT_EQ(find_set("fs_file_attr"), uint32_t{SET_FS_FILE_ATTR});
  EXPECT_EQ(find_set("system"), uint32_t{SET_SYSTEM});
  EXPECT_EQ(find_set("nosuchset"), std::nullopt);
  EXPECT_EQ(find_set("set:fs"), std::nullopt);
  EXPECT_EQ(set_name(SET_NET_SOCK), "net_sock");
  EXPECT_EQ(set_name(SET_PROC_IDS), "proc_ids");
  EXPECT_EQ(set_name(0), "");
  EXPECT_EQ(set_name(SET_FS | SET_NET), "");
  EXPECT_EQ(set_name(1u << 31), "");
  for (std::string_view name : set_names()) EXPECT_EQ(set_name(*find_set(name)), name);
}

TEST(EventTable, DefaultSetLeavesOutHighVolumeSyscalls) {
  for (const char* name : {"read", "write", "pread64", "readv", "mmap", "munmap", "brk", "futex", "poll", "epoll_wait",
                           "clock_gettime", "nanosleep", "close", "fstat", "lseek", "rt_sigprocmask", "getpid"})
    EXPECT_FALSE(must_find(name).sets & SET_DEFAULT) << name;
  for (const char* name : {"openat", "execve", "connect", "accept4", "bind", "setuid", "mount", "finit_module",
                           "bpf", "ptrace", "unlinkat", "renameat2", "chmod", "clone3"})
    EXPECT_TRUE(must_find(name).sets & SET_DEFAULT) << name;
}

TEST(EventTable, SubsetsAreInsideTheirParentSet) {
  const std::map<uint32_t, uint32_t> parent = {
      {SET_FS_READ_WRITE, SET_FS}, {SET_FS_FILE_OPS, SET_FS}, {SET_FS_DIR_OPS, SET_FS},
      {SET_FS_LINK_OPS, SET_FS},   {SET_FS_FILE_ATTR, SET_FS}, {SET_NET_SOCK, SET_NET},
      {SET_PROC_LIFE, SET_PROC},   {SET_PROC_IDS, SET_PROC},
  };
  for (const EventInfo& e : all_events())
    for (auto [sub, sup] : parent)
      if (e.sets & sub) {
        EXPECT_TRUE(e.sets & sup) << e.name << " is in " << set_name(sub) << " but not " << set_name(sup);
      }
}

TEST(EventTable, ClassifiesWellKnownSyscalls) {
  EXPECT_TRUE(must_find("read").sets & SET_FS_READ_WRITE);
  EXPECT_TRUE(must_find("openat").sets & SET_FS_FILE_OPS);
  EXPECT_TRUE(must_find("getdents64").sets & SET_FS_DIR_OPS);
  EXPECT_TRUE(must_find("unlinkat").sets & SET_FS_LINK_OPS);
  EXPECT_TRUE(must_find("fchmodat").sets & SET_FS_FILE_ATTR);
  EXPECT_TRUE(must_find("connect").sets & SET_NET_SOCK);
  EXPECT_TRUE(must_find("sendmsg").sets & SET_NET);
  EXPECT_FALSE(must_find("sendmsg").sets & SET_NET_SOCK);
  EXPECT_TRUE(must_find("wait4").sets & SET_PROC_LIFE);
  EXPECT_TRUE(must_find("setresuid").sets & SET_PROC_IDS);
  EXPECT_TRUE(must_find("pipe2").sets & SET_IPC);
  EXPECT_TRUE(must_find("rt_sigaction").sets & SET_SIGNALS);
  EXPECT_TRUE(must_find("mprotect").sets & SET_MEMORY);
  EXPECT_TRUE(must_find("clock_nanosleep").sets & SET_TIME);
  EXPECT_TRUE(must_find("reboot").sets & SET_SYSTEM);
  EXPECT_FALSE(must_find("openat").sets & SET_NET);
}

}  // namespace
}  // namespace cgscope::trace
