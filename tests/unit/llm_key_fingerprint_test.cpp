#include "temp_dir.h"
#include "llm/key_fingerprint.h"
#include "proto/http1_head.h"

#include <gtest/gtest.h>

#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

using rein::llm::classify_key;
using rein::llm::Fingerprinter;
using rein::llm::redact_secrets;
using rein::llm::scrub_query;
using rein::proto::HttpRequest;

std::array<uint8_t, 32> counting_key() {
  std::array<uint8_t, 32> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i);
  return k;
}

TEST(LlmKeyFingerprint, ClassifiesKnownPrefixes) {
  EXPECT_EQ(classify_key("sk-proj-abc"), "sk-proj");
  EXPECT_EQ(classify_key("sk-svcacct-abc"), "sk-svcacct");
  EXPECT_EQ(classify_key("sk-admin-abc"), "sk-admin");
  EXPECT_EQ(classify_key("sk-or-v1-abc"), "sk-or-v1");
  EXPECT_EQ(classify_key("sk-ant-api03-abc"), "sk-ant-api03");
  EXPECT_EQ(classify_key("sk-ant-oat01-abc"), "sk-ant-oat01");
  EXPECT_EQ(classify_key("sk-ant-admin01-abc"), "sk-ant-admin01");
  EXPECT_EQ(classify_key("sk-abc"), "sk");
  EXPECT_EQ(classify_key("AIzaSyA"), "AIza");
  EXPECT_EQ(classify_key("ABSKQmVkcm9jaw=="), "ABSK");
  EXPECT_EQ(classify_key("AKIAIOSFODNN7EXAMPLE"), "AKIA");
  EXPECT_EQ(classify_key("ASIAXXXX"), "ASIA");
  EXPECT_EQ(classify_key("gsk_abc"), "gsk");
  EXPECT_EQ(classify_key("xai-abc"), "xai");
  EXPECT_EQ(classify_key("eyJhbGciOiJIUzI1NiJ9.e30.x"), "jwt");
  EXPECT_EQ(classify_key("ya29.a0Af"), "ya29");
  EXPECT_EQ(classify_key("0123456789abcdef0123456789abcdef"), "unknown");
  EXPECT_EQ(classify_key(""), "unknown");
}

TEST(LlmKeyFingerprint, KnownAnswerHmac) {
  Fingerprinter fp(counting_key());
  // HMAC-SHA256(key = bytes 0..31, msg) computed independently (Python hmac module).
  EXPECT_EQ(fp.fingerprint("sk-proj-abc123DEF456ghi789"), "sk-proj:b1645e8b07dc");
  EXPECT_EQ(fp.fingerprint("AKIAIOSFODNN7EXAMPLE"), "AKIA:65fbd4cdc580");
}

TEST(LlmKeyFingerprint, DifferentHostKeysGiveDifferentFingerprints) {
  auto k2 = counting_key();
  k2[0] ^= 1;
  EXPECT_NE(Fingerprinter(counting_key()).fingerprint("sk-abc"), Fingerprinter(k2).fingerprint("sk-abc"));
}

TEST(LlmKeyFingerprint, FindsCredentialInEveryPlace) {
  Fingerprinter fp(counting_key());
  const std::string secret = "sk-proj-abc123DEF456ghi789";
  struct Case {
    std::vector<rein::proto::HttpHeader> headers;
    std::string target;
    std::string cls;
    std::string secret;
  };
  const Case cases[] = {
      {{{"authorization", "Bearer " + secret}}, "/v1/chat/completions", "sk-proj", secret},
      {{{"authorization", "bearer   " + secret + "  "}}, "/v1/chat/completions", "sk-proj", secret},
      {{{"x-api-key", "sk-ant-api03-zzzzzzzz"}}, "/v1/messages", "sk-ant-api03", "sk-ant-api03-zzzzzzzz"},
      {{{"api-key", "0123456789abcdef0123456789abcdef"}}, "/openai/deployments/x/chat/completions", "unknown",
       "0123456789abcdef0123456789abcdef"},
      {{{"x-goog-api-key", "AIzaSyD-abcdefgh"}}, "/v1beta/models/m:generateContent", "AIza", "AIzaSyD-abcdefgh"},
      {{}, "/v1beta/models/m:generateContent?alt=sse&key=AIzaSyQ-query", "AIza", "AIzaSyQ-query"},
      {{}, "/x?api-key=AIza%2Dpct", "AIza", "AIza-pct"},
      {{{"authorization",
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/bedrock/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"}},
       "/model/x/converse", "AKIA", "AKIAIOSFODNN7EXAMPLE"},
      {{{"authorization", "Bearer ABSKQmVkcm9ja0FQSUtleS1hYmM="}}, "/model/x/converse", "ABSK",
       "ABSKQmVkcm9ja0FQSUtleS1hYmM="},
      {{{"x-litellm-api-key", "sk-1234virtual"}}, "/chat/completions", "sk", "sk-1234virtual"},
  };
  for (const auto& c : cases) {
    HttpRequest req;
    req.headers = c.headers;
    req.target = c.target;
    auto out = fp.fingerprint_request(req);
    EXPECT_EQ(out.key_class, c.cls) << c.target;
    EXPECT_EQ(out.fingerprint, fp.fingerprint(c.secret)) << c.target;
    EXPECT_EQ(out.fingerprint.find(c.secret), std::string::npos);
    EXPECT_EQ(out.fingerprint.size(), c.cls.size() + 1 + 12);
  }
}

TEST(LlmKeyFingerprint, SigV4UsesAccessKeyIdNotSignature) {
  Fingerprinter fp(counting_key());
  auto make = [](const std::string& sig) {
    HttpRequest r;
    r.headers = {{"authorization", "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY123/20250101/us-east-1/bedrock/"
                                   "aws4_request, SignedHeaders=host, Signature=" + sig}};
    return r;
  };
  auto a = fp.fingerprint_request(make("aaaaaaaa"));
  auto b = fp.fingerprint_request(make("bbbbbbbb"));
  EXPECT_EQ(a.fingerprint, b.fingerprint);  // stable across per-request signatures
  EXPECT_EQ(a.key_class, "ASIA");
}

TEST(LlmKeyFingerprint, NoCredential) {
  Fingerprinter fp(counting_key());
  HttpRequest req;
  req.target = "/api/chat";
  auto out = fp.fingerprint_request(req);
  EXPECT_EQ(out.fingerprint, "");
  EXPECT_EQ(out.key_class, "");
  req.headers = {{"authorization", "Bearer "}};
  EXPECT_EQ(fp.fingerprint_request(req).fingerprint, "");
}

TEST(LlmKeyFingerprint, KeyFileCreatedPrivateAndStable) {
  rein::testutil::TempDir dir("rein_fp");
  const std::string path = dir.path() + "/fp.key";
  auto a = Fingerprinter::from_key_file(path);
  ASSERT_TRUE(a.ok()) << a.error().message;
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 32);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto b = Fingerprinter::from_key_file(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->fingerprint("sk-x"), b->fingerprint("sk-x"));
  EXPECT_NE(a->fingerprint("sk-x"), Fingerprinter(counting_key()).fingerprint("sk-x"));

  const std::string bad = dir.path() + "/short.key";
  std::ofstream(bad) << "tooshort";
  auto c = Fingerprinter::from_key_file(bad);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find(bad), std::string::npos);
  EXPECT_NE(c.error().message.find("32 bytes"), std::string::npos);

  auto d = Fingerprinter::from_key_file(dir.path() + "/missing-dir/x.key");
  EXPECT_FALSE(d.ok());
}

TEST(LlmKeyFingerprint, ScrubQuery) {
  EXPECT_EQ(scrub_query("/v1beta/models/m:streamGenerateContent?alt=sse&key=AIzaSECRET"),
            "/v1beta/models/m:streamGenerateContent?alt=sse&key=REDACTED");
  EXPECT_EQ(scrub_query("/x?api-key=s1&API_KEY=s2&apikey=s3&access_token=s4&Key=s5&keep=1"),
            "/x?api-key=REDACTED&API_KEY=REDACTED&apikey=REDACTED&access_token=REDACTED&Key=REDACTED&keep=1");
  EXPECT_EQ(scrub_query("/p?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc&X-Amz-Security-Token=t#frag"),
            "/p?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED#frag");
  EXPECT_EQ(scrub_query("/p?%6Bey=secret"), "/p?%6Bey=REDACTED");  // percent-encoded name
  EXPECT_EQ(scrub_query("/v1/chat/completions"), "/v1/chat/completions");
  EXPECT_EQ(scrub_query("/p?api-version=2024-10-21"), "/p?api-version=2024-10-21");
  EXPECT_EQ(scrub_query("/p?key"), "/p?key");
  EXPECT_EQ(scrub_query("/p?&&key=a&"), "/p?&&key=REDACTED&");
  for (const char* t : {"/p?key=AIzaSECRET", "/p?a=1&token=AIzaSECRET&b"}) {
    EXPECT_EQ(scrub_query(t).find("AIzaSECRET"), std::string::npos) << t;
  }
  // an absolute-form target's URL password
  EXPECT_EQ(scrub_query("http://u:hunter2@h.example/v1/x?key=k1"),
            "http://u:[redacted]@h.example/v1/x?key=REDACTED");
  // a Host or :authority with userinfo keeps only the host
  EXPECT_EQ(rein::proto::normalize_host("u:hunter2@API.example.com:8443"), "api.example.com");
}

TEST(LlmKeyFingerprint, RedactSecretsInFreeText) {
  std::string msg = "Incorrect API key provided: sk-proj-ABCDEFGH12345678. Also AIzaSyA1234567890 and "
                    "Authorization: Bearer opaque-token-123456 done";
  std::string out = redact_secrets(msg);
  EXPECT_EQ(out.find("ABCDEFGH12345678"), std::string::npos);
  EXPECT_EQ(out.find("AIzaSyA1234567890"), std::string::npos);
  EXPECT_EQ(out.find("opaque-token-123456"), std::string::npos);
  EXPECT_NE(out.find("[REDACTED sk-proj]"), std::string::npos);
  EXPECT_NE(out.find("Incorrect API key provided:"), std::string::npos);
  // Masked keys and ordinary words survive.
  EXPECT_EQ(redact_secrets("key sk-proj-****abcd is wrong; task-based skill"),
            "key sk-proj-****abcd is wrong; task-based skill");
  // A key after a dot inside a longer token; dotted words and host names stay.
  EXPECT_EQ(redact_secrets("protocols: openai-insecure-api-key.sk-proj-ABCDEFGH12345678, x"),
            "protocols: openai-insecure-api-key.[REDACTED sk-proj], x");
  EXPECT_EQ(redact_secrets("see api.openai.com and file.name.txt"), "see api.openai.com and file.name.txt");
  // An opaque key a provider echoes after its name (Azure's hex keys have no prefix).
  EXPECT_EQ(redact_secrets("invalid api_key=0123456789abcdef0123456789abcdef provided"),
            "invalid api_key=[REDACTED credential] provided");
  EXPECT_EQ(redact_secrets("{\"x-api-key\": \"opaqueopaque42\"}"), "{\"x-api-key\": \"[REDACTED credential]\"}");
  EXPECT_EQ(redact_secrets("max_tokens: 4096, input_token: 12345678"), "max_tokens: 4096, input_token: 12345678");
}

}  // namespace

TEST(LlmKeyFingerprint, RecentMacsGiveTheSameAnswers) {
  // The first answer for each secret, then each again after enough others to push it out of
  // the recent-HMAC cache, and copies of the fingerprinter answer alike.
  Fingerprinter fp(counting_key());
  std::vector<std::string> first;
  for (int i = 0; i < 20; i++) first.push_back(fp.fingerprint("sk-proj-secret" + std::to_string(i)));
  Fingerprinter copy = fp;
  for (int round = 0; round < 2; round++)
    for (int i = 19; i >= 0; i--) {
      EXPECT_EQ(fp.fingerprint("sk-proj-secret" + std::to_string(i)), first[size_t(i)]);
      EXPECT_EQ(copy.fingerprint("sk-proj-secret" + std::to_string(i)), first[size_t(i)]);
    }
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()).size(), first.size());
  EXPECT_EQ(Fingerprinter(counting_key()).fingerprint("sk-proj-secret3"), first[3]);
}
