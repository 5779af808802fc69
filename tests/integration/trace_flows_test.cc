// cgscope trace --flows end to end, over TCP: two "containers" (flows_fixture.h),
// a server in B and a client in A that send a known number of bytes each way.
// The flow record names both ends with the exact byte counts; the graph outputs
// parse; a connection out of scope is not reported.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "flows_fixture.h"
#include "tests/unit/mermaid_subset.h"

namespace cgscope::testing {
namespace {

TEST_F(TraceFlows, JsonNamesBothContainersWithExactBytesAndGraphsParse) {
  ASSERT_NO_FATAL_FAILURE(start_pair());
  FlowsRun both({"-o", "json", "-c", rel(parent_)});
  FlowsRun only_a({"-o", "json", "--container", id_a_.substr(0, 12)});
  FlowsRun dot({"-o", "dot", "-c", rel(parent_)});
  FlowsRun mermaid({"-o", "mermaid", "-c", rel(parent_)});
  for (FlowsRun* r : {&both, &only_a, &dot, &mermaid}) ASSERT_TRUE(r->ready()) << r->err();
  ASSERT_NO_FATAL_FAILURE(talk());

  std::string both_out = both.finish();
  auto flows = json_lines(both_out);
  EXPECT_EQ(both.code(), 0) << both.err();
  ASSERT_EQ(flows.size(), 1u) << "one connection in scope (the loopback one is not): " << both.err() << both_out;
  const auto& f = flows[0];
  EXPECT_EQ(f["src"]["container_id"], id_a_) << f.dump();
  EXPECT_EQ(f["src"]["container_runtime"], "docker");
  EXPECT_EQ(f["src"]["pid"], client_.pid());
  EXPECT_EQ(f["src"]["comm"], "flow-client");
  EXPECT_EQ(f["src"]["addr"], ip_a_);
  EXPECT_GT(f["src"]["port"].get<int>(), 0);
  EXPECT_EQ(f["dst"]["container_id"], id_b_);
  EXPECT_EQ(f["dst"]["pid"], server_.pid());
  EXPECT_EQ(f["dst"]["comm"], "flow-server");
  EXPECT_EQ(f["dst"]["addr"], ip_b_);
  EXPECT_EQ(f["dst"]["port"], kPort);
  EXPECT_EQ(f["bytes_sent"], kUp);
  EXPECT_EQ(f["bytes_received"], kDown);
  EXPECT_EQ(f["state"], "CLOSE");
  EXPECT_EQ(f["open"], false);
  EXPECT_EQ(f["established"], true);
  EXPECT_GT(f["duration_ms"].get<double>(), 0.0);

  // Only A traced: B is still named, from its namespace's addresses. Its process
  // is named only if its listener was found in /proc before it closed (the
  // server listened after the trace began): null or B's server, never another.
  std::string a_out = only_a.finish();
  auto a_flows = json_lines(a_out);
  ASSERT_EQ(a_flows.size(), 1u) << only_a.err() << a_out;
  EXPECT_EQ(a_flows[0]["src"]["pid"], client_.pid());
  EXPECT_EQ(a_flows[0]["dst"]["container_id"], id_b_) << a_flows[0].dump();
  EXPECT_TRUE(a_flows[0]["dst"]["pid"].is_null() || a_flows[0]["dst"]["pid"] == server_.pid()) << a_flows[0].dump();
  EXPECT_EQ(a_flows[0]["bytes_sent"], kUp);

  TempPath dot_file("flows-dot");
  std::string graph = dot.finish();
  std::ofstream(dot_file.path) << graph;
  auto svg = run({"dot", "-Tsvg", "-o", "/dev/null", dot_file.path});
  EXPECT_EQ(svg.code, 0) << svg.output << "\n" << graph;
  EXPECT_NE(graph.find("docker " + id_a_.substr(0, 12) + "\\nflow-client"), std::string::npos) << graph;
  EXPECT_NE(graph.find("docker " + id_b_.substr(0, 12) + "\\nflow-server"), std::string::npos) << graph;
  EXPECT_NE(graph.find("n0 -> n1 [label=\"8080/tcp: 1 conn,"), std::string::npos) << graph;

  std::string chart = mermaid.finish();
  EXPECT_EQ(mermaid_subset_error(chart), "") << chart;
  EXPECT_NE(chart.find(id_b_.substr(0, 12)), std::string::npos) << chart;
  EXPECT_NE(chart.find("n0 -->|\"8080/tcp: 1 conn, "), std::string::npos) << chart;
}

// A server that listens before the trace begins, and is not traced: the flow to
// it names its process from its listener in /proc (as `ss -ltp` would).
TEST_F(TraceFlows, AnUntracedServerIsNamedByTheListenerFoundAtTheStart) {
  ASSERT_NO_FATAL_FAILURE(start_pair());
  ASSERT_TRUE(server_.release()) << server_.error();
  auto until = Clock::now() + 10s;
  while (!listening(server_.pid(), kPort) && Clock::now() < until) usleep(10 * 1000);
  ASSERT_TRUE(listening(server_.pid(), kPort)) << "the server did not listen";
  FlowsRun only_a({"-o", "json", "--container", id_a_.substr(0, 12)});
  ASSERT_TRUE(only_a.ready()) << only_a.err();
  ASSERT_TRUE(client_.release()) << client_.error();
  EXPECT_EQ(exit_code(client_.wait_for(30s)), 0) << "client";
  EXPECT_EQ(exit_code(server_.wait_for(30s)), 0) << "server";
  std::string out = only_a.finish();
  auto flows = json_lines(out);
  ASSERT_EQ(flows.size(), 1u) << only_a.err() << out;
  EXPECT_EQ(flows[0]["src"]["pid"], client_.pid());
  EXPECT_EQ(flows[0]["dst"]["container_id"], id_b_);
  EXPECT_EQ(flows[0]["dst"]["pid"], server_.pid()) << flows[0].dump();
  EXPECT_EQ(flows[0]["dst"]["comm"], "flow-server");
  EXPECT_EQ(flows[0]["bytes_sent"], kUp);
}

TEST(TraceFlowsErrors, GraphFormsNeedFlowsAndFlowsTakesNoEvents) {
  auto dot = run({CGSCOPE_BIN, "trace", "-o", "dot", "--duration", "1"});
  EXPECT_NE(dot.code, 0);
  EXPECT_NE(dot.output.find("--flows"), std::string::npos) << dot.output;
  auto events = run({CGSCOPE_BIN, "trace", "--flows", "-e", "connect", "--duration", "1"});
  EXPECT_NE(events.code, 0);
  EXPECT_NE(events.output.find("drop -e"), std::string::npos) << events.output;
}

}  // namespace
}  // namespace cgscope::testing
