#include "metrics/pod_llm_metrics.h"

#include <gtest/gtest.h>

#include <string>

#include "metrics/metrics_feed.h"

namespace {

using namespace rein;

llm::LlmCall priced(double cost, int64_t in, int64_t out) {
  llm::LlmCall c;
  c.provider = "openai";
  c.request_model = "gpt-4o";
  c.status = 200;
  c.usage.input_tokens = in;
  c.usage.output_tokens = out;
  c.cost_usd = cost;
  return c;
}

pipeline::ObservedLlmCall in_pod(const llm::LlmCall& c, std::string_view ns, std::string_view pod,
                                 std::string_view ctr, std::string_view uid = "uid-1") {
  pipeline::ObservedLlmCall o;
  o.call = &c;
  o.k8s_pod_uid = uid;
  o.k8s_namespace = ns;
  o.k8s_pod = pod;
  o.k8s_container = ctr;
  return o;
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(PodLlmMetrics, CostCallsAndTokensByPod) {
  metrics::MetricsFeed feed(metrics::FeedOptions{"v"});
  metrics::PodLlmMetrics pods(feed.registry());
  auto a = priced(0.5, 100, 20), b = priced(0.25, 10, 2);
  pods.on_llm_call(in_pod(a, "team-a", "agent-7f9c", "agent"));
  pods.on_llm_call(in_pod(b, "team-a", "agent-7f9c", "agent"));
  pods.on_llm_call(in_pod(b, "", "", "", "uid-2"));  // log tree named nothing: UID only
  pipeline::ObservedLlmCall outside;                 // not in a pod: not counted here
  outside.call = &a;
  pods.on_llm_call(outside);
  const std::string t = feed.registry().render();
  const std::string lbl =
      R"({k8s_namespace_name="team-a",k8s_pod_name="agent-7f9c",k8s_container_name="agent"})";
  EXPECT_TRUE(has(t, "rein_k8s_llm_cost_usd_total" + lbl + " 0.75")) << t;
  EXPECT_TRUE(has(t, "rein_k8s_llm_calls_total" + lbl + " 2")) << t;
  EXPECT_TRUE(has(
      t,
      R"(rein_k8s_llm_tokens_total{gen_ai_token_type="input",k8s_namespace_name="team-a",k8s_pod_name="agent-7f9c",k8s_container_name="agent"} 110)"))
      << t;
  EXPECT_TRUE(has(
      t,
      R"(rein_k8s_llm_calls_total{k8s_namespace_name="unknown",k8s_pod_name="unknown",k8s_container_name="unknown"} 1)"))
      << t;
  EXPECT_EQ(t.find("rein_k8s_llm_cost_usd_total{k8s_namespace_name=\"\""), std::string::npos);
}

TEST(PodLlmMetrics, PodsBeyondTheLimitAreOther) {
  metrics::MetricsFeed feed(metrics::FeedOptions{"v", 3, 3});
  metrics::PodLlmMetrics pods(feed.registry());
  auto c = priced(1.0, 1, 1);
  std::vector<std::string> names;
  for (int i = 0; i < 10; i++) names.push_back("pod-" + std::to_string(i));
  for (const auto& n : names) pods.on_llm_call(in_pod(c, "ns", n, "main"));
  const std::string t = feed.registry().render();
  EXPECT_TRUE(has(
      t,
      R"(rein_k8s_llm_calls_total{k8s_namespace_name="ns",k8s_pod_name="pod-0",k8s_container_name="main"} 1)"))
      << t;
  EXPECT_TRUE(has(
      t,
      R"(rein_k8s_llm_cost_usd_total{k8s_namespace_name="ns",k8s_pod_name="other",k8s_container_name="main"} 7)"))
      << t;
  EXPECT_EQ(t.find("pod-3\""), std::string::npos) << "only the first 3 pods have series";
}

}  // namespace
