#include "common/secret_redaction.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "llm/key_fingerprint.h"
#include "pipeline/event_builder.h"

namespace {

// One of each credential shape the two redacting call sites must both mask.
const std::vector<std::pair<std::string, std::string>> kSecrets = {
    {"openai", "sk-proj-AbCdEfGh1234567890"},
    {"openai-legacy", "sk-AbCdEfGh1234567890XyZ"},
    {"anthropic", "sk-ant-api03-AbCdEfGh1234567890"},
    {"google-api", "AIzaSyA1234567890abcdefGHIJ"},
    {"google-oauth", "ya29.a0AfH6SMBx1234567890abcdef"},
    {"aws", "AKIAIOSFODNN7EXAMPLE"},
    {"aws-sts", "ASIAIOSFODNN7EXAMPLE"},
    {"github", "ghp_0123456789abcdefghijABCDEFGHIJ"},
    {"github-oauth", "gho_0123456789abcdefghijABCDEFGHIJ"},
    {"github-pat", "github_pat_11ABCDEFG0123456789_abcdef"},
    {"slack", "xoxb-1234567890-abcdefghij"},
    {"slack-user", "xoxp-1234567890-abcdefghij"},
    {"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"},
};

std::string redact_args(const std::vector<std::string>& args) {
  std::string out;
  bool secret_next = false;
  for (const auto& a : args) {
    bool flag = false;
    out += rein::pipeline::redact_arg(a, secret_next, &flag) + "\n";
    secret_next = flag;
  }
  return out;
}

}  // namespace

TEST(SecretRedaction, EveryShapeIsMaskedInProcessArgs) {
  for (const auto& [name, secret] : kSecrets) {
    // bare, inside a longer argument, as a JSON value, and in a header
    std::string out = redact_args({"tool", secret, "--data=x " + secret + " y",
                                   "{\"k\": \"" + secret + "\"}", "X-Thing: " + secret});
    EXPECT_EQ(out.find(secret), std::string::npos) << name << ": " << out;
    // keep the tail check too: a partial mask must not leave the key's end behind
    EXPECT_EQ(out.find(secret.substr(secret.size() - 8)), std::string::npos) << name << ": " << out;
  }
}

TEST(SecretRedaction, EveryShapeIsMaskedInLlmErrorText) {
  for (const auto& [name, secret] : kSecrets) {
    std::string out = rein::llm::redact_secrets("Invalid key: " + secret + ". Try again");
    EXPECT_EQ(out.find(secret), std::string::npos) << name << ": " << out;
    EXPECT_NE(out.find("[REDACTED "), std::string::npos) << name << ": " << out;
    EXPECT_NE(out.find("Invalid key: "), std::string::npos) << name;
  }
}

TEST(SecretRedaction, GoogleOauthTokenInArgsRegression) {
  // ya29. tokens used to reach process.args: only the llm list knew them.
  bool flag = false;
  EXPECT_EQ(rein::pipeline::redact_arg("ya29.a0AfH6SMBx1234567890abcdef", false, &flag),
            "[redacted]");
  EXPECT_EQ(
      rein::pipeline::redact_arg("--token-file=/x ya29.a0AfH6SMBx1234567890abcdef", false, &flag),
      "--token-file=[redacted]");
}

TEST(SecretRedaction, BearerAndAuthorizationValues) {
  using rein::RedactionMarker;
  EXPECT_EQ(rein::redact_secret_tokens("Authorization: Bearer opaque-token-123456",
                                       RedactionMarker::kPlain),
            "Authorization: Bearer [redacted]");
  EXPECT_EQ(rein::redact_secret_tokens("authorization=opaque", RedactionMarker::kClassed),
            "authorization=[REDACTED authorization]");
  EXPECT_EQ(rein::redact_secret_tokens("Basic dXNlcjpwYXNzd29yZA==", RedactionMarker::kPlain),
            "Basic [redacted]");
  // base64 tails (+ / =) go with the key
  EXPECT_EQ(rein::redact_secret_tokens("k=AKIAABCDEFGH/+xyz== end", RedactionMarker::kPlain),
            "k=[redacted] end");
}

TEST(SecretRedaction, WordsThatShareAPrefixSurvive) {
  using rein::RedactionMarker;
  for (const char* s : {"sk-short", "task-based skill", "Bearer tokens expire", "ghp_x", "eyJ",
                        "/usr/bin/python3", "AKIA", "ya29.", "https://api.openai.com/v1/chat"})
    EXPECT_EQ(rein::redact_secret_tokens(s, RedactionMarker::kPlain), s) << s;
  EXPECT_EQ(rein::secret_token_class("sk-ant-api03-0123456789"), "sk-ant-api03");
  EXPECT_EQ(rein::secret_token_class("ya29.0123456789"), "ya29");
  EXPECT_EQ(rein::secret_prefix_class("sk-ant-x"), "sk-ant");
  EXPECT_EQ(rein::secret_prefix_class("hello"), "");
}
