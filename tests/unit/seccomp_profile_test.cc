// The profile writer (trace/seccomp_profile.h): its JSON, and that the names it
// takes from cgscope's syscall table are libseccomp's.
#include <seccomp.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cgscope/abi/trace.h"
#include "trace/schema.h"
#include "trace/seccomp_profile.h"

namespace cgscope::trace {
namespace {

const std::string kX64(kScmpArchX86_64);

TEST(SeccompProfile, AllowsExactlyTheNamesAndDeniesTheRestWithEperm) {
  auto text = seccomp_profile_json({{kX64, "write"}, {kX64, "read"}, {kX64, "exit_group"}});
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(j["defaultErrnoRet"], 1);
  EXPECT_EQ(j["architectures"], nlohmann::json::array({"SCMP_ARCH_X86_64"}));
  ASSERT_EQ(j["syscalls"].size(), 1u);
  EXPECT_EQ(j["syscalls"][0]["action"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(j["syscalls"][0]["names"], nlohmann::json::array({"exit_group", "read", "write"}));  // sorted
  EXPECT_FALSE(j.contains("archMap")) << "one of architectures/archMap only: docker refuses both";
  EXPECT_EQ(text.back(), '\n');
}

TEST(SeccompProfile, KeysInMobysOrderAndTheSameBytesForTheSameSet) {
  SyscallUses a{{kX64, "openat"}, {kX64, "close"}};
  SyscallUses b{{kX64, "close"}, {kX64, "openat"}};
  EXPECT_EQ(seccomp_profile_json(a), seccomp_profile_json(b));
  auto text = seccomp_profile_json(a);
  EXPECT_LT(text.find("defaultAction"), text.find("defaultErrnoRet"));
  EXPECT_LT(text.find("defaultErrnoRet"), text.find("architectures"));
  EXPECT_LT(text.find("architectures"), text.find("syscalls"));
}

TEST(SeccompProfile, NothingSeenIsAProfileThatAllowsNothing) {
  auto j = nlohmann::json::parse(seccomp_profile_json({}));
  EXPECT_EQ(j["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_TRUE(j["syscalls"].is_array());
  EXPECT_TRUE(j["syscalls"].empty());
}

// The format cannot tie a name to one architecture: names of every architecture
// seen share one list, and each architecture is listed once.
TEST(SeccompProfile, SeveralArchitecturesShareOneNameList) {
  const std::string x86(kScmpArchX86);
  auto j = nlohmann::json::parse(seccomp_profile_json({{kX64, "read"}, {x86, "read"}, {x86, "socketcall"}}));
  EXPECT_EQ(j["architectures"], nlohmann::json::array({"SCMP_ARCH_X86", "SCMP_ARCH_X86_64"}));
  EXPECT_EQ(j["syscalls"][0]["names"], nlohmann::json::array({"read", "socketcall"}));
}

// Every name of cgscope's x86_64 table that the linked libseccomp knows is the
// same syscall to it, and no number has another name there: the profile can use
// the table's names as they are. Names newer than this libseccomp are the kernel's,
// which later libseccomp releases take over unchanged.
TEST(SeccompProfile, TableNamesAreLibseccompsNames) {
  int known = 0;
  for (uint32_t nr = 0; nr < CGS_MAX_SYSCALLS; nr++) {
    const EventDesc* d = Schema::get().find(nr);
    if (!d) continue;
    std::string name(d->name);
    int resolved = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str());
    char* back = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, int(nr));
    if (resolved != __NR_SCMP_ERROR) {
      known++;
      EXPECT_EQ(resolved, int(nr)) << name;
    }
    if (back) EXPECT_EQ(std::string(back), name) << "libseccomp names syscall " << nr << " " << back;
    free(back);
  }
  EXPECT_GT(known, 300) << "the table and libseccomp should share most names";
}

}  // namespace
}  // namespace cgscope::trace
