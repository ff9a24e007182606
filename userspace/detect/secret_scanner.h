// Secrets and PII in LLM request bodies (issue 11 item 4): one Hyperscan pass over the raw
// JSON bytes finds provider API keys, private keys, JWTs, passwords in URLs, emails, phone
// numbers, card numbers and IBANs. Each finding is reported as its type, how often it
// occurred, where in the request it sits (a JSON path such as "messages[3].content") and a
// keyed fingerprint. The matched value itself never leaves this module: it is not stored,
// logged or returned, and the buffers that held a normalised copy are wiped.
//
// How a match becomes a finding:
//  * Hyperscan runs in block mode without start-of-match tracking. Every pattern is a
//    fixed-width (or uniquely-ending) ANCHOR of the shape, so each occurrence fires once and
//    its start is known from its end; C++ then recovers the whole value (a key's full tail,
//    an email's full domain), checks the boundaries and validates it (Luhn for cards, mod-97
//    for IBANs, the JWT header decoding to {"alg":..}, NANP rules for phone numbers, ...).
//    SOM_LEFTMOST would cost scan speed and still not give the full token, since a bounded
//    repeat stops where the pattern does, not where the key does.
//  * Cards, IBANs and phone numbers have no literal for Hyperscan to prefilter on; as
//    patterns they would cost a full DFA pass (the scan rate fell from ~2.3 to ~0.5 GB/s).
//    A second, SIMD pass marks runs of 4 digits, "+<digit>" and "[A-Z][A-Z][0-9][0-9]",
//    and the same anchors are matched by hand there, feeding the same validators.
//  * Locations come from a bounded structural walk of the JSON (strings skipped with
//    memchr), run only when the scan found something.
//  * JSON escapes: the raw bytes are scanned as they are, with "\n", "\t", "\r" accepted as
//    separators before a value. A string holding "\uXXXX" (ASCII range) or "\/" escapes
//    (which can split a value: "sk\u002dproj...", "postgres:\/\/u:p@h") is unescaped and
//    scanned again, up to kMaxUnescapedBytes per body; a value the raw pass already
//    reported at the same place is not counted again. Doubly-escaped JSON
//    (a JSON string inside a JSON string inside a JSON string) is not unescaped twice.
//
// Thread-safety: scan() is const and may run on any number of threads at once (Hyperscan
// scratch space is per thread).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "llm/key_fingerprint.h"

namespace rein::detect {

enum class SecretType : uint8_t {
  kOpenAiKey,       // sk-, sk-proj-, sk-svcacct-, sk-admin-
  kAnthropicKey,    // sk-ant-...
  kGoogleApiKey,    // AIza + 35
  kAwsAccessKeyId,  // AKIA/ASIA + 16
  kAwsSecretKey,    // 40 chars near an access key id or after "secret_access_key"
  kGithubToken,     // ghp_ gho_ ghs_ ghu_ ghr_ github_pat_
  kSlackToken,      // xoxb- xoxp- xoxa- xoxr- xoxe- xoxs- xoxo-
  kStripeKey,       // sk_live_ rk_live_ sk_test_ rk_test_
  kOtherApiKey,     // sk-or-v1- (OpenRouter), gsk_ (Groq), xai- (xAI), hf_ (Hugging Face)
  kPrivateKey,      // -----BEGIN [RSA|EC|OPENSSH|PGP|ENCRYPTED|...] PRIVATE KEY[ BLOCK]-----
  kJwt,             // eyJ<header>.eyJ<payload>.<signature>
  kUrlPassword,     // scheme://user:password@host
  kEmail,
  kPhone,       // E.164 (+ country code) or NANP with separators
  kCardNumber,  // 13-19 digits, known issuer prefix, Luhn-valid
  kIban,        // country length table + mod-97
};
inline constexpr size_t kSecretTypeCount = 16;

// Stable snake_case names used in events, metrics and policy ("openai_api_key", "email").
std::string_view secret_type_name(SecretType t);
// Personal data (email, phone, card, IBAN) rather than a credential.
bool secret_type_is_pii(SecretType t);

// One distinct value of one type: all its occurrences in the body folded together.
struct SecretFinding {
  SecretType type;
  uint32_t count = 0;  // occurrences in the body
  // Provider keys: exactly what llm.call's key_fingerprint holds for the same key
  // ("sk-proj:<12 hex>"), so a prompt carrying the agent's own key is recognisable.
  // Everything else: "<type name>:<12 hex of HMAC-SHA256(host key, normalised value)>"
  // (emails lower-cased, phone/card digits only, IBANs without spaces, the password only
  // for URLs, the base64 body for private keys).
  std::string fingerprint;
  // JSON paths of the occurrences, distinct, in body order, at most kMaxLocations:
  // "messages[3].content", "system[0].text", "tools[1].input_schema", "input[2].content[0]
  // .text", "contents[0].parts[1].text". Object keys that are not plain words print as "*"
  // (a key could itself be the secret). "" when the body is not JSON.
  std::vector<std::string> locations;
  // Index in the conversation array ("messages", "input" or "contents") of the first
  // occurrence; -1 when it is elsewhere (system, tools, instructions, ...).
  int message_index = -1;
  // Found only after JSON-unescaping a string (the raw bytes hid it).
  bool escaped = false;
};

struct SecretScanResult {
  std::vector<SecretFinding> findings;  // in order of first occurrence
  size_t bytes_scanned = 0;
  // Something was left unscanned: the body exceeded max_body_bytes, or the match budget
  // or unescape budget ran out. Findings so far are still reported.
  bool truncated = false;
};

struct SecretScanOptions {
  size_t max_body_bytes = 4u << 20;  // bytes beyond are not scanned (truncated = true)
  bool pii = true;                   // emails, phones, cards, IBANs
  // Where the compiled database is kept between runs (--state-dir); empty: compile each time.
  std::string cache_dir;
  // Short bodies without any literal a pattern needs skip the Hyperscan pass (tests turn it
  // off to compare).
  bool literal_check = true;
};

class SecretScanner {
 public:
  static constexpr size_t kMaxLocations = 8;
  static constexpr size_t kMaxUnescapedBytes = 1u << 20;

  // Compiles the pattern database once (tens of milliseconds), or loads the copy an earlier
  // run left in options.cache_dir; keep the scanner for the life of the process. Fails when
  // Hyperscan cannot run on this CPU.
  static Result<SecretScanner> create(llm::Fingerprinter fingerprinter,
                                      SecretScanOptions options = {});
  // The database was loaded from options.cache_dir, not compiled by this process.
  bool database_cached() const;

  SecretScanner(SecretScanner&&) noexcept;
  SecretScanner& operator=(SecretScanner&&) noexcept;
  ~SecretScanner();

  // Scans an LLM request body. provider_hint is llm.call's provider ("openai",
  // "anthropic", "gemini", ... or ""); it only narrows which top-level array counts as the
  // conversation for message_index: "contents" for gemini*, else any of "messages",
  // "input", "contents". Every request shape gets locations without it.
  SecretScanResult scan(std::string_view body, std::string_view provider_hint = {}) const;

 private:
  struct Impl;
  explicit SecretScanner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "email=2 openai_api_key=1" (type=occurrences, sorted by type), "" when nothing was found.
// Safe to log: it holds no value and no fingerprint.
std::string summarize(const std::vector<SecretFinding>& findings);

// Per-type occurrence counts, indexed by SecretType.
std::array<uint32_t, kSecretTypeCount> count_by_type(const std::vector<SecretFinding>& findings);

}  // namespace rein::detect
