#include "pipeline/arg_redaction.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <numeric>


namespace rein::pipeline {

namespace {
constexpr std::string_view kMarker = "[redacted]";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool secret_flag_name(std::string_view name) {
  std::string n = lower(name);
  for (const char* w :
       {"key", "token", "secret", "password", "passwd", "credential", "auth", "cookie", "signature"})
    if (n.find(w) != std::string::npos) return true;
  return n == "sig" || n == "pwd";  // Azure SAS signatures; ODBC's Pwd=
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

bool identifier(std::string_view s) { return std::all_of(s.begin(), s.end(), name_char); }

// Flags whose value is a credential only in some shapes: curl's -u/--user user:password
// (the password part) and -b/--cookie name=value (a bare word there is a cookie file).
bool user_flag(std::string_view a) { return a == "-u" || a == "--user" || a == "--proxy-user"; }
bool cookie_flag(std::string_view a) { return a == "-b"; }

// The argument as the stages of redaction leave it, each byte with the position in the
// original argument it came from (kInserted for a marker's bytes): the original bytes no
// position points at are the ones redaction hid.
constexpr uint32_t kInserted = UINT32_MAX;
struct Tracked {
  std::string text;
  std::vector<uint32_t> origin;

  explicit Tracked(std::string_view s) : text(s), origin(s.size()) {
    std::iota(origin.begin(), origin.end(), 0u);
  }
  // Each range of `text` (sorted, disjoint) becomes `marker`.
  void replace(const std::vector<TextRange>& ranges, std::string_view marker = kMarker) {
    if (ranges.empty()) return;
    std::string t;
    std::vector<uint32_t> o;
    t.reserve(text.size() + ranges.size() * marker.size());
    o.reserve(t.capacity());
    size_t at = 0;
    auto keep = [&](size_t to) {
      t.append(text, at, to - at);
      o.insert(o.end(), origin.begin() + ptrdiff_t(at), origin.begin() + ptrdiff_t(to));
    };
    for (const TextRange& r : ranges) {
      keep(r.begin);
      t.append(marker);
      o.insert(o.end(), marker.size(), kInserted);
      at = r.end;
    }
    keep(text.size());
    text.swap(t);
    origin.swap(o);
  }
  void replace(TextRange r, std::string_view marker = kMarker) { replace(std::vector{r}, marker); }
};

// Values of credential-named assignments inside an argument: query parameters
// (?key=..., &access_token=...) and the key=value lists of connection strings
// ("host=db user=app password=...", "Server=x;Pwd=...").
std::vector<TextRange> assignment_ranges(std::string_view s) {
  std::vector<TextRange> out;
  size_t i = 0;
  for (size_t eq = s.find('='); eq != std::string_view::npos; eq = s.find('=', eq + 1)) {
    if (eq < i) continue;  // inside a value already masked
    size_t start = eq;
    while (start > i && name_char(s[start - 1])) start--;
    if (start == eq || (start > 0 && !std::strchr("?& \t;,\"'", s[start - 1]))) continue;
    if (!secret_flag_name(s.substr(start, eq - start))) continue;
    i = std::min(s.find_first_of("& \t;,#\"'", eq + 1), s.size());
    out.push_back({eq + 1, i});
  }
  return out;
}

// Credentials inside a longer argument, in the shapes tools take them: a header value
// (curl -H "Authorization: Bearer ..."), a URL password (https://u:pw@host), a query
// parameter (?key=...), or a key-shaped token anywhere ("x-api-key: sk-...").
void redact_inside(Tracked& t) {
  const std::string_view arg = t.text;
  if (auto colon = arg.find(':'); colon != std::string_view::npos && arg.substr(colon, 3) != "://") {
    size_t start = colon;
    while (start > 0 && (std::isalnum(static_cast<unsigned char>(arg[start - 1])) ||
                         arg[start - 1] == '-' || arg[start - 1] == '_'))
      start--;
    auto name = arg.substr(start, colon - start);
    if (!name.empty() && secret_flag_name(name)) return t.replace({colon + 1, arg.size()}, " [redacted]");
  }
  std::vector<TextRange> r;
  redact_url_passwords(t.text, &r);
  t.replace(r);
  t.replace(assignment_ranges(t.text));
  r.clear();
  redact_secret_tokens(t.text, RedactionMarker::kPlain, &r);
  t.replace(r);
}

Tracked redact_tracked(std::string_view arg, ArgState previous, ArgState* next) {
  Tracked t(arg);
  *next = ArgState::kPlain;
  const TextRange all{0, arg.size()};
  if (previous == ArgState::kSecret) {
    t.replace(all);
    return t;
  }
  if (previous == ArgState::kUser && arg.find(':') != std::string_view::npos) {
    t.replace({arg.find(':') + 1, arg.size()});
    return t;
  }
  // Cookies (name=value; ...): from the first value on; the first name is not a secret.
  if (previous == ArgState::kCookie && arg.find('=') != std::string_view::npos) {
    t.replace({arg.find('=') + 1, arg.size()});
    return t;
  }
  if (user_flag(arg) || cookie_flag(arg)) {
    *next = user_flag(arg) ? ArgState::kUser : ArgState::kCookie;
    return t;
  }
  const size_t eq = arg.find('=');
  if (eq != std::string_view::npos && user_flag(arg.substr(0, eq))) {
    if (size_t c = arg.find(':', eq + 1); c != std::string_view::npos) t.replace({c + 1, arg.size()});
    return t;
  }
  if (arg.size() > 2 && arg[0] == '-' && secret_flag_name(arg.substr(0, eq))) {
    if (eq == std::string_view::npos)
      *next = ArgState::kSecret;
    else
      t.replace({eq + 1, arg.size()});
    return t;
  }
  // NAME=value assignments (env -i FOO_API_KEY=... cmd)
  if (eq != std::string_view::npos && eq > 0 && arg[0] != '-' && identifier(arg.substr(0, eq)) &&
      secret_flag_name(arg.substr(0, eq))) {
    t.replace({eq + 1, arg.size()});
    return t;
  }
  if (!secret_token_class(arg).empty()) {
    t.replace(all);
    return t;
  }
  redact_inside(t);
  return t;
}

bool key_placeholder(std::string_view token) { return token.find("REDACTED") != std::string_view::npos; }
}  // namespace

std::string redact_arg(std::string_view arg, ArgState previous, ArgState* next) {
  return redact_tracked(arg, previous, next).text;
}

std::string redact_arg(std::string_view arg, bool previous_was_secret_flag, bool* is_secret_flag) {
  ArgState next = ArgState::kPlain;
  std::string out = redact_arg(arg, previous_was_secret_flag ? ArgState::kSecret : ArgState::kPlain, &next);
  *is_secret_flag = next == ArgState::kSecret;
  return out;
}

std::vector<TextRange> redacted_ranges(std::string_view arg, ArgState previous, ArgState* next) {
  const Tracked t = redact_tracked(arg, previous, next);
  std::vector<bool> shown(arg.size(), false);
  for (uint32_t o : t.origin)
    if (o != kInserted) shown[o] = true;
  std::vector<TextRange> out;
  for (size_t i = 0; i < arg.size(); i++) {
    if (shown[i]) continue;
    if (!out.empty() && out.back().end == i)
      out.back().end++;
    else
      out.push_back({i, i + 1});
  }
  return out;
}

bool mask_argv_secrets(char* argv, size_t len) {
  bool changed = false;
  ArgState state = ArgState::kPlain;
  size_t start = 0;
  while (start < len) {
    const char* nul = static_cast<const char*>(std::memchr(argv + start, '\0', len - start));
    const size_t end = nul ? size_t(nul - argv) : len;
    char* arg = argv + start;
    ArgState next = ArgState::kPlain;
    for (const TextRange& r : redacted_ranges({arg, end - start}, state, &next)) {
      std::string_view run(arg + r.begin, r.end - r.begin);
      size_t from = 0;
      if (!secret_token_class(run).empty()) {
        // A key-shaped value must stay key-shaped for replay's redaction: the scrubber's
        // placeholder for its token stays; otherwise its public class prefix does (as in a
        // placeholder), and the rest is filled.
        size_t tok = 0;
        while (tok < run.size() && (name_char(run[tok]) || std::strchr("+/=~", run[tok]))) tok++;
        from = key_placeholder(run.substr(0, tok)) ? tok : secret_prefix_length(run);
      }
      for (size_t i = r.begin + from; i < r.end; i++) {
        changed |= arg[i] != 'X';
        arg[i] = 'X';
      }
    }
    state = next;
    start = end + 1;
  }
  return changed;
}

}  // namespace rein::pipeline
