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

// futex's utime: a timespec for the wait ops, val2 (a number) for the others,
// whatever the kernel's read of the register found; NULL for a wait op's NULL.
TEST(ArgValue, FutexUtimeIsReadByTheOp) {
  ArgDesc utime{"utime", ArgFormat::futex_timeout};
  static const uint8_t ts[16] = {1};  // {tv_sec=1, tv_nsec=0}
  VarSection s;
  s.present = true;
  s.kind = CGS_ARG_STRUCT;
  s.data = ts;
  constexpr uint64_t kWaitPrivate = 128, kWaitBitset = 9, kCmpRequeuePrivate = 132, kWakeOp = 5;
  for (uint64_t op : {kWaitPrivate, kWaitBitset}) {
    auto v = arg_value(utime, 0x7ffd1000, s, op, -11);
    ASSERT_EQ(v.kind, ArgValue::Kind::structure) << op;
    std::string out;
    append_struct_value(out, v, false);
    EXPECT_EQ(out, "{tv_sec=1, tv_nsec=0}");
  }
  VarSection none;
  EXPECT_EQ(arg_value(utime, 0, none, kWaitPrivate).kind, ArgValue::Kind::null);
  VarSection fault;
  fault.present = true;
  fault.kind = CGS_ARG_STRUCT;
  fault.flags = CGS_VAR_F_FAULT;
  for (uint64_t op : {kCmpRequeuePrivate, kWakeOp}) {
    auto v = arg_value(utime, 7, fault, op);
    ASSERT_EQ(v.kind, ArgValue::Kind::number) << op;
    std::string out;
    append_scalar_text(out, v.format, v.raw);
    EXPECT_EQ(out, "7");
  }
  // strace: futex(0x..., FUTEX_CMP_REQUEUE_PRIVATE, 1, 2147483647, 0x..., 0): a u32.
  auto big = arg_value(utime, 0xffffffff7fffffff, none, kCmpRequeuePrivate);
  std::string out;
  append_scalar_text(out, big.format, big.raw);
  EXPECT_EQ(out, "2147483647");
}

}  // namespace
}  // namespace cgscope::trace
