// Which cgroups hold cgscope's own sockets for the proxy's hooks: the proxied
// cgroup and everything below it, and nothing that only shares a prefix.
#include <gtest/gtest.h>

#include "proxy/self_exempt.h"

namespace cgscope::proxy {
namespace {

TEST(ProxySelfExempt, ACgroupIsWithinItselfItsAncestorsAndTheRoot) {
  EXPECT_TRUE(cgroup_within("/a/b", "/a/b"));
  EXPECT_TRUE(cgroup_within("/a/b/c", "/a/b"));
  EXPECT_TRUE(cgroup_within("/a/b", "/a"));
  EXPECT_TRUE(cgroup_within("/a/b", "/"));
  EXPECT_TRUE(cgroup_within("/", "/"));
}

TEST(ProxySelfExempt, NotWithinASiblingOrAPrefixOrADescendant) {
  EXPECT_FALSE(cgroup_within("/a/bc", "/a/b")) << "a name prefix is not a parent";
  EXPECT_FALSE(cgroup_within("/a/c", "/a/b"));
  EXPECT_FALSE(cgroup_within("/a", "/a/b"));
  EXPECT_FALSE(cgroup_within("/", "/a"));
}

}  // namespace
}  // namespace cgscope::proxy
