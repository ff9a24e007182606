// The one list of credential shapes, for every place that masks secrets before they reach a
// sink: process argv in events (pipeline/event_builder) and provider error text in llm.call
// (llm/key_fingerprint). One list, so a key shape added here is masked everywhere.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace rein {

// The class of a credential by its prefix ("sk-proj", "AIza", "ya29", "ghp", "jwt", ...),
// or empty. Only the prefix is looked at (fingerprints classify whole, known secrets).
std::string_view secret_prefix_class(std::string_view s);
// The length of the prefix secret_prefix_class matched (0: none).
size_t secret_prefix_length(std::string_view s);
// The class of a token shaped like a credential: a known prefix and enough after it to be
// a real key ("sk-short" is a word, not a key). Empty when it is not one.
std::string_view secret_token_class(std::string_view token);
// False when secret_token_class(token) is surely empty (too short, or no prefix starts with
// its first two bytes): a table lookup, for scanners that test every token of a stream.
bool secret_token_may_have_class(std::string_view token);
// Every prefix secret_token_class knows, for scanners that look for them all in one pass.
std::vector<std::string_view> secret_token_prefixes();

// Query parameters that carry a key, token, signature or password (presigned URLs, OAuth),
// lower case: one list for llm.call's path (llm::scrub_query) and the capture scrubber.
inline constexpr std::string_view kCredentialQueryParams[] = {
    "key",       "api-key",       "api_key",          "apikey",          "x-api-key",
    "access_token", "token",      "id_token",         "refresh_token",   "x-goog-api-key",
    "x-amz-credential", "x-amz-security-token", "x-amz-signature", "sig", "signature",
    "client_secret", "password",  "secret",           "auth",            "authorization"};

// A byte range of the text a redaction was given, [begin, end): what one marker replaced.
struct TextRange {
  size_t begin = 0, end = 0;
};

enum class RedactionMarker {
  kPlain,   // "[redacted]"
  kClassed  // "[REDACTED sk-proj]"
};
// Every credential-shaped token in free text, and the value after "Bearer ", "Basic " or
// "Authorization:", becomes the marker. Linear in the text, whatever it holds. `replaced`,
// when given, receives the ranges of `text` the markers took the place of, in order.
std::string redact_secret_tokens(std::string_view text, RedactionMarker marker,
                                 std::vector<TextRange>* replaced = nullptr);
// The password of every URL with userinfo (scheme://user:password@host) becomes
// "[redacted]": git remotes, database URLs, proxies.
std::string redact_url_passwords(std::string_view text, std::vector<TextRange>* replaced = nullptr);

}  // namespace rein
