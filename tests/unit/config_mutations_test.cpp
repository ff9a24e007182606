#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pipeline/config_mutations.h"
#include "pipeline/recent_llm_calls.h"
#include "temp_dir.h"

using namespace rein::pipeline;
using rein::llm::LlmCall;
using rein::llm::ToolCall;

namespace {

void write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

LlmCall call_with(const std::string& id, std::vector<ToolCall> tools) {
  LlmCall c;
  c.provider = "anthropic";
  c.response_id = id;
  c.response_model = "claude-sonnet-4-5";
  c.tool_calls = std::move(tools);
  return c;
}

// Runs write_event and returns the event's fields parsed back.
struct Event {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string text;
  bool written = false;
};

void run(ConfigMutationTracker& t, const ConfigChange& c, Event& e) {
  Clock clock;
  rein::sinks::JsonWriter w;
  w.begin_object();
  e.written = t.write_event(w, c, {uint32_t(getpid())}, clock);
  w.end_object();
  e.text = w.str();
  ASSERT_FALSE(e.parser.parse(e.text).get(e.doc)) << e.text;
}

std::string_view str(simdjson::dom::element e, const char* k) {
  std::string_view s;
  if (e[k].get_string().get(s)) return "<none>";
  return s;
}
bool is_null(simdjson::dom::element e, const char* k) { return e[k].is_null(); }

}  // namespace

TEST(RecentLlmCalls, CausedByIsTheLatestPrecedingCallOrTheOneNamingThePath) {
  RecentLlmCalls r;
  r.add("a1", 100, call_with("msg_old", {{"toolu_1", "Write", R"({"file_path":"/w/CLAUDE.md"})", false}}));
  r.add("a1", 200, call_with("msg_new", {{"toolu_2", "Bash", R"({"command":"ls"})", false}}));
  r.add("a2", 150, call_with("msg_other", {}));
  auto c = r.find("a1", 250, "/w/CLAUDE.md", "/w");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->call->response_id, "msg_old");  // the call whose tool call named the file
  ASSERT_TRUE(c->tool);
  EXPECT_EQ(c->tool->id, "toolu_1");
  EXPECT_EQ(c->match, "exact");
  EXPECT_EQ(c->calls_back, 1u);
  auto d = r.find("a1", 250, "/w/other.txt", "/w");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->call->response_id, "msg_new");  // no tool call names it: the latest call
  EXPECT_EQ(d->tool, nullptr);
  auto e = r.find("a1", 150, "/w/other.txt", "/w");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->call->response_id, "msg_old");  // calls after the change do not count
  EXPECT_FALSE(r.find("a1", 50, "/w/CLAUDE.md", "/w"));
  EXPECT_FALSE(r.find("nobody", 500, "/w/CLAUDE.md", "/w"));
}

TEST(RecentLlmCalls, PathMatchingKinds) {
  ToolCall rel{"t", "Edit", R"({"path":"sub/../.bashrc"})", false};
  EXPECT_EQ(tool_call_names_path(rel, "/home/u/.bashrc", "/home/u"), "relative");
  ToolCall cmd{"t", "Bash", R"({"command":"echo alias x=y >> /home/u/.bashrc"})", false};
  EXPECT_EQ(tool_call_names_path(cmd, "/home/u/.bashrc", "/"), "substring");
  ToolCall esc{"t", "Write", R"({"file_path":"\/w\/CLAUDE.md"})", false};  // JSON escapes decoded
  EXPECT_EQ(tool_call_names_path(esc, "/w/CLAUDE.md", "/"), "exact");
  ToolCall cut{"t", "Write", R"({"file_path":"/w/CLAUDE.md","content":"aaaa)", true};  // truncated
  EXPECT_EQ(tool_call_names_path(cut, "/w/CLAUDE.md", "/"), "substring");
  ToolCall other{"t", "Write", R"({"file_path":"/w/CLAUDE.md.bak"})", false};
  EXPECT_EQ(tool_call_names_path(other, "/w/AGENTS.md", "/"), "");
}

TEST(RecentLlmCalls, Bounded) {
  RecentCallLimits lim;
  lim.max_agents = 2;
  lim.calls_per_agent = 3;
  lim.tool_calls_per_agent = 4;
  RecentLlmCalls r(lim);
  for (int i = 0; i < 10; i++)
    r.add("a", uint64_t(i), call_with("m" + std::to_string(i), {{"x", "n", "{}", false}, {"y", "n", "{}", false}}));
  auto c = r.find("a", 100, "/nothing", "/");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->call->response_id, "m9");
  EXPECT_FALSE(r.find("a", 6, "/nothing", "/"));  // only the last 3 calls are kept
  r.add("b", 1, call_with("b", {}));
  r.add("c", 2, call_with("c", {}));
  EXPECT_EQ(r.agents(), 2u);
}

// Calls are kept in a ring that wraps: newest first, and the oldest kept lose their tool
// calls first, wherever the ring's head is.
TEST(RecentLlmCalls, OrderSurvivesTheRingWrapping) {
  RecentCallLimits lim;
  lim.calls_per_agent = 3;
  lim.tool_calls_per_agent = 3;
  RecentLlmCalls r(lim);
  for (int i = 0; i < 7; i++)  // m4, m5, m6 kept; each named its own file
    r.add("a", uint64_t(i) * 10,
          call_with("m" + std::to_string(i),
                    {{"t" + std::to_string(i), "Write",
                      R"({"file_path":"/w/f)" + std::to_string(i) + R"("})", false},
                     {"u" + std::to_string(i), "Bash", R"({"command":"ls"})", false}}));
  // 6 tool calls kept for a bound of 3: m4 lost both, m5 its first
  auto m6 = r.find("a", 100, "/w/f6", "/");
  ASSERT_TRUE(m6 && m6->tool);
  EXPECT_EQ(m6->call->response_id, "m6");
  EXPECT_EQ(m6->calls_back, 0u);
  auto m5 = r.find("a", 100, "/w/f5", "/");
  ASSERT_TRUE(m5);
  EXPECT_EQ(m5->tool, nullptr);  // its Write was dropped: the latest call, no tool
  EXPECT_EQ(m5->call->response_id, "m6");
  auto before6 = r.find("a", 55, "/w/f4", "/");
  ASSERT_TRUE(before6);
  EXPECT_EQ(before6->call->response_id, "m5");  // m6 came after the change
  EXPECT_EQ(before6->tool, nullptr);
  EXPECT_FALSE(r.find("a", 35, "/w/f3", "/"));  // m3 and older are gone
}

TEST(ConfigMutations, BeforeFromAgentStartDiffHashesAndCausedBy) {
  rein::testutil::TempDir dir("rein_cfgmut");
  const std::string claude = dir.path() + "/CLAUDE.md";
  const std::string hook = dir.path() + "/.git/hooks/pre-commit";
  write(claude, "# Rules\nbe nice\n");
  write(hook, "#!/bin/sh\nexit 0\n");
  ConfigMutationTracker t;
  t.on_agent_started(uint32_t(getpid()), dir.path(), "", 1, 0);
  EXPECT_EQ(t.stats().snapshots_taken, 2u);
  t.on_llm_call("agent-1", 10, call_with("msg_A", {{"toolu_X", "Write", "{\"file_path\":\"" + claude + "\"}", false}}));

  write(claude, "# Rules\nbe nice\nexport OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789\n");
  Event e;
  run(t, ConfigChange{"write", claude, "", "agent-1", dir.path(), 20}, e);
  ASSERT_TRUE(e.written);
  EXPECT_EQ(str(e.doc, "class"), "agent_instructions");
  EXPECT_EQ(str(e.doc, "op"), "write");
  EXPECT_EQ(str(e.doc["before"], "source"), "agent_start");
  EXPECT_EQ(uint64_t(e.doc["before"]["size"]), 16u);
  EXPECT_EQ(uint64_t(e.doc["before"]["lines"]), 2u);
  // sha256 of "# Rules\nbe nice\n"
  EXPECT_EQ(str(e.doc["before"], "sha256").size(), 64u);
  EXPECT_NE(str(e.doc["before"], "sha256"), str(e.doc["after"], "sha256"));
  EXPECT_TRUE(bool(e.doc["changed"]));
  std::string_view diff = str(e.doc["diff"], "text");
  EXPECT_NE(diff.find("+export OPENAI_API_KEY=[redacted]"), std::string_view::npos) << diff;
  EXPECT_EQ(diff.find("abcdefghijklmnop"), std::string_view::npos) << diff;
  EXPECT_EQ(uint64_t(e.doc["diff"]["lines_added"]), 1u);
  EXPECT_EQ(str(e.doc["caused_by"], "response_id"), "msg_A");
  EXPECT_EQ(str(e.doc["caused_by"], "model"), "claude-sonnet-4-5");
  EXPECT_EQ(str(e.doc["caused_by"]["tool_call"], "id"), "toolu_X");
  EXPECT_EQ(str(e.doc["caused_by"]["tool_call"], "match"), "exact");
  EXPECT_EQ(e.text.find("abcdefghijklmnop"), std::string::npos);

  // The after is the next before.
  write(claude, "replaced\n");
  Event e2;
  run(t, ConfigChange{"write", claude, "", "agent-1", dir.path(), 30}, e2);
  EXPECT_EQ(str(e2.doc["before"], "source"), "previous_mutation");
  EXPECT_EQ(str(e2.doc["before"], "sha256"), str(e.doc["after"], "sha256"));

  // Unlink: after is null, the diff removes every line.
  std::filesystem::remove(hook);
  Event e3;
  run(t, ConfigChange{"unlink", hook, "", "agent-1", dir.path(), 40}, e3);
  EXPECT_EQ(str(e3.doc, "class"), "git");
  EXPECT_TRUE(is_null(e3.doc, "after"));
  EXPECT_EQ(str(e3.doc, "after_reason"), "deleted");
  EXPECT_EQ(uint64_t(e3.doc["diff"]["lines_removed"]), 2u);
  EXPECT_EQ(str(e3.doc["caused_by"], "response_id"), "msg_A");
  EXPECT_TRUE(is_null(e3.doc["caused_by"], "tool_call"));
}

TEST(ConfigMutations, CredentialsGetNoContentAndUnknownFilesNoEvent) {
  rein::testutil::TempDir dir("rein_cfgmut");
  const std::string env = dir.path() + "/.env";
  write(env, "DB_PASSWORD=first\n");
  ConfigMutationTracker t;
  t.on_agent_started(uint32_t(getpid()), dir.path(), "", 1, 0);
  write(env, "DB_PASSWORD=second-secret\nX=1\n");
  Event e;
  run(t, ConfigChange{"write", env, "", "agent-1", dir.path(), 20}, e);
  ASSERT_TRUE(e.written);
  EXPECT_EQ(str(e.doc, "class"), "credentials");
  EXPECT_TRUE(bool(e.doc["credential"]));
  EXPECT_TRUE(is_null(e.doc, "diff"));
  EXPECT_EQ(str(e.doc, "diff_omitted"), "credential class: hashes, sizes and line counts only");
  EXPECT_EQ(uint64_t(e.doc["before"]["lines"]), 1u);
  EXPECT_EQ(uint64_t(e.doc["after"]["lines"]), 2u);
  EXPECT_EQ(e.text.find("first"), std::string::npos);
  EXPECT_EQ(e.text.find("second-secret"), std::string::npos);
  EXPECT_TRUE(is_null(e.doc, "caused_by"));  // no LLM call from this agent

  const std::string plain = dir.path() + "/notes.txt";
  write(plain, "x\n");
  Event e2;
  run(t, ConfigChange{"write", plain, "", "agent-1", dir.path(), 30}, e2);
  EXPECT_FALSE(e2.written);
}

TEST(ConfigMutations, NoBeforeSaysWhyAndStaleSnapshotsAreNotTrusted) {
  rein::testutil::TempDir dir("rein_cfgmut");
  ConfigMutationTracker t;
  const std::string pkg = dir.path() + "/sub/package.json";  // not under cwd/home probes
  write(pkg, "{}\n");
  Event e;
  run(t, ConfigChange{"write", pkg, "", "a", dir.path(), 5}, e);
  EXPECT_TRUE(is_null(e.doc, "before"));
  EXPECT_NE(str(e.doc, "before_reason").find("no earlier content"), std::string_view::npos);
  EXPECT_EQ(str(e.doc, "diff_omitted"), "no earlier content");
  Event c;
  const std::string fresh = dir.path() + "/AGENTS.md";
  write(fresh, "new\n");
  run(t, ConfigChange{"create", fresh, "", "a", dir.path(), 6}, c);
  EXPECT_EQ(str(c.doc, "before_reason"), "the file was created");

  // A file changed after the agent started (ctime later than the start) is not a before.
  const std::string gem = dir.path() + "/GEMINI.md";
  write(gem, "changed after start\n");
  ConfigMutationTracker t2;
  t2.on_agent_started(uint32_t(getpid()), dir.path(), "", 1, 1000);  // started at t=1us (1970)
  write(gem, "again\n");
  Event s;
  run(t2, ConfigChange{"write", gem, "", "a", dir.path(), 7}, s);
  EXPECT_TRUE(is_null(s.doc, "before"));
  EXPECT_NE(str(s.doc, "before_reason").find("changed after the agent started"), std::string_view::npos);
}

TEST(ConfigMutations, RenameOntoAndAwayFromAConfigName) {
  rein::testutil::TempDir dir("rein_cfgmut");
  const std::string rc = dir.path() + "/.zshrc";
  write(rc, "a\n");
  ConfigMutationTracker t;
  t.on_agent_started(uint32_t(getpid()), dir.path(), "", 1, 0);
  // editors write a temporary file and rename it over the original
  write(dir.path() + "/.zshrc.tmp", "a\nb\n");
  std::filesystem::rename(dir.path() + "/.zshrc.tmp", rc);
  Event e;
  run(t, ConfigChange{"rename", rc, dir.path() + "/.zshrc.tmp", "a", dir.path(), 5}, e);
  EXPECT_EQ(str(e.doc, "class"), "shell_startup");
  EXPECT_EQ(str(e.doc, "old_path"), dir.path() + "/.zshrc.tmp");
  EXPECT_EQ(str(e.doc["diff"], "text"), "@@ -1,1 +1,2 @@\n a\n+b\n");
  std::filesystem::rename(rc, dir.path() + "/zshrc.old");
  Event away;
  run(t, ConfigChange{"rename", dir.path() + "/zshrc.old", rc, "a", dir.path(), 6}, away);
  EXPECT_EQ(str(away.doc, "path"), rc);
  EXPECT_EQ(str(away.doc, "new_path"), dir.path() + "/zshrc.old");
  EXPECT_TRUE(is_null(away.doc, "after"));
}

TEST(ConfigMutations, FifosAndOpenCloseBookkeeping) {
  rein::testutil::TempDir dir("rein_cfgmut");
  const std::string fifo = dir.path() + "/.bashrc";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ConfigMutationTracker t;
  t.on_agent_started(uint32_t(getpid()), dir.path(), "", 1, 0);  // must not block
  Event e;
  run(t, ConfigChange{"write", fifo, "", "a", dir.path(), 5}, e);
  EXPECT_TRUE(is_null(e.doc, "after"));
  EXPECT_EQ(str(e.doc, "after_reason"), "not a regular file");
  t.on_open(7, "truncate");
  EXPECT_EQ(t.on_close(7, 0), "truncate");
  EXPECT_EQ(t.on_close(7, 0), "");
  t.on_open(8, "create");
  EXPECT_EQ(t.on_close(8, 3), "create");
  t.on_open(10, "truncate");
  EXPECT_EQ(t.on_close(10, 3), "write");
  EXPECT_EQ(t.on_close(9, 1), "write");
}

TEST(ConfigMutations, ReplayFromRecordedReadsNeedsNoFiles) {
  rein::testutil::TempDir dir("rein_cfgmut");
  const std::string claude = dir.path() + "/CLAUDE.md";
  write(claude, "one\n");
  ConfigMutationTracker live;
  std::string start = live.read_agent_start(uint32_t(getpid()), dir.path(), "", 0);
  live.load_agent_start(start, 1);
  write(claude, "one\ntwo\n");
  ConfigChange c{"write", claude, "", "a", dir.path(), 5};
  std::string after = live.read_after(c, {uint32_t(getpid())});
  Event e;
  {
    Clock clock;
    rein::sinks::JsonWriter w;
    w.begin_object();
    ASSERT_TRUE(live.write_event(w, c, after, clock));
    w.end_object();
    e.text = w.str();
  }
  // Replay: the files are gone, the recorded reads give the same event.
  std::filesystem::remove_all(dir.path());
  ConfigMutationTracker replay;
  replay.load_agent_start(start, 1);
  Clock clock;
  rein::sinks::JsonWriter w;
  w.begin_object();
  ASSERT_TRUE(replay.write_event(w, c, after, clock));
  w.end_object();
  EXPECT_EQ(w.str(), e.text);
  EXPECT_NE(e.text.find("+two"), std::string::npos) << e.text;
  // Not recorded (e.g. another policy in replay): said so, never read live.
  rein::sinks::JsonWriter w2;
  w2.begin_object();
  ASSERT_TRUE(replay.write_event(w2, c, std::nullopt, clock));
  w2.end_object();
  EXPECT_NE(w2.str().find("not recorded in the capture"), std::string::npos) << w2.str();
  // Malformed recordings are refused, not trusted.
  ConfigMutationTracker bad;
  bad.load_agent_start("5:abc", 1);
  bad.load_agent_start("999999999999:x", 1);
  bad.load_agent_start(start.substr(0, start.size() / 2), 1);
  EXPECT_LE(bad.snapshots().size(), 1u);
}

TEST(ConfigSnapshots, EncodingRoundTripsAndCacheIsBounded) {
  FileState s;
  s.exists = true;
  s.size = 12;
  s.sha256 = std::string(64, 'a');
  s.lines = 3;
  s.has_content = true;
  s.content = std::string("a:b\n\0c\n", 7);
  s.ctime_real_ns = -5;
  std::string enc;
  encode_file_state(enc, s);
  std::string_view in = enc;
  auto d = decode_file_state(in);
  ASSERT_TRUE(d);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(d->content, s.content);
  EXPECT_EQ(d->ctime_real_ns, -5);
  EXPECT_EQ(d->sha256, s.sha256);
  std::string_view cut = std::string_view(enc).substr(0, enc.size() - 3);
  EXPECT_FALSE(decode_file_state(cut));

  SnapshotLimits lim;
  lim.max_files = 3;
  lim.max_total_bytes = 10;
  ConfigSnapshots c(lim);
  for (int i = 0; i < 5; i++) {
    Snapshot sn;
    sn.state.content = "1234";
    c.put("k" + std::to_string(i), sn);
  }
  EXPECT_LE(c.size(), 3u);
  EXPECT_LE(c.content_bytes(), 10u);
  EXPECT_TRUE(c.get("k4"));
  EXPECT_FALSE(c.get("k0"));
}
