// A TLS connection to a host a recent response named that never carried plaintext (its
// handshake failed: e.g. the certificate is for another name) is a hallucinated endpoint.
#include <gtest/gtest.h>

#include "detect/detection_engine.h"

namespace rein::detect {
namespace {

constexpr uint64_t kSec = 1'000'000'000ULL;

TEST(DetectTlsFailure, NamedHostWhoseHandshakeFailed) {
  DetectionEngine e;
  Who who{100, 100, "sess-tls", "coder"};
  LlmContent content;
  content.response_text = "The endpoint is https://api.widgets-cloud.example:8443/v1/frob now.";
  llm::LlmCall c;
  c.provider = "openai";
  c.request_model = "gpt-4o";
  c.status = 200;
  c.response_id = "resp-tls";
  e.on_llm({kSec, who, &c, &content});
  // benign twins: another name on the same address, another port, another session
  EXPECT_TRUE(e.on_tls_failure({2 * kSec, who, "other.example", "10.0.0.9", 8443}).empty());
  EXPECT_TRUE(
      e.on_tls_failure({2 * kSec, who, "api.widgets-cloud.example", "10.0.0.9", 443}).empty());
  Who other{200, 200, "sess-other", "coder"};
  EXPECT_TRUE(
      e.on_tls_failure({2 * kSec, other, "api.widgets-cloud.example", "10.0.0.9", 8443}).empty());
  auto ds = e.on_tls_failure({3 * kSec, who, "API.widgets-cloud.example", "10.0.0.9", 8443});
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].kind, "hallucinated_endpoint");
  EXPECT_NE(ds[0].evidence.find("\"failure\":\"tls_failed\""), std::string::npos) << ds[0].evidence;
  EXPECT_NE(ds[0].evidence.find("resp-tls"), std::string::npos) << ds[0].evidence;
  // once per (session, mention)
  EXPECT_TRUE(
      e.on_tls_failure({4 * kSec, who, "api.widgets-cloud.example", "10.0.0.9", 8443}).empty());
}

}  // namespace
}  // namespace rein::detect
