// The access log's two forms.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include "proxy/access_log.h"

namespace cgscope::proxy {
namespace {

AccessRecord sample() {
  AccessRecord r;
  r.meta = {9924, 4242, "curl"};
  r.dst = *make_destination("93.184.216.34", 443, "example.com");
  r.upstream = "socks5://bob:***@127.0.0.1:1080";
  r.bytes_up = 517;
  r.bytes_down = 4096;
  r.seconds = 0.1534;
  // 2026-01-02 03:04:05.678 UTC
  r.started = std::chrono::system_clock::time_point(std::chrono::milliseconds(1767323045678LL));
  r.result = "ok";
  return r;
}

class ProxyAccessLog : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = getenv("TZ");
    had_tz_ = tz != nullptr;
    if (tz) old_tz_ = tz;
    setenv("TZ", "UTC", 1);
    tzset();
  }
  void TearDown() override {
    if (had_tz_)
      setenv("TZ", old_tz_.c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }

 private:
  bool had_tz_ = false;
  std::string old_tz_;
};

TEST_F(ProxyAccessLog, TextLine) {
  EXPECT_EQ(format_access_text(sample()),
            "03:04:05.678 curl[4242] cgroup 9924 -> example.com:443 (93.184.216.34:443) via "
            "socks5://bob:***@127.0.0.1:1080: ok, 517 B up, 4096 B down, 0.153 s");
}

TEST_F(ProxyAccessLog, TextLineWithUnknownsAndAFailure) {
  AccessRecord r = sample();
  r.meta = {};
  r.dst.host.clear();
  r.bytes_up = r.bytes_down = 0;
  r.seconds = 0.0012;
  r.result = "upstream unreachable: connecting to 127.0.0.1:1080: Connection refused";
  EXPECT_EQ(format_access_text(r),
            "03:04:05.678 ? -> 93.184.216.34:443 via socks5://bob:***@127.0.0.1:1080: upstream unreachable: "
            "connecting to 127.0.0.1:1080: Connection refused, 0 B up, 0 B down, 0.001 s");
  r.dst = {};
  r.result = "not redirected";
  EXPECT_NE(format_access_text(r).find("? -> (unknown) via"), std::string::npos);
}

TEST_F(ProxyAccessLog, AProgramNameCannotBreakTheLine) {
  AccessRecord r = sample();
  r.meta.comm = "evil\nname\x1b";
  std::string line = format_access_text(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("evil?name?[4242]"), std::string::npos) << line;
}

TEST_F(ProxyAccessLog, Json) {
  auto j = format_access_json(sample());
  EXPECT_EQ(j.dump(), R"({"bytes_down":4096,"bytes_up":517,"cgroup_id":9924,"comm":"curl","dst":"93.184.216.34:443",)"
                      R"("host":"example.com","pid":4242,"result":"ok","seconds":0.1534,)"
                      R"("ts":1767323045678000000,"upstream":"socks5://bob:***@127.0.0.1:1080"})");
}

TEST_F(ProxyAccessLog, JsonUnknownsAreNullAndBytesAreSafe) {
  AccessRecord r = sample();
  r.meta = {0, 0, ""};
  r.dst = {};
  r.upstream.clear();
  r.result = "not redirected";
  auto j = format_access_json(r);
  for (const char* k : {"cgroup_id", "pid", "comm", "dst", "host", "upstream"}) EXPECT_TRUE(j[k].is_null()) << k;
  r.meta.comm = "\xff\xfe";  // not UTF-8: dump() must not throw
  EXPECT_NO_THROW(format_access_json(r).dump());
}

}  // namespace
}  // namespace cgscope::proxy
