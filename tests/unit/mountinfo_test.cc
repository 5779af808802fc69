// Parsing /proc/self/mountinfo and /proc/PID/cgroup text (no I/O).
#include <gtest/gtest.h>

#include <cerrno>

#include "core/cgroup2.h"
#include "core/host_mounts.h"
#include "core/mountinfo.h"

namespace cgscope {
namespace {

// A hybrid host (systemd's legacy + unified layout): v1 controllers under a tmpfs
// at /sys/fs/cgroup, v2 at /sys/fs/cgroup/unified.
constexpr const char* kHybrid =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw\n"
    "31 24 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup "
    "rw,xattr,name=systemd\n"
    "34 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory\n";

// A pure v2 host, optional fields of every kind.
constexpr const char* kUnified =
    "25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro\n"
    "26 25 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
    "30 26 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 master:1 propagate_from:2 - cgroup2 "
    "cgroup2 rw,nsdelegate,memory_recursiveprot\n"
    "31 26 0:27 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:5 - pstore pstore rw\n";

TEST(Mountinfo, FindsUnifiedMountOnHybridHost) {
  auto m = find_cgroup2_mount(kHybrid);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m, "/sys/fs/cgroup/unified");
}

TEST(Mountinfo, FindsMountOnPureV2Host) {
  auto m = find_cgroup2_mount(kUnified);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m, "/sys/fs/cgroup");
}

TEST(Mountinfo, NoOptionalFields) {
  auto m = find_cgroup2_mount("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m, "/sys/fs/cgroup/unified");
}

TEST(Mountinfo, UnescapesOctalInMountPoint) {
  auto m = find_cgroup2_mount("50 22 0:40 / /mnt/my\\040cgroups\\011x\\134y rw - cgroup2 none rw\n");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m, "/mnt/my cgroups\tx\\y");
}

TEST(Mountinfo, NoCgroup2IsAnError) {
  // A pure v1 host: cgroup (v1) mounts only. "cgroup" must not pass for "cgroup2".
  constexpr const char* kV1 =
      "31 24 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
      "33 31 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
      "34 31 0:32 / /sys/fs/cgroup/cgroup2 rw - cgroup cgroup rw,memory\n";
  auto m = find_cgroup2_mount(kV1);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ENOENT);
  EXPECT_NE(m.error().message.find("cgroup2"), std::string::npos);
  EXPECT_FALSE(find_cgroup2_mount(""));
  EXPECT_FALSE(find_cgroup2_mount("\n\n   \n"));
}

TEST(Mountinfo, FstypeIsTakenAfterTheSeparatorOnly) {
  // "cgroup2" as the source or in the options, fstype tmpfs: not a cgroup2 mount.
  EXPECT_FALSE(find_cgroup2_mount("50 22 0:40 / /a rw shared:1 - tmpfs cgroup2 rw\n"));
  EXPECT_FALSE(find_cgroup2_mount("50 22 0:40 / /a cgroup2 - tmpfs tmpfs rw\n"));
  // No separator at all, or nothing after it.
  EXPECT_FALSE(find_cgroup2_mount("50 22 0:40 / /a rw cgroup2 cgroup2 rw\n"));
  EXPECT_FALSE(find_cgroup2_mount("50 22 0:40 / /a rw shared:1 -\n"));
}

TEST(Mountinfo, MalformedLinesAreSkipped) {
  std::string text = "garbage\n1 2\n50 22 0:40 / relative rw - cgroup2 none rw\n";
  text += kHybrid;
  auto m = find_cgroup2_mount(text);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m, "/sys/fs/cgroup/unified");
}

TEST(Mountinfo, PrefersWholeHierarchyOverSubtreeBindMount) {
  // A container runtime bind-mounted a subtree somewhere first; the real mount comes later.
  constexpr const char* kText =
      "60 22 0:26 /system.slice/docker-x.scope /run/ctr/cgroup rw - cgroup2 cgroup2 rw\n"
      "30 26 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  auto m = find_cgroup2_mount(kText);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m, "/sys/fs/cgroup");
  // Only a subtree mount: better than nothing.
  auto only = find_cgroup2_mount("60 22 0:26 /sub /run/ctr/cgroup rw - cgroup2 cgroup2 rw\n");
  ASSERT_TRUE(only);
  EXPECT_EQ(*only, "/run/ctr/cgroup");
}

TEST(Mountinfo, MountCoveredByLaterMountIsSkipped) {
  // cgroup2 at /sys/fs/cgroup, then a tmpfs mounted over it: the cgroup2 one is hidden.
  constexpr const char* kCovered =
      "30 26 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
      "31 30 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n";
  auto m = find_cgroup2_mount(kCovered);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("covered"), std::string::npos);

  // Covered from above: a new mount on /sys hides /sys/fs/cgroup/unified.
  std::string text = kHybrid;
  text += "90 22 0:50 / /sys rw - tmpfs tmpfs rw\n";
  EXPECT_FALSE(find_cgroup2_mount(text));

  // A later mount on a sibling with a common string prefix does not cover it.
  text = kHybrid;
  text += "91 31 0:51 / /sys/fs/cgroup/unified2 rw - tmpfs tmpfs rw\n";
  auto ok = find_cgroup2_mount(text);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, "/sys/fs/cgroup/unified");

  // Hidden first mount, visible later one: the later one.
  text = std::string(kCovered) + "32 31 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  auto later = find_cgroup2_mount(text);
  ASSERT_TRUE(later);
  EXPECT_EQ(*later, "/sys/fs/cgroup/unified");
}

TEST(Mountinfo, LastLineWithoutNewline) {
  auto m = find_cgroup2_mount("30 26 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "/sys/fs/cgroup");
}

TEST(Mountinfo, TrailingSlashIsDropped) {
  auto m = find_cgroup2_mount("30 26 0:26 / /cg/ rw - cgroup2 cgroup2 rw\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "/cg");
}

TEST(Mountinfo, UnescapeField) {
  EXPECT_EQ(unescape_mountinfo_field("plain"), "plain");
  EXPECT_EQ(unescape_mountinfo_field("a\\040b"), "a b");
  EXPECT_EQ(unescape_mountinfo_field("\\012"), "\n");
  EXPECT_EQ(unescape_mountinfo_field("\\134\\134"), "\\\\");
  // Not three octal digits, or past the end: kept literally.
  EXPECT_EQ(unescape_mountinfo_field("a\\08b"), "a\\08b");
  EXPECT_EQ(unescape_mountinfo_field("end\\04"), "end\\04");
  EXPECT_EQ(unescape_mountinfo_field("end\\"), "end\\");
  // Above a byte: kept literally.
  EXPECT_EQ(unescape_mountinfo_field("\\777"), "\\777");
  EXPECT_EQ(unescape_mountinfo_field(""), "");
}

TEST(Mountinfo, ParsesEntriesWithRootMountPointAndType) {
  auto e = parse_mountinfo(kHybrid);
  ASSERT_EQ(e.size(), 7u);
  EXPECT_EQ(e[4].mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(e[4].fstype, "cgroup2");
  EXPECT_EQ(e[4].root, "/");
  EXPECT_TRUE(is_mount_point(e, "/sys/fs/cgroup"));
  EXPECT_FALSE(is_mount_point(e, "/sys/fs"));
}

TEST(Mountinfo, MountPointCoveredLaterIsNotVisible) {
  auto e = parse_mountinfo(
      "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
      "40 22 0:40 / /sys/fs rw - tmpfs tmpfs rw\n");
  EXPECT_FALSE(is_mount_point(e, "/sys/fs/cgroup"));
  EXPECT_TRUE(is_mount_point(e, "/sys/fs"));
}

// Where cgroup2 goes when nothing mounted it: /sys/fs/cgroup itself, unless a
// (v1) tmpfs sits there, as on hybrid hosts.
TEST(HostMounts, Cgroup2TargetIsTheCgroupDirUnlessSomethingIsMountedThere) {
  EXPECT_EQ(cgroup2_mount_target("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                                 "24 22 0:22 / /sys rw - sysfs sysfs rw\n"),
            "/sys/fs/cgroup");
  EXPECT_EQ(cgroup2_mount_target("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                                 "31 22 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n"
                                 "33 31 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"),
            "/sys/fs/cgroup/unified");
}

TEST(HostMounts, MountCommandNamesTypeSourceAndTarget) {
  EXPECT_EQ(mount_command({"tracefs", "/sys/kernel/tracing", ""}), "mount -t tracefs tracefs /sys/kernel/tracing");
  EXPECT_EQ(mount_command({"bpf", "/sys/fs/bpf", ""}), "mount -t bpf bpf /sys/fs/bpf");
}

TEST(ProcCgroup, PureV2) {
  auto p = parse_proc_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, "/user.slice/user-1000.slice/session-2.scope");
}

TEST(ProcCgroup, HybridTakesTheV2Line) {
  constexpr const char* kText =
      "12:pids:/system.slice/docker.service\n"
      "4:memory:/process_api/67b1\n"
      "1:name=systemd:/system.slice/docker.service\n"
      "0::/system.slice/docker.service\n";
  auto p = parse_proc_cgroup(kText);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, "/system.slice/docker.service");
}

TEST(ProcCgroup, RootAndColonsInPath) {
  auto root = parse_proc_cgroup("0::/\n");
  ASSERT_TRUE(root);
  EXPECT_EQ(*root, "/");
  auto colon = parse_proc_cgroup("0::/a:b/c::d");
  ASSERT_TRUE(colon);
  EXPECT_EQ(*colon, "/a:b/c::d");
}

TEST(ProcCgroup, DeletedSuffixIsStripped) {
  auto p = parse_proc_cgroup("0::/system.slice/gone.scope (deleted)\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, "/system.slice/gone.scope");
}

TEST(ProcCgroup, MissingOrMalformedIsAnError) {
  auto none = parse_proc_cgroup("4:memory:/x\n1:name=systemd:/\n");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ENOENT);
  EXPECT_FALSE(parse_proc_cgroup(""));
  EXPECT_FALSE(parse_proc_cgroup("0::relative/path\n"));
  EXPECT_FALSE(parse_proc_cgroup("0::\n"));
  // "10::" is hierarchy 10, not 0.
  EXPECT_FALSE(parse_proc_cgroup("10::/x\n"));
}

}  // namespace
}  // namespace cgscope
