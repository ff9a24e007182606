// Credentials in what a capture keeps (ring records, /proc command lines) are replaced
// before anything is written: each one by a placeholder of the same length, so offsets,
// Content-Length and HPACK string lengths in the record stay valid and replay decodes it
// the same way, and the capture keeps (placeholder -> fingerprint) so replay's llm.call
// carries the fingerprint the live sensor printed. What is and is not found: docs/capture.md
// ("Secrets").
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "llm/key_fingerprint.h"
#include "pipeline/capture_scrub_prefilter.h"

namespace rein::pipeline {

struct SecretMapping {
  std::string placeholder;
  std::string fingerprint;
};

class SecretScrubber final : public llm::CredentialObserver {
 public:
  explicit SecretScrubber(const llm::Fingerprinter& fingerprinter);
  ~SecretScrubber() override;
  SecretScrubber(const SecretScrubber&) = delete;
  SecretScrubber& operator=(const SecretScrubber&) = delete;

  // A ring record's bytes, in place. `payload`: it carries traffic or argv (HTTP headers,
  // query strings, HPACK blocks are looked for); otherwise only known credentials and
  // key-shaped tokens. Returns the placeholders first used here (write them before it).
  std::vector<SecretMapping> scrub(std::string& bytes, bool payload);

  // CredentialObserver, live side: the pipeline fingerprinted this credential; later
  // records are searched for it (and for its HPACK Huffman form).
  std::optional<std::string> recorded(std::string_view) const override { return std::nullopt; }
  void seen(std::string_view credential, const std::string& fingerprint) const override;

  // The placeholder a credential gets: same length, keeps a public class prefix (sk-ant-,
  // AIza, eyJ...) so the pipeline still treats it as key-shaped, then "REDACTED<n>X...".
  static std::string make_placeholder(std::string_view secret, uint64_t n);

  // Whether the last scrub() replaced anything (its input held a credential).
  bool modified() const { return modified_; }

  // Tests: off makes scrub() walk every byte as before the prefilter (the two must agree).
  void use_prefilter(bool on) { use_prefilter_ = on; }

 private:
  const std::string& placeholder_for(std::string_view secret, const std::string& fingerprint) const;
  void replace(std::string& bytes, size_t pos, size_t len, const std::string& fingerprint) const;
  // Full scans (no prefilter) and the checks they make at one place, which the
  // prefilter's hits go through too.
  void scrub_headers(std::string& bytes) const;
  void scrub_header_value(std::string& bytes, std::string_view name, size_t colon) const;
  void scrub_query(std::string& bytes) const;
  void scrub_param_at(std::string& bytes, size_t i) const;
  std::string header_fingerprint(std::string_view name, std::string_view value,
                                 std::string_view credential) const;
  std::string param_fingerprint(std::string_view name, std::string_view value) const;
  // The HPACK string at `pos` (`len` bytes, its length prefix at `prefix_pos`), a
  // Huffman-coded :path whose decoded value is `path`.
  void scrub_huffman_path(std::string& bytes, size_t prefix_pos, size_t pos, size_t len,
                          std::string_view path) const;
  void scrub_hpack(std::string& bytes) const;
  void scrub_known(std::string& bytes) const;
  void scrub_tokens(std::string& bytes) const;
  size_t scrub_token_at(std::string& bytes, size_t i) const;  // returns where the token ends
  void scrub_prefiltered(std::string& bytes, bool payload);

  const llm::Fingerprinter& fp_;
  // credential -> (fingerprint, placeholder); bounded. Kept in memory only: it is how later
  // copies of the same credential are found.
  struct Known {
    std::string fingerprint, placeholder, huffman;
  };
  mutable std::unordered_map<std::string, Known> known_;
  mutable std::unordered_set<std::string> issued_;  // placeholders handed out
  mutable std::vector<SecretMapping> fresh_;        // issued since the last scrub() returned
  mutable uint64_t next_ = 1;
  mutable bool modified_ = false;  // scrub() changed a byte (the token hits are then stale)
  std::unique_ptr<ScrubPrefilter> prefilter_;
  ScrubHits hits_;
  bool use_prefilter_ = true;
};

// Replay side: placeholders -> the fingerprints recorded live.
class RecordedCredentials final : public llm::CredentialObserver {
 public:
  void add(std::string placeholder, std::string fingerprint) {
    map_[std::move(placeholder)] = std::move(fingerprint);
  }
  std::optional<std::string> recorded(std::string_view credential) const override;
  void seen(std::string_view, const std::string&) const override {}

 private:
  std::unordered_map<std::string, std::string> map_;
};

}  // namespace rein::pipeline
