#include "proto/dns.h"

#include <arpa/inet.h>

#include <string_view>

namespace rein::proto {
namespace {

constexpr size_t kHeaderLen = 12;
constexpr size_t kMaxNameWire = 255;  // RFC 1035 2.3.4, length bytes and final zero included
// A sane name has at most 127 labels and each pointer normally skips at least one; the
// strictly-backwards rule already rules out loops, this caps the work per name.
constexpr int kMaxPointerJumps = 127;

enum class Step { ok, cut, bad };

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void append_label_text(std::string& out, const uint8_t* p, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    const uint8_t c = p[i];
    if (c == '.' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x21 && c <= 0x7E) {
      out += static_cast<char>(c);
    } else {
      const char esc[4] = {'\\', static_cast<char>('0' + c / 100),
                           static_cast<char>('0' + c / 10 % 10), static_cast<char>('0' + c % 10)};
      out.append(esc, sizeof esc);
    }
  }
}

class Parser {
 public:
  explicit Parser(std::span<const uint8_t> buf) : buf_(buf) {}

  // Reads the name at `pos`. `next` receives the offset just past the name's bytes at `pos`
  // (after the terminating zero or the first pointer). With `out` null the name is only
  // skipped: pointers are not followed, which is all a dropped record needs.
  Step name(size_t pos, size_t* next, std::string* out) {
    const size_t size = buf_.size();
    size_t cur = pos;
    size_t run_start = pos;  // pointers must land strictly before this: no loops possible
    size_t wire_len = 1;
    int jumps = 0;
    bool jumped = false;
    if (out) out->clear();
    for (;;) {
      if (cur >= size) return Step::cut;
      const uint8_t len = buf_[cur];
      const uint8_t kind = len & 0xC0;
      if (kind == 0x00) {
        if (len == 0) {
          if (!jumped) *next = cur + 1;
          if (out && out->empty()) *out = ".";
          return Step::ok;
        }
        wire_len += 1 + len;
        if (wire_len > kMaxNameWire) return fail("name longer than 255 bytes");
        if (len + 1 > size - cur) return Step::cut;
        if (out) {
          if (!out->empty()) *out += '.';
          append_label_text(*out, buf_.data() + cur + 1, len);
        }
        cur += 1 + len;
      } else if (kind == 0xC0) {
        if (size - cur < 2) return Step::cut;
        const size_t target = ((len & 0x3F) << 8) | buf_[cur + 1];
        if (!jumped) *next = cur + 2;
        jumped = true;
        if (!out) return Step::ok;
        if (target >= run_start) return fail("compression pointer does not point backwards");
        if (target < kHeaderLen) return fail("compression pointer into the header");
        if (++jumps > kMaxPointerJumps) return fail("too many compression pointers");
        run_start = target;
        cur = target;
      } else {
        return fail("reserved label type");  // 0x40 (extended) and 0x80
      }
    }
  }

  const std::string& error() const { return error_; }

 private:
  Step fail(const char* why) {
    error_ = why;
    return Step::bad;
  }

  std::span<const uint8_t> buf_;
  std::string error_;
};

Error dns_error(std::string_view why) { return make_error("dns: " + std::string(why)); }

// Fills `data` for the types whose rdata we render. Returns an error text for malformed
// rdata, or nullptr.
const char* decode_rdata(Parser& parser, std::span<const uint8_t> buf, uint16_t type,
                         size_t start, size_t len, std::string* data) {
  const uint8_t* p = buf.data() + start;
  char text[INET6_ADDRSTRLEN];
  switch (type) {
    case 1:  // A
      if (len != 4) return "A record rdata is not 4 bytes";
      inet_ntop(AF_INET, p, text, sizeof text);
      *data = text;
      return nullptr;
    case 28:  // AAAA
      if (len != 16) return "AAAA record rdata is not 16 bytes";
      inet_ntop(AF_INET6, p, text, sizeof text);
      *data = text;
      return nullptr;
    case 2:    // NS
    case 5:    // CNAME
    case 12: {  // PTR
      size_t next = 0;
      // The whole rdata is in the buffer, so running out of bytes means the name overran it.
      switch (parser.name(start, &next, data)) {
        case Step::ok:
          break;
        case Step::cut:
          return "name overruns its record";
        case Step::bad:
          return parser.error().c_str();
      }
      if (next > start + len) return "name overruns its record";
      return nullptr;
    }
    default:
      return nullptr;
  }
}

}  // namespace

Result<DnsMessage> parse_dns(std::span<const uint8_t> buf) {
  if (buf.size() < kHeaderLen) return dns_error("message shorter than the 12-byte header");
  const uint8_t* b = buf.data();
  DnsMessage msg;
  msg.id = be16(b);
  const uint16_t flags = be16(b + 2);
  msg.response = (flags & 0x8000) != 0;
  msg.opcode = static_cast<uint8_t>((flags >> 11) & 0xF);
  msg.truncated_flag = (flags & 0x0200) != 0;
  msg.rcode = static_cast<uint8_t>(flags & 0xF);
  msg.question_count = be16(b + 4);
  msg.answer_count = be16(b + 6);

  Parser parser(buf);
  const size_t size = buf.size();
  size_t pos = kHeaderLen;
  auto cut = [&msg]() -> Result<DnsMessage> {
    msg.incomplete = true;
    return std::move(msg);
  };

  // Each iteration consumes at least 5 bytes or stops, so the loops are bounded by the
  // buffer, whatever the counts claim.
  for (uint32_t i = 0; i < msg.question_count; ++i) {
    const bool keep = msg.questions.size() < kDnsMaxQuestions;
    DnsQuestion q;
    size_t next = 0;
    const Step st = parser.name(pos, &next, keep ? &q.name : nullptr);
    if (st == Step::cut) return cut();
    if (st == Step::bad) return dns_error(parser.error());
    if (size - next < 4) return cut();
    q.type = be16(b + next);
    q.klass = be16(b + next + 2);
    pos = next + 4;
    if (keep) {
      msg.questions.push_back(std::move(q));
    } else {
      ++msg.questions_dropped;
    }
  }

  for (uint32_t i = 0; i < msg.answer_count; ++i) {
    const bool keep = msg.answers.size() < kDnsMaxAnswers;
    DnsAnswer a;
    size_t next = 0;
    const Step st = parser.name(pos, &next, keep ? &a.name : nullptr);
    if (st == Step::cut) return cut();
    if (st == Step::bad) return dns_error(parser.error());
    if (size - next < 10) return cut();
    a.type = be16(b + next);
    a.klass = be16(b + next + 2);
    a.ttl = be32(b + next + 4);
    const size_t rdlen = be16(b + next + 8);
    const size_t rdata = next + 10;
    if (size - rdata < rdlen) return cut();  // a record cut mid-rdata is not kept
    pos = rdata + rdlen;
    if (!keep) {
      ++msg.answers_dropped;
      continue;
    }
    if (const char* why = decode_rdata(parser, buf, a.type, rdata, rdlen, &a.data)) {
      return dns_error(why);
    }
    msg.answers.push_back(std::move(a));
  }
  return msg;
}

std::string dns_type_name(uint16_t type) {
  switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
    default: return "TYPE" + std::to_string(type);
  }
}

}  // namespace rein::proto
