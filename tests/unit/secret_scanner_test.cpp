// The secret scanner on realistic request bodies: every type found with its place in the
// request, benign look-alikes not found, JSON escapes handled, and the value itself never
// in any output. Secret-shaped strings are assembled at run time so the repository holds no
// literal that looks like a live key.
#include "detect/secret_scanner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "detect/json_locator.h"
#include "detect/secret_validators.h"
#include "temp_dir.h"

namespace rein::detect {
namespace {

// Deterministic pseudo-random characters from an alphabet.
std::string rnd(
    size_t n, uint32_t seed,
    std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") {
  std::string out;
  uint32_t x = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out.push_back(alphabet[x % alphabet.size()]);
  }
  return out;
}

// Appends the Luhn check digit.
std::string with_luhn(std::string partial) {
  for (char d = '0'; d <= '9'; d++) {
    if (luhn_valid(partial + d)) return partial + d;
  }
  return partial;
}

std::string openai_key() {
  return std::string("sk-") + "proj-" + rnd(120, 1);
}
std::string anthropic_key() {
  return std::string("sk-") + "ant-api03-" + rnd(93, 2) + "-" + rnd(6, 3) + "AA";
}
std::string google_key() {
  return std::string("AI") + "za" + rnd(35, 4);
}
std::string aws_id() {
  return std::string("AK") + "IA" + rnd(16, 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
}
std::string aws_secret() {
  return rnd(20, 6) + "/" + rnd(19, 7);
}
std::string github_token() {
  return std::string("gh") + "p_" + rnd(36, 8);
}
std::string slack_token() {
  return std::string("xo") + "xb-" + "1234567890123-4567890123456-" + rnd(24, 9);
}
std::string stripe_key() {
  return std::string("sk") + "_live_" + rnd(24, 10) + "7";
}
std::string jwt() {
  return std::string("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.") +
         "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
         "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
}
std::string pem_body() {
  std::string b;
  for (int i = 0; i < 6; i++)
    b +=
        rnd(64, 20 + i, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") + "\\n";
  return b;
}
std::string pem() {
  return std::string("-----BEGIN RSA ") + "PRIVATE KEY-----\\n" + pem_body() +
         "-----END RSA PRIVATE KEY-----";
}
const std::string kUrlPassword = "Tr0ub4dor3xq";
std::string db_url() {
  return "postgres://admin:" + kUrlPassword + "@db.internal:5432/app";
}
const std::string kEmail = "jane.doe@acme-corp.com";
const std::string kPhoneIntl = "+44 20 7946 0958";
const std::string kPhoneUs = "(415) 555-2671";
std::string card() {
  return with_luhn("453914880343646");
}
std::string card_spaced() {
  std::string c = card();
  return c.substr(0, 4) + " " + c.substr(4, 4) + " " + c.substr(8, 4) + " " + c.substr(12);
}
const std::string kIban = "GB82 WEST 1234 5698 7654 32";

class SecretScannerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::array<uint8_t, 32> key{};
    key[0] = 7;
    auto s = SecretScanner::create(llm::Fingerprinter(key));
    ASSERT_TRUE(s.ok()) << s.error().message;
    scanner_ = new SecretScanner(std::move(*s));
  }
  static void TearDownTestSuite() {
    delete scanner_;
    scanner_ = nullptr;
  }

  // A body with `text` as the content of the third message of an Anthropic request.
  static std::string anthropic_body(const std::string& text) {
    return R"({"model":"claude-sonnet-4-5","max_tokens":1024,"system":"You are a helpful coding agent.",)"
           R"("messages":[{"role":"user","content":"Fix the failing test in billing/"},)"
           R"({"role":"assistant","content":[{"type":"text","text":"Let me read the config."},)"
           R"({"type":"tool_use","id":"toolu_01","name":"read_file","input":{"path":".env"}}]},)"
           R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":")" +
           text +
           R"("}]}],"tools":[{"name":"read_file","description":"Read a file","input_schema":{"type":"object"}}]})";
  }

  static SecretScanResult scan(const std::string& body, std::string_view hint = "anthropic") {
    return scanner_->scan(body, hint);
  }

  // Nothing a finding carries may contain the value, nor a 10-character piece of it.
  static void expect_value_absent(const SecretScanResult& r, const std::string& value) {
    std::vector<std::string> outputs = {summarize(r.findings)};
    for (const auto& f : r.findings) {
      outputs.push_back(f.fingerprint);
      outputs.push_back(std::string(secret_type_name(f.type)));
      for (const auto& l : f.locations) outputs.push_back(l);
    }
    for (const auto& o : outputs) {
      EXPECT_EQ(o.find(value), std::string::npos) << "value leaked into: " << o;
      for (size_t i = 0; i + 10 <= value.size(); i += 5) {
        EXPECT_EQ(o.find(value.substr(i, 10)), std::string::npos)
            << "value piece leaked into: " << o;
      }
    }
  }

  static const SecretFinding* find(const SecretScanResult& r, SecretType t) {
    for (const auto& f : r.findings)
      if (f.type == t) return &f;
    return nullptr;
  }

  static SecretScanner* scanner_;
};
SecretScanner* SecretScannerTest::scanner_ = nullptr;

struct Case {
  SecretType type;
  std::string text;    // as it appears in the body (JSON-escaped where needed)
  std::string secret;  // what must never come out
};

TEST_F(SecretScannerTest, EachTypeFoundInAToolResultWithItsLocation) {
  const std::string ok = openai_key(), ak = anthropic_key(), gk = google_key(), id = aws_id(),
                    sec = aws_secret(), gh = github_token(), sl = slack_token(), st = stripe_key(),
                    pb = pem_body(), tok = jwt(), cd = card();
  std::vector<Case> cases = {
      {SecretType::kOpenAiKey, "OPENAI_API_KEY=" + ok, ok},
      {SecretType::kAnthropicKey, "ANTHROPIC_API_KEY=" + ak,
       ak.substr(13)},  // past "sk-ant-api03-"
      {SecretType::kGoogleApiKey, "GEMINI_API_KEY=\\\"" + gk + "\\\"", gk},
      {SecretType::kAwsAccessKeyId, "aws_access_key_id = " + id, id},
      {SecretType::kAwsSecretKey,
       "[default]\\naws_access_key_id = " + id + "\\naws_secret_access_key = " + sec + "\\n", sec},
      {SecretType::kGithubToken, "GH_TOKEN: " + gh, gh},
      {SecretType::kSlackToken, "SLACK_BOT_TOKEN=" + sl, sl},
      {SecretType::kGithubToken,
       "token " + std::string("github_") + "pat_" +
           rnd(82, 11, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"),
       rnd(82, 11, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")},
      {SecretType::kOtherApiKey, "GROQ_API_KEY=" + std::string("gs") + "k_" + rnd(52, 12),
       rnd(52, 12)},
      {SecretType::kOtherApiKey, "HF_TOKEN=" + std::string("h") + "f_" + rnd(34, 13), rnd(34, 13)},
      {SecretType::kStripeKey, "STRIPE_KEY=" + std::string("sk") + "_test_" + rnd(30, 14),
       rnd(30, 14)},
      {SecretType::kStripeKey, "stripe.api_key = '" + st + "'", st},
      {SecretType::kPrivateKey, "id_rsa contents:\\n" + pem() + "\\n", pem_body().substr(0, 64)},
      {SecretType::kJwt, "Authorization: Bearer " + tok, tok},
      {SecretType::kUrlPassword, "DATABASE_URL=" + db_url(), kUrlPassword},
      {SecretType::kEmail, "Contact " + kEmail + " for access.", kEmail},
      {SecretType::kPhone, "Call me at " + kPhoneIntl + " tomorrow.", kPhoneIntl},
      {SecretType::kPhone, "Office: " + kPhoneUs + ", ask for Jane.", kPhoneUs},
      {SecretType::kCardNumber, "card on file: " + card_spaced() + " exp 04/29", card_spaced()},
      {SecretType::kCardNumber,
       "amex " + with_luhn("37828224631000").insert(10, " ").insert(4, " "),
       with_luhn("37828224631000")},
      {SecretType::kPhone, "Paris office +33 1 23 45 67 89.", "+33 1 23 45 67 89"},
      {SecretType::kPhone, "cell:+14155552671", "+14155552671"},
      {SecretType::kPhone, "fax 415-555-2671 (main)", "415-555-2671"},
      {SecretType::kIban, "FR76 3000 6000 0112 3456 7890 189", "FR76 3000 6000 0112 3456 7890 189"},
      {SecretType::kCardNumber, "{\\\"pan\\\":\\\"" + cd + "\\\"}", cd},
      {SecretType::kIban, "Wire to " + kIban + " by Friday.", kIban},
      {SecretType::kIban, "IBAN: DE89370400440532013000", "DE89370400440532013000"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(secret_type_name(c.type)) + " in: " + c.text);
    auto r = scan(anthropic_body(c.text));
    const SecretFinding* f = find(r, c.type);
    ASSERT_NE(f, nullptr) << summarize(r.findings);
    EXPECT_EQ(f->count, 1u);
    ASSERT_EQ(f->locations.size(), 1u);
    EXPECT_EQ(f->locations[0], "messages[2].content[0].content");
    EXPECT_EQ(f->message_index, 2);
    EXPECT_FALSE(f->escaped);
    EXPECT_EQ(f->fingerprint.rfind(':'), f->fingerprint.size() - 13) << f->fingerprint;
    EXPECT_FALSE(r.truncated);
    expect_value_absent(r, c.secret);
  }
}

TEST_F(SecretScannerTest, ProviderKeyFingerprintMatchesTheRequestCredentialFingerprint) {
  std::array<uint8_t, 32> key{};
  key[0] = 7;
  llm::Fingerprinter fp(key);
  std::string k = openai_key();
  auto r = scan(anthropic_body("key is " + k));
  const SecretFinding* f = find(r, SecretType::kOpenAiKey);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->fingerprint, fp.fingerprint(k));
  EXPECT_EQ(f->fingerprint.substr(0, 8), "sk-proj:");
  auto e = scan(anthropic_body("mail " + kEmail));
  ASSERT_NE(find(e, SecretType::kEmail), nullptr);
  EXPECT_EQ(find(e, SecretType::kEmail)->fingerprint.substr(0, 6), "email:");
}

TEST_F(SecretScannerTest, OnlyThePiiTypesArePii) {
  EXPECT_TRUE(secret_type_is_pii(SecretType::kEmail));
  EXPECT_TRUE(secret_type_is_pii(SecretType::kIban));
  EXPECT_FALSE(secret_type_is_pii(SecretType::kOpenAiKey));
  EXPECT_FALSE(secret_type_is_pii(SecretType::kUrlPassword));
}

TEST_F(SecretScannerTest, LocationsInEveryRequestShape) {
  std::string k = github_token();
  struct Shape {
    std::string body, hint, location;
    int message_index;
  };
  std::vector<Shape> shapes = {
      {R"({"model":"gpt-4o","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"token )" +
           k + R"("}]})",
       "openai", "messages[1].content", 1},
      {R"({"model":"gpt-5","instructions":"use )" + k +
           R"(","input":[{"role":"user","content":"hi"}]})",
       "openai", "instructions", -1},
      {R"({"model":"gpt-5","input":[{"role":"user","content":"hi"},{"role":"user","content":[{"type":"input_text","text":")" +
           k + R"("}]}]})",
       "openai", "input[1].content[0].text", 1},
      {R"({"contents":[{"role":"user","parts":[{"text":"hello"},{"text":"my token: )" + k +
           R"("}]}],"systemInstruction":{"parts":[{"text":"x"}]}})",
       "gemini", "contents[0].parts[1].text", 0},
      {R"({"system":[{"type":"text","text":"deploy with )" + k + R"("}],"messages":[]})",
       "anthropic", "system[0].text", -1},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"name":"deploy","description":"uses )" +
           k + R"("}]})",
       "anthropic", "tools[0].description", -1},
      {"not json at all: " + k, "", "", -1},
  };
  for (const auto& s : shapes) {
    SCOPED_TRACE(s.body);
    auto r = scan(s.body, s.hint);
    const SecretFinding* f = find(r, SecretType::kGithubToken);
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(f->locations.size(), 1u);
    EXPECT_EQ(f->locations[0], s.location);
    EXPECT_EQ(f->message_index, s.message_index);
    expect_value_absent(r, k);
  }
}

TEST_F(SecretScannerTest, RepeatedValueIsOneFindingWithCountAndLocations) {
  std::string k = anthropic_key();
  std::string body = R"({"system":"key )" + k +
                     R"(","messages":[{"role":"user","content":"again )" + k + R"( and )" + k +
                     R"("},{"role":"user","content":")" + anthropic_key().substr(0, 20) + R"("}]})";
  auto r = scan(body);
  ASSERT_EQ(r.findings.size(), 1u) << summarize(r.findings);
  const auto& f = r.findings[0];
  EXPECT_EQ(f.type, SecretType::kAnthropicKey);
  EXPECT_EQ(f.count, 3u);
  EXPECT_EQ(f.locations, (std::vector<std::string>{"system", "messages[0].content"}));
  EXPECT_EQ(f.message_index, -1);  // the first occurrence is in the system prompt
  EXPECT_EQ(summarize(r.findings), "anthropic_api_key=3");
  EXPECT_EQ(count_by_type(r.findings)[static_cast<size_t>(SecretType::kAnthropicKey)], 3u);
  expect_value_absent(r, k.substr(13));  // the class prefix is in the fingerprint by design
}

TEST_F(SecretScannerTest, DistinctValuesAreDistinctFindings) {
  std::string body = anthropic_body("a@acme-corp.com, b@acme-corp.com and " + openai_key() + " " +
                                    std::string("sk-") + "proj-" + rnd(100, 77));
  auto r = scan(body);
  EXPECT_EQ(summarize(r.findings), "openai_api_key=2 email=2");
  EXPECT_EQ(r.findings.size(), 4u);
}

TEST_F(SecretScannerTest, BenignLookAlikesAreNotFound) {
  std::string base64_blob =
      rnd(4096, 99, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  std::vector<std::string> benign = {
      "request id 123e4567-e89b-12d3-a456-426614174000 failed",
      "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "digest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "order number " + card().substr(0, 15) + std::to_string((card().back() - '0' + 1) % 10),
      "account 1234567890123456789 balance",
      "data:image/png;base64," + base64_blob + "==",
      "def handler(event):\\n    @app.route(\\\"/api\\\")\\n    x = a@b.T + weights@self.layer\\n  "
      "  "
      "for i in range(0, n+1):\\n        total += items[i+1]\\n    return 0",
      "import torch\\nfrom sklearn.model_selection import train_test_split  # sk-learn",
      "upgrade lodash@4.17.21 and @types/node@18.0.0 to v1.2.3 and 1.21.0-rc.1",
      "released 2024-01-15T10:30:00+00:00, epoch 1700000000 or 1700000000123 ms, tz +05:30",
      "Please enter your password in the password field; the password must be 12 chars.",
      "connect with postgres://user:password@localhost:5432/db or redis://:${REDIS_PASSWORD}@cache",
      "docs: AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "mail user@example.com or admin@sub.example.org",
      "clone git@github.com:rein/rein.git",
      "task-manager-service-deployment-config-v2 and disk-usage-report-generator",
      "call 123-456-7890 or 555.1234 extension 42, IP 192.168.100.200, ver 10.200.300.4000",
      "math: 3.14159265358979323846 and 2.718281828459045",
      "-----BEGIN PRIVATE KEY----- marks the start of a PEM file",
      "the header eyJhbGciOiJIUzI1NiJ9 alone is not a token",
      "GB82 WEST 1234 5698 7654 33 is a mistyped IBAN",
      "total +1234 tokens, delta +12",
      "hex 0x4539148803436467aa",
  };
  for (const auto& text : benign) {
    SCOPED_TRACE(text.substr(0, 120));
    auto r = scan(anthropic_body(text));
    EXPECT_TRUE(r.findings.empty()) << summarize(r.findings);
  }
}

// The digit-shaped values are found by a SIMD pass in 64-byte blocks: every alignment,
// including values that straddle a block edge or end the body.
TEST_F(SecretScannerTest, DigitValuesAtEveryAlignment) {
  for (size_t pad = 0; pad < 140; pad++) {
    SCOPED_TRACE(pad);
    std::string lead(pad, 'x');
    lead += ' ';
    auto r = scan(lead + card_spaced() + " / " + kIban + " / " + kPhoneIntl + " / " + kPhoneUs);
    EXPECT_EQ(summarize(r.findings), "phone_number=2 card_number=1 iban=1");
    auto tail = scan(lead + card());
    EXPECT_EQ(summarize(tail.findings), "card_number=1");
  }
}

TEST_F(SecretScannerTest, LuhnAndMod97DecideCardsAndIbans) {
  std::string good = card();
  std::string bad = good.substr(0, 15) + std::to_string((good.back() - '0' + 3) % 10);
  EXPECT_NE(find(scan(anthropic_body("pan " + good)), SecretType::kCardNumber), nullptr);
  EXPECT_EQ(find(scan(anthropic_body("pan " + bad)), SecretType::kCardNumber), nullptr);
  EXPECT_TRUE(iban_valid("GB82WEST12345698765432"));
  EXPECT_FALSE(iban_valid("GB82WEST12345698765433"));
  EXPECT_FALSE(iban_valid("GB82WEST1234569876543"));              // wrong length for GB
  EXPECT_TRUE(card_number_valid(with_luhn("37828224631000")));    // Amex, 15
  EXPECT_FALSE(card_number_valid(with_luhn("123456789012345")));  // no issuer starts with 1
  EXPECT_TRUE(luhn_valid("79927398713"));
  EXPECT_FALSE(luhn_valid("79927398710"));
  EXPECT_TRUE(jwt_header_valid("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"));
  EXPECT_FALSE(jwt_header_valid("eyJmb28iOiJiYXIifQ"));  // {"foo":"bar"}: no alg
}

TEST_F(SecretScannerTest, EscapedJsonIsUnescapedAndScannedAgain) {
  std::string k = openai_key();
  std::string escaped_key = "sk\\u002dproj\\u002d" + k.substr(8);
  auto r = scan(anthropic_body("key=" + escaped_key));
  const SecretFinding* f = find(r, SecretType::kOpenAiKey);
  ASSERT_NE(f, nullptr) << summarize(r.findings);
  EXPECT_TRUE(f->escaped);
  EXPECT_EQ(f->locations[0], "messages[2].content[0].content");
  std::array<uint8_t, 32> key{};
  key[0] = 7;
  EXPECT_EQ(f->fingerprint, llm::Fingerprinter(key).fingerprint(k));  // same as unescaped
  expect_value_absent(r, k.substr(8));

  auto u = scan(
      anthropic_body("DATABASE_URL=postgres:\\/\\/admin:" + kUrlPassword + "@db.internal\\/app"));
  const SecretFinding* uf = find(u, SecretType::kUrlPassword);
  ASSERT_NE(uf, nullptr) << summarize(u.findings);
  EXPECT_EQ(uf->count, 1u);
  expect_value_absent(u, kUrlPassword);

  // Go's encoder writes <, > as \u003c, \u003e: the email is found once, not twice.
  auto e = scan(anthropic_body("From: Jane \\u003c" + kEmail + "\\u003e"));
  ASSERT_EQ(e.findings.size(), 1u) << summarize(e.findings);
  EXPECT_EQ(e.findings[0].type, SecretType::kEmail);
  EXPECT_EQ(e.findings[0].count, 1u);
  EXPECT_EQ(e.findings[0].fingerprint, scan(anthropic_body(kEmail)).findings.at(0).fingerprint);

  // A value on its own line: in the raw bytes it follows the letter n of "\n".
  auto n = scan(anthropic_body("keys:\\n" + github_token() + "\\n" + kEmail + "\\n" + kPhoneIntl));
  EXPECT_EQ(summarize(n.findings), "github_token=1 email=1 phone_number=1");

  // A private key fingerprints alike however it was escaped.
  auto p1 = scan(anthropic_body(pem()));
  std::string doubly = pem();
  for (size_t pos = 0; (pos = doubly.find("\\n", pos)) != std::string::npos; pos += 3)
    doubly.replace(pos, 2, "\\\\n");
  auto p2 = scan(anthropic_body(doubly));
  ASSERT_EQ(p1.findings.size(), 1u);
  ASSERT_EQ(p2.findings.size(), 1u) << summarize(p2.findings);
  EXPECT_EQ(p1.findings[0].fingerprint, p2.findings[0].fingerprint);
}

TEST_F(SecretScannerTest, KeyThatIsASecretNeverPrintsInThePath) {
  std::string k = github_token();
  std::string body = R"({"messages":[{"role":"user","content":{")" + k + R"(":")" + k + R"("}}]})";
  auto r = scan(body);
  const SecretFinding* f = find(r, SecretType::kGithubToken);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->count, 2u);
  expect_value_absent(r, k);
  EXPECT_NE(std::find(f->locations.begin(), f->locations.end(), "messages[0].content.*"),
            f->locations.end());
}

TEST_F(SecretScannerTest, PiiCanBeTurnedOff) {
  std::array<uint8_t, 32> key{};
  SecretScanOptions o;
  o.pii = false;
  auto s = SecretScanner::create(llm::Fingerprinter(key), o);
  ASSERT_TRUE(s.ok());
  auto r =
      s->scan(anthropic_body(kEmail + " " + kPhoneIntl + " " + card() + " " + github_token()), "");
  EXPECT_EQ(summarize(r.findings), "github_token=1");
}

TEST_F(SecretScannerTest, OversizedBodyIsTruncatedNotRejected) {
  std::array<uint8_t, 32> key{};
  SecretScanOptions o;
  o.max_body_bytes = 4096;
  auto s = SecretScanner::create(llm::Fingerprinter(key), o);
  ASSERT_TRUE(s.ok());
  std::string body = anthropic_body(github_token() + std::string(8192, ' ') + openai_key());
  auto r = s->scan(body, "");
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.bytes_scanned, 4096u);
  EXPECT_EQ(summarize(r.findings), "github_token=1");
}

// Short bodies skip the Hyperscan pass when they hold no literal any pattern needs: every
// type, in every spelling the patterns accept, is found the same with and without that check.
TEST_F(SecretScannerTest, LiteralCheckFindsWhatTheFullScanFinds) {
  std::array<uint8_t, 32> key{};
  key[0] = 7;
  auto full = SecretScanner::create(llm::Fingerprinter(key), {.literal_check = false});
  ASSERT_TRUE(full.ok());
  const std::string id = aws_id(), sec = aws_secret();
  const std::vector<std::string> texts = {
      "OPENAI_API_KEY=" + openai_key(),
      anthropic_key(),
      google_key(),
      "id " + id,
      "aws_secret_access_key = " + sec,
      "AWS_SECRET_ACCESS_KEY=" + sec + " " + id,
      "SecretAccessKey: " + sec,
      github_token(),
      slack_token(),
      stripe_key(),
      "STRIPE_KEY=" + std::string("rk") + "_live_" + rnd(30, 21),
      std::string("github_") + "pat_" +
          rnd(82, 22, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"),
      std::string("gs") + "k_" + rnd(52, 23),
      std::string("xa") + "i-" + rnd(40, 24),
      std::string("h") + "f_" + rnd(34, 25),
      jwt(),
      "DATABASE_URL=" + db_url(),
      kEmail,
      kPhoneIntl,
      kPhoneUs,
      card_spaced(),
      card(),
      kIban,
      "DE89370400440532013000",
      "sk\\u002dproj-" + rnd(40, 26),
      "postgres:\\/\\/u:" + kUrlPassword + "@db:5432",
      "\\n" + github_token(),
      "nothing to see here",
      "ssh -i key host",
      "x.y.z"};
  for (const auto& t : texts) {
    for (const std::string& body : {anthropic_body(t), t}) {
      SCOPED_TRACE(body);
      auto a = scan(body), b = full->scan(body, "anthropic");
      ASSERT_EQ(a.findings.size(), b.findings.size())
          << summarize(a.findings) << " vs " << summarize(b.findings);
      for (size_t i = 0; i < a.findings.size(); i++) {
        EXPECT_EQ(a.findings[i].type, b.findings[i].type);
        EXPECT_EQ(a.findings[i].fingerprint, b.findings[i].fingerprint);
        EXPECT_EQ(a.findings[i].locations, b.findings[i].locations);
      }
    }
  }
  // and the check is not vacuous: the benign body is clean, the short key is found
  EXPECT_TRUE(scan(anthropic_body("nothing to see here")).findings.empty());
  EXPECT_EQ(summarize(scan(github_token()).findings), "github_token=1");
}

// The compiled database is kept in the cache directory: the next scanner loads it and finds
// the same things; a file that was edited, cut short or replaced is compiled again.
TEST_F(SecretScannerTest, CachedDatabaseScansTheSameAndABadCopyIsRecompiled) {
  testutil::TempDir dir("rein_hsdb");
  std::array<uint8_t, 32> key{};
  key[0] = 7;
  const std::string body =
      anthropic_body(github_token() + " " + kEmail + " " + card() + " " + openai_key());
  auto first = SecretScanner::create(llm::Fingerprinter(key), {.cache_dir = dir.path()});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(first->database_cached());
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(std::filesystem::status(files[0]).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  auto second = SecretScanner::create(llm::Fingerprinter(key), {.cache_dir = dir.path()});
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->database_cached());
  const std::string want = summarize(first->scan(body).findings);
  EXPECT_EQ(want, "openai_api_key=1 github_token=1 email=1 card_number=1");
  EXPECT_EQ(summarize(second->scan(body).findings), want);

  // One flipped byte in the payload, then a truncated file: both compiled again, and the
  // rewritten file is used by the run after.
  const auto size = std::filesystem::file_size(files[0]);
  for (int round = 0; round < 2; round++) {
    if (round == 0) {
      std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(std::streamoff(size - 100));
      const char c = char(f.get());
      f.seekp(std::streamoff(size - 100));
      f.put(char(c ^ 0x5a));
    } else {
      std::filesystem::resize_file(files[0], size / 2);
    }
    auto again = SecretScanner::create(llm::Fingerprinter(key), {.cache_dir = dir.path()});
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->database_cached()) << "round " << round;
    EXPECT_EQ(summarize(again->scan(body).findings), want);
    auto next = SecretScanner::create(llm::Fingerprinter(key), {.cache_dir = dir.path()});
    ASSERT_TRUE(next.ok());
    EXPECT_TRUE(next->database_cached()) << "round " << round;
  }
}

TEST_F(SecretScannerTest, EmptyAndHostileBodies) {
  EXPECT_TRUE(scan("").findings.empty());
  EXPECT_TRUE(scan("{").findings.empty());
  EXPECT_TRUE(scan(std::string(100000, '[')).findings.empty());
  // Many emails: bounded work, the rest reported as truncated rather than scanned forever.
  std::string many;
  for (int i = 0; i < 70000; i++) many += "a@bc.de ";
  auto r = scan(many);
  EXPECT_FALSE(r.findings.empty());
  EXPECT_TRUE(r.truncated);
}

TEST(JsonLocator, PathsAndUnescape) {
  std::string body = R"({"a":[1,{"b":"xx","c":["p","q\u002dr"]}],"d":"\/"})";
  std::vector<size_t> offs = {body.find("xx"), body.find("q\\u"), body.find("\\/")};
  std::vector<std::string> got(offs.size());
  std::vector<std::string> escaped;
  std::function<void(size_t, size_t, const JsonPath&)> esc = [&](size_t b, size_t e,
                                                                 const JsonPath& p) {
    std::string out;
    std::vector<uint32_t> map;
    EXPECT_TRUE(json_unescape(std::string_view(body).substr(b, e - b), b, 1024, out, map));
    EXPECT_EQ(map.size(), out.size());
    escaped.push_back(p.render() + "=" + out);
  };
  walk_json(
      body, offs, [&](size_t i, const JsonPath& p) { got[i] = p.render(); }, &esc);
  EXPECT_EQ(got, (std::vector<std::string>{"a[1].b", "a[1].c[1]", "d"}));
  EXPECT_EQ(escaped, (std::vector<std::string>{"a[1].c[1]=q-r", "d=/"}));
}

}  // namespace
}  // namespace rein::detect
