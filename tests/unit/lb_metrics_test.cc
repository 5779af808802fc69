// metrics_text (lb/metrics.h) without lb state: the daemon's applies and the
// endpoints' health, in Prometheus' text format.
#include "lb/metrics.h"

#include <gtest/gtest.h>

using namespace cgscope::lb;

TEST(LbMetrics, AppliesAndHealthWithoutState) {
  ApplyStats a{.ok = 3, .failed = 1, .seconds_sum = 0.25, .last_ok = false};
  std::vector<std::pair<HostPort, bool>> health = {{*parse_host_port("127.0.0.2:8080"), true},
                                                   {*parse_host_port("[fd00::3]:80"), false}};
  std::string m = metrics_text("/nonexistent/cgscope-lb", a, health);
  EXPECT_EQ(m.find("cgscope_lb_connects_total"), std::string::npos) << m;  // no maps, no services
  EXPECT_NE(m.find("cgscope_lb_endpoint_up{endpoint=\"127.0.0.2:8080\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("cgscope_lb_endpoint_up{endpoint=\"[fd00::3]:80\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("cgscope_lb_applies_total{result=\"ok\"} 3\ncgscope_lb_applies_total{result=\"error\"} 1\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("cgscope_lb_apply_duration_seconds_sum 0.250000\ncgscope_lb_apply_duration_seconds_count 4\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("cgscope_lb_last_apply_ok 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE cgscope_lb_applies_total counter\n"), std::string::npos) << m;
}
