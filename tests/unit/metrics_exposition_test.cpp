#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cmath>
#include <limits>

#include "metrics/exposition.h"
#include "metrics/listen_address.h"

namespace {

using namespace rein::metrics;

std::string label(std::string_view v) {
  std::string out;
  append_label_value(out, v);
  return out;
}

std::string value(double v) {
  std::string out;
  append_value(out, v);
  return out;
}

TEST(MetricsExposition, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(label(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(label(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(label("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(label("tab\tstays"), "tab\tstays");  // only the three are escaped
  EXPECT_EQ(label("gpt-4o/2024"), "gpt-4o/2024");
}

TEST(MetricsExposition, HelpEscapesBackslashAndNewlineButNotQuotes) {
  std::string out;
  append_help(out, "a \"b\" \\ c\nd");
  EXPECT_EQ(out, R"(a "b" \\ c\nd)");
}

TEST(MetricsExposition, ValuesReadBackExactly) {
  EXPECT_EQ(value(0), "0");
  EXPECT_EQ(value(3), "3");
  EXPECT_EQ(value(67108864), "67108864");
  EXPECT_EQ(value(0.01), "0.01");
  EXPECT_EQ(value(81.92), "81.92");
  EXPECT_EQ(value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(value(std::nan("")), "NaN");
  for (double d : {0.1 + 0.2, 1.0 / 3.0, 1e-300, 12345.678901234567, 1e21}) {
    EXPECT_EQ(std::strtod(value(d).c_str(), nullptr), d) << value(d);
  }
}

TEST(MetricsExposition, LabelValuesAreValidUtf8AndBounded) {
  EXPECT_EQ(clean_label_value("ok"), "ok");
  EXPECT_EQ(clean_label_value("a\xff"
                              "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(clean_label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(clean_label_value("\xED\xA0\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(clean_label_value("caf\xC3\xA9"), "caf\xC3\xA9");
  std::string long_value(kMaxLabelValueBytes - 1, 'x');
  long_value += "\xC3\xA9";  // a 2-byte character across the limit is dropped whole
  auto cut = clean_label_value(long_value);
  EXPECT_EQ(cut, std::string(kMaxLabelValueBytes - 1, 'x'));
  EXPECT_EQ(clean_label_value(std::string(1000, 'y')).size(), kMaxLabelValueBytes);
}

TEST(MetricsExposition, NamesFollowTheFormat) {
  EXPECT_TRUE(valid_metric_name("gen_ai_client_token_usage"));
  EXPECT_TRUE(valid_metric_name("ns:rule_x"));
  EXPECT_FALSE(valid_metric_name("gen_ai.client"));
  EXPECT_FALSE(valid_metric_name("1abc"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("gen_ai_token_type"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name("k8s.pod"));
}

TEST(MetricsListenAddress, ParsesIPv4AndBracketedIPv6) {
  auto v4 = parse_listen_address("127.0.0.1:9464");
  ASSERT_TRUE(v4) << v4.error().message;
  ASSERT_EQ(v4->addr.ss_family, AF_INET);
  const auto* a4 = reinterpret_cast<const sockaddr_in*>(&v4->addr);
  EXPECT_EQ(ntohs(a4->sin_port), 9464);
  EXPECT_EQ(a4->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_EQ(v4->len, sizeof(sockaddr_in));

  auto v6 = parse_listen_address("[::1]:65535");
  ASSERT_TRUE(v6) << v6.error().message;
  ASSERT_EQ(v6->addr.ss_family, AF_INET6);
  const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&v6->addr);
  EXPECT_EQ(ntohs(a6->sin6_port), 65535);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr));
  EXPECT_TRUE(parse_listen_address("0.0.0.0:1"));
  EXPECT_TRUE(parse_listen_address("[::]:80"));
}

TEST(MetricsListenAddress, RejectsWithAMessageNamingTheFlag) {
  for (const char* bad : {"", "9464", ":9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:94x", "localhost:9464", "::1:9464", "[::1]",
                          "[::1]9464", "[127.0.0.1]:80", "256.0.0.1:80", "[::1:80"}) {
    auto r = parse_listen_address(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("--metrics-addr"), std::string::npos) << r.error().message;
  }
}

}  // namespace
