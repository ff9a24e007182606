#include "proto/http1_head.h"

#include <algorithm>

namespace rein::proto {

namespace {

constexpr uint64_t kMaxContentLength = uint64_t{1} << 62;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "HTTP/1.x" with a single minor digit; HTTP/2 prefaces and HTTP/0.9 are not ours.
bool parse_version(std::string_view v, int& minor) {
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1." || !is_digit(v[7])) return false;
  minor = v[7] - '0';
  return true;
}

bool is_target_char(unsigned char c) { return c > 0x20 && c != 0x7f; }

}  // namespace

bool parse_request_line(std::string_view line, Http1Head& out) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp2 <= sp1 + 1) return false;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (unsigned char c : method)
    if (!is_tchar(c)) return false;
  for (unsigned char c : target)
    if (!is_target_char(c)) return false;
  int minor = 0;
  if (!parse_version(line.substr(sp2 + 1), minor)) return false;
  out.method.assign(method);
  out.target.assign(target);
  out.version_minor = minor;
  return true;
}

bool parse_status_line(std::string_view line, Http1Head& out) {
  int minor = 0;
  if (line.size() < 12 || !parse_version(line.substr(0, 8), minor) || line[8] != ' ') return false;
  if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11])) return false;
  if (line.size() > 12 && line[12] != ' ') return false;
  const int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status < 100) return false;
  for (unsigned char c : line.substr(12))
    if (c == 0 || c == '\r') return false;
  out.status = status;
  out.version_minor = minor;
  return true;
}

namespace {

// Why `line` is not a field line, in the order of precedence the messages always had (a
// control character anywhere first). Only lines the fast path refused come here.
Error field_line_error(std::string_view line) {
  if (line.find('\r') != std::string_view::npos || line.find('\0') != std::string_view::npos)
    return Error{"http1: control character in header"};
  if (line.empty()) return Error{"http1: empty line inside head"};
  // RFC 9112 §5.2 lets a recipient reject obs-fold; unfolding would let two parsers
  // (ours and the server's) disagree about the fields.
  if (is_ows(line.front())) return Error{"http1: obsolete line folding"};
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return Error{"http1: malformed header"};
  return Error{"http1: malformed header name"};
}

}  // namespace

Result<void> parse_http1_fields(std::string_view block, size_t max_fields,
                                std::vector<HttpHeader>& out) {
  // Nearly every chunked body ends with an empty trailer block: no allocation for it.
  if (block.empty()) return {};
  // One allocation for a usual head (LLM clients send 8-20 fields) instead of five doublings.
  out.reserve(out.size() + std::min<size_t>(max_fields, 24));
  while (!block.empty()) {
    const size_t nl = block.find('\n');
    std::string_view line = block.substr(0, nl);
    block = (nl == std::string_view::npos) ? std::string_view{} : block.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // The name is read up to the colon in the same pass that checks it: a byte that is not
    // a token character (CR, NUL, space, a missing colon) sends the line to the checks above.
    char name[64];
    size_t colon = 0;
    while (colon < line.size() && colon < sizeof(name) &&
           is_tchar(static_cast<unsigned char>(line[colon]))) {
      name[colon] = lower(line[colon]);
      ++colon;
    }
    if (colon == 0 || colon >= line.size() || line[colon] != ':') {
      if (colon == sizeof(name)) {  // a long name: the plain loop
        while (colon < line.size() && is_tchar(static_cast<unsigned char>(line[colon]))) ++colon;
        if (colon < line.size() && line[colon] == ':') {
          const std::string_view value = line.substr(colon + 1);
          if (value.find('\r') != std::string_view::npos ||
              value.find('\0') != std::string_view::npos)
            return field_line_error(line);
          if (out.size() >= max_fields) return make_error("http1: too many headers");
          HttpHeader h;
          h.name.resize(colon);
          for (size_t i = 0; i < colon; i++) h.name[i] = lower(line[i]);
          h.value.assign(trim_ows(value));
          out.push_back(std::move(h));
          continue;
        }
      }
      return field_line_error(line);
    }
    const std::string_view value = line.substr(colon + 1);
    if (value.find('\r') != std::string_view::npos || value.find('\0') != std::string_view::npos)
      return field_line_error(line);
    if (out.size() >= max_fields) return make_error("http1: too many headers");
    // Built in place, not assigned into empty strings: assign() takes the general path that
    // allows for overlap, twice per field of every message.
    out.push_back(HttpHeader{std::string(name, colon), std::string(trim_ows(value))});
  }
  return {};
}

Result<Http1Head> parse_http1_head(std::string_view block, Http1Mode mode, size_t max_headers) {
  const size_t nl = block.find('\n');
  std::string_view line = block.substr(0, nl);
  block = (nl == std::string_view::npos) ? std::string_view{} : block.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return make_error("http1: empty head");
  Http1Head head;
  const bool ok = mode == Http1Mode::kRequest ? parse_request_line(line, head)
                                              : parse_status_line(line, head);
  if (!ok) {
    if (line.substr(0, 5) == "PRI *") return make_error("http1: HTTP/2 connection preface");
    return make_error(mode == Http1Mode::kRequest ? "http1: malformed request line"
                                                  : "http1: malformed status line");
  }
  auto fields = parse_http1_fields(block, max_headers, head.headers);
  if (!fields) return fields.error();
  return head;
}

std::vector<std::string> header_tokens(const std::vector<HttpHeader>& headers,
                                       std::string_view name) {
  std::vector<std::string> out;
  for (const auto& h : headers) {
    if (std::string_view(h.name) != name) continue;  // sizes first, no strlen
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view elem = rest.substr(0, comma);
      rest = (comma == std::string_view::npos) ? std::string_view{} : rest.substr(comma + 1);
      elem = elem.substr(0, elem.find(';'));
      elem = trim_ows(elem);
      if (elem.empty()) continue;
      std::string tok;
      tok.reserve(elem.size());
      for (char c : elem) tok.push_back(lower(c));
      out.push_back(std::move(tok));
    }
  }
  return out;
}

Result<std::optional<uint64_t>> parse_content_length(const std::vector<HttpHeader>& headers) {
  std::optional<uint64_t> length;
  for (const auto& h : headers) {
    if (std::string_view(h.name) != std::string_view("content-length")) continue;
    std::string_view rest = h.value;
    while (true) {
      const size_t comma = rest.find(',');
      std::string_view elem = trim_ows(rest.substr(0, comma));
      if (elem.empty()) return make_error("http1: malformed content-length");
      uint64_t v = 0;
      for (char c : elem) {
        if (!is_digit(c)) return make_error("http1: malformed content-length");
        const auto digit = static_cast<uint64_t>(c - '0');
        if (v > (kMaxContentLength - digit) / 10) return make_error("http1: content-length too large");
        v = v * 10 + digit;
      }
      if (length && *length != v) return make_error("http1: conflicting content-length");
      length = v;
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  return length;
}

std::string normalize_host(std::string_view host) {
  host = trim_ows(host);
  // userinfo is not part of a Host or :authority (RFC 9110 7.2), and is a password when a
  // client sends it anyway: never kept.
  if (const size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else {
    const size_t colon = host.find(':');
    // A second colon means an unbracketed IPv6 literal: no port to strip.
    if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos)
      host = host.substr(0, colon);
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  }
  std::string out;
  out.reserve(host.size());
  for (char c : host) out.push_back(lower(c));
  return out;
}

}  // namespace rein::proto
