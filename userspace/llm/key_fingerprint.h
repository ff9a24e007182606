// Credentials seen in LLM requests are reduced to a stable, non-reversible fingerprint
// before anything else sees them: "<class>:<first 12 hex of HMAC-SHA256(host key, secret)>".
// The host-local key makes fingerprints useless for offline guessing elsewhere and keeps
// them stable across restarts on one host.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "proto/http_message.h"

struct evp_mac_ctx_st;  // OpenSSL's EVP_MAC_CTX

namespace rein::llm {

struct KeyFingerprint {
  std::string fingerprint;  // "" when the request carried no credential
  std::string key_class;    // "sk-proj", "sk-ant-api03", "AIza", "AKIA", "jwt", ... or ""
};

// Prefix class of a secret: sk-proj, sk-svcacct, sk-admin, sk-or-v1, sk-ant-api03,
// sk-ant-oat01, sk-ant-admin01, sk-ant, sk, AIza, ABSK, AKIA, ASIA, gsk, xai, jwt, ya29,
// unknown.
std::string classify_key(std::string_view secret);

// Capture and replay (pipeline/capture_inputs.h): told each credential a request carried,
// so a capture can replace it with a placeholder before anything is written; in replay,
// answers a placeholder with the fingerprint the live sensor recorded for it.
class CredentialObserver {
 public:
  virtual ~CredentialObserver() = default;
  virtual std::optional<std::string> recorded(std::string_view credential) const = 0;
  virtual void seen(std::string_view credential, const std::string& fingerprint) const = 0;
};

class Fingerprinter {
 public:
  explicit Fingerprinter(std::array<uint8_t, 32> key);
  ~Fingerprinter();
  Fingerprinter(const Fingerprinter&) = default;
  Fingerprinter& operator=(const Fingerprinter&) = default;

  // Reads a 32-byte key file, creating it (mode 0600, random bytes) when it is missing.
  static Result<Fingerprinter> from_key_file(const std::string& path);

  // "<class>:<12 hex>" for a raw secret.
  std::string fingerprint(std::string_view secret) const;

  // Finds the credential in a request: Authorization (Bearer, Basic, SigV4 Credential=
  // access key id - never the Signature), x-api-key, api-key, x-goog-api-key,
  // x-litellm-api-key, or a key=/api-key=/access_token= query parameter.
  KeyFingerprint fingerprint_request(const proto::HttpRequest& req) const;
  // Not owned; null: none.
  void set_observer(const CredentialObserver* o) { observer_ = o; }

 private:
  std::string hmac12(std::string_view secret) const;  // first 12 hex digits of the HMAC
  std::string hmac12_uncached(std::string_view secret) const;

  std::array<uint8_t, 32> key_;
  // HMAC-SHA256 keyed once (fetching the algorithm per call cost ~5% of the sensor's CPU);
  // each fingerprint works on a copy, so the template is only read. Null: one-shot HMAC().
  std::shared_ptr<evp_mac_ctx_st> mac_;
  const CredentialObserver* observer_ = nullptr;
  // The last few secrets and their HMACs: an agent sends the same key with every call (and
  // the capture scrubber meets it in every request record), and an HMAC through EVP_MAC was
  // about 2 us. Secrets are wiped when dropped; shared by copies (they hold the same key).
  struct RecentMacs;
  std::shared_ptr<RecentMacs> recent_;
};

// The request target with the values of credential-bearing query parameters (key, api-key,
// api_key, apikey, access_token, token, x-goog-api-key, X-Amz-Signature, X-Amz-Credential,
// X-Amz-Security-Token, sig, signature, client_secret, password, secret) replaced by
// "REDACTED".
std::string scrub_query(std::string_view target);

// Replaces key-like tokens (sk-..., AIza..., AKIA..., Bearer ..., JWTs) inside free text such
// as provider error messages with "[REDACTED <class>]".
std::string redact_secrets(std::string_view text);

}  // namespace rein::llm
