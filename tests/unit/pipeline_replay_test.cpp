// SensorPipeline fed with synthetic ring-buffer records (no kernel, no root): the JSON lines
// it writes are parsed back and checked field by field. Every line of every test is also
// checked against the common event contract (type, time, process{...}, agent) in TearDown.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <regex>
#include <simdjson.h>
#include <string>
#include <vector>

#include "abi_record_builder.h"
#include "pipeline/event_builder.h"
#include "pipeline/selectors.h"
#include "pipeline/sensor_pipeline.h"

namespace {

using namespace rein::testrec;
using rein::pipeline::Clock;
using rein::pipeline::LineSink;
using rein::pipeline::Selector;
using rein::pipeline::SelectorKind;
using rein::pipeline::SelectorSet;
using rein::pipeline::SensorPipeline;

class CaptureSink : public LineSink {
 public:
  void write_line(std::string_view line) override { lines.emplace_back(line); }
  void flush() override { flushes++; }
  std::vector<std::string> lines;
  int flushes = 0;
};

// One parsed line; owns its parser so several documents can be inspected at once.
class Doc {
 public:
  explicit Doc(std::string line) : line_(std::move(line)), parser_(new simdjson::dom::parser) {
    simdjson::padded_string padded(line_);
    ok_ = parser_->parse(padded).get(root_) == simdjson::SUCCESS;
  }
  bool ok() const { return ok_; }
  const std::string& line() const { return line_; }

  bool has(std::string_view ptr) const {
    simdjson::dom::element e;
    return ok_ && root_.at_pointer(ptr).get(e) == simdjson::SUCCESS;
  }
  simdjson::dom::element at(std::string_view ptr) const {
    simdjson::dom::element e;
    if (!ok_ || root_.at_pointer(ptr).get(e) != simdjson::SUCCESS)
      ADD_FAILURE() << "no " << ptr << " in " << line_.substr(0, 2000);
    return e;
  }
  std::string str(std::string_view ptr) const {
    std::string_view s;
    if (!has(ptr)) return "<missing " + std::string(ptr) + ">";
    if (at(ptr).get_string().get(s) != simdjson::SUCCESS) return "<not a string>";
    return std::string(s);
  }
  int64_t i64(std::string_view ptr) const {
    int64_t v = INT64_MIN;
    if (!has(ptr) || at(ptr).get_int64().get(v) != simdjson::SUCCESS)
      ADD_FAILURE() << ptr << " is not an integer in " << line_.substr(0, 2000);
    return v;
  }
  double num(std::string_view ptr) const {
    double v = -1e300;
    if (!has(ptr) || at(ptr).get_double().get(v) != simdjson::SUCCESS)
      ADD_FAILURE() << ptr << " is not a number in " << line_.substr(0, 2000);
    return v;
  }
  bool boolean(std::string_view ptr) const {
    bool v = false;
    if (!has(ptr) || at(ptr).get_bool().get(v) != simdjson::SUCCESS)
      ADD_FAILURE() << ptr << " is not a bool in " << line_.substr(0, 2000);
    return v;
  }
  bool is_null(std::string_view ptr) const { return has(ptr) && at(ptr).is_null(); }
  size_t array_size(std::string_view ptr) const {
    simdjson::dom::array a;
    if (!has(ptr) || at(ptr).get_array().get(a) != simdjson::SUCCESS) {
      ADD_FAILURE() << ptr << " is not an array in " << line_.substr(0, 2000);
      return 0;
    }
    return a.size();
  }
  std::vector<std::string> strings(std::string_view ptr) const {
    std::vector<std::string> out;
    simdjson::dom::array a;
    if (!has(ptr) || at(ptr).get_array().get(a) != simdjson::SUCCESS) return out;
    for (auto e : a) {
      std::string_view s;
      out.emplace_back(e.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : "<non-string>");
    }
    return out;
  }

 private:
  std::string line_;
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
  bool ok_ = false;
};

struct TrackCall {
  uint32_t tgid, root, selector;
  uint64_t start_ns;
};

// seconds since the epoch and nanoseconds from an RFC 3339 "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"
bool parse_time(const std::string& s, int64_t* secs, long* nanos) {
  std::tm t{};
  long ns = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%9ldZ", &t.tm_year, &t.tm_mon, &t.tm_mday,
                  &t.tm_hour, &t.tm_min, &t.tm_sec, &ns) != 7)
    return false;
  t.tm_year -= 1900;
  t.tm_mon -= 1;
  *secs = timegm(&t);
  *nanos = ns;
  return true;
}

constexpr uint64_t kSec = 1'000'000'000;

class PipelineReplay : public ::testing::Test {
 protected:
  void make(std::vector<Selector> sels = {}) {
    auto s = SelectorSet::build(std::move(sels));
    ASSERT_TRUE(s.ok()) << s.error().message;
    pipe_ = std::make_unique<SensorPipeline>(
        std::move(s).value(), sink_,
        [this](uint32_t tgid, uint32_t root, uint32_t sel, uint64_t start) -> rein::Result<void> {
          tracks_.push_back({tgid, root, sel, start});
          if (track_fails_) return rein::make_error("map full");
          return {};
        },
        nullptr);
  }
  void SetUp() override { make({{SelectorKind::Exe, "myagent", ""}}); }

  // Every line, whatever the test, satisfies the common event contract.
  void TearDown() override {
    static const std::regex time_re(
        R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$)");
    for (const auto& line : sink_.lines) {
      Doc d(line);
      ASSERT_TRUE(d.ok()) << "invalid JSON: " << line.substr(0, 2000);
      EXPECT_EQ(line.find('\n'), std::string::npos);
      EXPECT_NE(d.str("/type"), "");
      EXPECT_TRUE(std::regex_match(d.str("/time"), time_re)) << d.str("/time");
      EXPECT_GT(d.i64("/process/pid"), 0);
      for (const char* k : {"/process/ppid", "/process/uid", "/process/comm", "/process/exe",
                            "/process/args", "/process/cgroup", "/process/container_id", "/agent"})
        EXPECT_TRUE(d.has(k)) << k << " missing in " << line.substr(0, 2000);
      EXPECT_TRUE(d.is_null("/process/cgroup"));  // no cgroup resolver in these tests
      EXPECT_TRUE(d.is_null("/process/container_id"));
      if (!d.is_null("/agent")) {
        EXPECT_NE(d.str("/agent/id"), "");
        EXPECT_NE(d.str("/agent/name"), "");
        EXPECT_GT(d.i64("/agent/root_pid"), 0);
      }
    }
  }

  void feed(const Bytes& b) { pipe_->on_record(b); }
  std::vector<Doc> docs() const {
    std::vector<Doc> out;
    for (const auto& l : sink_.lines) out.emplace_back(l);
    return out;
  }
  std::vector<Doc> of_type(std::string_view type) const {
    std::vector<Doc> out;
    for (const auto& l : sink_.lines) {
      Doc d(l);
      if (d.str("/type") == type) out.push_back(std::move(d));
    }
    return out;
  }
  // The newest event of a type (other event kinds may follow it, e.g. summaries on exit).
  Doc last_of(std::string_view type) const {
    for (auto it = sink_.lines.rbegin(); it != sink_.lines.rend(); ++it) {
      Doc d(*it);
      if (d.str("/type") == type) return d;
    }
    ADD_FAILURE() << "no " << type << " event";
    return Doc(std::string());
  }
  Doc last() const {
    EXPECT_FALSE(sink_.lines.empty());
    return Doc(sink_.lines.empty() ? std::string() : sink_.lines.back());
  }

  // The agent root: an exec the kernel matched against exe selector 0.
  void start_root(uint32_t pid = 1000, uint64_t ts = 0) {
    Exec x;
    x.h = Hdr{.ts = ts ? ts : t0_, .tgid = pid, .agent = pid, .uid = 1000};
    x.ppid = 900;
    x.flags = REIN_F_NEW_AGENT;
    x.selector = 0;
    x.comm = "node";
    x.exe = "/opt/myagent/bin/myagent";
    x.args = {"myagent", "--serve"};
    x.cwd = "/work";
    feed(exec_rec(x));
  }

  CaptureSink sink_;
  std::unique_ptr<SensorPipeline> pipe_;
  std::vector<TrackCall> tracks_;
  bool track_fails_ = false;
  // Realistic boot-time stamps so event times are near now.
  uint64_t t0_ = Clock::boot_now_ns();
};

// --- process lifecycle ---

TEST_F(PipelineReplay, NewAgentExecCreatesAgentNamedBySelector) {
  start_root(1000);
  ASSERT_EQ(sink_.lines.size(), 1u);
  Doc d = last();
  EXPECT_EQ(d.str("/type"), "process.exec");
  EXPECT_EQ(d.str("/agent/name"), "myagent");  // from the selector, not comm "node"
  EXPECT_EQ(d.i64("/agent/root_pid"), 1000);
  EXPECT_EQ(d.str("/agent/id").rfind("myagent-1000-", 0), 0u) << d.str("/agent/id");
  EXPECT_EQ(d.i64("/process/pid"), 1000);
  EXPECT_EQ(d.i64("/process/ppid"), 900);
  EXPECT_EQ(d.i64("/process/uid"), 1000);
  EXPECT_EQ(d.str("/process/comm"), "node");
  EXPECT_EQ(d.str("/process/exe"), "/opt/myagent/bin/myagent");
  EXPECT_EQ(d.strings("/process/args"), (std::vector<std::string>{"myagent", "--serve"}));
  EXPECT_EQ(d.str("/cwd"), "/work");
  EXPECT_TRUE(d.boolean("/new_agent"));
  EXPECT_FALSE(d.boolean("/existing"));
  EXPECT_FALSE(d.boolean("/args_truncated"));
  EXPECT_FALSE(d.boolean("/exe_truncated"));
  EXPECT_TRUE(tracks_.empty());  // the kernel already tracks it
}

TEST_F(PipelineReplay, SelectorNamePreferredAndCommFallback) {
  make({{SelectorKind::Exe, "x", "custom-name"}, {SelectorKind::Cmdline, "zzz", ""}});
  Exec x;
  x.h = Hdr{.ts = t0_, .tgid = 10, .agent = 10};
  x.flags = REIN_F_NEW_AGENT;
  x.comm = "commname";
  feed(exec_rec(x));
  EXPECT_EQ(last().str("/agent/name"), "custom-name");
  x.h.tgid = x.h.agent = 11;
  x.selector = 1;  // cmdline selector without a name: the process's comm names the agent
  feed(exec_rec(x));
  EXPECT_EQ(last().str("/agent/name"), "commname");
  x.h.tgid = x.h.agent = 12;
  x.selector = 77;  // out of range: must not index past the selector list
  feed(exec_rec(x));
  EXPECT_EQ(last().str("/agent/name"), "commname");
}

TEST_F(PipelineReplay, ForkAndExecOfChildInheritAgent) {
  start_root(1000);
  std::string root_id = last().str("/agent/id");
  feed(fork_rec(Hdr{.ts = t0_ + 10, .tgid = 1001, .agent = 1000}, 1000, "node"));
  Doc f = last();
  EXPECT_EQ(f.str("/type"), "process.fork");
  EXPECT_EQ(f.i64("/parent_pid"), 1000);
  EXPECT_EQ(f.i64("/process/pid"), 1001);
  EXPECT_EQ(f.i64("/process/ppid"), 1000);
  EXPECT_EQ(f.str("/agent/id"), root_id);
  // Until it execs, the child is still running the parent's image.
  EXPECT_EQ(f.str("/process/exe"), "/opt/myagent/bin/myagent");

  Exec x;
  x.h = Hdr{.ts = t0_ + 20, .tgid = 1001, .agent = 1000, .uid = 1000};
  x.ppid = 1000;
  x.comm = "sh";
  x.exe = "/bin/sh";
  x.args = {"sh", "-c", "ls -la"};
  x.cwd = "/work/sub";
  feed(exec_rec(x));
  Doc e = last();
  EXPECT_EQ(e.str("/type"), "process.exec");
  EXPECT_EQ(e.str("/agent/id"), root_id);
  EXPECT_EQ(e.str("/agent/name"), "myagent");
  EXPECT_EQ(e.i64("/agent/root_pid"), 1000);
  EXPECT_FALSE(e.boolean("/new_agent"));
  EXPECT_EQ(e.str("/process/exe"), "/bin/sh");
  EXPECT_EQ(e.str("/process/comm"), "sh");
  EXPECT_EQ(e.strings("/process/args"), (std::vector<std::string>{"sh", "-c", "ls -la"}));
  EXPECT_EQ(e.str("/cwd"), "/work/sub");

  // Grandchild: same agent, parent is the child.
  feed(fork_rec(Hdr{.ts = t0_ + 30, .tgid = 1002, .agent = 1000}, 1001, "sh"));
  EXPECT_EQ(last().str("/agent/id"), root_id);
  EXPECT_EQ(last().str("/process/exe"), "/bin/sh");
  EXPECT_EQ(pipe_->table().find(1002)->agent_root, 1000u);
}

// A running process the agent took control of (ptrace) joins the agent: one
// process.controlled event naming the controller, no process.exec, and its later events carry
// the agent.
TEST_F(PipelineReplay, ControlledProcessJoinsTheAgent) {
  start_root(1000);
  std::string root_id = last().str("/agent/id");
  size_t before = sink_.lines.size();
  Exec x;
  x.h = Hdr{.ts = t0_ + 10, .tgid = 3000, .agent = 1000, .uid = 1000};
  x.ppid = 1;
  x.flags = REIN_F_DISCOVERED | REIN_F_CONTROLLED;
  x.selector = 1000;  // the controlling process
  x.comm = "bash";
  x.exe = "/usr/bin/bash";
  x.cwd = "/home/u";
  feed(exec_rec(x));
  ASSERT_EQ(sink_.lines.size(), before + 1);
  Doc c = last();
  EXPECT_EQ(c.str("/type"), "process.controlled");
  EXPECT_EQ(c.str("/mechanism"), "ptrace");
  EXPECT_EQ(c.i64("/controller_pid"), 1000);
  EXPECT_EQ(c.str("/cwd"), "/home/u");
  EXPECT_EQ(c.i64("/process/pid"), 3000);
  EXPECT_EQ(c.str("/process/exe"), "/usr/bin/bash");
  EXPECT_EQ(c.str("/agent/id"), root_id);
  EXPECT_EQ(pipe_->table().find(3000)->agent_root, 1000u);
  x.h.tgid = 3001;
  x.flags |= REIN_F_CONTROLLED_VM;
  feed(exec_rec(x));
  EXPECT_EQ(last().str("/mechanism"), "process_vm_writev");
}

// A raw or packet socket: one net.mechanism event with the family and type; killed when the
// kernel says so.
TEST_F(PipelineReplay, RawSocketIsANetMechanism) {
  start_root(1000);
  feed(raw_socket_rec(Hdr{.ts = t0_ + 10, .tgid = 1000, .agent = 1000}, 17, 2, 1,
                      REIN_OUT_KILLED));
  Doc k = last();
  EXPECT_EQ(k.str("/type"), "net.mechanism");
  EXPECT_EQ(k.str("/mechanism"), "raw_socket");
  EXPECT_EQ(k.str("/family"), "packet");
  EXPECT_EQ(k.str("/socket_type"), "dgram");
  EXPECT_EQ(k.str("/enforcement"), "killed");
  feed(raw_socket_rec(Hdr{.ts = t0_ + 20, .tgid = 1000, .agent = 1000}, 2, 3));
  Doc r = last();
  EXPECT_EQ(r.str("/family"), "inet");
  EXPECT_EQ(r.str("/socket_type"), "raw");
  EXPECT_TRUE(r.is_null("/enforcement"));
}

// The sensor's guard: a BPF map taken by id, a ptrace of the sensor.
TEST_F(PipelineReplay, SensorTamperSaysWhatWasAttempted) {
  start_root(1000);
  feed(tamper_rec(Hdr{.ts = t0_ + 10, .tgid = 1000, .agent = 1000}, 14, 1, REIN_OUT_KILLED));
  EXPECT_EQ(last().str("/type"), "sensor.tamper");
  EXPECT_EQ(last().str("/attempt"), "bpf MAP_GET_FD_BY_ID");
  EXPECT_EQ(last().str("/enforcement"), "killed");
  feed(tamper_rec(Hdr{.ts = t0_ + 20, .tgid = 1000, .agent = 1000}, 0x10000 | 101, 0,
                  REIN_OUT_KILLED));
  EXPECT_EQ(last().str("/attempt"), "ptrace of the sensor");
  feed(tamper_rec(Hdr{.ts = t0_ + 30, .tgid = 1000, .agent = 1000}, 30));
  EXPECT_EQ(last().str("/attempt"), "bpf LINK_GET_FD_BY_ID");
  EXPECT_TRUE(last().is_null("/enforcement"));
}

TEST_F(PipelineReplay, UntrackedProcessHasNullAgent) {
  Exec x;
  x.h = Hdr{.ts = t0_, .tgid = 55, .agent = 0};
  feed(exec_rec(x));
  EXPECT_TRUE(last().is_null("/agent"));
  // A record naming an agent root the pipeline never saw start: no invented agent.
  feed(fork_rec(Hdr{.ts = t0_, .tgid = 56, .agent = 4444}, 55, "x"));
  EXPECT_TRUE(last().is_null("/agent"));
}

TEST_F(PipelineReplay, ExitWithCode) {
  start_root(1000, t0_);
  feed(exit_rec(Hdr{.ts = t0_ + 1'500'000'000, .tgid = 1000, .agent = 1000}, 3u << 8, 900));
  Doc d = last_of("process.exit");
  EXPECT_EQ(d.str("/type"), "process.exit");
  EXPECT_EQ(d.i64("/exit_code"), 3);
  EXPECT_TRUE(d.is_null("/signal"));
  EXPECT_FALSE(d.boolean("/core_dumped"));
  EXPECT_DOUBLE_EQ(d.num("/duration_ms"), 1500.0);
  EXPECT_EQ(d.str("/agent/name"), "myagent");
  EXPECT_EQ(d.str("/process/exe"), "/opt/myagent/bin/myagent");  // still enriched after exit
}

TEST_F(PipelineReplay, ExitBySignal) {
  start_root(1000);
  feed(exit_rec(Hdr{.ts = t0_ + 5, .tgid = 1000, .agent = 1000}, 9));
  Doc d = last_of("process.exit");
  EXPECT_TRUE(d.is_null("/exit_code"));
  EXPECT_EQ(d.i64("/signal"), 9);
  EXPECT_FALSE(d.boolean("/core_dumped"));
  feed(exit_rec(Hdr{.ts = t0_ + 6, .tgid = 1001, .agent = 1000}, 0x80 | 11));
  Doc c = last_of("process.exit");
  EXPECT_EQ(c.i64("/signal"), 11);
  EXPECT_TRUE(c.boolean("/core_dumped"));
  EXPECT_TRUE(c.is_null("/duration_ms"));  // pid 1001 was never seen start
  EXPECT_TRUE(c.is_null("/process/ppid"));
}

TEST_F(PipelineReplay, ExitCodeZero) {
  start_root(1000);
  feed(exit_rec(Hdr{.ts = t0_ + 5, .tgid = 1000, .agent = 1000}, 0));
  EXPECT_EQ(last_of("process.exit").i64("/exit_code"), 0);
  EXPECT_TRUE(last_of("process.exit").is_null("/signal"));
}

// --- file.mutation ---

struct OpCase {
  uint16_t op;
  const char* name;
};

TEST_F(PipelineReplay, FileMutationEveryOp) {
  start_root(1000);
  const OpCase ops[] = {{REIN_OP_CREATE, "create"}, {REIN_OP_WRITE, "write"},
                        {REIN_OP_TRUNCATE, "truncate"}, {REIN_OP_RENAME, "rename"},
                        {REIN_OP_UNLINK, "unlink"}, {REIN_OP_CHMOD, "chmod"},
                        {REIN_OP_CHOWN, "chown"}, {REIN_OP_MKDIR, "mkdir"},
                        {REIN_OP_RMDIR, "rmdir"}, {REIN_OP_LINK, "link"},
                        {REIN_OP_SYMLINK, "symlink"}};
  for (const auto& c : ops) {
    File f;
    f.h = Hdr{.ts = t0_ + 100, .tgid = 1000, .agent = 1000, .pid = 1003};
    f.op = c.op;
    f.path = "/work/file";
    f.path2 = "/work/other";
    f.mode = 0100644;
    f.owner = 1;
    f.group = 2;
    feed(file_rec(f));
    Doc d = last();
    SCOPED_TRACE(c.name);
    EXPECT_EQ(d.str("/type"), "file.mutation");
    EXPECT_EQ(d.str("/op"), c.name);
    EXPECT_EQ(d.str("/path"), "/work/file");
    EXPECT_EQ(d.i64("/result"), 0);
    EXPECT_TRUE(d.is_null("/error"));
    EXPECT_EQ(d.i64("/tid"), 1003);
    EXPECT_EQ(d.str("/agent/name"), "myagent");
    bool two_paths = c.op == REIN_OP_RENAME || c.op == REIN_OP_LINK;
    EXPECT_EQ(d.has("/new_path"), two_paths);
    if (two_paths) EXPECT_EQ(d.str("/new_path"), "/work/other");
    EXPECT_EQ(d.has("/target"), c.op == REIN_OP_SYMLINK);
    bool moded = c.op == REIN_OP_CHMOD || c.op == REIN_OP_MKDIR || c.op == REIN_OP_CREATE;
    EXPECT_EQ(d.has("/mode"), moded);
    if (moded) EXPECT_EQ(d.str("/mode"), "0644");
    EXPECT_EQ(d.has("/owner"), c.op == REIN_OP_CHOWN);
    EXPECT_FALSE(d.has("/path_truncated"));
  }
  EXPECT_EQ(of_type("file.mutation").size(), std::size(ops));
}

TEST_F(PipelineReplay, FileRenameSymlinkChmodChownDetails) {
  File f;
  f.h = Hdr{.ts = t0_, .tgid = 77};
  f.op = REIN_OP_RENAME;
  f.path = "/w/a.txt";
  f.path2 = "/w/b.txt";
  feed(file_rec(f));
  EXPECT_EQ(last().str("/new_path"), "/w/b.txt");

  f.op = REIN_OP_SYMLINK;
  f.path = "/w/link";
  f.path2 = "../some/target";  // a symlink target is text: not folded
  feed(file_rec(f));
  EXPECT_EQ(last().str("/target"), "../some/target");
  EXPECT_FALSE(last().has("/new_path"));

  f = File{};
  f.h = Hdr{.ts = t0_, .tgid = 77};
  f.op = REIN_OP_CHMOD;
  f.path = "/w/key.pem";
  f.mode = 0100600;  // file type bits are not part of the mode shown
  feed(file_rec(f));
  EXPECT_EQ(last().str("/mode"), "0600");
  f.mode = 04755;
  feed(file_rec(f));
  EXPECT_EQ(last().str("/mode"), "4755");

  f.op = REIN_OP_CHOWN;
  f.owner = 1000;
  f.group = 0xffffffffu;  // -1: unchanged
  feed(file_rec(f));
  EXPECT_EQ(last().i64("/owner"), 1000);
  EXPECT_TRUE(last().is_null("/group"));
  f.owner = 0xffffffffu;
  f.group = 0;
  feed(file_rec(f));
  EXPECT_TRUE(last().is_null("/owner"));
  EXPECT_EQ(last().i64("/group"), 0);
}

TEST_F(PipelineReplay, FileFailedOpCarriesErrno) {
  File f;
  f.h = Hdr{.ts = t0_, .tgid = 77};
  f.op = REIN_OP_UNLINK;
  f.path = "/w/missing";
  f.result = -2;
  feed(file_rec(f));
  EXPECT_EQ(last().i64("/result"), 2);
  EXPECT_EQ(last().str("/error"), "ENOENT");
  f.result = -13;
  feed(file_rec(f));
  EXPECT_EQ(last().i64("/result"), 13);
  EXPECT_EQ(last().str("/error"), "EACCES");
  f.result = -4095;  // not a known errno: still named, not crashed
  feed(file_rec(f));
  EXPECT_EQ(last().i64("/result"), 4095);
  EXPECT_EQ(last().str("/error"), "E4095");
  f.result = INT32_MIN;  // corrupt record: must not overflow when negated
  feed(file_rec(f));
  EXPECT_EQ(last().i64("/result"), 2147483648LL);
  EXPECT_EQ(last().str("/error"), "E2147483648");
  feed(connect_rec(f.h, sockaddr_v4("1.2.3.4", 1), INT32_MIN));
  EXPECT_EQ(last().i64("/result"), 2147483648LL);
}

TEST_F(PipelineReplay, FileUnknownOpAndFlags) {
  File f;
  f.h = Hdr{.ts = t0_, .tgid = 77};
  f.op = 99;
  f.path = "/w/x";
  f.flags = REIN_F_PATH_TRUNCATED;
  feed(file_rec(f));
  EXPECT_EQ(last().str("/op"), "unknown");
  EXPECT_TRUE(last().boolean("/path_truncated"));
  EXPECT_FALSE(last().has("/path_unresolved"));
}

TEST_F(PipelineReplay, RelativeTailIsFoldedUnlessPathCameFromFd) {
  File f;
  f.h = Hdr{.ts = t0_, .tgid = 77};
  f.op = REIN_OP_UNLINK;
  f.path = "/w/sub/../x";
  feed(file_rec(f));
  EXPECT_EQ(last().str("/path"), "/w/x");
  f.path = "/w/./a//b/";
  feed(file_rec(f));
  EXPECT_EQ(last().str("/path"), "/w/a/b");
  f.path = "/../../etc/passwd";
  feed(file_rec(f));
  EXPECT_EQ(last().str("/path"), "/etc/passwd");

  f.flags = REIN_F_PATH_FROM_FD;  // canonical from the file itself: shown as the kernel gave it
  f.path = "/w/sub/../x";
  feed(file_rec(f));
  EXPECT_EQ(last().str("/path"), "/w/sub/../x");

  f.flags = 0;
  f.op = REIN_OP_RENAME;
  f.path = "/w/a/./b";
  f.path2 = "/w/a/../c";
  feed(file_rec(f));
  EXPECT_EQ(last().str("/path"), "/w/a/b");
  EXPECT_EQ(last().str("/new_path"), "/w/c");
}

TEST_F(PipelineReplay, UnresolvedRelativePathKeptAsGiven) {
  File f;
  f.h = Hdr{.ts = t0_, .tgid = 77};
  f.op = REIN_OP_CREATE;
  f.path = "rel/../x";
  f.flags = REIN_F_PATH_UNRESOLVED;
  feed(file_rec(f));
  EXPECT_EQ(last().str("/path"), "rel/../x");
  EXPECT_TRUE(last().boolean("/path_unresolved"));
}

TEST_F(PipelineReplay, OpenCreatedThenCloseGivesCreateAndWriteSummary) {
  start_root(1000);
  FileOpen o;
  o.h = Hdr{.ts = t0_ + 10, .tgid = 1000, .agent = 1000};
  o.file_id = 0xabc0;
  o.flags = REIN_F_CREATED | REIN_F_WRITABLE | REIN_F_PATH_FROM_FD;
  o.mode = 0100640;
  o.path = "/work/new.txt";
  feed(file_open_rec(o));
  Doc c = last();
  EXPECT_EQ(c.str("/op"), "create");
  EXPECT_EQ(c.str("/path"), "/work/new.txt");
  EXPECT_EQ(c.str("/mode"), "0640");
  EXPECT_EQ(c.i64("/result"), 0);

  size_t before = sink_.lines.size();
  feed(file_close_rec(Hdr{.ts = t0_ + 20, .tgid = 1000, .agent = 1000}, 0xabc0, 3, 2, 10));
  ASSERT_EQ(sink_.lines.size(), before + 1);
  Doc w = last();
  EXPECT_EQ(w.str("/type"), "file.mutation");
  EXPECT_EQ(w.str("/op"), "write");
  EXPECT_EQ(w.str("/path"), "/work/new.txt");
  EXPECT_EQ(w.i64("/bytes"), 10);
  EXPECT_EQ(w.i64("/writes"), 2);
  EXPECT_EQ(w.str("/agent/name"), "myagent");

  // The description is closed: a second summary for it is unexpected and only counted.
  feed(file_close_rec(Hdr{.ts = t0_ + 30, .tgid = 1000, .agent = 1000}, 0xabc0, 3, 1, 1));
  EXPECT_EQ(sink_.lines.size(), before + 1);
  EXPECT_EQ(pipe_->stats().close_without_open, 1u);
}

TEST_F(PipelineReplay, CloseWithoutWritesGivesNothing) {
  FileOpen o;
  o.h = Hdr{.ts = t0_, .tgid = 77};
  o.file_id = 0x1;
  o.flags = REIN_F_WRITABLE | REIN_F_PATH_FROM_FD;
  feed(file_open_rec(o));
  EXPECT_TRUE(sink_.lines.empty());  // writable open of an existing file: nothing yet
  feed(file_close_rec(Hdr{.ts = t0_ + 1, .tgid = 77}, 0x1, 3, 0, 0));
  EXPECT_TRUE(sink_.lines.empty());
  EXPECT_EQ(pipe_->stats().close_without_open, 0u);
}

TEST_F(PipelineReplay, OpenWithTruncate) {
  FileOpen o;
  o.h = Hdr{.ts = t0_, .tgid = 77};
  o.flags = REIN_F_TRUNCATED | REIN_F_WRITABLE | REIN_F_PATH_FROM_FD | REIN_F_PATH_TRUNCATED;
  o.path = "/w/log";
  feed(file_open_rec(o));
  ASSERT_EQ(sink_.lines.size(), 1u);
  EXPECT_EQ(last().str("/op"), "truncate");
  EXPECT_TRUE(last().boolean("/path_truncated"));
}

TEST_F(PipelineReplay, DupSharedDescriptionAndOpenerExit) {
  FileOpen o;
  o.h = Hdr{.ts = t0_, .tgid = 77};
  o.file_id = 0x10;
  o.path = "/w/a";
  feed(file_open_rec(o));
  o.file_id = 0x20;
  o.path = "/w/b";
  feed(file_open_rec(o));
  // Closing through another pid (inherited descriptor): the path comes from the open.
  feed(file_close_rec(Hdr{.ts = t0_ + 1, .tgid = 78}, 0x10, 9, 4, 400));
  EXPECT_EQ(last().str("/path"), "/w/a");
  EXPECT_EQ(last().i64("/bytes"), 400);
  // The opener exits: its remaining descriptions are forgotten.
  feed(exit_rec(Hdr{.ts = t0_ + 2, .tgid = 77}, 0));
  size_t n = sink_.lines.size();
  feed(file_close_rec(Hdr{.ts = t0_ + 3, .tgid = 77}, 0x20, 4, 1, 1));
  EXPECT_EQ(sink_.lines.size(), n);
  EXPECT_EQ(pipe_->stats().close_without_open, 1u);
}

// --- argv selectors on candidate execs ---

TEST_F(PipelineReplay, CandidateMatchingCmdlineIsTrackedAndReported) {
  make({{SelectorKind::Exe, "unused", ""}, {SelectorKind::Cmdline, "claude(-code)?/cli\\.js", "claude-code"}});
  Exec x;
  x.h = Hdr{.ts = t0_ + 42, .tgid = 2000, .agent = 0};
  x.flags = REIN_F_CANDIDATE;
  x.comm = "node";
  x.exe = "/usr/bin/node";
  x.args = {"node", "/usr/lib/node_modules/claude-code/cli.js", "--print"};
  feed(exec_rec(x));
  ASSERT_EQ(tracks_.size(), 1u);
  EXPECT_EQ(tracks_[0].tgid, 2000u);
  EXPECT_EQ(tracks_[0].root, 2000u);
  EXPECT_EQ(tracks_[0].selector, 1u);
  EXPECT_EQ(tracks_[0].start_ns, t0_ + 42);
  ASSERT_EQ(sink_.lines.size(), 1u);
  Doc d = last();
  EXPECT_EQ(d.str("/type"), "process.exec");
  EXPECT_TRUE(d.boolean("/new_agent"));
  EXPECT_EQ(d.str("/agent/name"), "claude-code");
  EXPECT_EQ(d.i64("/agent/root_pid"), 2000);
  EXPECT_EQ(pipe_->stats().candidates_matched, 1u);
  // Its later children (tracked by the kernel from now on) join the same agent.
  std::string id = d.str("/agent/id");
  feed(fork_rec(Hdr{.ts = t0_ + 50, .tgid = 2001, .agent = 2000}, 2000, "node"));
  EXPECT_EQ(last().str("/agent/id"), id);
}

TEST_F(PipelineReplay, CandidateNotMatchingProducesNothing) {
  make({{SelectorKind::Cmdline, "claude", "cc"}});
  Exec x;
  x.h = Hdr{.ts = t0_, .tgid = 2100};
  x.flags = REIN_F_CANDIDATE;
  x.args = {"ls", "-la"};
  feed(exec_rec(x));
  EXPECT_TRUE(sink_.lines.empty());
  EXPECT_TRUE(tracks_.empty());
  EXPECT_EQ(pipe_->table().find(2100), nullptr);
  EXPECT_EQ(pipe_->stats().candidates_matched, 0u);
}

TEST_F(PipelineReplay, CandidateTrackFailureIsCountedButReported) {
  make({{SelectorKind::Cmdline, "agent", "a"}});
  track_fails_ = true;
  Exec x;
  x.h = Hdr{.ts = t0_, .tgid = 2200};
  x.flags = REIN_F_CANDIDATE;
  x.args = {"agent"};
  feed(exec_rec(x));
  EXPECT_EQ(tracks_.size(), 1u);
  EXPECT_EQ(pipe_->stats().track_failed, 1u);
  EXPECT_EQ(last().str("/agent/name"), "a");
}

// --- net.connect ---

TEST_F(PipelineReplay, ConnectIpv4Ipv6Unix) {
  start_root(1000);
  Hdr h{.ts = t0_ + 1, .tgid = 1000, .agent = 1000};
  feed(connect_rec(h, sockaddr_v4("10.1.2.3", 8080), 0, 7));
  Doc a = last();
  EXPECT_EQ(a.str("/type"), "net.connect");
  EXPECT_EQ(a.str("/family"), "ipv4");
  EXPECT_EQ(a.str("/address"), "10.1.2.3");
  EXPECT_EQ(a.i64("/port"), 8080);
  EXPECT_EQ(a.i64("/fd"), 7);
  EXPECT_EQ(a.i64("/result"), 0);
  EXPECT_TRUE(a.is_null("/error"));
  EXPECT_TRUE(a.is_null("/hostname"));
  EXPECT_EQ(a.str("/agent/name"), "myagent");

  feed(connect_rec(h, sockaddr_v6("2606:4700::6810:1", 443), -111, 8));
  Doc b = last();
  EXPECT_EQ(b.str("/family"), "ipv6");
  EXPECT_EQ(b.str("/address"), "2606:4700::6810:1");
  EXPECT_EQ(b.i64("/port"), 443);
  EXPECT_EQ(b.i64("/result"), 111);
  EXPECT_EQ(b.str("/error"), "ECONNREFUSED");

  feed(connect_rec(h, sockaddr_unix("/var/run/docker.sock", true)));
  Doc c = last();
  EXPECT_EQ(c.str("/family"), "unix");
  EXPECT_EQ(c.str("/address"), "/var/run/docker.sock");
  EXPECT_TRUE(c.is_null("/port"));
  EXPECT_TRUE(c.is_null("/hostname"));

  feed(connect_rec(h, sockaddr_unix(std::string("\0dbus-abc", 9), false)));
  EXPECT_EQ(last().str("/address"), "@dbus-abc");

  Sockaddr other;
  other.bytes = {16, 0};
  other.addrlen = 12;
  feed(connect_rec(h, other, -97));
  EXPECT_EQ(last().str("/family"), "af16");
  EXPECT_TRUE(last().is_null("/address"));
  EXPECT_TRUE(last().is_null("/port"));
  EXPECT_EQ(last().str("/error"), "EAFNOSUPPORT");
}

// --- DNS ---

TEST_F(PipelineReplay, DnsQueryAndResponsePairAndNameConnect) {
  start_root(1000);
  Dns q;
  q.h = Hdr{.ts = t0_ + 1'000'000, .tgid = 1000, .agent = 1000};
  q.cookie = 0xc00c1e;
  q.server = "10.0.0.53";
  feed(dns_rec(q, dns_message(0x4242, false, "api.openai.com", 1)));
  size_t before = sink_.lines.size();
  EXPECT_EQ(before, 1u);  // a query alone is not an event yet

  Dns r = q;
  r.h.ts = t0_ + 13'500'000;  // 12.5 ms later
  r.ingress = true;
  feed(dns_rec(r, dns_message(0x4242, true, "api.openai.com", 1,
                              {{1, ipv4_bytes("162.159.140.245"), 60},
                               {1, ipv4_bytes("172.66.0.243"), 61}})));
  ASSERT_EQ(sink_.lines.size(), before + 1);
  Doc d = last();
  EXPECT_EQ(d.str("/type"), "net.dns");
  EXPECT_EQ(d.str("/query"), "api.openai.com");
  EXPECT_EQ(d.str("/query_type"), "A");
  EXPECT_EQ(d.str("/server"), "10.0.0.53");
  EXPECT_EQ(d.i64("/server_port"), 53);
  EXPECT_EQ(d.i64("/rcode"), 0);
  ASSERT_EQ(d.array_size("/answers"), 2u);
  EXPECT_EQ(d.str("/answers/0/name"), "api.openai.com");
  EXPECT_EQ(d.str("/answers/0/type"), "A");
  EXPECT_EQ(d.i64("/answers/0/ttl"), 60);
  EXPECT_EQ(d.str("/answers/0/data"), "162.159.140.245");
  EXPECT_EQ(d.str("/answers/1/data"), "172.66.0.243");
  EXPECT_DOUBLE_EQ(d.num("/latency_ms"), 12.5);
  EXPECT_FALSE(d.boolean("/truncated"));
  EXPECT_EQ(d.str("/agent/name"), "myagent");
  EXPECT_EQ(d.i64("/process/pid"), 1000);

  Hdr h{.ts = t0_ + 20'000'000, .tgid = 1000, .agent = 1000};
  feed(connect_rec(h, sockaddr_v4("172.66.0.243", 443)));
  EXPECT_EQ(last().str("/hostname"), "api.openai.com");
  feed(connect_rec(h, sockaddr_v4("172.66.0.244", 443)));
  EXPECT_TRUE(last().is_null("/hostname"));

  // Answered: nothing left for the timeout.
  size_t n = sink_.lines.size();
  pipe_->tick(t0_ + 60 * kSec);
  EXPECT_EQ(sink_.lines.size(), n);
}

TEST_F(PipelineReplay, DnsAaaaAndCnameAnswers) {
  Dns q;
  q.h = Hdr{.ts = t0_, .tgid = 300};
  feed(dns_rec(q, dns_message(7, false, "api.anthropic.com", 28)));
  Dns r = q;
  r.ingress = true;
  Bytes cname;
  put_name(cname, "edge.example.net");
  feed(dns_rec(r, dns_message(7, true, "api.anthropic.com", 28,
                              {{5, cname, 30}, {28, ipv6_bytes("2607:6bc0::10"), 30}})));
  Doc d = last();
  EXPECT_EQ(d.str("/query_type"), "AAAA");
  ASSERT_EQ(d.array_size("/answers"), 2u);
  EXPECT_EQ(d.str("/answers/0/type"), "CNAME");
  EXPECT_EQ(d.str("/answers/0/data"), "edge.example.net");
  EXPECT_EQ(d.str("/answers/1/type"), "AAAA");
  EXPECT_EQ(d.str("/answers/1/data"), "2607:6bc0::10");
  feed(connect_rec(Hdr{.ts = t0_ + 1, .tgid = 300}, sockaddr_v6("2607:6bc0::10", 443)));
  EXPECT_EQ(last().str("/hostname"), "api.anthropic.com");  // the name asked, not the CNAME
}

TEST_F(PipelineReplay, DnsUnansweredQueryTimesOutAfterFiveSeconds) {
  Dns q;
  q.h = Hdr{.ts = t0_, .tgid = 300};
  q.server = "1.1.1.1";
  feed(dns_rec(q, dns_message(9, false, "nowhere.invalid", 1)));
  EXPECT_TRUE(sink_.lines.empty());
  pipe_->tick(t0_ + 5 * kSec - 1);
  EXPECT_TRUE(sink_.lines.empty());
  pipe_->tick(t0_ + 5 * kSec);
  ASSERT_EQ(sink_.lines.size(), 1u);
  Doc d = last();
  EXPECT_EQ(d.str("/type"), "net.dns");
  EXPECT_EQ(d.str("/query"), "nowhere.invalid");
  EXPECT_EQ(d.str("/query_type"), "A");
  EXPECT_EQ(d.str("/server"), "1.1.1.1");
  EXPECT_TRUE(d.is_null("/answers"));
  EXPECT_TRUE(d.is_null("/rcode"));
  EXPECT_TRUE(d.is_null("/latency_ms"));
  pipe_->tick(t0_ + 60 * kSec);
  EXPECT_EQ(sink_.lines.size(), 1u);  // reported once
  // Stamped with the query's time, not the tick's: same text as another record at t0.
  feed(connect_rec(Hdr{.ts = t0_, .tgid = 300}, sockaddr_v4("1.1.1.1", 53)));
  EXPECT_EQ(d.str("/time"), last().str("/time"));
  sink_.lines.pop_back();
  // A late answer after the timeout is still reported (from the response alone).
  Dns r = q;
  r.ingress = true;
  r.h.ts = t0_ + 61 * kSec;
  feed(dns_rec(r, dns_message(9, true, "nowhere.invalid", 1, {}, 3)));
  ASSERT_EQ(sink_.lines.size(), 2u);
  EXPECT_EQ(last().i64("/rcode"), 3);
  EXPECT_EQ(last().array_size("/answers"), 0u);
}

TEST_F(PipelineReplay, DnsResponseMatchesOnlyItsSocketAndId) {
  Dns q;
  q.h = Hdr{.ts = t0_, .tgid = 300};
  q.cookie = 1;
  feed(dns_rec(q, dns_message(100, false, "a.example", 1)));
  Dns r = q;
  r.ingress = true;
  r.cookie = 2;  // other socket, same id: not this query's answer
  r.h.ts = t0_ + kSec;
  feed(dns_rec(r, dns_message(100, true, "a.example", 1, {{1, ipv4_bytes("1.2.3.4")}})));
  EXPECT_EQ(sink_.lines.size(), 1u);
  EXPECT_DOUBLE_EQ(last().num("/latency_ms"), 0.0);  // no query seen for it
  pipe_->tick(t0_ + 5 * kSec);
  EXPECT_EQ(sink_.lines.size(), 2u);  // the original query timed out
  EXPECT_TRUE(last().is_null("/answers"));
}

TEST_F(PipelineReplay, DnsMalformedAndTruncatedCapture) {
  Dns q;
  q.h = Hdr{.ts = t0_, .tgid = 300};
  feed(dns_rec(q, Bytes{1, 2, 3}));
  EXPECT_EQ(pipe_->stats().dns_unparsed, 1u);
  EXPECT_TRUE(sink_.lines.empty());

  Dns r = q;
  r.ingress = true;
  r.orig_len = 1400;  // the wire payload was longer than what the kernel copied
  feed(dns_rec(r, dns_message(5, true, "big.example", 1, {{1, ipv4_bytes("9.9.9.9")}})));
  EXPECT_TRUE(last().boolean("/truncated"));
  // Incoming queries (we are the server) and outgoing responses are not client lookups.
  size_t n = sink_.lines.size();
  r.orig_len = -1;
  feed(dns_rec(r, dns_message(6, false, "in.example", 1)));
  q.ingress = false;
  feed(dns_rec(q, dns_message(6, true, "out.example", 1)));
  EXPECT_EQ(sink_.lines.size(), n);
  pipe_->tick(t0_ + 100 * kSec);
  EXPECT_EQ(sink_.lines.size(), n);
}

// --- health ---

TEST_F(PipelineReplay, HealthCarriesKernelAndPipelineCounters) {
  start_root(1000);
  feed(Bytes{1, 2, 3});  // decode error
  Exec cand;
  cand.h = Hdr{.ts = t0_, .tgid = 5};
  cand.flags = REIN_F_CANDIDATE;  // no argv selectors: dropped
  feed(exec_rec(cand));
  feed(file_close_rec(Hdr{.ts = t0_, .tgid = 1000, .agent = 1000}, 0x99, 3, 1, 1));
  Dns q;
  q.h = Hdr{.ts = t0_, .tgid = 1000};
  feed(dns_rec(q, Bytes{0}));
  size_t events_before = sink_.lines.size();

  bool extra_called = false;
  pipe_->emit_health(t0_ + kSec, "running", {{"records", 123}, {"drop_ringbuf", 4}},
                     [&](rein::sinks::JsonWriter& w) {
                       extra_called = true;
                       w.key("hooks");
                       w.number(int64_t(7));
                     });
  EXPECT_TRUE(extra_called);
  Doc h = last();
  EXPECT_EQ(h.str("/type"), "sensor.health");
  EXPECT_EQ(h.str("/state"), "running");
  EXPECT_EQ(h.i64("/process/pid"), int64_t(getpid()));
  EXPECT_TRUE(h.is_null("/agent"));
  EXPECT_EQ(h.i64("/kernel/records"), 123);
  EXPECT_EQ(h.i64("/kernel/drop_ringbuf"), 4);
  EXPECT_EQ(h.i64("/pipeline/records"), 5);
  EXPECT_EQ(h.i64("/pipeline/decode_errors"), 1);
  EXPECT_EQ(h.i64("/pipeline/events"), int64_t(events_before));
  EXPECT_EQ(h.i64("/pipeline/argv_matches"), 0);
  EXPECT_EQ(h.i64("/pipeline/close_without_open"), 1);
  EXPECT_EQ(h.i64("/pipeline/dns_unparsed"), 1);
  EXPECT_EQ(h.i64("/pipeline/agents"), 1);
  EXPECT_EQ(h.i64("/pipeline/process_table_size"), 1);
  for (const char* k : {"/pipeline/fd_table_full", "/pipeline/dns_pending_dropped",
                        "/pipeline/track_failed", "/pipeline/process_table_evictions"})
    EXPECT_EQ(h.i64(k), 0) << k;
  EXPECT_EQ(h.i64("/hooks"), 7);
  EXPECT_EQ(pipe_->stats().events, events_before + 1);
}

// --- time ---

TEST_F(PipelineReplay, TimeIsWallClockWithNanoseconds) {
  uint64_t now = Clock::boot_now_ns();
  Exec x;
  x.h = Hdr{.ts = now, .tgid = 1};
  feed(exec_rec(x));
  x.h = Hdr{.ts = now + 1'123'456'789, .tgid = 2};
  feed(exec_rec(x));
  auto ds = docs();
  ASSERT_EQ(ds.size(), 2u);
  int64_t s1 = 0, s2 = 0;
  long n1 = 0, n2 = 0;
  ASSERT_TRUE(parse_time(ds[0].str("/time"), &s1, &n1));
  ASSERT_TRUE(parse_time(ds[1].str("/time"), &s2, &n2));
  EXPECT_LE(std::llabs(s1 - int64_t(std::time(nullptr))), 5);
  EXPECT_EQ((s2 - s1) * 1'000'000'000 + (n2 - n1), 1'123'456'789);
}

// --- secrets ---

TEST_F(PipelineReplay, SecretsInArgvAreRedactedEverywhere) {
  const std::vector<std::string> secrets = {"sk-proj-abcdefghijklmnopqrstuv", "xyz",
                                            "sk-abc123456789012345"};
  Exec x;
  x.h = Hdr{.ts = t0_, .tgid = 1000, .agent = 1000};
  x.flags = REIN_F_NEW_AGENT;
  x.comm = "agent";
  x.args = {"agent", "--api-key", "sk-proj-abcdefghijklmnopqrstuv", "--token=xyz",
            "OPENAI_API_KEY=sk-abc123456789012345"};
  feed(exec_rec(x));
  EXPECT_EQ(last().strings("/process/args"),
            (std::vector<std::string>{"agent", "--api-key", "[redacted]", "--token=[redacted]",
                                      "OPENAI_API_KEY=[redacted]"}));
  // Children inherit argv until they exec; every event carries the redacted form.
  feed(fork_rec(Hdr{.ts = t0_ + 1, .tgid = 1001, .agent = 1000}, 1000, "agent"));
  File f;
  f.h = Hdr{.ts = t0_ + 2, .tgid = 1001, .agent = 1000};
  feed(file_rec(f));
  feed(connect_rec(f.h, sockaddr_v4("1.2.3.4", 443)));
  feed(exit_rec(Hdr{.ts = t0_ + 3, .tgid = 1001, .agent = 1000}, 0));
  feed(exit_rec(Hdr{.ts = t0_ + 4, .tgid = 1000, .agent = 1000}, 0));
  ASSERT_GE(sink_.lines.size(), 6u);
  for (const auto& line : sink_.lines) {
    EXPECT_NE(line.find("[redacted]"), std::string::npos) << line;
    for (const auto& s : secrets)
      EXPECT_EQ(line.find(s == "xyz" ? "=xyz" : s), std::string::npos) << s << " in " << line;
  }
}

// Credentials in the argv shapes agents and their tools really use.
TEST_F(PipelineReplay, SecretsInHeadersUrlsAndBearerArgsAreRedacted) {
  const std::vector<std::string> secrets = {
      "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA", "sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUVWX",
      "AIzaSyA1234567890abcdefghijklmnopq", "gh0stT0kenValue123456", "hunter2hunter2"};
  Exec x;
  x.h = Hdr{.ts = t0_, .tgid = 1000, .agent = 1000};
  x.flags = REIN_F_NEW_AGENT;
  x.comm = "curl";
  x.args = {"curl",
            "-H",
            "Authorization: Bearer Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA",
            "-H",
            "x-api-key: sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUVWX",
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.0-flash:generateContent?alt=sse&key=AIzaSyA1234567890abcdefghijklmnopq",
            "--header=Private-Token: gh0stT0kenValue123456",
            "https://user:hunter2hunter2@example.com/repo.git"};
  feed(exec_rec(x));
  Doc d = last();
  auto args = d.strings("/process/args");
  ASSERT_EQ(args.size(), x.args.size());
  EXPECT_EQ(args[0], "curl");
  EXPECT_EQ(args[1], "-H");
  EXPECT_EQ(args[2].rfind("Authorization:", 0), 0u) << args[2];  // the header name stays
  EXPECT_NE(args[2].find("[redacted]"), std::string::npos) << args[2];
  EXPECT_EQ(args[4].rfind("x-api-key:", 0), 0u) << args[4];
  EXPECT_NE(args[5].find("generativelanguage.googleapis.com"), std::string::npos) << args[5];
  EXPECT_NE(args[5].find("alt=sse"), std::string::npos) << args[5];
  EXPECT_NE(args[7].find("example.com/repo.git"), std::string::npos) << args[7];
  for (const auto& s : secrets) EXPECT_EQ(d.line().find(s), std::string::npos) << s;
}

TEST(PipelineRedactArg, CommonShapes) {
  bool flag = false;
  using rein::pipeline::redact_arg;
  EXPECT_EQ(redact_arg("plain", false, &flag), "plain");
  EXPECT_FALSE(flag);
  EXPECT_EQ(redact_arg("--password", false, &flag), "--password");
  EXPECT_TRUE(flag);
  EXPECT_EQ(redact_arg("whatever", true, &flag), "[redacted]");
  EXPECT_FALSE(flag);
  EXPECT_EQ(redact_arg("--Client-Secret=abc", false, &flag), "--Client-Secret=[redacted]");
  EXPECT_EQ(redact_arg("GITHUB_TOKEN=ghp_x", false, &flag), "GITHUB_TOKEN=[redacted]");
  EXPECT_EQ(redact_arg("ghp_abcdefghijklmnop", false, &flag), "[redacted]");
  EXPECT_EQ(redact_arg("AKIAABCDEFGHIJKLMNOP", false, &flag), "[redacted]");
  EXPECT_EQ(redact_arg("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig_nature_here", false,
                       &flag),
            "[redacted]");
  // Inside a longer argument.
  EXPECT_EQ(redact_arg("Authorization: Bearer abc", false, &flag), "Authorization: [redacted]");
  EXPECT_EQ(redact_arg("Cookie: sid=1", false, &flag), "Cookie: [redacted]");
  EXPECT_EQ(redact_arg("--header=X-Goog-Api-Key: v", false, &flag),
            "--header=X-Goog-Api-Key: [redacted]");
  EXPECT_EQ(redact_arg("https://u:pw@h.example/x?a=1", false, &flag),
            "https://u:[redacted]@h.example/x?a=1");
  EXPECT_EQ(redact_arg("https://h/p?a=1&access_token=T0k&b=2#k", false, &flag),
            "https://h/p?a=1&access_token=[redacted]&b=2#k");
  EXPECT_EQ(redact_arg("https://h/p?key=", false, &flag), "https://h/p?key=[redacted]");
  EXPECT_EQ(redact_arg("{\"k\": \"sk-ant-api03-0123456789abcdef\"}", false, &flag),
            "{\"k\": \"[redacted]\"}");
  // Connection strings, signed URLs, cookies.
  EXPECT_EQ(redact_arg("host=db user=app password=hunter2 sslmode=require", false, &flag),
            "host=db user=app password=[redacted] sslmode=require");
  EXPECT_EQ(redact_arg("Server=db;Uid=app;Pwd=hunter2;", false, &flag), "Server=db;Uid=app;Pwd=[redacted];");
  EXPECT_EQ(redact_arg("https://acct.blob.example/c/f?sv=2024&sig=Qm9n%3D&se=1", false, &flag),
            "https://acct.blob.example/c/f?sv=2024&sig=[redacted]&se=1");
  EXPECT_EQ(redact_arg("postgres://app:hunter2@db:5432/app", false, &flag),
            "postgres://app:[redacted]@db:5432/app");
  EXPECT_EQ(redact_arg("--cookie=sid=abc", false, &flag), "--cookie=[redacted]");
  EXPECT_EQ(redact_arg("--signal=TERM", false, &flag), "--signal=TERM");
  EXPECT_EQ(redact_arg("Bearer ghp_0123456789abcdefXYZ", false, &flag), "Bearer [redacted]");
  // Not secrets: ordinary flags and short values that happen to share a prefix.
  EXPECT_EQ(redact_arg("http://localhost:11434/api/chat?stream=true", false, &flag),
            "http://localhost:11434/api/chat?stream=true");
  EXPECT_EQ(redact_arg("Content-Type: application/json", false, &flag),
            "Content-Type: application/json");
  EXPECT_EQ(redact_arg("git@github.com:org/repo.git", false, &flag), "git@github.com:org/repo.git");
  EXPECT_EQ(redact_arg("a&&b??c==d&", false, &flag), "a&&b??c==d&");
  EXPECT_EQ(redact_arg("--verbose", false, &flag), "--verbose");
  EXPECT_EQ(redact_arg("sk-short", false, &flag), "sk-short");
  EXPECT_EQ(redact_arg("/usr/bin/python3", false, &flag), "/usr/bin/python3");
  EXPECT_EQ(redact_arg("https://api.openai.com/v1/chat/completions", false, &flag),
            "https://api.openai.com/v1/chat/completions");
}

// curl's -u user:password and -b name=value: the secret part goes, and the same flags with
// other values (python -u script.py, sort -u, a cookie file) are left alone.
TEST(PipelineRedactArg, UserAndCookieFlags) {
  using rein::pipeline::ArgState;
  auto run = [](std::vector<std::string> argv) {
    std::vector<std::string> out;
    ArgState state = ArgState::kPlain;
    for (const auto& a : argv) {
      ArgState next = ArgState::kPlain;
      out.push_back(rein::pipeline::redact_arg(a, state, &next));
      state = next;
    }
    return out;
  };
  EXPECT_EQ(run({"curl", "-u", "alice:hunter2", "https://h/"}),
            (std::vector<std::string>{"curl", "-u", "alice:[redacted]", "https://h/"}));
  EXPECT_EQ(run({"curl", "--user=alice:hunter2"}),
            (std::vector<std::string>{"curl", "--user=alice:[redacted]"}));
  EXPECT_EQ(run({"curl", "-b", "sid=abc; t=1", "-b", "cookies.txt"}),
            (std::vector<std::string>{"curl", "-b", "sid=[redacted]", "-b", "cookies.txt"}));
  EXPECT_EQ(run({"python3", "-u", "agent.py"}), (std::vector<std::string>{"python3", "-u", "agent.py"}));
}

// --- hostile strings ---

TEST_F(PipelineReplay, HostileStringsStayValidJson) {
  const std::string ctl = "a\x01\x1b[31m\n\t\"\\\x7f z";
  const std::string bad_utf8 = "\xff\xfe\xc3\x28\xed\xa0\x80\xf4\x90\x80\x80";
  // The largest argv element a record can carry (args_len is 16 bits).
  const std::string big(65535 - (ctl.size() + 1) - (bad_utf8.size() + 1) - 4, 'A');
  Exec x;
  x.h = Hdr{.ts = t0_, .tgid = 1000, .agent = 1000};
  x.flags = REIN_F_NEW_AGENT;
  x.comm = std::string("\x1b\xff\n", 3);
  x.exe = "/tmp/\xff\x01" + ctl;
  x.args = {ctl, bad_utf8, "\xe2\x80\xa8", big};
  std::string block = args_block(x.args);
  block.pop_back();  // keep args_len within 16 bits: the last argument is unterminated
  ASSERT_EQ(block.size(), 65535u);
  x.raw_args = &block;
  x.cwd = ctl;
  feed(exec_rec(x));
  ASSERT_EQ(sink_.lines.size(), 1u);
  Doc d = last();
  ASSERT_TRUE(d.ok());
  auto args = d.strings("/process/args");
  ASSERT_EQ(args.size(), 4u);
  EXPECT_EQ(args[0], ctl);  // control characters escaped, not lost
  EXPECT_EQ(args[1].find('\xff'), std::string::npos);
  EXPECT_NE(args[1].find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
  EXPECT_EQ(args[2], "\xe2\x80\xa8");
  EXPECT_EQ(args[3], big);
  EXPECT_EQ(d.str("/cwd"), ctl);

  File f;
  f.h = x.h;
  f.op = REIN_OP_RENAME;
  f.path = "/w/" + bad_utf8 + "/../" + ctl;
  f.path2 = std::string("/w/\0nul", 7);
  feed(file_rec(f));
  feed(connect_rec(x.h, sockaddr_unix(std::string("\0\x01\xff\n\"", 5), false)));
  FileOpen o;
  o.h = x.h;
  o.path = std::string(65535, '\x80');
  o.flags = REIN_F_CREATED | REIN_F_WRITABLE;
  feed(file_open_rec(o));
  feed(file_close_rec(x.h, o.file_id, 3, 1, UINT64_MAX));
  Dns q;
  q.h = x.h;
  Bytes weird_label = dns_message(1, false, "x", 1);
  weird_label[13] = '\n';  // a label byte that is a control character
  feed(dns_rec(q, weird_label));
  pipe_->tick(t0_ + 10 * kSec);
  EXPECT_EQ(sink_.lines.size(), 6u);
  for (const auto& line : sink_.lines) EXPECT_TRUE(Doc(line).ok()) << line.substr(0, 300);
  EXPECT_EQ(last().str("/type"), "net.dns");
  EXPECT_EQ(last().str("/query"), "\\010");
}

TEST(PipelineEventBuilder, HundredKibArgvElementStaysValidJson) {
  // Larger than any record tail: built straight from a process entry, as a /proc seed would.
  rein::pipeline::Clock clock;
  rein::pipeline::EventBuilder b(clock);
  rein::process::ProcessInfo info;
  info.pid = 42;
  info.comm = "x";
  std::string big(100 * 1024, 'B');
  big[5000] = '\x01';
  big[60000] = '\xff';
  info.args = {"prog", big};
  rein::pipeline::ProcessView v;
  v.pid = 42;
  v.info = &info;
  auto& w = b.begin("process.exec", Clock::boot_now_ns(), v, nullptr);
  w.key("k");
  w.string(big);
  std::string line = b.finish();
  Doc d(line);
  ASSERT_TRUE(d.ok());
  auto args = d.strings("/process/args");
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[1].size(), big.size() + 2);  // 0xFF -> U+FFFD (3 bytes)
  EXPECT_EQ(args[1][5000], '\x01');
  EXPECT_EQ(d.str("/k").size(), big.size() + 2);
}

// --- non-blocking connects and untrusted DNS answers (issue 8) ---

Bytes outcome_rec(const Hdr& h, int32_t fd, int32_t result, uint64_t latency_ns) {
  rein_connect_outcome o{};
  fill(o.h, REIN_REC_CONNECT_OUTCOME, h);
  o.fd = fd;
  o.result = result;
  o.latency_ns = latency_ns;
  o.state = result ? 7 : 1;
  return assemble(o);
}

TEST_F(PipelineReplay, NonBlockingConnectCarriesItsOutcome) {
  start_root(1000);
  Hdr h{.ts = t0_ + 1, .tgid = 1000, .agent = 1000};
  size_t before = sink_.lines.size();
  feed(connect_rec(h, sockaddr_v4("127.0.0.1", 8080), -EINPROGRESS, 7));
  feed(connect_rec(h, sockaddr_v4("127.0.0.1", 9), -EINPROGRESS, 8));
  EXPECT_EQ(sink_.lines.size(), before);  // held until the outcome
  feed(outcome_rec(Hdr{.ts = t0_ + 2, .tgid = 1000, .agent = 1000}, 8, -ECONNREFUSED, 1'500'000));
  ASSERT_EQ(sink_.lines.size(), before + 1);
  Doc r = last();
  EXPECT_EQ(r.i64("/fd"), 8);
  EXPECT_EQ(r.i64("/port"), 9);
  EXPECT_EQ(r.str("/error"), "ECONNREFUSED");
  EXPECT_TRUE(r.boolean("/in_progress"));
  EXPECT_DOUBLE_EQ(r.num("/connect_ms"), 1.5);
  feed(outcome_rec(Hdr{.ts = t0_ + 3, .tgid = 1000, .agent = 1000}, 7, 0, 250'000));
  Doc ok = last();
  EXPECT_EQ(ok.i64("/fd"), 7);
  EXPECT_EQ(ok.i64("/result"), 0);
  EXPECT_TRUE(ok.is_null("/error"));
  EXPECT_TRUE(ok.boolean("/in_progress"));
  EXPECT_DOUBLE_EQ(ok.num("/connect_ms"), 0.25);

  // no outcome in time: reported as the call returned
  feed(connect_rec(h, sockaddr_v4("10.9.9.9", 443), -EINPROGRESS, 9));
  size_t n = sink_.lines.size();
  pipe_->tick(t0_ + 1 + kSec);
  EXPECT_EQ(sink_.lines.size(), n);
  pipe_->tick(t0_ + 1 + 3 * kSec);
  ASSERT_EQ(sink_.lines.size(), n + 1);
  EXPECT_EQ(last().str("/error"), "EINPROGRESS");
  EXPECT_TRUE(last().boolean("/in_progress"));
  EXPECT_TRUE(last().is_null("/connect_ms"));

  // a blocking connect is not held
  feed(connect_rec(h, sockaddr_v4("10.9.9.9", 443), 0, 10));
  EXPECT_FALSE(last().boolean("/in_progress"));
  EXPECT_EQ(pipe_->stats().connect_outcomes, 2u);
  EXPECT_EQ(pipe_->stats().connect_no_outcome, 1u);
}

TEST_F(PipelineReplay, HeldConnectReleasedAtExit) {
  start_root(1000);
  feed(connect_rec(Hdr{.ts = t0_ + 1, .tgid = 1000, .agent = 1000}, sockaddr_v4("10.0.0.1", 80),
                   -EINPROGRESS, 5));
  feed(exit_rec(Hdr{.ts = t0_ + 2, .tgid = 1000, .agent = 1000}, 0));
  auto cs = of_type("net.connect");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].str("/error"), "EINPROGRESS");
}

TEST_F(PipelineReplay, UntrustedDnsAnswerTeachesNoHostname) {
  start_root(1000);
  Dns q;
  q.h = Hdr{.ts = t0_ + 1, .tgid = 1000, .agent = 1000};
  q.server = "127.0.0.2";
  feed(dns_rec(q, dns_message(0x77, false, "blocked.test", 1)));
  Dns r = q;
  r.ingress = true;
  Bytes rec = dns_rec(r, dns_message(0x77, true, "blocked.test", 1, {{1, ipv4_bytes("127.0.0.9"), 60}}));
  uint32_t flags = REIN_F_INGRESS | REIN_F_DNS_UNTRUSTED;
  std::memcpy(rec.data() + offsetof(rein_dns, flags), &flags, sizeof(flags));
  feed(rec);
  Doc d = last();
  EXPECT_EQ(d.str("/type"), "net.dns");
  EXPECT_FALSE(d.boolean("/trusted"));
  EXPECT_EQ(d.str("/answers/0/data"), "127.0.0.9");  // still reported
  feed(connect_rec(Hdr{.ts = t0_ + 3, .tgid = 1000, .agent = 1000}, sockaddr_v4("127.0.0.9", 80)));
  EXPECT_TRUE(last().is_null("/hostname"));
  EXPECT_EQ(pipe_->stats().dns_untrusted, 1u);
}

}  // namespace
