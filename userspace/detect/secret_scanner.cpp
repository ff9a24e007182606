#include "detect/secret_scanner.h"

#include <fmt/format.h>
#include <hs/hs.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "detect/json_locator.h"
#include "detect/pattern_db_cache.h"
#include "detect/pattern_literal.h"
#include "detect/secret_validators.h"

namespace rein::detect {

namespace {

// Hyperscan pattern ids. Each pattern is an anchor whose end fixes where the value starts
// (see the header): a left-boundary prefix, then a fixed number of characters.
enum Pid : unsigned {
  kPSk,
  kPStripe,
  kPAiza,
  kPAwsId,
  kPAwsKeyword,
  kPGithub,
  kPGithubPat,
  kPSlack,
  kPGroqXai,
  kPHuggingFace,
  kPPem,
  kPJwt,
  kPUrlPassword,
  kPEmail,
  kPPhoneIntl,
  kPPhoneParen,
  kPPhoneSep,
  kPCard,
  kPCardAmex,
  kPIban,
  kPEscU,
  kPEscSlash,
};

// Where a value may start: the start of the data, a character that cannot be part of it,
// or a JSON "\n" / "\t" / "\r" escape (in the raw bytes a value on its own line follows
// the letter n, which is otherwise a word character).
#define REIN_LB R"((?:^|[^A-Za-z0-9_\-]|\\[nrt]))"
// The same for numbers: '+' and '.' also continue a number.
#define REIN_LBD R"((?:^|[^A-Za-z0-9_+.\-]|\\[nrt]))"

struct PatternSpec {
  Pid id;
  const char* expr;
  unsigned flags;
};

constexpr PatternSpec kPatterns[] = {
    {kPSk, REIN_LB R"(sk-[A-Za-z0-9_\-]{20})", 0},
    {kPStripe, REIN_LB R"([rs]k_(?:live|test)_[A-Za-z0-9]{16})", 0},
    {kPAiza, REIN_LB R"(AIza[0-9A-Za-z_\-]{35})", 0},
    {kPAwsId, REIN_LB R"((?:AKIA|ASIA)[A-Z0-9]{16})", 0},
    {kPAwsKeyword, R"(secret_?access_?key)", HS_FLAG_CASELESS},
    {kPGithub, REIN_LB R"(gh[pousr]_[A-Za-z0-9]{36})", 0},
    {kPGithubPat, REIN_LB R"(github_pat_[A-Za-z0-9_]{22})", 0},
    {kPSlack, REIN_LB R"(xox[abposre]-[0-9A-Za-z\-]{10})", 0},
    {kPGroqXai, REIN_LB R"((?:gsk_|xai-)[A-Za-z0-9]{20})", 0},
    {kPHuggingFace, REIN_LB R"(hf_[A-Za-z0-9]{30})", 0},
    {kPPem, R"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)", 0},
    {kPJwt, R"(eyJ[A-Za-z0-9_\-]{8,}\.eyJ)", 0},
    {kPUrlPassword, R"(://[^\s/?#@"'\\<>]{0,64}:[^\s/?#@"'\\<>]{1,128}@)", 0},
    {kPEmail, R"([A-Za-z0-9._%+\-]@[A-Za-z0-9][A-Za-z0-9\-]{0,62}\.[A-Za-z]{2})", 0},
    // Card numbers, IBANs and phone numbers have no literal for Hyperscan to look for: as
    // patterns they cost a full DFA pass over the body (~0.5 GB/s together; "+" alone halves
    // the scan rate on code and base64). They are matched by hand instead, only near runs
    // of 4 digits and at "+<digit>", both found with SIMD (see digit_candidates).
    // Only whether the body has escapes that can split a value: one report is enough.
    {kPEscU, R"(\\u00[0-7][0-9a-fA-F])", HS_FLAG_SINGLEMATCH},
    {kPEscSlash, R"(\\/)", HS_FLAG_SINGLEMATCH},
};
#undef REIN_LB
#undef REIN_LBD

// Hyperscan's start-up cost per scan (~1.5 us on this class of VM for this database) is most
// of the scan of a short body, and most short bodies hold no literal any pattern needs.
// Every pattern above contains one of the literals detect/pattern_literal.cpp looks for;
// bodies up to kLiteralCheckMax bytes without any skip the Hyperscan pass (the digit pass
// still runs). Keep that list a superset: a pattern added above needs its literal there
// (SecretScannerTest checks both paths agree).
constexpr size_t kLiteralCheckMax = 1024;

constexpr size_t kMaxCandidates = 1u << 16;
constexpr size_t kMaxHits = 4096;
constexpr size_t kMaxToken = 1024;        // a key longer than this is not a key
constexpr size_t kMaxPemBody = 16384;     // how far a private key's END line is looked for
constexpr size_t kAwsSecretWindow = 512;  // bytes around an access key id for its secret

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool is_word(char c) {
  return is_alnum(c) || c == '_' || c == '-';
}
bool is_b64(char c) {
  return is_alnum(c) || c == '+' || c == '/';
}
bool is_local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool is_domain_char(char c) {
  return is_alnum(c) || c == '-' || c == '.';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// True when text[pos] is the character right after an odd run of backslashes, i.e. the
// letter of a JSON escape rather than content.
bool escaped_at(std::string_view text, size_t pos) {
  size_t bs = 0;
  while (pos > bs && text[pos - 1 - bs] == '\\') bs++;
  return bs % 2 == 1;
}

// A value found by walking left can begin with the tail of a JSON escape ("\nfoo@x.org",
// "\u003cfoo@x.org"): step over it.
size_t skip_escape_tail(std::string_view text, size_t start, size_t limit) {
  if (start >= limit || !escaped_at(text, start)) return start;
  char c = text[start];
  if (c == 'u') {
    if (start + 5 <= limit && is_hex(text[start + 1]) && is_hex(text[start + 2]) &&
        is_hex(text[start + 3]) && is_hex(text[start + 4]))
      return start + 5;
    return start;
  }
  if (c == 'n' || c == 'r' || c == 't' || c == 'b' || c == 'f') return start + 1;
  return start;
}

size_t extend(std::string_view text, size_t from, bool (*pred)(char), size_t max) {
  size_t e = from;
  while (e < text.size() && e - from < max && pred(text[e])) e++;
  return e;
}

struct Counts {
  size_t digits = 0, upper = 0, lower = 0;
};
Counts count_chars(std::string_view s) {
  Counts c;
  for (char ch : s) {
    if (is_digit(ch)) c.digits++;
    if (ch >= 'A' && ch <= 'Z') c.upper++;
    if (ch >= 'a' && ch <= 'z') c.lower++;
  }
  return c;
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// A credential's random part has letters and digits mixed; a kebab-case word does not.
bool looks_random(std::string_view tail, size_t min_len, size_t min_digits) {
  if (tail.size() < min_len) return false;
  Counts c = count_chars(tail);
  return c.digits >= min_digits && c.upper + c.lower >= 8;
}

// Lower-case ASCII copy, compared against known placeholder words.
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

bool placeholder_password(std::string_view pw) {
  if (pw.empty()) return true;
  char f = pw.front(), b = pw.back();
  if (f == '<' || f == '$' || f == '{' || f == '%' || f == '[' || b == '>' || b == '}' || b == ']')
    return true;
  bool same = std::all_of(pw.begin(), pw.end(), [&](char c) { return c == f; });
  if (same) return true;                                                           // "****", "xxxx"
  if (pw.size() <= 5 && std::all_of(pw.begin(), pw.end(), is_digit)) return true;  // a port
  static constexpr std::string_view kWords[] = {
      "password", "pass",          "passwd",       "pwd",        "pw",
      "secret",   "your_password", "yourpassword", "mypassword", "my_password",
      "redacted", "changeme",      "passw0rd",     "pass123",    "example",
      "token",    "apikey",        "api_key",      "****",       "hunter2",
  };
  std::string l = lower(pw);
  for (std::string_view w : kWords)
    if (l == w) return true;
  return false;
}

// Generic top-level domains accepted for emails; any two-letter (country) domain is
// accepted too. Identifiers in code ("x@self.weights", "pkg@1.2.3") have neither.
bool known_tld(std::string_view tld) {
  if (tld.size() == 2) return true;
  static constexpr std::string_view kTlds[] = {
      "com",      "org",     "net",     "edu",    "gov",        "mil",      "int",     "info",
      "biz",      "app",     "dev",     "cloud",  "email",      "tech",     "online",  "site",
      "xyz",      "name",    "pro",     "mobi",   "asia",       "store",    "shop",    "blog",
      "page",     "inc",     "company", "group",  "works",      "team",     "systems", "solutions",
      "services", "network", "digital", "global", "world",      "life",     "live",    "news",
      "media",    "agency",  "studio",  "design", "codes",      "software", "mail",    "health",
      "finance",  "bank",    "law",     "legal",  "consulting",
  };
  std::string l = lower(tld);
  for (std::string_view t : kTlds)
    if (l == t) return true;
  return false;
}

// RFC 2606 names documentation uses: never a real person's address.
bool reserved_domain(std::string_view domain) {
  std::string l = lower(domain);
  for (std::string_view r : {"example.com", "example.org", "example.net"}) {
    if (l == r) return true;
    if (l.size() > r.size() && l.compare(l.size() - r.size(), r.size(), r) == 0 &&
        l[l.size() - r.size() - 1] == '.')
      return true;
  }
  return false;
}

struct Hit {
  SecretType type;
  size_t start = 0, end = 0;  // in the scanned text
  std::string fingerprint;
  std::string location;
  int message_index = -1;
  bool escaped = false;
};

struct HsDatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};

// One scratch per thread, grown to fit every database this thread scans with.
// hs_alloc_scratch on every scan cost ~13% of the sensor's CPU (it validates the database and
// compares sizes each time), so the thread remembers which databases its scratch already fits.
// Databases are named by a generation number, not their address, which a later database may
// reuse after the first is freed.
struct ThreadScratch {
  static constexpr size_t kRemembered = 8;
  hs_scratch_t* scratch = nullptr;
  uint64_t fits[kRemembered] = {};  // generations the scratch is sized for; 0 = empty slot
  size_t next = 0;
  ~ThreadScratch() {
    if (scratch != nullptr) hs_free_scratch(scratch);
  }
  bool ensure(const hs_database_t* db, uint64_t generation) {
    for (uint64_t g : fits)
      if (g == generation) return true;
    // Growing keeps the scratch valid for every database it fitted before.
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) return false;
    fits[next] = generation;
    next = (next + 1) % kRemembered;
    return true;
  }
};
thread_local ThreadScratch tls_scratch;
std::atomic<uint64_t> g_db_generation{0};

struct Candidate {
  unsigned id;
  size_t end;
};

struct MatchState {
  std::vector<Candidate>* candidates;
  bool overflow = false;
  bool escapes = false;
};

int on_match(unsigned int id, unsigned long long /*from*/, unsigned long long to,
             unsigned int /*flags*/, void* ctx) {
  auto* st = static_cast<MatchState*>(ctx);
  if (id == kPEscU || id == kPEscSlash) {
    st->escapes = true;
    return 0;
  }
  if (st->candidates->size() >= kMaxCandidates) {
    st->overflow = true;
    return 1;  // stop: the rest of the body is not scanned (reported as truncated)
  }
  st->candidates->push_back(Candidate{id, static_cast<size_t>(to)});
  return 0;
}

// Bit i set when lo <= p[i] <= lo + span, for the 64 readable bytes at p.
inline uint64_t char_mask64(const char* p, char lo, int span) {
#if defined(__SSE2__)
  const __m128i base = _mm_set1_epi8(lo), top = _mm_set1_epi8(char(span));
  uint64_t m = 0;
  for (int k = 0; k < 4; k++) {
    __m128i v = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k)), base);
    __m128i d = _mm_cmpeq_epi8(_mm_min_epu8(v, top), v);  // unsigned v <= span
    m |= uint64_t(uint32_t(_mm_movemask_epi8(d)) & 0xFFFFu) << (16 * k);
  }
  return m;
#else
  uint64_t m = 0;
  for (int k = 0; k < 64; k++) m |= uint64_t(uint8_t(p[k] - lo) <= uint8_t(span)) << k;
  return m;
#endif
}

// The anchors of the digit-shaped values, matched by hand at a token start t; each returns
// the anchor's end (as Hyperscan would report it) or 0.
bool dg(std::string_view x, size_t i) {
  return i < x.size() && is_digit(x[i]);
}
bool dg_in(std::string_view x, size_t i, char lo) {
  return dg(x, i) && x[i] >= lo;
}
bool digits_at(std::string_view x, size_t i, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (!dg(x, i + k)) return false;
  return true;
}
bool upper_at(std::string_view x, size_t i) {
  return i < x.size() && x[i] >= 'A' && x[i] <= 'Z';
}
bool sep_at(std::string_view x, size_t i) {
  return i < x.size() && (x[i] == ' ' || x[i] == '-');
}

// [2-6]ddd[ -]?dddd[ -]?dddd
size_t card_anchor(std::string_view x, size_t t) {
  if (!dg(x, t) || x[t] < '2' || x[t] > '6' || !digits_at(x, t + 1, 3)) return 0;
  size_t i = t + 4;
  for (int g = 0; g < 2; g++) {
    if (sep_at(x, i)) i++;
    if (!digits_at(x, i, 4)) return 0;
    i += 4;
  }
  return i;
}
// 3[47]dd[ -]dddddd[ -]ddddd
size_t amex_anchor(std::string_view x, size_t t) {
  if (!(t + 1 < x.size() && x[t] == '3' && (x[t + 1] == '4' || x[t + 1] == '7'))) return 0;
  if (!digits_at(x, t + 2, 2) || !sep_at(x, t + 4) || !digits_at(x, t + 5, 6) ||
      !sep_at(x, t + 11) || !digits_at(x, t + 12, 5))
    return 0;
  return t + 17;
}
// [2-9]dd-[2-9]dd-dddd or the same with dots
size_t nanp_anchor(std::string_view x, size_t t) {
  if (!dg_in(x, t, '2') || !digits_at(x, t + 1, 2) || t + 3 >= x.size()) return 0;
  char sep = x[t + 3];
  if ((sep != '-' && sep != '.') || !dg_in(x, t + 4, '2') || !digits_at(x, t + 5, 2) ||
      t + 7 >= x.size() || x[t + 7] != sep || !digits_at(x, t + 8, 4))
    return 0;
  return t + 12;
}
// ([2-9]dd) ?[2-9]dd[-. ]dddd
size_t paren_anchor(std::string_view x, size_t t) {
  if (x[t] != '(' || !dg_in(x, t + 1, '2') || !digits_at(x, t + 2, 2) || t + 4 >= x.size() ||
      x[t + 4] != ')')
    return 0;
  size_t i = t + 5;
  if (i < x.size() && x[i] == ' ') i++;
  if (!dg_in(x, i, '2') || !digits_at(x, i + 1, 2) || i + 3 >= x.size() ||
      (x[i + 3] != '-' && x[i + 3] != '.' && x[i + 3] != ' ') || !digits_at(x, i + 4, 4))
    return 0;
  return i + 8;
}
// [A-Z]{2}dd ?[A-Z0-9]{4} ?[A-Z0-9]{4}
size_t iban_anchor(std::string_view x, size_t t) {
  if (!upper_at(x, t) || !upper_at(x, t + 1) || !digits_at(x, t + 2, 2)) return 0;
  size_t i = t + 4;
  for (int g = 0; g < 2; g++) {
    if (i < x.size() && x[i] == ' ') i++;
    for (int k = 0; k < 4; k++, i++)
      if (!(dg(x, i) || upper_at(x, i))) return 0;
  }
  return i;
}

struct Masks {
  uint64_t digit = 0, upper = 0, plus = 0;
};
Masks masks_at(std::string_view text, size_t i) {
  if (i + 64 > text.size()) {  // the tail, byte by byte
    Masks m;
    for (size_t k = 0; i + k < text.size() && k < 64; k++) {
      char c = text[i + k];
      m.digit |= uint64_t(is_digit(c)) << k;
      m.upper |= uint64_t(c >= 'A' && c <= 'Z') << k;
      m.plus |= uint64_t(c == '+') << k;
    }
    return m;
  }
  const char* p = text.data() + i;
  return Masks{char_mask64(p, '0', 9), char_mask64(p, 'A', 25), char_mask64(p, '+', 0)};
}

// Walks the text 64 bytes at a time and calls, in increasing order of each kind:
// on_run(r) for the start of every maximal run of 4 or more digits, on_plus(p) for every
// '+' followed by a digit, on_iban(t) for every "[A-Z][A-Z][0-9][0-9]" at t.
template <typename R, typename P, typename I>
void digit_marks(std::string_view text, R&& on_run, P&& on_plus, I&& on_iban) {
  const size_t n = text.size();
  uint64_t prev = 0;
  Masks cur = masks_at(text, 0);
  for (size_t i = 0; i < n; i += 64) {
    Masks nxt = i + 64 < n ? masks_at(text, i + 64) : Masks{};
    const uint64_t m = cur.digit;
    if ((m | cur.upper | cur.plus) != 0) {
      // Bit j: digits at j-3..j and not at j-4 (through `prev` into the previous block).
      uint64_t starts = m & ((m << 1) | (prev >> 63)) & ((m << 2) | (prev >> 62)) &
                        ((m << 3) | (prev >> 61)) & ~((m << 4) | (prev >> 60));
      uint64_t plus = cur.plus & ((m >> 1) | (nxt.digit << 63));
      uint64_t iban = cur.upper & ((cur.upper >> 1) | (nxt.upper << 63)) &
                      ((m >> 2) | (nxt.digit << 62)) & ((m >> 3) | (nxt.digit << 61));
      for (; plus != 0; plus &= plus - 1) on_plus(i + size_t(__builtin_ctzll(plus)));
      for (; iban != 0; iban &= iban - 1) on_iban(i + size_t(__builtin_ctzll(iban)));
      // i + j >= 3 always holds: bit j < 3 needs `prev`, which is 0 in the first block
      for (; starts != 0; starts &= starts - 1) on_run(i + size_t(__builtin_ctzll(starts)) - 3);
    }
    prev = m;
    cur = nxt;
  }
}

// Card, IBAN and phone anchors: a card starts with a run of 4 digits; a NANP number's
// last group is such a run (8, 9 or 10 bytes in); international numbers start "+<digit>";
// IBANs start with two capitals and two digits.
void digit_candidates(std::string_view text, std::vector<Candidate>& out, bool* overflow) {
  auto emit = [&](unsigned id, size_t end) {
    if (out.size() >= kMaxCandidates) {
      *overflow = true;
      return;
    }
    out.push_back(Candidate{id, end});
  };
  auto boundary = [&](size_t t) {
    return t == 0 || !is_alnum(text[t - 1]) || escaped_at(text, t - 1);
  };
  digit_marks(
      text,
      [&](size_t r) {
        if (boundary(r)) {
          if (size_t e = card_anchor(text, r)) {
            emit(kPCard, e);
          } else if (size_t e2 = amex_anchor(text, r)) {
            emit(kPCardAmex, e2);
          }
        }
        if (r >= 8 && boundary(r - 8))
          if (size_t e = nanp_anchor(text, r - 8)) emit(kPPhoneSep, e);
        for (size_t back : {size_t(9), size_t(10)})
          if (r >= back && text[r - back] == '(' && boundary(r - back))
            if (size_t e = paren_anchor(text, r - back)) emit(kPPhoneParen, e);
      },
      [&](size_t p) {
        // +[1-9][0-9 (.-]
        if (p + 2 < text.size() && text[p + 1] != '0' &&
            (is_digit(text[p + 2]) || text[p + 2] == ' ' || text[p + 2] == '(' ||
             text[p + 2] == '.' || text[p + 2] == '-'))
          emit(kPPhoneIntl, p + 3);
      },
      [&](size_t t) {
        if (boundary(t))
          if (size_t e = iban_anchor(text, t)) emit(kPIban, e);
      });
}

// The left boundary of a number or IBAN (REIN_LBD / REIN_LB for the hand-matched anchors).
bool number_boundary(std::string_view text, size_t s, bool numeric) {
  if (s == 0) return true;
  char c = text[s - 1];
  if ((c == 'n' || c == 'r' || c == 't') && escaped_at(text, s - 1)) return true;
  if (is_alnum(c) || c == '_' || c == '-') return false;
  return !(numeric && (c == '+' || c == '.'));
}

}  // namespace

std::string_view secret_type_name(SecretType t) {
  switch (t) {
    case SecretType::kOpenAiKey:
      return "openai_api_key";
    case SecretType::kAnthropicKey:
      return "anthropic_api_key";
    case SecretType::kGoogleApiKey:
      return "google_api_key";
    case SecretType::kAwsAccessKeyId:
      return "aws_access_key_id";
    case SecretType::kAwsSecretKey:
      return "aws_secret_access_key";
    case SecretType::kGithubToken:
      return "github_token";
    case SecretType::kSlackToken:
      return "slack_token";
    case SecretType::kStripeKey:
      return "stripe_key";
    case SecretType::kOtherApiKey:
      return "api_key";
    case SecretType::kPrivateKey:
      return "private_key";
    case SecretType::kJwt:
      return "jwt";
    case SecretType::kUrlPassword:
      return "url_password";
    case SecretType::kEmail:
      return "email";
    case SecretType::kPhone:
      return "phone_number";
    case SecretType::kCardNumber:
      return "card_number";
    case SecretType::kIban:
      return "iban";
  }
  return "unknown";
}

bool secret_type_is_pii(SecretType t) {
  return t == SecretType::kEmail || t == SecretType::kPhone || t == SecretType::kCardNumber ||
         t == SecretType::kIban;
}

struct SecretScanner::Impl {
  std::unique_ptr<hs_database_t, HsDatabaseDeleter> db;
  llm::Fingerprinter fp;
  SecretScanOptions opts;
  bool cached = false;

  uint64_t generation = g_db_generation.fetch_add(1, std::memory_order_relaxed) + 1;

  Impl(hs_database_t* d, llm::Fingerprinter f, SecretScanOptions o)
      : db(d), fp(std::move(f)), opts(o) {}

  // Hyperscan over `text`, then the hand-matched digit anchors; candidates sorted by end.
  // False when no scratch space could be had.
  bool run_all(std::string_view text, MatchState& st) const {
    if (!opts.literal_check || text.size() > kLiteralCheckMax || has_pattern_literal(text)) {
      if (!tls_scratch.ensure(db.get(), generation)) return false;
      hs_error_t rc = hs_scan(db.get(), text.data(), static_cast<unsigned>(text.size()), 0,
                              tls_scratch.scratch, on_match, &st);
      if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) return false;
    }
    if (opts.pii && !st.overflow) digit_candidates(text, *st.candidates, &st.overflow);
    std::stable_sort(st.candidates->begin(), st.candidates->end(),
                     [](const Candidate& a, const Candidate& b) { return a.end < b.end; });
    return true;
  }

  std::string fingerprint(SecretType t, std::string_view value) const {
    std::string f = fp.fingerprint(value);  // "<key class>:<12 hex>"
    switch (t) {
      case SecretType::kOpenAiKey:
      case SecretType::kAnthropicKey:
      case SecretType::kGoogleApiKey:
      case SecretType::kAwsAccessKeyId:
      case SecretType::kGithubToken:
      case SecretType::kSlackToken:
      case SecretType::kStripeKey:
      case SecretType::kOtherApiKey:
        return f;  // the same string llm.call's key_fingerprint carries for this key
      default:
        break;
    }
    size_t colon = f.rfind(':');
    return std::string(secret_type_name(t)) + ":" + f.substr(colon + 1);
  }
  // Fingerprints a normalised copy, then wipes it.
  std::string fingerprint_wipe(SecretType t, std::string& value) const {
    std::string f = fingerprint(t, value);
    OPENSSL_cleanse(value.data(), value.size());
    return f;
  }

  void extract(std::string_view text, const Candidate& c, std::vector<Hit>& hits) const;
  void add(std::vector<Hit>& hits, SecretType t, size_t s, size_t e, std::string fp) const;
  void aws_secrets_in(std::string_view text, size_t from, size_t to, std::vector<Hit>& hits) const;
};

void SecretScanner::Impl::add(std::vector<Hit>& hits, SecretType t, size_t s, size_t e,
                              std::string f) const {
  if (hits.size() >= kMaxHits) return;
  // Candidates come in order of their end; one value must not be reported twice, nor a
  // value inside another (the domain of a URL's password, a phone inside a private key).
  size_t look = std::min<size_t>(hits.size(), 8);
  for (size_t k = hits.size() - look; k < hits.size(); k++) {
    const Hit& h = hits[k];
    if (s < h.end && h.start < e) return;
  }
  Hit h;
  h.type = t;
  h.start = s;
  h.end = e;
  h.fingerprint = std::move(f);
  hits.push_back(std::move(h));
}

// Standalone 40-character base64 tokens in [from, to): AWS secret access keys.
void SecretScanner::Impl::aws_secrets_in(std::string_view text, size_t from, size_t to,
                                         std::vector<Hit>& hits) const {
  to = std::min(to, text.size());
  size_t i = from;
  while (i < to) {
    if (!is_b64(text[i])) {
      i++;
      continue;
    }
    size_t s = i;
    while (i < text.size() && is_b64(text[i]) && i - s < 64) i++;
    size_t e = i;
    while (i < text.size() && is_b64(text[i])) i++;  // a longer run is something else
    if (i != e) continue;
    s = skip_escape_tail(text, s, e);
    if (e - s != 40) continue;
    if (s > 0 && (text[s - 1] == '=' ? false : is_word(text[s - 1]) && !escaped_at(text, s)))
      continue;
    if (e < text.size() && text[e] == '=') continue;  // base64 padding: a blob, not a key
    std::string_view tok = text.substr(s, 40);
    Counts cc = count_chars(tok);
    if (cc.digits == 0 || cc.upper == 0 || cc.lower == 0) continue;
    if (tok.find("EXAMPLE") != std::string_view::npos) continue;  // AWS documentation keys
    bool dup = false;
    for (const Hit& h : hits) dup = dup || (h.type == SecretType::kAwsSecretKey && h.start == s);
    if (dup) continue;
    add(hits, SecretType::kAwsSecretKey, s, e, fingerprint(SecretType::kAwsSecretKey, tok));
  }
}

void SecretScanner::Impl::extract(std::string_view text, const Candidate& c,
                                  std::vector<Hit>& hits) const {
  const size_t end = c.end;
  // Fixed-width anchors: the value starts `width` bytes before the match end.
  // The tail is extended over `pred` after the first `prefix` characters.
  auto key_at = [&](size_t width, bool (*pred)(char),
                    size_t prefix = 0) -> std::pair<size_t, size_t> {
    if (end < width) return {0, 0};
    size_t s = end - width;
    return {s, extend(text, s + prefix, pred, kMaxToken)};
  };
  switch (c.id) {
    case kPSk: {
      auto [s, e] = key_at(23, is_word);
      std::string_view tok = text.substr(s, e - s);
      if (starts_with(tok, "sk-ant-")) {
        if (!looks_random(tok.substr(7), 40, 2)) return;
        add(hits, SecretType::kAnthropicKey, s, e, fingerprint(SecretType::kAnthropicKey, tok));
      } else if (starts_with(tok, "sk-or-")) {
        if (!looks_random(tok.substr(6), 32, 2)) return;
        add(hits, SecretType::kOtherApiKey, s, e, fingerprint(SecretType::kOtherApiKey, tok));
      } else {
        if (!looks_random(tok.substr(3), 32, 2)) return;
        add(hits, SecretType::kOpenAiKey, s, e, fingerprint(SecretType::kOpenAiKey, tok));
      }
      return;
    }
    case kPStripe: {
      auto [s, e] = key_at(24, is_alnum, 8);
      if (e < text.size() && (text[e] == '_' || text[e] == '-')) return;
      std::string_view tok = text.substr(s, e - s);
      if (count_chars(tok.substr(8)).digits == 0) return;
      add(hits, SecretType::kStripeKey, s, e, fingerprint(SecretType::kStripeKey, tok));
      return;
    }
    case kPAiza: {
      auto [s, e] = key_at(39, is_word);
      if (e - s != 39) return;
      add(hits, SecretType::kGoogleApiKey, s, e,
          fingerprint(SecretType::kGoogleApiKey, text.substr(s, 39)));
      return;
    }
    case kPAwsId: {
      auto [s, e] = key_at(20, is_word);
      if (e - s != 20) return;
      std::string_view tok = text.substr(s, 20);
      if (tok.find("EXAMPLE") != std::string_view::npos) return;  // AKIAIOSFODNN7EXAMPLE
      add(hits, SecretType::kAwsAccessKeyId, s, e, fingerprint(SecretType::kAwsAccessKeyId, tok));
      aws_secrets_in(text, s > kAwsSecretWindow ? s - kAwsSecretWindow : 0, e + kAwsSecretWindow,
                     hits);
      return;
    }
    case kPAwsKeyword:
      aws_secrets_in(text, end, end + 96, hits);
      return;
    case kPGithub: {
      auto [s, e] = key_at(40, is_word);
      if (e - s > 255) return;
      std::string_view tok = text.substr(s, e - s);
      if (count_chars(tok.substr(4)).digits == 0) return;
      add(hits, SecretType::kGithubToken, s, e, fingerprint(SecretType::kGithubToken, tok));
      return;
    }
    case kPGithubPat: {
      auto [s, e] = key_at(33, is_word);
      std::string_view tok = text.substr(s, e - s);
      if (!looks_random(tok.substr(11), 60, 2)) return;
      add(hits, SecretType::kGithubToken, s, e, fingerprint(SecretType::kGithubToken, tok));
      return;
    }
    case kPSlack: {
      auto [s, e] = key_at(15, [](char ch) { return is_alnum(ch) || ch == '-'; });
      std::string_view tok = text.substr(s, e - s);
      if (tok.size() < 24 || count_chars(tok).digits < 6) return;
      add(hits, SecretType::kSlackToken, s, e, fingerprint(SecretType::kSlackToken, tok));
      return;
    }
    case kPGroqXai: {
      auto [s, e] = key_at(24, is_alnum, 4);
      std::string_view tok = text.substr(s, e - s);
      if (e < text.size() && is_word(text[e])) return;
      if (!looks_random(tok.substr(4), 40, 2)) return;
      add(hits, SecretType::kOtherApiKey, s, e, fingerprint(SecretType::kOtherApiKey, tok));
      return;
    }
    case kPHuggingFace: {
      auto [s, e] = key_at(33, is_alnum, 3);
      std::string_view tok = text.substr(s, e - s);
      if (tok.size() < 37 || (e < text.size() && is_word(text[e]))) return;
      Counts cc = count_chars(tok.substr(3));
      if (cc.upper == 0 || cc.lower == 0) return;
      add(hits, SecretType::kOtherApiKey, s, e, fingerprint(SecretType::kOtherApiKey, tok));
      return;
    }
    case kPPem: {
      size_t back = end > 80 ? end - 80 : 0;
      size_t s = text.substr(back, end - back).rfind("-----BEGIN");
      if (s == std::string_view::npos) return;
      s += back;
      std::string_view rest = text.substr(end, kMaxPemBody);
      size_t stop = rest.find("-----END");
      size_t e = end;
      if (stop != std::string_view::npos) {
        size_t close = rest.find("-----", stop + 8);
        e = end + (close != std::string_view::npos && close < stop + 80 ? close + 5 : stop + 8);
        rest = rest.substr(0, stop);
      } else {
        rest = rest.substr(0, std::min<size_t>(rest.size(), 4096));
      }
      // The key material only: base64 characters, JSON escapes stepped over, so the same
      // key fingerprints alike raw, JSON-escaped or doubly escaped.
      std::string body;
      body.reserve(rest.size());
      size_t run = 0, longest = 0;  // key material comes in lines of 64 base64 characters
      for (size_t i = 0; i < rest.size(); i++) {
        char ch = rest[i];
        if (ch == '\\') {
          while (i + 1 < rest.size() && rest[i + 1] == '\\') i++;
          if (i + 1 < rest.size()) {
            char nx = rest[i + 1];
            if (nx == '/') {
              body.push_back('/');
              run++;
            } else {
              run = 0;
            }
            if (nx == 'u') i += 4;
            i++;
          }
          continue;
        }
        if (is_b64(ch) || ch == '=') {
          body.push_back(ch);
          longest = std::max(longest, ++run);
        } else {
          run = 0;
        }
      }
      // A bare header (a tutorial mentioning the format) carries no key.
      if (body.size() < 64 || longest < 40) {
        OPENSSL_cleanse(body.data(), body.size());
        return;
      }
      add(hits, SecretType::kPrivateKey, s, e, fingerprint_wipe(SecretType::kPrivateKey, body));
      return;
    }
    case kPJwt: {
      if (end < 5) return;
      size_t dot = end - 4;
      size_t hs = dot;
      while (hs > 0 && dot - hs < 2048 && (is_word(text[hs - 1]))) hs--;
      hs = skip_escape_tail(text, hs, dot);
      size_t h = text.substr(hs, dot - hs).find("eyJ");
      if (h != 0) return;
      if (hs > 0 && (text[hs - 1] == '.' || is_word(text[hs - 1])) && !escaped_at(text, hs)) return;
      size_t p_end = extend(text, dot + 1, is_word, 16384);
      if (p_end >= text.size() || text[p_end] != '.') return;
      size_t sig_end = extend(text, p_end + 1, is_word, 4096);
      if (sig_end - (p_end + 1) < 16) return;
      if (!jwt_header_valid(text.substr(hs, dot - hs))) return;
      add(hits, SecretType::kJwt, hs, sig_end,
          fingerprint(SecretType::kJwt, text.substr(hs, sig_end - hs)));
      return;
    }
    case kPUrlPassword: {
      size_t at = end - 1;  // the '@'
      size_t back = at > 200 ? at - 200 : 0;
      size_t sep = text.substr(back, at - back).rfind("://");
      if (sep == std::string_view::npos) return;
      sep += back;
      size_t scheme = sep;
      while (scheme > 0 && sep - scheme < 32 &&
             (is_alnum(text[scheme - 1]) || text[scheme - 1] == '+' || text[scheme - 1] == '.' ||
              text[scheme - 1] == '-'))
        scheme--;
      scheme = skip_escape_tail(text, scheme, sep);
      if (scheme == sep || !is_alpha(text[scheme])) return;
      std::string_view userinfo = text.substr(sep + 3, at - (sep + 3));
      size_t colon = userinfo.find(':');
      if (colon == std::string_view::npos) return;
      std::string_view pw = userinfo.substr(colon + 1);
      if (placeholder_password(pw)) return;
      if (at + 1 >= text.size() || !(is_alnum(text[at + 1]) || text[at + 1] == '[')) return;
      add(hits, SecretType::kUrlPassword, scheme, at + 1,
          fingerprint(SecretType::kUrlPassword, pw));
      return;
    }
    case kPEmail: {
      if (!opts.pii) return;
      size_t lookback = end > 70 ? end - 70 : 0;
      size_t at = text.substr(lookback, end - lookback).rfind('@');
      if (at == std::string_view::npos) return;
      at += lookback;
      size_t ls = at;
      while (ls > 0 && at - ls <= 64 && is_local_char(text[ls - 1])) ls--;
      if (at - ls > 64) return;
      ls = skip_escape_tail(text, ls, at);
      while (ls < at && text[ls] == '.') ls++;
      if (ls == at || text[at - 1] == '.') return;
      size_t de = extend(text, at + 1, is_domain_char, 253);
      while (de > at + 1 && (text[de - 1] == '.' || text[de - 1] == '-')) de--;
      std::string_view domain = text.substr(at + 1, de - (at + 1));
      size_t last_dot = domain.rfind('.');
      if (last_dot == std::string_view::npos) return;
      std::string_view tld = domain.substr(last_dot + 1);
      if (tld.size() < 2 || !std::all_of(tld.begin(), tld.end(), is_alpha)) return;
      if (domain.find("..") != std::string_view::npos || !known_tld(tld) || reserved_domain(domain))
        return;
      // "git@github.com:org/repo": an scp-style remote, not a mailbox.
      if (de < text.size() && text[de] == ':' && de + 1 < text.size() && text[de + 1] != ' ')
        return;
      std::string norm = lower(text.substr(ls, de - ls));
      add(hits, SecretType::kEmail, ls, de, fingerprint_wipe(SecretType::kEmail, norm));
      return;
    }
    case kPPhoneIntl: {
      if (!opts.pii || end < 3) return;
      size_t plus = end - 3;
      if (!number_boundary(text, plus, true)) return;
      std::string digits = "+";
      size_t i = plus + 1, last_digit = plus;
      bool prev_sep = false, separated = false;
      while (i < text.size() && i - plus <= 24) {
        char ch = text[i];
        if (is_digit(ch)) {
          digits.push_back(ch);
          last_digit = i;
          prev_sep = false;
          if (digits.size() > 16) break;
        } else if (ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')') {
          if (prev_sep && !(ch == '(' || text[i - 1] == ')')) break;
          prev_sep = true;
          separated = true;
        } else {
          break;
        }
        i++;
      }
      size_t nd = digits.size() - 1;
      size_t after = last_digit + 1;
      bool ok = nd <= 15 && nd >= (separated ? 9u : 10u) &&
                !(after < text.size() && is_alnum(text[after])) &&
                !(after + 1 < text.size() && (text[after] == '.' || text[after] == '-') &&
                  is_digit(text[after + 1]));
      if (ok) {
        bool same =
            std::all_of(digits.begin() + 2, digits.end(), [&](char ch) { return ch == digits[2]; });
        ok = !same;
      }
      if (!ok) {
        OPENSSL_cleanse(digits.data(), digits.size());
        return;
      }
      add(hits, SecretType::kPhone, plus, after, fingerprint_wipe(SecretType::kPhone, digits));
      return;
    }
    case kPPhoneParen:
    case kPPhoneSep: {
      if (!opts.pii) return;
      size_t s = end >= 12 ? end - 12 : 0;
      if (c.id == kPPhoneParen) {
        size_t back = end > 16 ? end - 16 : 0;
        size_t p = text.substr(back, end - back).rfind('(');
        if (p == std::string_view::npos) return;
        s = back + p;
      }
      if (!number_boundary(text, s, true)) return;
      if (end < text.size() && (is_alnum(text[end]) || text[end] == '_')) return;
      if (end + 1 < text.size() && (text[end] == '-' || text[end] == '.') &&
          is_digit(text[end + 1]))
        return;
      std::string digits = "+1";
      for (size_t i = s; i < end; i++)
        if (is_digit(text[i])) digits.push_back(text[i]);
      if (digits.size() != 12) {
        OPENSSL_cleanse(digits.data(), digits.size());
        return;
      }
      add(hits, SecretType::kPhone, s, end, fingerprint_wipe(SecretType::kPhone, digits));
      return;
    }
    case kPCard:
    case kPCardAmex: {
      if (!opts.pii) return;
      size_t want = c.id == kPCard ? 12 : 15;
      size_t s = end, seen = 0;
      while (s > 0 && seen < want) {
        s--;
        if (is_digit(text[s])) seen++;
      }
      if (seen != want || !number_boundary(text, s, true)) return;
      std::string digits;
      char sep = 0;
      size_t i = s, last = s;
      while (i < text.size() && digits.size() <= 19) {
        char ch = text[i];
        if (is_digit(ch)) {
          digits.push_back(ch);
          last = i;
        } else if ((ch == ' ' || ch == '-') && i + 1 < text.size() && is_digit(text[i + 1]) &&
                   i > s && is_digit(text[i - 1]) && (sep == 0 || sep == ch)) {
          sep = ch;
        } else {
          break;
        }
        i++;
      }
      size_t after = last + 1;
      bool ok = digits.size() >= 13 && digits.size() <= 19 &&
                !(after < text.size() && (is_alnum(text[after]) || text[after] == '_')) &&
                !(after + 1 < text.size() && text[after] == '.' && is_digit(text[after + 1])) &&
                card_number_valid(digits);
      if (!ok) {
        OPENSSL_cleanse(digits.data(), digits.size());
        return;
      }
      add(hits, SecretType::kCardNumber, s, after,
          fingerprint_wipe(SecretType::kCardNumber, digits));
      return;
    }
    case kPIban: {
      if (!opts.pii) return;
      size_t s = end, seen = 0;
      while (s > 0 && seen < 12) {
        s--;
        if (text[s] != ' ') seen++;
      }
      if (seen != 12 || !is_alpha(text[s]) || !number_boundary(text, s, false)) return;
      int want = iban_length(text.substr(s, 2));
      if (want == 0) return;
      std::string iban;
      size_t i = s, last = s;
      while (i < text.size() && static_cast<int>(iban.size()) < want) {
        char ch = text[i];
        if (is_digit(ch) || (ch >= 'A' && ch <= 'Z')) {
          iban.push_back(ch);
          last = i;
        } else if (!(ch == ' ' && i > s && text[i - 1] != ' ')) {
          break;
        }
        i++;
      }
      size_t after = last + 1;
      bool ok = static_cast<int>(iban.size()) == want &&
                !(after < text.size() && (is_alnum(text[after]) || text[after] == '_')) &&
                iban_valid(iban);
      if (!ok) {
        OPENSSL_cleanse(iban.data(), iban.size());
        return;
      }
      add(hits, SecretType::kIban, s, after, fingerprint_wipe(SecretType::kIban, iban));
      return;
    }
    default:
      return;
  }
}

Result<SecretScanner> SecretScanner::create(llm::Fingerprinter fingerprinter,
                                            SecretScanOptions options) {
  if (hs_valid_platform() != HS_SUCCESS) {
    return make_error("secret scanner: Hyperscan does not support this CPU (needs SSSE3)");
  }
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (const PatternSpec& p : kPatterns) {
    exprs.push_back(p.expr);
    flags.push_back(p.flags);
    ids.push_back(p.id);
  }
  // hs_scan takes an unsigned length
  options.max_body_bytes = std::min<size_t>(options.max_body_bytes, size_t(1) << 30);
  // The cache key: everything that decides the compiled bytes.
  std::string key;
  if (!options.cache_dir.empty()) {
    std::string spec = std::string(hs_version()) + "\nblock";
    for (const PatternSpec& p : kPatterns) spec += fmt::format("\n{} {} {}", p.id, p.flags, p.expr);
    key = pattern_db_key(spec);
  }
  hs_database_t* db = nullptr;
  bool cached = false;
  if (!key.empty()) {
    if (auto bytes = read_pattern_db(options.cache_dir, key);
        bytes && hs_deserialize_database(bytes->data(), bytes->size(), &db) == HS_SUCCESS)
      cached = true;
    else
      db = nullptr;
  }
  if (db == nullptr) {
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                         &err) != HS_SUCCESS) {
      std::string msg = "secret scanner: pattern " +
                        std::to_string(err != nullptr ? err->expression : -1) +
                        " does not compile: " + (err != nullptr ? err->message : "unknown error");
      hs_free_compile_error(err);
      return make_error(msg);
    }
    char* bytes = nullptr;
    size_t len = 0;
    if (!key.empty() && hs_serialize_database(db, &bytes, &len) == HS_SUCCESS) {
      write_pattern_db(options.cache_dir, key, std::string_view(bytes, len));
      std::free(bytes);  // Hyperscan's default allocator is malloc
    }
  }
  auto impl = std::make_unique<Impl>(db, std::move(fingerprinter), options);
  impl->cached = cached;
  return SecretScanner(std::move(impl));
}

bool SecretScanner::database_cached() const {
  return impl_->cached;
}

SecretScanner::SecretScanner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SecretScanner::SecretScanner(SecretScanner&&) noexcept = default;
SecretScanner& SecretScanner::operator=(SecretScanner&&) noexcept = default;
SecretScanner::~SecretScanner() = default;

SecretScanResult SecretScanner::scan(std::string_view body, std::string_view provider_hint) const {
  SecretScanResult result;
  if (body.size() > impl_->opts.max_body_bytes) {
    body = body.substr(0, impl_->opts.max_body_bytes);
    result.truncated = true;
  }
  result.bytes_scanned = body.size();
  if (body.empty()) return result;

  std::vector<Candidate> candidates;
  MatchState st{&candidates};
  if (!impl_->run_all(body, st)) {
    result.truncated = true;
    return result;
  }
  result.truncated = result.truncated || st.overflow;
  std::vector<Hit> hits;
  for (const Candidate& c : candidates) {
    if (hits.size() >= kMaxHits) {  // enough to report; the rest is not worth the HMACs
      result.truncated = true;
      break;
    }
    impl_->extract(body, c, hits);
  }
  if (hits.empty() && !st.escapes) return result;

  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.start < b.start; });
  static constexpr std::string_view kAllConversation[] = {"messages", "input", "contents"};
  static constexpr std::string_view kGemini[] = {"contents"};
  std::span<const std::string_view> conv = kAllConversation;
  if (provider_hint.substr(0, 6) == "gemini") conv = kGemini;  // "gemini", "gemini_compatible"

  std::vector<size_t> offsets;
  offsets.reserve(hits.size());
  for (const Hit& h : hits) offsets.push_back(h.start);
  auto at = [&](size_t i, const JsonPath& path) {
    hits[i].location = path.render();
    hits[i].message_index = path.conversation_index(conv);
  };

  // Strings whose escapes can hide a value: unescape and scan again (bounded), keeping
  // only values the raw pass did not already report.
  std::vector<Hit> escaped_hits;
  size_t unescape_budget = kMaxUnescapedBytes;
  std::string buf;
  std::vector<uint32_t> map;
  std::function<void(size_t, size_t, const JsonPath&)> on_escaped = [&](size_t begin, size_t end,
                                                                        const JsonPath& path) {
    if (unescape_budget == 0 || escaped_hits.size() >= kMaxHits) {
      result.truncated = true;
      return;
    }
    buf.clear();
    map.clear();
    buf.push_back(' ');  // a boundary before the first character
    map.push_back(static_cast<uint32_t>(begin));
    bool whole = json_unescape(body.substr(begin, end - begin), begin, unescape_budget, buf, map);
    if (!whole) result.truncated = true;
    unescape_budget -= std::min(unescape_budget, buf.size());
    std::vector<Candidate> cands;
    MatchState est{&cands};
    if (!impl_->run_all(buf, est)) {
      result.truncated = true;
      return;
    }
    if (est.overflow) result.truncated = true;
    std::vector<Hit> local;
    for (const Candidate& c : cands) {
      if (local.size() + escaped_hits.size() >= kMaxHits) {
        result.truncated = true;
        break;
      }
      impl_->extract(buf, c, local);
    }
    std::string where = local.empty() ? std::string() : path.render();
    int mi = local.empty() ? -1 : path.conversation_index(conv);
    for (Hit& h : local) {
      size_t rs = map[h.start], re = map[h.end - 1] + 1;
      auto first = std::lower_bound(hits.begin(), hits.end(), re,
                                    [](const Hit& x, size_t v) { return x.start < v; });
      bool seen = false;
      for (auto it = hits.begin(); it != first && !seen; ++it)
        seen = it->type == h.type && it->end > rs;
      if (seen) continue;
      h.start = rs;
      h.end = re;
      h.location = where;
      h.message_index = mi;
      h.escaped = true;
      escaped_hits.push_back(std::move(h));
    }
    OPENSSL_cleanse(buf.data(), buf.size());
  };
  walk_json(body, offsets, at, st.escapes ? &on_escaped : nullptr);

  for (Hit& h : escaped_hits) hits.push_back(std::move(h));
  std::stable_sort(hits.begin(), hits.end(),
                   [](const Hit& a, const Hit& b) { return a.start < b.start; });

  // One finding per distinct value.
  std::map<std::pair<SecretType, std::string>, size_t> index;
  for (Hit& h : hits) {
    auto key = std::make_pair(h.type, h.fingerprint);
    auto it = index.find(key);
    if (it == index.end()) {
      SecretFinding f;
      f.type = h.type;
      f.fingerprint = h.fingerprint;
      f.message_index = h.message_index;
      f.escaped = h.escaped;
      index.emplace(std::move(key), result.findings.size());
      result.findings.push_back(std::move(f));
      it = index.find(std::make_pair(h.type, h.fingerprint));
    }
    SecretFinding& f = result.findings[it->second];
    f.count++;
    f.escaped = f.escaped && h.escaped;
    if (f.locations.size() < kMaxLocations &&
        std::find(f.locations.begin(), f.locations.end(), h.location) == f.locations.end())
      f.locations.push_back(h.location);
  }
  return result;
}

std::array<uint32_t, kSecretTypeCount> count_by_type(const std::vector<SecretFinding>& findings) {
  std::array<uint32_t, kSecretTypeCount> out{};
  for (const SecretFinding& f : findings) out[static_cast<size_t>(f.type)] += f.count;
  return out;
}

std::string summarize(const std::vector<SecretFinding>& findings) {
  auto counts = count_by_type(findings);
  std::string out;
  for (size_t t = 0; t < kSecretTypeCount; t++) {
    if (counts[t] == 0) continue;
    if (!out.empty()) out += ' ';
    out += secret_type_name(static_cast<SecretType>(t));
    out += '=';
    out += std::to_string(counts[t]);
  }
  return out;
}

}  // namespace rein::detect
