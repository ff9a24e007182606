#include "pipeline/capture_scrubber.h"

#include "common/fast_find.h"

#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/secret_redaction.h"
#include "decode/records.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

namespace {
constexpr size_t kMaxKnown = 1024;   // credentials remembered for later records
constexpr size_t kMaxIssued = 65536;  // placeholders remembered (so they are not re-scrubbed)

// Headers whose whole value (or, for Authorization, the credential inside it) never reaches a
// capture file: API keys, session tokens and cookies. Matched as whole header names.
constexpr std::string_view kCredentialHeaders[] = {
    "authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
    "x-litellm-api-key", "cookie", "set-cookie", "x-amz-security-token", "cf-aig-authorization",
    "ocp-apim-subscription-key", "x-portkey-api-key", "private-token", "x-auth-token"};
constexpr const auto& kCredentialParams = kCredentialQueryParams;  // common/secret_redaction.h

// Character classes as tables: scrub_tokens tests every byte of every record.
enum : uint8_t { kTokenChar = 1, kValueChar = 2 };
constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; c++) {
    bool tok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    if (tok) t[c] |= kTokenChar | kValueChar;
    if (c == '+' || c == '/' || c == '=' || c == '~') t[c] |= kValueChar;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kClasses = make_classes();

// A byte table of the last letters of the header names (scrub_headers' colon filter) and of
// the first letters of the parameter names (scrub_param_at's filter): built from the lists,
// so a name added there is always looked for.
constexpr std::array<bool, 256> header_last_letters() {
  std::array<bool, 256> t{};
  for (std::string_view n : kCredentialHeaders) t[uint8_t(n.back())] = true;
  return t;
}
constexpr std::array<bool, 256> param_first_letters() {
  std::array<bool, 256> t{};
  for (std::string_view n : kCredentialParams) t[uint8_t(n.front())] = true;
  return t;
}
constexpr std::array<bool, 256> kHeaderLast = header_last_letters();
constexpr std::array<bool, 256> kParamFirst = param_first_letters();

bool token_char(char c) { return kClasses[uint8_t(c)] & kTokenChar; }
bool value_char(char c) { return kClasses[uint8_t(c)] & kValueChar; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool iequal_at(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); i++)
    if (lower(text[pos + i]) != word[i]) return false;
  return true;
}

// The credential inside an Authorization value, as key_fingerprint.cpp reads it: after
// "Bearer "/"Basic ", the access key id of SigV4's Credential=, else the whole value.
std::pair<size_t, size_t> credential_span(std::string_view name, std::string_view value) {
  if (name != "authorization" && name != "proxy-authorization") return {0, value.size()};
  size_t sp = value.find(' ');
  if (sp == std::string_view::npos) return {0, value.size()};
  std::string_view scheme = value.substr(0, sp);
  size_t rest = value.find_first_not_of(' ', sp);
  if (rest == std::string_view::npos) return {0, 0};
  if (iequal_at(scheme, 0, "bearer") && scheme.size() == 6) return {rest, value.size() - rest};
  if (iequal_at(scheme, 0, "basic") && scheme.size() == 5) return {rest, value.size() - rest};
  if (iequal_at(scheme, 0, "aws4-hmac-sha256")) {
    size_t c = value.find("Credential=", rest);
    if (c == std::string_view::npos) return {0, 0};
    c += 11;
    size_t end = value.find_first_of("/, ", c);
    if (end == std::string_view::npos) end = value.size();
    return {c, end - c};
  }
  return {0, value.size()};
}

// HPACK integer with an N-bit prefix at data[pos]; advances pos. nullopt: malformed.
std::optional<uint64_t> hpack_int(std::string_view data, size_t& pos, int bits) {
  if (pos >= data.size()) return std::nullopt;
  const uint64_t max = (1u << bits) - 1;
  uint64_t v = uint8_t(data[pos++]) & max;
  if (v < max) return v;
  for (int shift = 0; shift < 28; shift += 7) {
    if (pos >= data.size()) return std::nullopt;
    uint8_t b = uint8_t(data[pos++]);
    v += uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  return std::nullopt;
}

struct HpackString {
  size_t prefix_pos = 0;  // where its length prefix starts (the H bit)
  size_t pos = 0, len = 0;
  bool huffman = false;
};

std::optional<HpackString> hpack_string(std::string_view data, size_t& pos) {
  HpackString s;
  s.prefix_pos = pos;
  if (pos >= data.size()) return std::nullopt;
  s.huffman = uint8_t(data[pos]) & 0x80;
  auto len = hpack_int(data, pos, 7);
  if (!len || *len > data.size() - pos) return std::nullopt;
  s.pos = pos;
  s.len = size_t(*len);
  pos += s.len;
  return s;
}

// The value of one HPACK string (raw or Huffman), decoded by nghttp2.
std::optional<std::string> hpack_decode(std::string_view data, const HpackString& s) {
  std::string block;
  block += '\x00';  // literal without indexing, new name
  block += '\x01';
  block += 'x';
  block.append(data.substr(s.prefix_pos, s.pos + s.len - s.prefix_pos));
  nghttp2_hd_inflater* inf = nullptr;
  if (nghttp2_hd_inflate_new(&inf) != 0) return std::nullopt;
  std::optional<std::string> out;
  auto* in = reinterpret_cast<const uint8_t*>(block.data());
  size_t left = block.size();
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t n = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, left, 1);
    if (n < 0) break;
    in += n;
    left -= size_t(n);
    if (flags & NGHTTP2_HD_INFLATE_EMIT) out = std::string(reinterpret_cast<char*>(nv.value), nv.valuelen);
    if (flags & NGHTTP2_HD_INFLATE_FINAL) break;
    if (n == 0 && left == 0) break;
  }
  nghttp2_hd_inflate_del(inf);
  return out;
}

// The HPACK Huffman code of `value` (what nghttp2 and Go put on the wire when it is
// shorter), or "" when the encoder would send it raw.
std::string huffman_form(std::string_view value) {
  nghttp2_hd_deflater* def = nullptr;
  if (nghttp2_hd_deflate_new(&def, 4096) != 0) return {};
  std::string name = "x-rein";
  nghttp2_nv nv{reinterpret_cast<uint8_t*>(name.data()),
                reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                value.size(), NGHTTP2_NV_FLAG_NO_INDEX};
  std::string buf(value.size() + 64, '\0');
  ssize_t n = nghttp2_hd_deflate_hd(def, reinterpret_cast<uint8_t*>(buf.data()), buf.size(), &nv, 1);
  nghttp2_hd_deflate_del(def);
  if (n <= 0) return {};
  std::string_view block(buf.data(), size_t(n));
  size_t pos = 0;
  while (pos < block.size() && (uint8_t(block[pos]) & 0xe0) == 0x20)  // table size update
    if (!hpack_int(block, pos, 5)) return {};
  if (pos >= block.size()) return {};
  pos++;  // literal, new name (index 0)
  auto nm = hpack_string(block, pos);
  if (!nm) return {};
  auto v = hpack_string(block, pos);
  if (!v || !v->huffman) return {};
  return std::string(block.substr(v->pos, v->len));
}

std::string hpack_length_prefix(size_t len, bool huffman) {
  std::string out;
  const uint8_t h = huffman ? 0x80 : 0;
  if (len < 127) {
    out += char(h | len);
    return out;
  }
  out += char(h | 127);
  len -= 127;
  while (len >= 128) {
    out += char(0x80 | (len & 0x7f));
    len >>= 7;
  }
  out += char(len);
  return out;
}

// The header names of HPACK's static table (RFC 7541, Appendix A) the scrubber reads.
std::string static_name(uint64_t index) {
  switch (index) {
    case 4:
    case 5:
      return ":path";
    case 23:
      return "authorization";
    case 32:
      return "cookie";
    case 49:
      return "proxy-authorization";
    case 55:
      return "set-cookie";
    default:
      return {};
  }
}

struct ParamSpan {
  std::string_view name;
  size_t start = 0, end = 0;  // the value
};

// The first credential parameter at or after `from` in a request target.
std::optional<ParamSpan> credential_param(std::string_view t, size_t from) {
  for (size_t i = t.find_first_of("?&", from); i != std::string_view::npos;
       i = t.find_first_of("?&", i + 1)) {
    for (std::string_view name : kCredentialParams) {
      if (!iequal_at(t, i + 1, name) || i + 1 + name.size() >= t.size() || t[i + 1 + name.size()] != '=')
        continue;
      size_t start = i + 2 + name.size(), end = t.find_first_of("&#", start);
      if (end == std::string_view::npos) end = t.size();
      if (end > start) return ParamSpan{name, start, end};
    }
  }
  return std::nullopt;
}

bool credential_header(std::string_view name) {
  return std::find(std::begin(kCredentialHeaders), std::end(kCredentialHeaders), name) !=
         std::end(kCredentialHeaders);
}
}  // namespace

// The fingerprint the live pipeline gives a request's credential (what replay must give the
// placeholder); for a header or parameter it does not read as a key (cookies, session
// tokens, signatures), the plain fingerprint of the value.
std::string SecretScrubber::header_fingerprint(std::string_view name, std::string_view value,
                                               std::string_view credential) const {
  proto::HttpRequest req;
  req.headers.push_back({std::string(name), std::string(value)});
  std::string fp = fp_.fingerprint_request(req).fingerprint;
  OPENSSL_cleanse(req.headers[0].value.data(), req.headers[0].value.size());
  return fp.empty() ? fp_.fingerprint(credential) : fp;
}

std::string SecretScrubber::param_fingerprint(std::string_view name, std::string_view value) const {
  proto::HttpRequest req;
  req.target = "/?" + std::string(name) + "=" + std::string(value);
  std::string fp = fp_.fingerprint_request(req).fingerprint;
  OPENSSL_cleanse(req.target.data(), req.target.size());
  return fp.empty() ? fp_.fingerprint(value) : fp;
}

SecretScrubber::SecretScrubber(const llm::Fingerprinter& fingerprinter) : fp_(fingerprinter) {
  const std::vector<std::string_view> prefixes = secret_token_prefixes();
  prefilter_ = std::make_unique<ScrubPrefilter>(kCredentialHeaders, kCredentialParams, prefixes);
  if (!prefilter_->ok()) prefilter_.reset();  // the full scans then
}

SecretScrubber::~SecretScrubber() {
  for (auto& [secret, k] : known_) OPENSSL_cleanse(const_cast<char*>(secret.data()), secret.size());
}

std::string SecretScrubber::make_placeholder(std::string_view secret, uint64_t n) {
  std::string keep;
  std::string_view cls = secret_prefix_class(secret);
  if (cls == "jwt") {
    keep = "eyJ";
  } else if (!cls.empty() && secret.substr(0, cls.size()) == cls) {
    size_t k = cls.size();
    if (k < secret.size() && (secret[k] == '-' || secret[k] == '_' || secret[k] == '.')) k++;
    keep = std::string(secret.substr(0, k));
  }
  std::string body = "REDACTED" + std::to_string(n);
  if (keep.size() + body.size() > secret.size()) keep.clear();
  if (body.size() > secret.size()) body = std::to_string(n);
  std::string out = keep + body;
  if (out.size() > secret.size()) out.clear();
  out.resize(secret.size(), 'X');
  if (out == secret && !out.empty()) out[out.size() - 1] = out.back() == 'X' ? 'Y' : 'X';  // "1XXX"
  return out;
}

const std::string& SecretScrubber::placeholder_for(std::string_view secret,
                                                   const std::string& fingerprint) const {
  auto it = known_.find(std::string(secret));
  if (it != known_.end()) return it->second.placeholder;
  if (known_.size() >= kMaxKnown) {
    for (auto& [s, k] : known_) OPENSSL_cleanse(const_cast<char*>(s.data()), s.size());
    known_.clear();
  }
  if (issued_.size() >= kMaxIssued) issued_.clear();
  Known k;
  k.fingerprint = fingerprint;
  k.placeholder = make_placeholder(secret, next_++);
  k.huffman = huffman_form(secret);
  issued_.insert(k.placeholder);
  fresh_.push_back({k.placeholder, fingerprint});
  return known_.emplace(std::string(secret), std::move(k)).first->second.placeholder;
}

void SecretScrubber::seen(std::string_view credential, const std::string& fingerprint) const {
  if (credential.empty() || issued_.count(std::string(credential))) return;
  placeholder_for(credential, fingerprint);
  // An Authorization value is Huffman-coded whole: remember "Bearer <key>" too.
  std::string bearer = "Bearer " + std::string(credential);
  auto& k = known_[std::string(credential)];
  if (k.huffman.empty()) k.huffman = huffman_form(bearer);
  OPENSSL_cleanse(bearer.data(), bearer.size());
}

void SecretScrubber::replace(std::string& bytes, size_t pos, size_t len,
                             const std::string& fingerprint) const {
  if (len == 0 || pos + len > bytes.size()) return;
  std::string secret = bytes.substr(pos, len);
  if (issued_.count(secret)) return;
  const std::string& ph = placeholder_for(secret, fingerprint);
  std::memcpy(bytes.data() + pos, ph.data(), len);
  modified_ = true;
  OPENSSL_cleanse(secret.data(), secret.size());
}

// One pass over the colons rather than one pass per header name: a header name ends right
// before a colon (maybe after blanks), and the names end in one of a few letters, which rules
// out nearly every colon of a JSON body ('"' before it) at the cost of one byte test.
void SecretScrubber::scrub_headers(std::string& bytes) const {
  size_t from = 0;
  while (from < bytes.size()) {
    const void* hit = std::memchr(bytes.data() + from, ':', bytes.size() - from);
    if (hit == nullptr) break;
    const size_t colon = size_t(static_cast<const char*>(hit) - bytes.data());
    from = colon + 1;
    size_t name_end = colon;
    while (name_end > 0 && (bytes[name_end - 1] == ' ' || bytes[name_end - 1] == '\t')) name_end--;
    if (name_end == 0) continue;
    if (!kHeaderLast[uint8_t(lower(bytes[name_end - 1]))]) continue;
    std::string_view name;
    for (std::string_view n : kCredentialHeaders) {
      if (n.size() > name_end) continue;
      size_t start = name_end - n.size();
      if (iequal_at(bytes, start, n) && (start == 0 || !token_char(bytes[start - 1]))) {
        name = n;
        break;
      }
    }
    if (name.empty()) continue;
    scrub_header_value(bytes, name, colon);
  }
}

void SecretScrubber::scrub_header_value(std::string& bytes, std::string_view name,
                                        size_t colon) const {
  size_t p = colon + 1;
  while (p < bytes.size() && (bytes[p] == ' ' || bytes[p] == '\t')) p++;
  size_t end = p;
  while (end < bytes.size() && bytes[end] != '\r' && bytes[end] != '\n' && bytes[end] != '\0')
    end++;
  std::string value = bytes.substr(p, end - p);
  auto [off, len] = credential_span(name, value);
  if (len) {
    // An agent sends the same key on every request: a known one takes its placeholder
    // directly, without an HMAC (fingerprint_request) per record.
    std::string credential = value.substr(off, len);
    auto known = known_.find(credential);
    if (issued_.count(credential)) {
      // already a placeholder
    } else if (known != known_.end() && known->second.placeholder.size() == len) {
      std::memcpy(bytes.data() + p + off, known->second.placeholder.data(), len);
      modified_ = true;
    } else {
      replace(bytes, p + off, len, header_fingerprint(name, value, credential));
    }
    OPENSSL_cleanse(credential.data(), credential.size());
  }
  OPENSSL_cleanse(value.data(), value.size());
}

void SecretScrubber::scrub_query(std::string& bytes) const {
  // Next '?' and next '&' found with memchr (most records have neither).
  auto next = [&](char c, size_t from) {
    if (from >= bytes.size()) return bytes.size();
    const void* hit = std::memchr(bytes.data() + from, c, bytes.size() - from);
    return hit ? size_t(static_cast<const char*>(hit) - bytes.data()) : bytes.size();
  };
  size_t q = next('?', 0), a = next('&', 0);
  for (size_t i = std::min(q, a); i < bytes.size(); i = std::min(q, a)) {
    if (i == q) q = next('?', i + 1);
    if (i == a) a = next('&', i + 1);
    if (i + 1 >= bytes.size()) break;
    scrub_param_at(bytes, i);
  }
}

void SecretScrubber::scrub_param_at(std::string& bytes, size_t i) const {
  if (i + 1 >= bytes.size()) return;
  if (bytes[i] != '?' && bytes[i] != '&') return;  // overwritten by an earlier placeholder
  if (!kParamFirst[uint8_t(lower(bytes[i + 1]))]) return;
  for (std::string_view name : kCredentialParams) {
    if (!iequal_at(bytes, i + 1, name) || i + 1 + name.size() >= bytes.size() ||
        bytes[i + 1 + name.size()] != '=')
      continue;
    size_t start = i + 2 + name.size();
    size_t end = start;
    while (end < bytes.size() && !std::strchr("&# \r\n\t", bytes[end]) && bytes[end] != '\0') end++;
    if (end == start) break;
    std::string value = bytes.substr(start, end - start);
    replace(bytes, start, end - start, param_fingerprint(name, value));
    OPENSSL_cleanse(value.data(), value.size());
    break;
  }
}

// HTTP/2 HEADERS and CONTINUATION frames that start inside this record: every literal
// whose name is a credential header (static index 23 / 49, or a literal name) or whose
// value is key-shaped is decoded; its string becomes a raw (not Huffman) placeholder of
// the same byte length. Indexed references are untouched: the decoder's table keeps the
// same entries (only a shorter value), so later references still resolve the same.
void SecretScrubber::scrub_hpack(std::string& bytes) const {
  // The checks decode_record makes for a data record, without the rest of its work (it
  // formats the peer address, say): this runs for every payload record.
  rein_data d{};
  if (bytes.size() < sizeof(d)) return;
  std::memcpy(&d, bytes.data(), sizeof(d));
  if (d.h.abi != REIN_ABI_VERSION || d.h.size != bytes.size() || d.h.kind != REIN_REC_DATA ||
      d.len > bytes.size() - sizeof(d))
    return;
  // Both directions: a response's set-cookie is as secret as a request's cookie.
  if (d.len == 0) return;
  size_t pos = sizeof(d);
  // A TLS record (a ClientHello the socket hooks read for its server name): its header
  // reads as a frame header (a ClientHello of 256-511 bytes as a HEADERS frame), and its
  // random bytes, decoded as HPACK, once gave a key-shaped "value" that was overwritten,
  // so that replay parsed a different hello. Plaintext HTTP/2 never starts so: its first
  // frame would be over 1.3 MB, against a 16 KiB default the peer must raise first.
  if (d.len >= 5 && uint8_t(bytes[pos]) >= 20 && uint8_t(bytes[pos]) <= 23 &&
      bytes[pos + 1] == 3 && uint8_t(bytes[pos + 2]) <= 4)
    return;
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  if (std::string_view(bytes).substr(pos, kPreface.size()) == kPreface) pos += kPreface.size();
  while (pos + 9 <= bytes.size()) {
    const auto* f = reinterpret_cast<const uint8_t*>(bytes.data() + pos);
    size_t len = (size_t(f[0]) << 16) | (size_t(f[1]) << 8) | f[2];
    uint8_t type = f[3], flags = f[4];
    if (type > 9 || len > (1u << 24)) return;  // not a frame: not HTTP/2
    size_t start = pos + 9, end = std::min(start + len, bytes.size());
    pos = start + len;
    if (type != 1 && type != 9) continue;
    size_t p = start;
    size_t pad = 0;
    if (type == 1 && (flags & 0x8)) {
      if (p >= end) continue;
      pad = uint8_t(bytes[p++]);
    }
    if (type == 1 && (flags & 0x20)) p += 5;
    if (pad > end - std::min(p, end)) continue;
    std::string_view block(bytes.data(), end - pad);
    while (p < block.size()) {
      uint8_t b = uint8_t(block[p]);
      if (b & 0x80) {  // indexed
        if (!hpack_int(block, p, 7)) break;
        continue;
      }
      if ((b & 0xe0) == 0x20) {  // table size update
        if (!hpack_int(block, p, 5)) break;
        continue;
      }
      auto index = hpack_int(block, p, (b & 0x40) ? 6 : 4);
      if (!index) break;
      std::string name;
      if (*index == 0) {
        auto n = hpack_string(block, p);
        if (!n) break;
        auto dn = hpack_decode(block, *n);
        if (!dn) break;
        name = *dn;
      } else {
        name = static_name(*index);
      }
      auto v = hpack_string(block, p);
      if (!v) break;
      auto value = hpack_decode(block, *v);
      if (!value || value->empty()) continue;
      if (name == ":path") {  // a raw one is plain bytes, which scrub_query reads
        if (v->huffman) scrub_huffman_path(bytes, v->prefix_pos, v->pos, v->len, *value);
        OPENSSL_cleanse(value->data(), value->size());
        continue;
      }
      std::string fingerprint;
      std::string credential;
      if (credential_header(name)) {
        auto [off, clen] = credential_span(name, *value);
        credential = value->substr(off, clen);
        if (!credential.empty()) fingerprint = header_fingerprint(name, *value, credential);
      } else if (!secret_token_class(*value).empty() &&
                 std::all_of(value->begin(), value->end(), value_char)) {
        fingerprint = fp_.fingerprint(*value);
        credential = *value;
      }
      if (!fingerprint.empty() && !credential.empty() && !issued_.count(credential)) {
        // Later copies (other connections, HTTP/1) are found by value.
        const std::string& ph = placeholder_for(credential, fingerprint);
        modified_ = true;
        if (!v->huffman && *value == credential) {
          std::memcpy(bytes.data() + v->pos, ph.data(), v->len);
        } else {
          // the string's whole value becomes the placeholder: replay reads it as the credential
          std::string raw = make_placeholder(credential, next_++);
          raw.resize(v->len, 'X');
          issued_.insert(raw);
          fresh_.push_back({raw, fingerprint});
          bytes[v->prefix_pos] = char(uint8_t(bytes[v->prefix_pos]) & 0x7f);
          std::memcpy(bytes.data() + v->pos, raw.data(), v->len);
        }
      }
      OPENSSL_cleanse(value->data(), value->size());
      OPENSSL_cleanse(credential.data(), credential.size());
    }
  }
}

// A Huffman-coded :path whose query holds a credential: the string becomes raw bytes of the
// same length (raw is longer than Huffman, so the path is kept up to the credential, which
// becomes a placeholder that fills the rest; what followed it is dropped when it does not
// fit). Replay reads the placeholder as the credential and gets its live fingerprint. A path
// too long for even that is overwritten whole.
void SecretScrubber::scrub_huffman_path(std::string& bytes, size_t prefix_pos, size_t pos,
                                        size_t len, std::string_view path) const {
  auto p = credential_param(path, 0);
  if (!p) return;
  std::string_view value = path.substr(p->start, p->end - p->start);
  const std::string fingerprint = param_fingerprint(p->name, value);
  placeholder_for(value, fingerprint);  // later copies, in other records, are found by value
  std::string_view before = path.substr(0, p->start), after = path.substr(p->end);
  if (before.size() + after.size() >= len || credential_param(after, 0)) after = {};
  std::string raw;
  if (before.size() < len) {
    std::string ph = make_placeholder(value, next_++);
    ph.resize(len - before.size() - after.size(), 'X');
    issued_.insert(ph);
    fresh_.push_back({ph, fingerprint});
    raw.append(before).append(ph).append(after);
  } else {
    raw.assign(len, 'X');
  }
  bytes[prefix_pos] = char(uint8_t(bytes[prefix_pos]) & 0x7f);
  std::memcpy(bytes.data() + pos, raw.data(), len);
  modified_ = true;
}

void SecretScrubber::scrub_known(std::string& bytes) const {
  // Nearly every record holds no known credential: one pass for up to four needles (two
  // credentials and their Huffman forms) says so, where a pass per needle read the record
  // twice for each credential.
  std::string_view needles[detail::kMaxAnyNeedles];
  size_t n = 0;
  bool any = false;
  auto test = [&] {
    if (n && !any) any = fast_contains_any(bytes, std::span<const std::string_view>(needles, n));
    n = 0;
  };
  for (const auto& [secret, k] : known_) {
    if (secret.size() < 4) continue;
    if (n + 2 > detail::kMaxAnyNeedles) test();
    needles[n++] = secret;
    if (k.huffman.size() >= 4) needles[n++] = k.huffman;
  }
  test();
  if (!any) return;
  for (auto& [secret, k] : known_) {
    if (secret.size() < 4) continue;
    for (size_t pos = fast_find(bytes, secret, 0); pos != std::string::npos;
         pos = fast_find(bytes, secret, pos + secret.size())) {
      std::memcpy(bytes.data() + pos, k.placeholder.data(), k.placeholder.size());
      modified_ = true;
    }
    if (k.huffman.size() < 4) continue;
    for (size_t pos = fast_find(bytes, k.huffman, 0); pos != std::string::npos;
         pos = fast_find(bytes, k.huffman, pos + 1)) {
      modified_ = true;
      std::string prefix = hpack_length_prefix(k.huffman.size(), true);
      if (pos < prefix.size() || bytes.compare(pos - prefix.size(), prefix.size(), prefix) != 0) {
        // not a complete HPACK string: destroy the copy rather than keep the secret
        std::string raw(k.huffman.size(), 'X');
        std::memcpy(bytes.data() + pos, raw.data(), raw.size());
        continue;
      }
      std::string raw = make_placeholder(secret, next_++);
      raw.resize(k.huffman.size(), 'X');
      issued_.insert(raw);
      fresh_.push_back({raw, k.fingerprint});
      bytes[pos - prefix.size()] = char(uint8_t(bytes[pos - prefix.size()]) & 0x7f);
      std::memcpy(bytes.data() + pos, raw.data(), raw.size());
    }
  }
}

// A token starts at a token character after a non-token one, the start, or a dot: a key can
// follow a dot inside a longer token ("openai-insecure-api-key.sk-...", a WebSocket
// subprotocol).
static bool token_start(std::string_view bytes, size_t i) {
  return token_char(bytes[i]) && (i == 0 || !token_char(bytes[i - 1]) || bytes[i - 1] == '.');
}

void SecretScrubber::scrub_tokens(std::string& bytes) const {
  size_t i = 0;
  while (i < bytes.size()) {
    if (!token_start(bytes, i)) {
      i++;
      continue;
    }
    i = scrub_token_at(bytes, i);
  }
}

// `i` starts a token (token_start). Returns where to look next: past the secret's value, or
// past the token's next dot, or its end.
size_t SecretScrubber::scrub_token_at(std::string& bytes, size_t i) const {
  size_t end = i;
  while (end < bytes.size() && token_char(bytes[end])) end++;
  std::string_view tok(bytes.data() + i, end - i);
  const size_t dot = tok.find('.');
  const size_t next = dot == std::string_view::npos ? end : i + dot + 1;
  // Most tokens are words: too short, or not starting like any secret prefix.
  if (!secret_token_may_have_class(tok)) return next;
  // A placeholder (maybe followed by binary that happens to be token characters, as in
  // an HPACK block) is not a secret: re-scrubbing it would overwrite those bytes.
  if (secret_token_class(tok).empty() || tok.find("REDACTED") != std::string_view::npos) return next;
  while (end < bytes.size() && value_char(bytes[end])) end++;
  std::string secret = bytes.substr(i, end - i);
  if (!issued_.count(secret)) replace(bytes, i, end - i, fp_.fingerprint(secret));
  OPENSSL_cleanse(secret.data(), secret.size());
  return end;
}

// The same stages as the full scans, in the same order, visiting only the prefilter's
// hits; each is checked as the full scan checks it, on the bytes as they are by then.
void SecretScrubber::scrub_prefiltered(std::string& bytes, bool payload) {
  if (payload) {
    for (const auto& h : hits_.headers) {
      const std::string_view name = kCredentialHeaders[h.name];
      const size_t start = h.start;
      if (!iequal_at(bytes, start, name) || (start > 0 && token_char(bytes[start - 1]))) continue;
      size_t colon = start + name.size();
      while (colon < bytes.size() && (bytes[colon] == ' ' || bytes[colon] == '\t')) colon++;
      if (colon < bytes.size() && bytes[colon] == ':') scrub_header_value(bytes, name, colon);
    }
    for (uint32_t i : hits_.params) scrub_param_at(bytes, i);
    scrub_hpack(bytes);
  }
  scrub_known(bytes);
  // What the stages above wrote can make the token hits stale: look again (rare: a record
  // that carried a credential).
  if (modified_ && !prefilter_->scan(bytes, true, hits_)) return scrub_tokens(bytes);
  size_t done = 0;  // tokens before this were handled whole
  for (uint32_t i : hits_.tokens) {
    if (i < done || !token_start(bytes, i)) continue;
    done = scrub_token_at(bytes, i);
  }
}

std::vector<SecretMapping> SecretScrubber::scrub(std::string& bytes, bool payload) {
  modified_ = false;
  if (use_prefilter_ && prefilter_ && prefilter_->scan(bytes, !payload, hits_)) {
    scrub_prefiltered(bytes, payload);
  } else if (payload) {
    scrub_headers(bytes);
    scrub_query(bytes);
    scrub_hpack(bytes);
    scrub_known(bytes);
    scrub_tokens(bytes);
  } else {
    scrub_known(bytes);
    scrub_tokens(bytes);
  }
  std::vector<SecretMapping> out;
  out.swap(fresh_);
  return out;
}

std::optional<std::string> RecordedCredentials::recorded(std::string_view credential) const {
  auto it = map_.find(std::string(credential));
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

}  // namespace rein::pipeline
