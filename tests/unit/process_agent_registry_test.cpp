#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <unordered_set>

#include "process/agent_registry.h"

namespace rein::process {
namespace {

TEST(ProcessAgentRegistry, IdHasNamePidAndSixHex) {
  const std::string id = AgentRegistry::make_id("claude", 1234, 987654321);
  EXPECT_TRUE(std::regex_match(id, std::regex("claude-1234-[0-9a-f]{6}"))) << id;
}

TEST(ProcessAgentRegistry, IdIsReproducibleAndDependsOnStartTime) {
  EXPECT_EQ(AgentRegistry::make_id("a", 1, 5), AgentRegistry::make_id("a", 1, 5));
  // Same pid, new session (pid reuse): a different id.
  EXPECT_NE(AgentRegistry::make_id("a", 1, 5), AgentRegistry::make_id("a", 1, 6));
  EXPECT_NE(AgentRegistry::make_id("a", 1, 5), AgentRegistry::make_id("a", 2, 5));
  AgentRegistry r1, r2;
  EXPECT_EQ(r1.get_or_create(77, 123, "codex").id, r2.get_or_create(77, 123, "codex").id);
}

TEST(ProcessAgentRegistry, NameIsSanitisedAndBounded) {
  const std::regex shape("([A-Za-z0-9._-]{1,32})-([0-9]+)-[0-9a-f]{6}");
  std::smatch m;

  std::string id = AgentRegistry::make_id("my agent/\xc3\xa9v1.2_x-y", 9, 1);
  ASSERT_TRUE(std::regex_match(id, m, shape)) << id;
  EXPECT_EQ(m[1].str(), "my_agent___v1.2_x-y");

  id = AgentRegistry::make_id(std::string(100, 'n'), 9, 1);
  ASSERT_TRUE(std::regex_match(id, m, shape)) << id;
  EXPECT_EQ(m[1].str(), std::string(32, 'n'));

  id = AgentRegistry::make_id("", 9, 1);
  ASSERT_TRUE(std::regex_match(id, m, shape)) << id;
  EXPECT_EQ(m[1].str(), "agent");

  id = AgentRegistry::make_id(std::string("\0\n\"{}", 5), 4294967295u, 1);
  ASSERT_TRUE(std::regex_match(id, m, shape)) << id;
  EXPECT_EQ(m[1].str(), "_____");
  EXPECT_EQ(m[2].str(), "4294967295");
}

TEST(ProcessAgentRegistry, GetOrCreateFindAndForget) {
  AgentRegistry r;
  const Agent& a = r.get_or_create(100, 1'000, "claude");
  EXPECT_EQ(a.name, "claude");
  EXPECT_EQ(a.root_pid, 100u);
  EXPECT_EQ(a.start_ns, 1'000u);
  const std::string id = a.id;

  const Agent& again = r.get_or_create(100, 1'000, "other-name");
  EXPECT_EQ(&again, &a);
  EXPECT_EQ(again.name, "claude");  // an existing agent keeps its name and id
  EXPECT_EQ(again.id, id);
  EXPECT_EQ(r.size(), 1u);

  EXPECT_EQ(r.find(100, 1'000), &a);
  EXPECT_EQ(r.find(100, 2'000), nullptr);
  EXPECT_EQ(r.find(101, 1'000), nullptr);

  const Agent& reused = r.get_or_create(100, 2'000, "claude");
  EXPECT_NE(reused.id, id);
  EXPECT_EQ(r.size(), 2u);

  r.forget(100, 1'000);
  EXPECT_EQ(r.find(100, 1'000), nullptr);
  EXPECT_NE(r.find(100, 2'000), nullptr);
  EXPECT_EQ(r.size(), 1u);
  r.forget(100, 1'000);  // forgetting twice is harmless
  r.forget(5, 5);
  EXPECT_EQ(r.size(), 1u);

  // A forgotten session recreated gets its original id back.
  EXPECT_EQ(r.get_or_create(100, 1'000, "claude").id, id);
}

TEST(ProcessAgentRegistry, SetNameKeepsId) {
  AgentRegistry r;
  const std::string id = r.get_or_create(7, 7, "node").id;
  EXPECT_TRUE(r.set_name(7, 7, "claude-code"));
  EXPECT_EQ(r.find(7, 7)->name, "claude-code");
  EXPECT_EQ(r.find(7, 7)->id, id);
  EXPECT_FALSE(r.set_name(8, 7, "x"));
  EXPECT_EQ(r.size(), 1u);
}

TEST(ProcessAgentRegistry, StoredNameIsBoundedOnUtf8Boundary) {
  AgentRegistry r;
  std::string name(AgentRegistry::kMaxNameBytes - 1, 'a');
  name += "\xc3\xa9";  // two-byte character straddling the bound
  name += "tail";
  EXPECT_EQ(r.get_or_create(1, 1, name).name, std::string(AgentRegistry::kMaxNameBytes - 1, 'a'));
  EXPECT_TRUE(r.set_name(1, 1, std::string(1000, 'b')));
  EXPECT_EQ(r.find(1, 1)->name.size(), AgentRegistry::kMaxNameBytes);
}

TEST(ProcessAgentRegistry, BoundedForgetsOldest) {
  AgentRegistry r(3);
  r.get_or_create(1, 10, "a");
  r.get_or_create(2, 20, "b");
  r.get_or_create(3, 30, "c");
  r.get_or_create(1, 10, "a");  // a lookup does not make it younger: ids are per session
  r.get_or_create(4, 40, "d");
  EXPECT_EQ(r.size(), 3u);
  EXPECT_EQ(r.evictions(), 1u);
  EXPECT_EQ(r.find(1, 10), nullptr);
  EXPECT_NE(r.find(2, 20), nullptr);
  EXPECT_NE(r.find(4, 40), nullptr);
}

TEST(ProcessAgentRegistry, DefaultBoundHolds) {
  AgentRegistry r;
  for (uint32_t i = 0; i < AgentRegistry::kDefaultMaxAgents + 100; ++i) {
    r.get_or_create(i + 1, i, "a");
  }
  EXPECT_EQ(r.size(), AgentRegistry::kDefaultMaxAgents);
  EXPECT_EQ(r.evictions(), 100u);
  EXPECT_EQ(r.find(1, 0), nullptr);
  EXPECT_NE(r.find(AgentRegistry::kDefaultMaxAgents + 100, AgentRegistry::kDefaultMaxAgents + 99),
            nullptr);
}

TEST(ProcessAgentRegistry, IdsStayUniqueAcrossManySessionsOfOnePid) {
  // 20000 sessions of one pid in 24 bits of hash: collisions are expected (~12), and the
  // registry must still hand out distinct ids.
  AgentRegistry r(30000);
  std::unordered_set<std::string> ids;
  size_t stepped = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    const Agent& a = r.get_or_create(4242, i * 1'000'003, "agent");
    ids.insert(a.id);
    if (a.id != AgentRegistry::make_id("agent", 4242, i * 1'000'003)) ++stepped;
  }
  EXPECT_EQ(ids.size(), 20000u);
  EXPECT_GT(stepped, 0u);
  EXPECT_EQ(r.size(), 20000u);
}

}  // namespace
}  // namespace rein::process
