// rein report's HTML: hostile strings from the stream (argv, paths, models, diffs) appear
// only escaped; nothing is fetched; rows are capped with a "not shown" line; the summary's
// figures are the model's.
#include <gtest/gtest.h>

#include <string>

#include "report/event_model.h"
#include "report/html_report.h"

namespace rein::report {
namespace {

const std::string kHostile = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>";

std::string hostile_json() {
  // kHostile as a JSON string body
  std::string s;
  for (char c : kHostile) {
    if (c == '"')
      s += "\\\"";
    else
      s += c;
  }
  return s;
}

std::string hostile_stream_line(const std::string& type, const std::string& rest) {
  const std::string h = hostile_json();
  return "{\"type\":\"" + type +
         "\",\"time\":\"2026-11-30T14:02:00Z\",\"process\":{\"pid\":7,"
         "\"ppid\":1,\"exe\":\"/bin/" +
         h + "\",\"args\":[\"" + h +
         "\",\"https://evil.example/x.js\"]},"
         "\"agent\":{\"id\":\"" +
         h + "\",\"name\":\"" + h + "\",\"root_pid\":7}," + rest + "}";
}

std::string render(EventModel& m) {
  m.finish();
  RenderInfo info;
  info.source = "/tmp/" + kHostile;
  return render_html(m, info);
}

// Everything between <script> and </script> that we emit ourselves, removed: what is left
// must contain no script, no element fetching anything and no raw hostile markup.
std::string without_our_script(std::string html) {
  auto a = html.rfind("<script>");
  auto b = html.rfind("</script>");
  if (a != std::string::npos && b != std::string::npos && b > a) html.erase(a, b + 9 - a);
  return html;
}

TEST(ReportHtml, EscapeCoversMarkupQuotesAndControls) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape(std::string("a\0b\x1b[31m", 8)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD[31m");
  EXPECT_EQ(html_escape("tab\tnl\n"), "tab\tnl\n");
  EXPECT_EQ(html_escape("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(html_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(html_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(html_escape("\xE2\x80\xA8"), "\xEF\xBF\xBD");                          // U+2028
  EXPECT_EQ(html_escape("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(ReportHtml, HostileStringsAreOnlyEverEscaped) {
  EventModel m;
  const std::string h = hostile_json();
  m.feed(hostile_stream_line("process.exec", "\"new_agent\":true"));
  m.feed(hostile_stream_line("file.mutation",
                             "\"op\":\"write\",\"path\":\"/w/" + h + "\",\"error\":null"));
  m.feed(hostile_stream_line(
      "llm.call", "\"provider\":\"" + h + "\",\"response_model\":\"" + h +
                      "\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2},\"cost_usd\":0.1,"
                      "\"error\":{\"type\":\"" +
                      h + "\",\"message\":\"" + h + "\"}"));
  m.feed(hostile_stream_line("policy.action", "\"rule\":\"" + h +
                                                  "\",\"outcome\":\"killed\","
                                                  "\"matched\":\"" +
                                                  h + "\""));
  m.feed(hostile_stream_line("config.mutation", "\"path\":\"" + h + "\",\"class\":\"" + h +
                                                    "\",\"diff\":\"+" + h + "\\n-" + h + "\""));
  m.feed(hostile_stream_line("net.connect", "\"address\":\"" + h + "\",\"port\":1"));
  m.feed(hostile_stream_line("x.unknown", "\"z\":1"));
  const std::string html = without_our_script(render(m));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  // "onerror=alert" survives as text inside the escaped tag; it is never an attribute
  EXPECT_EQ(html.find(" onerror=alert(2)>"), std::string::npos);
  EXPECT_EQ(html.find("'&<"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;&lt;img"),
            std::string::npos);
  // A URL in argv stays text: no element may reference it.
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
}

TEST(ReportHtml, SelfContainedWithAStrictContentSecurityPolicy) {
  EventModel m;
  m.feed(hostile_stream_line("process.exec", "\"new_agent\":true"));
  const std::string html = render(m);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(html.find("script-src 'sha256-"), std::string::npos);
  EXPECT_EQ(html.find("unsafe-eval"), std::string::npos);
  EXPECT_EQ(html.find("script-src 'unsafe-inline'"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  // exactly one script element: ours
  auto first = html.find("<script>");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(html.find("<script", first + 1), std::string::npos);
  // every section is in the page without JavaScript
  for (const char* id : {"summary", "agents", "timeline", "processes", "config", "llm-calls",
                         "files", "network", "policy"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
}

TEST(ReportHtml, SummaryFiguresAreTheModels) {
  EventModel m;
  for (int i = 0; i < 3; ++i) {
    m.feed("{\"type\":\"llm.call\",\"time\":\"2026-11-30T14:0" + std::to_string(i) +
           ":00Z\",\"process\":{\"pid\":5},\"agent\":{\"id\":\"a-1\",\"name\":\"a\"},"
           "\"response_model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":1000,"
           "\"output_tokens\":70},\"cost_usd\":0.125,\"latency_ms\":40}");
  }
  const std::string html = render(m);
  EXPECT_NE(html.find("<b id=\"sum-calls\">3</b>"), std::string::npos);
  EXPECT_NE(html.find("<b id=\"sum-input-tokens\">3000</b>"), std::string::npos);
  EXPECT_NE(html.find("<b id=\"sum-output-tokens\">210</b>"), std::string::npos);
  EXPECT_NE(html.find("<b id=\"sum-cost\">$0.375000</b>"), std::string::npos);
  EXPECT_NE(html.find("<b id=\"sum-agents\">1</b>"), std::string::npos);
  EXPECT_NE(html.find("<b id=\"sum-duration\">2m 00s</b>"), std::string::npos);
  EXPECT_NE(html.find("claude-haiku-4-5"), std::string::npos);
}

TEST(ReportHtml, RowsAreCappedWithANotShownLine) {
  Limits l;
  l.max_rows = 5;
  l.max_timeline = 5;
  EventModel m({}, l);
  for (int i = 0; i < 40; ++i)
    m.feed(
        "{\"type\":\"file.mutation\",\"time\":\"2026-11-30T14:00:00Z\",\"process\":{\"pid\":5},"
        "\"agent\":{\"id\":\"a-1\",\"name\":\"a\"},\"op\":\"write\",\"path\":\"/f" +
        std::to_string(i) + "\",\"error\":null}");
  const std::string html = render(m);
  EXPECT_NE(html.find("35 more file events not shown"), std::string::npos);
  EXPECT_NE(html.find("35 more events not shown"), std::string::npos);
  EXPECT_NE(html.find("/f4<"), std::string::npos);
  EXPECT_EQ(html.find("/f5<"), std::string::npos);
  EXPECT_NE(html.find("<b id=\"sum-files\">40</b>"), std::string::npos);
}

TEST(ReportHtml, OutputSizeIsBoundedWhateverTheInput) {
  // Many huge strings: the page grows with the row caps, not with the input.
  EventModel m;
  const std::string big(200000, 'A');
  for (int i = 0; i < 3000; ++i)
    m.feed("{\"type\":\"process.exec\",\"time\":\"2026-11-30T14:00:00Z\",\"process\":{\"pid\":" +
           std::to_string(i) + ",\"ppid\":" + std::to_string(i - 1) + ",\"args\":[\"" + big +
           "\"]},\"agent\":{\"id\":\"a-1\",\"name\":\"a\"}}");
  const std::string html = render(m);
  EXPECT_LT(html.size(), size_t{8} << 20);
  EXPECT_NE(html.find("more processes not shown"), std::string::npos);
}

TEST(ReportHtml, ProcessTreeNestsChildrenAndSurvivesCycles) {
  EventModel m;
  auto exec = [&](int pid, int ppid, const char* exe) {
    m.feed("{\"type\":\"process.exec\",\"time\":\"2026-11-30T14:00:00Z\",\"process\":{\"pid\":" +
           std::to_string(pid) + ",\"ppid\":" + std::to_string(ppid) + ",\"exe\":\"" + exe +
           "\",\"args\":[\"" + exe + "\"]},\"agent\":{\"id\":\"a-1\",\"name\":\"a\"}}");
  };
  exec(10, 1, "/bin/agent");
  exec(11, 10, "/bin/child");
  exec(12, 11, "/bin/grandchild");
  // pid 10 exits and is reused under its own grandchild: a cycle by pid, must not loop
  m.feed(
      "{\"type\":\"process.exit\",\"time\":\"2026-11-30T14:00:01Z\",\"process\":{\"pid\":10},"
      "\"agent\":{\"id\":\"a-1\",\"name\":\"a\"},\"exit_code\":0}");
  m.feed(
      "{\"type\":\"process.fork\",\"time\":\"2026-11-30T14:00:02Z\",\"process\":{\"pid\":10,"
      "\"ppid\":12},\"agent\":{\"id\":\"a-1\",\"name\":\"a\"},\"parent_pid\":12}");
  exec(10, 12, "/bin/agent-again");
  const std::string html = render(m);
  auto a = html.find("/bin/agent</code>");
  auto c = html.find("/bin/child</code>");
  auto g = html.find("/bin/grandchild</code>");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  ASSERT_NE(g, std::string::npos);
  EXPECT_LT(a, c);
  EXPECT_LT(c, g);
  auto again = html.find("/bin/agent-again</code>");
  ASSERT_NE(again, std::string::npos);
  EXPECT_LT(g, again);
  EXPECT_EQ(m.processes().total, 4u);
}

}  // namespace
}  // namespace rein::report
