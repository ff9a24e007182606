// Detection actions go through the enforcer with a budget's semantics: kill and pause act on
// the agent's root, block-llm blocks its LLM egress and names the detection on refusals.
#include <gtest/gtest.h>
#include <signal.h>

#include "enforce/enforcer.h"
#include "policy/policy_parser.h"

namespace rein::enforce {
namespace {

struct Act : Actuator {
  std::vector<std::pair<uint32_t, int>> signals;
  std::vector<std::pair<uint32_t, uint32_t>> blocks;
  bool signal(uint32_t pid, int sig, uint64_t) override {
    signals.emplace_back(pid, sig);
    return true;
  }
  void block_llm(uint32_t root, uint32_t v) override { blocks.emplace_back(root, v); }
  void add_llm_endpoint(const std::array<uint8_t, 16>&, uint16_t) override {}
  void add_network_entry(const rein_net_key&, const rein_rule&) override {}
};

policy::Policy minimal() {
  auto p = policy::parse_policy("apiVersion: rein/v1\n", "p.yaml");
  EXPECT_TRUE(p);
  return std::move(*p);
}

TEST(DetectionActions, KillPauseBlockAlert) {
  Act act;
  Enforcer e(minimal(), act);
  Subject who{501, 500, "a-500", "coder", false};
  auto k = e.on_detection(who, "retry_spiral", policy::DetectionAction::kKill, "8 failed calls", 1);
  EXPECT_EQ(k.outcome, "killed");
  EXPECT_EQ(k.rule, "detect.retry_spiral");
  EXPECT_EQ(k.kind, "detection");
  ASSERT_EQ(act.signals.size(), 1u);
  EXPECT_EQ(act.signals[0], std::make_pair(500u, SIGKILL));  // the root, not the caller
  auto p = e.on_detection(who, "scope_drift", policy::DetectionAction::kPause, "new dir", 2);
  EXPECT_EQ(p.outcome, "paused");
  EXPECT_NE(p.hold_id, 0u);
  EXPECT_EQ(e.holds(), 1u);
  auto b = e.on_detection(who, "secret_in_prompt", policy::DetectionAction::kBlockLlm, "key", 3);
  EXPECT_EQ(b.outcome, "prevented");
  ASSERT_EQ(act.blocks.size(), 1u);
  EXPECT_EQ(act.blocks[0], std::make_pair(500u, Enforcer::kDetectionBlock));
  auto refused = e.budget_refusal(Enforcer::kDetectionBlock - 1, "1.2.3.4:443", who);
  EXPECT_EQ(refused.kind, "detection");
  auto a = e.on_detection(who, "cost_anomaly", policy::DetectionAction::kAlert, "x", 4);
  EXPECT_EQ(a.outcome, "alerted");
  EXPECT_EQ(act.signals.size(), 2u);  // kill, pause's SIGSTOP; nothing for alert
}

}  // namespace
}  // namespace rein::enforce
