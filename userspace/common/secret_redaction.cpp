#include "common/secret_redaction.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace rein {
namespace {

struct Prefix {
  std::string_view prefix, cls;
};
// Most specific first.
constexpr Prefix kPrefixes[] = {
    {"sk-ant-api03-", "sk-ant-api03"},
    {"sk-ant-oat01-", "sk-ant-oat01"},
    {"sk-ant-admin01-", "sk-ant-admin01"},
    {"sk-ant-", "sk-ant"},
    {"sk-proj-", "sk-proj"},
    {"sk-svcacct-", "sk-svcacct"},
    {"sk-admin-", "sk-admin"},
    {"sk-or-v1-", "sk-or-v1"},
    {"sk-", "sk"},
    {"sk_", "sk"},
    {"AIza", "AIza"},
    {"ya29.", "ya29"},
    {"ABSK", "ABSK"},
    {"AKIA", "AKIA"},
    {"ASIA", "ASIA"},
    {"gsk_", "gsk"},
    {"xai-", "xai"},
    {"github_pat_", "github_pat"},
    {"ghp_", "ghp"},
    {"gho_", "gho"},
    {"ghs_", "ghs"},
    {"ghu_", "ghu"},
    {"ghr_", "ghr"},
    {"xoxb-", "xoxb"},
    {"xoxp-", "xoxp"},
    {"xoxa-", "xoxa"},
    {"xoxe-", "xoxe"},
    {"xoxr-", "xoxr"},
    {"xoxs-", "xoxs"},
    {"xapp-", "xapp"},
    {"eyJ", "jwt"},
};
// After the prefix, at least this much: shorter is a word that happens to share it.
constexpr size_t kMinTail = 8;

// Where a token may start and what it is made of. Values extend over base64's + / = so a
// masked key leaves none of its tail behind.
bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}
bool value_char(char c) {
  return token_char(c) || c == '+' || c == '/' || c == '=' || c == '~';
}

bool ends_with_ci(std::string_view text, size_t end, std::string_view word) {
  if (end < word.size()) return false;
  for (size_t i = 0; i < word.size(); i++) {
    char a = text[end - word.size() + i], b = word[i];
    if (a >= 'A' && a <= 'Z') a = char(a - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

bool is_scheme_word(std::string_view tok) {
  return (tok.size() == 6 && ends_with_ci(tok, 6, "bearer")) ||
         (tok.size() == 5 && ends_with_ci(tok, 5, "basic"));
}

// The value after an auth scheme ("Bearer X"), an Authorization header, or a key, token or
// password named before a ':' or '=' ("api_key=X", "\"x-api-key\": \"X\"": how a provider's
// error may echo an opaque key), that ends at `start`; quotes and blanks may sit between.
std::string_view auth_context(std::string_view text, size_t start) {
  auto skippable = [](char c) { return c == ' ' || c == '"' || c == '\''; };
  size_t p = start;
  while (p > 0 && skippable(text[p - 1])) p--;
  if (p < start && ends_with_ci(text, p, "bearer")) return "bearer";
  if (p < start && ends_with_ci(text, p, "basic")) return "basic";
  if (p == 0 || (text[p - 1] != ':' && text[p - 1] != '=')) return {};
  size_t k = p - 1;
  while (k > 0 && skippable(text[k - 1])) k--;
  if (ends_with_ci(text, k, "authorization")) return "authorization";
  for (std::string_view w : {"api_key", "api-key", "apikey", "access_token", "password", "secret",
                             "token"})
    if (ends_with_ci(text, k, w)) return "credential";
  return {};
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
// Which first two bytes some prefix starts with (all prefixes have at least two), as 256
// bitsets of the second byte: built from kPrefixes, so it cannot fall out of step.
using PairTable = std::array<std::array<uint64_t, 4>, 256>;
constexpr PairTable make_pairs() {
  PairTable t{};
  for (const auto& p : kPrefixes) {
    const auto a = uint8_t(p.prefix[0]), b = uint8_t(p.prefix[1]);
    t[a][b / 64] |= uint64_t(1) << (b % 64);
  }
  return t;
}
constexpr PairTable kPairs = make_pairs();
constexpr size_t min_classed_token() {
  size_t m = SIZE_MAX;
  for (const auto& p : kPrefixes) m = std::min(m, p.prefix.size() + kMinTail);
  return m;
}
constexpr size_t kMinClassedToken = min_classed_token();
}  // namespace

bool secret_token_may_have_class(std::string_view token) {
  if (token.size() < kMinClassedToken) return false;
  const auto a = uint8_t(token[0]), b = uint8_t(token[1]);
  return (kPairs[a][b / 64] >> (b % 64)) & 1;
}

std::vector<std::string_view> secret_token_prefixes() {
  std::vector<std::string_view> out;
  for (const auto& p : kPrefixes) out.push_back(p.prefix);
  return out;
}

std::string_view secret_prefix_class(std::string_view s) {
  // The first byte settles most candidates without a call to memcmp (this runs for every
  // header value and token of every request).
  for (const auto& p : kPrefixes)
    if (s.size() >= p.prefix.size() && s[0] == p.prefix[0] &&
        s.substr(0, p.prefix.size()) == p.prefix)
      return p.cls;
  return {};
}

size_t secret_prefix_length(std::string_view s) {
  for (const auto& p : kPrefixes)
    if (s.size() >= p.prefix.size() && s.substr(0, p.prefix.size()) == p.prefix) return p.prefix.size();
  return 0;
}

std::string_view secret_token_class(std::string_view token) {
  for (const auto& p : kPrefixes)
    if (token.size() >= p.prefix.size() + kMinTail && token[0] == p.prefix[0] &&
        token.substr(0, p.prefix.size()) == p.prefix)
      return p.cls;
  return {};
}

std::string redact_secret_tokens(std::string_view text, RedactionMarker marker,
                                 std::vector<TextRange>* replaced) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!token_char(text[i]) || (i > 0 && token_char(text[i - 1]) && text[i - 1] != '.')) {
      out.push_back(text[i++]);
      continue;
    }
    size_t end = i;
    while (end < text.size() && token_char(text[end])) end++;
    std::string_view tok = text.substr(i, end - i);
    std::string_view cls = secret_token_class(tok);
    if (cls.empty() && !is_scheme_word(tok)) {
      std::string_view ctx = auth_context(text, i);
      // "Bearer X": X is a credential whatever its shape; so is an Authorization value.
      if (!ctx.empty() && (ctx == "authorization" || tok.size() >= kMinTail) &&
          !(ctx == "credential" && all_digits(tok)))
        cls = ctx;
    }
    if (cls.empty()) {
      // A key can follow a dot inside a longer token ("openai-insecure-api-key.sk-...", a
      // WebSocket subprotocol): each dot starts a token of its own.
      const size_t dot = tok.find('.');
      const size_t upto = dot == std::string_view::npos ? end : i + dot + 1;
      out.append(text.substr(i, upto - i));
      i = upto;
      continue;
    }
    while (end < text.size() && value_char(text[end])) end++;
    if (replaced) replaced->push_back({i, end});
    if (marker == RedactionMarker::kPlain) {
      out += "[redacted]";
    } else {
      out += "[REDACTED ";
      out += cls;
      out += ']';
    }
    i = end;
  }
  return out;
}

std::string redact_url_passwords(std::string_view text, std::vector<TextRange>* replaced) {
  std::string out(text);
  ptrdiff_t grown = 0;  // how much longer `out` is than `text` before the current position
  for (size_t scheme = out.find("://"); scheme != std::string::npos;
       scheme = out.find("://", scheme + 3)) {
    const size_t host = scheme + 3;
    // the authority ends at the path, query, fragment, or whatever cannot be in a URL
    const size_t end = std::min(out.find_first_of("/?#\"' \t\n", host), out.size());
    const size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
    if (at == std::string::npos || at < host) continue;
    const size_t colon = out.find(':', host);
    if (colon >= at || out.compare(colon + 1, at - colon - 1, "[redacted]") == 0) continue;
    if (replaced) replaced->push_back({size_t(ptrdiff_t(colon + 1) - grown), size_t(ptrdiff_t(at) - grown)});
    out.replace(colon + 1, at - colon - 1, "[redacted]");
    grown += ptrdiff_t(std::string_view("[redacted]").size()) - ptrdiff_t(at - colon - 1);
  }
  return out;
}

}  // namespace rein
