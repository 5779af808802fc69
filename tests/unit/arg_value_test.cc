// Arguments become values once (arg_value.h): the kinds the writers render.
#include <gtest/gtest.h>

#include "trace/arg_value.h"
#include "trace/schema.h"

namespace cgscope::trace {
namespace {

TEST(ArgValue, ADirfdIsANumberButAtFdcwdHasItsName) {
  ArgDesc dfd{"dfd", ArgFormat::dirfd};
  VarSection none;
  auto three = arg_value(dfd, 3, none);
  EXPECT_EQ(three.kind, ArgValue::Kind::number);
  std::string out;
  append_scalar_text(out, three.format, three.raw);
  EXPECT_EQ(out, "3");
  auto cwd = arg_value(dfd, uint64_t(int64_t(-100)), none);
  EXPECT_EQ(cwd.kind, ArgValue::Kind::scalar);
  out.clear();
  append_scalar_text(out, cwd.format, cwd.raw);
  EXPECT_EQ(out, "AT_FDCWD");
}

TEST(ArgValue, APointerNotCapturedIsItsAddressAndNullIsNull) {
  ArgDesc path{"filename", ArgFormat::string};
  VarSection none;
  EXPECT_EQ(arg_value(path, 0, none).kind, ArgValue::Kind::null);
  auto p = arg_value(path, 0x7ffd1000, none);
  EXPECT_EQ(p.kind, ArgValue::Kind::scalar);
  std::string out;
  append_scalar_text(out, p.format, p.raw);
  EXPECT_EQ(out, "0x7ffd1000");
}

TEST(ArgValue, ACapturedStringWinsOverTheRegisterAndAFaultIsNull) {
  ArgDesc path{"filename", ArgFormat::string};
  static const uint8_t bytes[] = {'/', 't', 'm', 'p', 0};
  VarSection s;
  s.present = true;
  s.kind = CGS_ARG_STR;
  s.data = bytes;
  auto v = arg_value(path, 0x1234, s);
  ASSERT_EQ(v.kind, ArgValue::Kind::string);
  EXPECT_EQ(v.str, "/tmp");
  s.flags = CGS_VAR_F_FAULT;
  EXPECT_EQ(arg_value(path, 0x1234, s).kind, ArgValue::Kind::null);
}

}  // namespace
}  // namespace cgscope::trace
