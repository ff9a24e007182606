// argv redaction as byte ranges, and the capture's masking of exec argv: what the capture
// keeps of an argument holds none of the bytes process.args hides, and replay's redaction of
// it prints what the live sensor printed.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "llm/key_fingerprint.h"
#include "pipeline/arg_redaction.h"
#include "pipeline/capture_scrubber.h"
#include "process/proc_reader.h"

namespace {
using rein::TextRange;
using rein::pipeline::ArgState;
using rein::pipeline::mask_argv_secrets;
using rein::pipeline::redact_arg;
using rein::pipeline::redacted_ranges;

std::vector<std::string> redact_all(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  ArgState state = ArgState::kPlain;
  for (const auto& a : argv) {
    ArgState next = ArgState::kPlain;
    out.push_back(redact_arg(a, state, &next));
    state = next;
  }
  return out;
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) (s += a) += '\0';
  return s;
}

std::vector<std::string> split(const std::string& s) { return rein::process::split_cmdline(s); }

// What the capture does to an exec record's argv: the scrubber first (key-shaped tokens
// become placeholders), then the argv mask.
std::string capture_argv(const std::vector<std::string>& argv) {
  std::array<uint8_t, 32> k{};
  k.fill(3);
  static rein::llm::Fingerprinter fp(k);
  rein::pipeline::SecretScrubber scrubber(fp);
  std::string bytes = join(argv);
  scrubber.scrub(bytes, true);
  mask_argv_secrets(bytes.data(), bytes.size());
  return bytes;
}

const std::vector<std::vector<std::string>> kArgvs = {
    {"mytool", "--api-key", "opaqueValue123", "run"},
    {"mytool", "--api-key", "sk-ant-api03-Zq7Xk2LmW9pR4tVb8NcYd3Hf", "run"},
    {"mytool", "--client-secret=s3cr3tValue", "--token", "t0kenValue"},
    {"curl", "-u", "alice:hunter2pass", "-b", "sid=cookieVal; t=secondVal", "https://h/"},
    {"curl", "--user=alice:hunter2pass", "--proxy-user", "bob:pr0xyPass"},
    {"curl", "-H", "Authorization: Bearer opaqueBearerValue99", "-H", "X-Custom-Token: tokval"},
    {"curl", "-H", "x-api-key: sk-proj-Zq7Xk2LmW9pR4tVb8NcYd3HfJ6", "https://h/v1/x"},
    {"psql", "host=db user=app password=hunter2 sslmode=require"},
    {"sqlcmd", "Server=db;Uid=app;Pwd=hunter2;"},
    {"git", "clone", "https://user:ghPassw0rd@git.example/repo.git"},
    {"git", "push", "https://x-access-token:ghs_Zq7Xk2LmW9pR4tVb8NcYd3Hf@github.com/o/r"},
    {"env", "OPENAI_API_KEY=opaque-env-val", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "cmd"},
    {"wget", "https://h/p?a=1&access_token=T0kValue&sig=Qm9n%3D&b=2#k"},
    {"node", "cli.js", "--header=X-Goog-Api-Key: AIzaSyD4kP9mQ2rT7vX1bN8cF3hJ6wL0sE5gY"},
    {"python3", "-u", "agent.py", "--verbose", "/usr/bin/python3"},
    {"tool", "{\"k\": \"sk-ant-api03-0123456789abcdef\", \"api_key\": \"opaqueJsonVal\"}"},
    {"tool", "Bearer ghp_0123456789abcdefXYZ"},
    {"tool", "--password", ""},
    {"tool", "--api-key"},
    {"redis-cli", "-a", "pw", "postgres://app:pg+Pass%2F=@db:5432/app"},
};

TEST(ArgRedaction, RangesAreTheBytesTheOutputHides) {
  for (const auto& argv : kArgvs) {
    ArgState state = ArgState::kPlain;
    for (const auto& a : argv) {
      ArgState n1 = ArgState::kPlain, n2 = ArgState::kPlain;
      const std::string out = redact_arg(a, state, &n1);
      const auto ranges = redacted_ranges(a, state, &n2);
      EXPECT_EQ(n1, n2) << a;
      // The shown bytes, in order, are the output without its markers.
      std::string shown, unmarked = out;
      size_t at = 0;
      for (const TextRange& r : ranges) {
        ASSERT_LE(at, r.begin) << a;
        ASSERT_LT(r.begin, r.end) << a;
        shown.append(a, at, r.begin - at);
        at = r.end;
      }
      shown.append(a, at);
      for (size_t p; (p = unmarked.find("[redacted]")) != std::string::npos;) unmarked.erase(p, 10);
      // (a header value's marker comes with a space of its own)
      std::erase(shown, ' ');
      std::erase(unmarked, ' ');
      EXPECT_EQ(shown, unmarked) << a;
      if (!ranges.empty()) EXPECT_NE(out, a) << a;
      state = n1;
    }
  }
}

TEST(ArgRedaction, MaskedArgvRedactsTheSame) {
  for (const auto& argv : kArgvs) {
    const std::string masked = capture_argv(argv);
    EXPECT_EQ(redact_all(split(masked)), redact_all(argv)) << join(argv);
  }
}

TEST(ArgRedaction, MaskedArgvHoldsNoHiddenValue) {
  for (const std::string secret :
       {"opaqueValue123", "Zq7Xk2LmW9pR4tVb8NcYd3Hf", "s3cr3tValue", "t0kenValue", "hunter2pass",
        "cookieVal", "secondVal", "pr0xyPass", "opaqueBearerValue99", "tokval", "hunter2",
        "ghPassw0rd", "opaque-env-val", "wJalrXUtnFEMI", "T0kValue", "Qm9n", "D4kP9mQ2rT7vX1bN8c",
        "0123456789abcdef", "opaqueJsonVal", "pg+Pass"}) {
    bool found_in_input = false;
    for (const auto& argv : kArgvs) {
      found_in_input |= join(argv).find(secret) != std::string::npos;
      EXPECT_EQ(capture_argv(argv).find(secret), std::string::npos) << secret << " in " << join(argv);
    }
    EXPECT_TRUE(found_in_input) << secret;
  }
  // What is not a credential stays.
  EXPECT_EQ(capture_argv({"python3", "-u", "agent.py", "https://h/p?stream=true"}),
            join({"python3", "-u", "agent.py", "https://h/p?stream=true"}));
}

// The cut last argument of a truncated record, an argv without a final NUL, empty args.
TEST(ArgRedaction, MasksWhateverShapeTheBlockHas) {
  std::string block = std::string("x\0--token\0abc", 13);
  EXPECT_TRUE(mask_argv_secrets(block.data(), block.size()));
  EXPECT_EQ(block, std::string("x\0--token\0XXX", 13));
  block = std::string("\0\0--token\0\0abc\0", 15);
  EXPECT_FALSE(mask_argv_secrets(block.data(), block.size()));  // the value was the empty arg
  EXPECT_FALSE(mask_argv_secrets(nullptr, 0));
}

// Random arguments made of the pieces the rules look at: the masked argv never keeps a
// hidden byte (every hidden byte is 'X' or part of a key placeholder), and never crashes.
TEST(ArgRedaction, RandomArgumentsKeepNoHiddenByte) {
  const std::vector<std::string> pieces = {
      "--api-key", "-u", "-b", "--user=", "a:b", "=", "&", "?", ":", "://", "@", "token=", "pw",
      "Bearer ", "Authorization:", " ", "sk-ant-api03-", "Zq7Xk2LmW9pR", "ghp_", "user:", "x",
      "password=", ";", "+/=", "\"", "https://u:", "AIza", "eyJ", ".", "Cookie: "};
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; round++) {
    std::vector<std::string> argv;
    const int nargs = 1 + int(rng() % 4);
    for (int i = 0; i < nargs; i++) {
      std::string a;
      const int n = int(rng() % 6);
      for (int j = 0; j < n; j++) a += pieces[rng() % pieces.size()];
      argv.push_back(a);
    }
    std::string block = join(argv);
    mask_argv_secrets(block.data(), block.size());
    ASSERT_EQ(block.size(), join(argv).size());
    ArgState state = ArgState::kPlain;
    size_t off = 0;
    for (const auto& a : argv) {
      ArgState next = ArgState::kPlain;
      for (const TextRange& r : redacted_ranges(a, state, &next)) {
        const std::string_view kept(block.data() + off + r.begin, r.end - r.begin);
        if (kept.find("REDACTED") != std::string_view::npos) continue;  // a key placeholder
        // all 'X' after a key class prefix, if the hidden value is key-shaped
        const size_t keep = rein::secret_token_class(a.substr(r.begin, r.end - r.begin)).empty()
                                ? 0
                                : rein::secret_prefix_length(a.substr(r.begin));
        EXPECT_EQ(kept.substr(keep), std::string(r.end - r.begin - keep, 'X')) << a;
      }
      state = next;
      off += a.size() + 1;
    }
  }
}
}  // namespace
