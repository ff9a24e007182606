// The scrubber's Hyperscan prefilter only narrows where it looks: on any record it must
// leave exactly the bytes (and hand out exactly the placeholders) the full byte-by-byte
// scans do.
#include "pipeline/capture_scrub_prefilter.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "abi_record_builder.h"
#include "llm/key_fingerprint.h"
#include "pipeline/capture_scrubber.h"

namespace {

using namespace rein::testrec;
using rein::pipeline::SecretScrubber;

rein::llm::Fingerprinter make_fp() {
  std::array<uint8_t, 32> k{};
  for (size_t i = 0; i < k.size(); i++) k[i] = uint8_t(i * 5 + 3);
  return rein::llm::Fingerprinter(k);
}

std::string data_record(uint8_t dir, std::string_view data) {
  rein_data d{};
  fill(d.h, REIN_REC_DATA, Hdr{});
  d.conn = 1;
  d.len = uint32_t(data.size());
  d.call_len = uint32_t(data.size());
  d.dir = dir;
  d.source = REIN_SRC_OPENSSL;
  Bytes b = assemble(d, {data});
  return std::string(b.begin(), b.end());
}

const std::vector<std::string> kPieces = {
    "Authorization: Bearer sk-ant-api03-Zq7Xk2LmW9pR4tVb8NcYd3HfJ6sGa1Qe5UoTi0\r\n",
    "authorization :Basic dXNlcjpwYXNzd29yZA==\r\n",
    "Proxy-Authorization: Bearer opaque-proxy-credential-77\r\n",
    "X-Api-Key:\tplain-opaque-credential-42\r\n",
    "x-goog-api-key: AIzaSyD4kP9mQ2rT7vX1bN8cF3hJ6wL0sE5gY\r\n",
    "my-authorization: not-a-credential-header\r\n",
    "api-key: k-12345678\n",
    "Authorization: AWS4-HMAC-SHA256 "
    "Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=abc\r\n",
    "GET /v1/models?alt=sse&key=AIzaSyD4kP9mQ2rT7vX1bN8cF3hJ6wL0sE5gY HTTP/1.1\r\n",
    "?API_KEY=opaque-query-credential&x=1 ",
    "&access_token=ya29.a0AfH6SMBx3abcdefghijklmnop#frag",
    "?key=",
    "{\"note\":\"ghp_abcdefghijklmnopqrstuvwxyz0123\",\"k\":\"v\"}",
    "task-sk-proj-abcdefghijklmnopqrstuv ",
    "sk-short ",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc+def/ghi=",
    "sk-or-v1-0123456789abcdef/sk-or-v1-fedcba9876543210",
    "xoxb-1234567890-abcdefghij ",
    "data: {\"choices\":[{\"delta\":{\"content\":\"the key is "
    "sk-proj-QWERTYUIOPasdfghjkl\"}}]}\n\n",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz ",
    "AKIA",
    "sk-ant-api03-REDACTED7XXXXXXXXXXXXXXXX ",
    ":",
    "\r\n",
    " ",
    "?",
    "&",
    "x",
    "plain-opaque-credential-42",
};

TEST(CaptureScrubPrefilter, AgreesWithTheFullScans) {
  auto fp = make_fp();
  SecretScrubber fast(fp), full(fp);
  full.use_prefilter(false);
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> piece(0, kPieces.size() - 1), count(1, 12), byte(0, 255);
  size_t replaced = 0;
  for (int round = 0; round < 2000; round++) {
    std::string data;
    for (size_t n = count(rng); n > 0; n--) {
      data += kPieces[piece(rng)];
      if (byte(rng) < 40) data += char(byte(rng));  // a stray byte between pieces
    }
    const uint8_t dir = byte(rng) & 1 ? REIN_DIR_EGRESS : REIN_DIR_INGRESS;
    const bool payload = byte(rng) < 200;
    std::string a = data_record(dir, data), b = a;
    auto ma = fast.scrub(a, payload);
    auto mb = full.scrub(b, payload);
    ASSERT_EQ(a, b) << "round " << round << ": " << data;
    ASSERT_EQ(ma.size(), mb.size()) << "round " << round;
    for (size_t i = 0; i < ma.size(); i++) {
      EXPECT_EQ(ma[i].placeholder, mb[i].placeholder);
      EXPECT_EQ(ma[i].fingerprint, mb[i].fingerprint);
    }
    if (a != data_record(dir, data)) replaced++;
  }
  EXPECT_GT(replaced, 1000u);  // the pieces do hold credentials
}

// Known credentials are searched with a skip table: every copy goes, wherever it sits.
TEST(CaptureScrubPrefilter, EveryCopyOfAKnownCredential) {
  auto fp = make_fp();
  SecretScrubber s(fp);
  fp.set_observer(&s);
  const std::string cred = "opaque-credential-abcabcabc";  // repeats: worst case for skips
  rein::proto::HttpRequest req;
  req.headers.push_back({"x-api-key", cred});
  (void)fp.fingerprint_request(req);
  fp.set_observer(nullptr);
  for (const std::string& data : {cred, cred + cred, "x" + cred + "abc" + cred + "y",
                                  "abcabcabc" + cred, cred.substr(1) + cred}) {
    std::string bytes = data_record(REIN_DIR_INGRESS, data);
    s.scrub(bytes, true);
    EXPECT_EQ(bytes.find(cred), std::string::npos) << data;
    EXPECT_NE(bytes.find("REDACTED"), std::string::npos) << data;
  }
}

TEST(CaptureScrubPrefilter, ReportsEveryCandidateByStart) {
  const std::string_view headers[] = {"authorization", "proxy-authorization"};
  const std::string_view params[] = {"key"};
  const std::string_view prefixes[] = {"sk-", "sk-ant-", "eyJ"};
  rein::pipeline::ScrubPrefilter p(headers, params, prefixes);
  ASSERT_TRUE(p.ok());
  rein::pipeline::ScrubHits hits;
  const std::string text = "Proxy-AUTHORIZATION: x ?KEY=1 &key=2 sk-ant-abc eyJx";
  ASSERT_TRUE(p.scan(text, false, hits));
  ASSERT_EQ(hits.headers.size(), 2u);
  EXPECT_EQ(hits.headers[0].start, 0u);
  EXPECT_EQ(hits.headers[0].name, 1u);
  EXPECT_EQ(hits.headers[1].start, 6u);
  EXPECT_EQ(hits.params, (std::vector<uint32_t>{23, 30}));
  EXPECT_EQ(hits.tokens, (std::vector<uint32_t>{37, 48}));  // "sk-ant-" is covered by "sk-"
  ASSERT_TRUE(p.scan(text, true, hits));
  EXPECT_TRUE(hits.headers.empty());
  EXPECT_TRUE(hits.params.empty());
  EXPECT_EQ(hits.tokens.size(), 2u);
}

}  // namespace
