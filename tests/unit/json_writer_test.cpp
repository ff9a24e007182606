#include "sinks/json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using rein::sinks::json_escape_append;
using rein::sinks::JsonWriter;
using namespace std::string_literals;

const std::string kFffd = "\xEF\xBF\xBD";

std::string escaped(std::string_view s) {
  std::string out;
  json_escape_append(out, s);
  return out;
}

// Parses `json` with simdjson (error-code API) and returns the decoded string value, or
// nullopt when the text is not valid JSON or not a string.
std::optional<std::string> decode_json_string(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) return std::nullopt;
  std::string_view sv;
  if (doc.get_string().get(sv) != simdjson::SUCCESS) return std::nullopt;
  return std::string(sv);
}

std::optional<std::string> roundtrip(std::string_view s) {
  JsonWriter w;
  w.string(s);
  EXPECT_TRUE(w.well_formed());
  return decode_json_string(w.str());
}

TEST(SinksJsonEscape, PlainAsciiUnchanged) {
  EXPECT_EQ(escaped("hello /usr/bin/python3 -c 'x'"), "hello /usr/bin/python3 -c 'x'");
  EXPECT_EQ(escaped(""), "");
}

TEST(SinksJsonEscape, QuoteAndBackslash) {
  EXPECT_EQ(escaped(R"(a"b\c)"), R"(a\"b\\c)");
}

TEST(SinksJsonEscape, ShortControlEscapes) {
  EXPECT_EQ(escaped("\n\t\r\b\f"), R"(\n\t\r\b\f)");
}

TEST(SinksJsonEscape, EveryOtherControlByteIsUnicodeEscaped) {
  const char* hex = "0123456789abcdef";
  for (int c = 0; c < 0x20; ++c) {
    if (c == '\n' || c == '\t' || c == '\r' || c == '\b' || c == '\f') continue;
    std::string expect = "\\u00";
    expect += hex[c >> 4];
    expect += hex[c & 15];
    EXPECT_EQ(escaped(std::string(1, static_cast<char>(c))), expect) << "byte " << c;
  }
  EXPECT_EQ(escaped("\x7f"), "\\u007f");
}

TEST(SinksJsonEscape, EmbeddedNul) {
  EXPECT_EQ(escaped("a\0b"s), "a\\u0000b");
  EXPECT_EQ(roundtrip("a\0b"s), "a\0b"s);
}

TEST(SinksJsonEscape, ValidUtf8PassesThrough) {
  const std::string samples[] = {
      "\xC2\x80",          // U+0080, smallest 2-byte
      "\xDF\xBF",          // U+07FF
      "\xE0\xA0\x80",      // U+0800, smallest 3-byte
      "\xED\x9F\xBF",      // U+D7FF, just below the surrogates
      "\xEE\x80\x80",      // U+E000, just above
      "\xEF\xBF\xBF",      // U+FFFF
      "\xF0\x90\x80\x80",  // U+10000, smallest 4-byte
      "\xF4\x8F\xBF\xBF",  // U+10FFFF, largest code point
      "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80",
  };
  for (const auto& s : samples) {
    EXPECT_EQ(escaped(s), s);
    EXPECT_EQ(roundtrip(s), s);
  }
}

TEST(SinksJsonEscape, LineAndParagraphSeparatorsEscaped) {
  EXPECT_EQ(escaped("a\xE2\x80\xA8" "b\xE2\x80\xA9"), R"(a\u2028b\u2029)");
  // Neighbours of U+2028 are ordinary characters.
  EXPECT_EQ(escaped("\xE2\x80\xA7\xE2\x80\xAA"), "\xE2\x80\xA7\xE2\x80\xAA");
  EXPECT_EQ(roundtrip("\xE2\x80\xA8"), "\xE2\x80\xA8");
}

TEST(SinksJsonEscape, StrayContinuationBytes) {
  EXPECT_EQ(escaped("\x80"), kFffd);
  EXPECT_EQ(escaped("a\xBF" "b"), "a" + kFffd + "b");
  EXPECT_EQ(escaped("\x80\x80\x80"), kFffd + kFffd + kFffd);
}

TEST(SinksJsonEscape, BytesThatNeverLead) {
  for (unsigned c : {0xC0u, 0xC1u, 0xF5u, 0xF8u, 0xFCu, 0xFEu, 0xFFu}) {
    std::string in(1, static_cast<char>(c));
    in += "\x80";
    EXPECT_EQ(escaped(in), kFffd + kFffd) << "lead " << c;
  }
}

TEST(SinksJsonEscape, TruncatedSequences) {
  EXPECT_EQ(escaped("\xC3"), kFffd);                        // at end of input
  EXPECT_EQ(escaped("\xE2\x82"), kFffd + kFffd);            // 2 of 3
  EXPECT_EQ(escaped("\xF0\x9F\x98"), kFffd + kFffd + kFffd);  // 3 of 4
  // Interrupted by ASCII: the ASCII byte survives.
  EXPECT_EQ(escaped("\xE2\x82" "A"), kFffd + kFffd + "A");
  // Interrupted by another lead: the second sequence is still decoded.
  EXPECT_EQ(escaped("\xF0\x9F\xC3\xA9"), kFffd + kFffd + "\xC3\xA9");
}

TEST(SinksJsonEscape, OverlongEncodings) {
  EXPECT_EQ(escaped("\xC0\xAF"), kFffd + kFffd);                          // '/' in 2 bytes
  EXPECT_EQ(escaped("\xE0\x80\xAF"), kFffd + kFffd + kFffd);              // '/' in 3 bytes
  EXPECT_EQ(escaped("\xE0\x9F\xBF"), kFffd + kFffd + kFffd);              // U+07FF in 3
  EXPECT_EQ(escaped("\xF0\x80\x80\xAF"), kFffd + kFffd + kFffd + kFffd);  // '/' in 4 bytes
  EXPECT_EQ(escaped("\xF0\x8F\xBF\xBF"), kFffd + kFffd + kFffd + kFffd);  // U+FFFF in 4
  EXPECT_EQ(escaped("\xC0\x80"), kFffd + kFffd);  // "modified UTF-8" NUL
}

TEST(SinksJsonEscape, Surrogates) {
  EXPECT_EQ(escaped("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // U+D800
  EXPECT_EQ(escaped("\xED\xBF\xBF"), kFffd + kFffd + kFffd);  // U+DFFF
  // CESU-8 style pair for U+1F600.
  EXPECT_EQ(escaped("\xED\xA0\xBD\xED\xB8\x80"), kFffd + kFffd + kFffd + kFffd + kFffd + kFffd);
}

TEST(SinksJsonEscape, AboveMaxCodePoint) {
  EXPECT_EQ(escaped("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // U+110000
  EXPECT_EQ(escaped("\xF7\xBF\xBF\xBF"), kFffd + kFffd + kFffd + kFffd);
}

TEST(SinksJsonEscape, AppendsToExistingContent) {
  std::string out = "prefix:";
  json_escape_append(out, "\"x\"");
  EXPECT_EQ(out, R"(prefix:\"x\")");
}

// An argv block as a hostile process could present it: NUL separators, invalid bytes,
// quotes, control characters and multi-byte text, ~100 KiB. Input and the expected decoded
// value are assembled piece by piece so the expectation does not come from the code under test.
TEST(SinksJsonEscape, LargeArgvRoundTripsThroughSimdjson) {
  struct Piece {
    std::string in;
    std::string decoded;
  };
  const Piece pieces[] = {
      {"python3\0"s, "python3\0"s},
      {"--prompt=\"hi\"\\\0"s, "--prompt=\"hi\"\\\0"s},
      {"\xff\xfe", kFffd + kFffd},
      {"\xE6\x97\xA5\xE6\x9C\xAC", "\xE6\x97\xA5\xE6\x9C\xAC"},
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},
      {"\t\n\x1b[0m", "\t\n\x1b[0m"},
      {"\xC0\xAF", kFffd + kFffd},
      {"\xE2\x80\xA8", "\xE2\x80\xA8"},
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
      {"\xF0\x9F\x98", kFffd + kFffd + kFffd},
      {"/tmp/x y", "/tmp/x y"},
  };
  std::string in;
  std::string expect;
  size_t k = 0;
  while (in.size() < 100 * 1024) {
    const Piece& p = pieces[(k * 7) % std::size(pieces)];
    in += p.in;
    expect += p.decoded;
    ++k;
  }
  ASSERT_GE(in.size(), 100u * 1024);

  JsonWriter w;
  w.begin_object();
  w.key("args");
  w.string(in);
  w.end_object();
  ASSERT_TRUE(w.well_formed());
  ASSERT_TRUE(simdjson::validate_utf8(w.str()));
  EXPECT_EQ(w.str().find('\n'), std::string::npos) << "must stay one line";

  simdjson::dom::parser parser;
  simdjson::padded_string padded(w.str());
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(padded).get(doc), simdjson::SUCCESS);
  std::string_view got;
  ASSERT_EQ(doc["args"].get_string().get(got), simdjson::SUCCESS);
  EXPECT_EQ(got.size(), expect.size());
  EXPECT_TRUE(got == expect);
}

TEST(SinksJsonEscape, AllSingleAndPairBytesProduceValidJson) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 17) {
      std::string in{static_cast<char>(a), static_cast<char>(b)};
      auto got = roundtrip(in);
      ASSERT_TRUE(got.has_value()) << a << "," << b;
      ASSERT_TRUE(simdjson::validate_utf8(*got));
    }
  }
}

TEST(SinksJsonWriter, NestingAndCommas) {
  JsonWriter w;
  w.begin_object();
  w.key("a");
  w.number(int64_t{1});
  w.key("b");
  w.begin_array();
  w.number(int64_t{2});
  w.begin_object();
  w.end_object();
  w.begin_array();
  w.end_array();
  w.string("x");
  w.null();
  w.boolean(true);
  w.boolean(false);
  w.end_array();
  w.key("c");
  w.begin_object();
  w.key("d");
  w.begin_array();
  w.begin_array();
  w.number(int64_t{-3});
  w.end_array();
  w.end_array();
  w.end_object();
  w.key("e");
  w.raw(R"({"pre":[1]})");
  w.end_object();
  EXPECT_TRUE(w.well_formed());
  EXPECT_EQ(w.str(), R"({"a":1,"b":[2,{},[],"x",null,true,false],"c":{"d":[[-3]]},"e":{"pre":[1]}})");

  simdjson::dom::parser parser;
  simdjson::padded_string padded(w.str());
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(padded).get(doc), simdjson::SUCCESS);
  int64_t v = 0;
  ASSERT_EQ(doc.at_pointer("/c/d/0/0").get(v), simdjson::SUCCESS);
  EXPECT_EQ(v, -3);
}

TEST(SinksJsonWriter, KeysAreEscaped) {
  JsonWriter w;
  w.begin_object();
  w.key("we\"ird\n\xff");
  w.number(int64_t{0});
  w.end_object();
  EXPECT_EQ(w.str(), "{\"we\\\"ird\\n" + kFffd + "\":0}");
}

// Short plain keys take a fast path: every key length around its bound, with one byte that
// needs escaping at each place or none, must come out as the escaper writes it.
TEST(SinksJsonWriter, KeysOfEveryShortLengthMatchTheEscaper) {
  for (size_t len = 0; len <= 40; len++) {
    for (size_t bad = 0; bad <= len; bad++) {  // bad == len: all plain
      std::string k(len, 'k');
      if (bad < len) k[bad] = "\"\\\x01\x7f\xc3"[bad % 5];
      JsonWriter w;
      w.begin_object();
      w.key("first");
      w.null();
      w.key(k);
      w.number(int64_t{1});
      w.end_object();
      std::string want = "{\"first\":null,\"";
      json_escape_append(want, k);
      want += "\":1}";
      EXPECT_EQ(w.str(), want) << "length " << len << ", escaped byte at " << bad;
    }
  }
}

TEST(SinksJsonWriter, EmptyContainersAtTopLevel) {
  JsonWriter w;
  w.begin_array();
  w.end_array();
  EXPECT_EQ(w.str(), "[]");
  EXPECT_TRUE(w.well_formed());
}

TEST(SinksJsonWriter, IntegerExtremes) {
  JsonWriter w;
  w.begin_array();
  w.number(std::numeric_limits<int64_t>::min());
  w.number(std::numeric_limits<int64_t>::max());
  w.number(std::numeric_limits<uint64_t>::max());
  w.number(0);                         // int
  w.number(7u);                        // unsigned
  w.number(static_cast<short>(-5));    // short
  w.number(static_cast<uint8_t>(200));  // must print as a number, not a character
  w.end_array();
  EXPECT_EQ(w.str(),
            "[-9223372036854775808,9223372036854775807,18446744073709551615,0,7,-5,200]");
}

TEST(SinksJsonWriter, DoublesShortestAndNonFiniteNull) {
  JsonWriter w;
  w.begin_array();
  w.number(0.1);
  w.number(1.5);
  w.number(-0.0);
  w.number(1e300);
  w.number(2.0);
  w.number(1152921504606846976.0);  // 2^60: integer-valued but past 2^53
  w.number(std::numeric_limits<double>::quiet_NaN());
  w.number(std::numeric_limits<double>::infinity());
  w.number(-std::numeric_limits<double>::infinity());
  w.end_array();
  EXPECT_EQ(w.str(), "[0.1,1.5,-0,1e+300,2,1.152921504606847e+18,null,null,null]");
  simdjson::dom::parser parser;
  simdjson::padded_string padded(w.str());
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(padded).get(doc), simdjson::SUCCESS);
}

TEST(SinksJsonWriter, DoublesRoundTrip) {
  std::mt19937_64 rng(12345);
  simdjson::dom::parser parser;
  for (int i = 0; i < 2000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    JsonWriter w;
    w.number(d);
    simdjson::padded_string padded(w.str());
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(padded).get(doc), simdjson::SUCCESS) << w.str();
    double back = 0;
    ASSERT_EQ(doc.get_double().get(back), simdjson::SUCCESS) << w.str();
    EXPECT_EQ(back, d) << w.str();
    EXPECT_LE(w.str().size(), 24u);
  }
}

TEST(SinksJsonWriter, ValueWhereKeyIsDueIsMisuse) {
  JsonWriter w;
  w.begin_object();
  w.string("no key");
  EXPECT_FALSE(w.well_formed());
  w.end_object();
  EXPECT_EQ(w.str(), "{");  // nothing appended after the misuse
}

TEST(SinksJsonWriter, KeyInArrayAndUnbalancedEndAreMisuse) {
  JsonWriter a;
  a.begin_array();
  a.key("k");
  EXPECT_FALSE(a.well_formed());

  JsonWriter b;
  b.begin_array();
  b.end_object();
  EXPECT_FALSE(b.well_formed());

  JsonWriter c;
  c.end_array();
  EXPECT_FALSE(c.well_formed());

  JsonWriter d;
  d.begin_object();
  d.key("k");
  d.end_object();  // key without value
  EXPECT_FALSE(d.well_formed());
}

TEST(SinksJsonWriter, SecondTopLevelValueIsMisuse) {
  JsonWriter w;
  w.number(1);
  EXPECT_TRUE(w.well_formed());
  w.number(2);
  EXPECT_FALSE(w.well_formed());
  EXPECT_EQ(w.str(), "1");
}

TEST(SinksJsonWriter, IncompleteIsNotWellFormed) {
  JsonWriter w;
  EXPECT_FALSE(w.well_formed());
  w.begin_object();
  EXPECT_FALSE(w.well_formed());
}

TEST(SinksJsonWriter, ClearStartsAFreshValue) {
  JsonWriter w;
  w.begin_object();
  w.string("misuse");
  w.clear();
  EXPECT_EQ(w.str(), "");
  w.begin_object();
  w.key("k");
  w.string("v");
  w.end_object();
  EXPECT_TRUE(w.well_formed());
  EXPECT_EQ(w.str(), R"({"k":"v"})");
}

}  // namespace

// Long plain runs are checked 16 bytes at a time: a byte that needs escaping (or a UTF-8
// sequence) anywhere in or across a block comes out as it does on its own.
TEST(SinksJsonEscape, SpecialBytesAnywhereInLongRuns) {
  const std::vector<std::string> specials = {"\"",   "\\",       "\n",       std::string(1, '\0'),
                                             "\x1f", "\x7f",     "\x80",     "\xc3\xa9",
                                             "~",    " ",        "\xe2\x80\xa8", "\xff"};
  for (const auto& sp : specials)
    for (size_t at = 0; at <= 40; at++) {
      const std::string before(at, 'a'), after(47 - at, 'b');
      std::string alone;
      json_escape_append(alone, sp);
      std::string got;
      json_escape_append(got, before + sp + after);
      EXPECT_EQ(got, before + alone + after) << at;
    }
}
