// Any bytes as a JSONL events file for `rein report`: the model and the HTML renderer must
// never crash, and the page must stay within a size fixed by the row and string caps (here
// small ones, so one input exercises the "not shown" paths), whatever the input holds.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "report/event_model.h"
#include "report/html_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  rein::report::Limits l;
  l.max_line_bytes = 64 * 1024;
  l.max_rows = 20;
  l.max_timeline = 40;
  l.max_processes = 30;
  l.max_agents = 8;
  l.max_string = 64;
  l.max_args = 128;
  l.max_diff = 512;
  l.max_distinct = 64;
  rein::report::Filter f;
  // A first byte below 8 picks filters (and is not part of the stream), so the filter paths
  // are fuzzed too; plain JSONL seeds run unfiltered.
  if (!in.empty() && static_cast<unsigned char>(in[0]) < 8) {
    unsigned char sel = static_cast<unsigned char>(in[0]);
    in.remove_prefix(1);
    if (sel & 1) f.agent = "a-1";
    if (sel & 2) f.from = *rein::report::parse_time_bound("00:30");
    if (sel & 4) f.to = *rein::report::parse_time_bound("2030-01-01T00:00:00Z");
  }
  rein::report::EventModel m(f, l);
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    if (line.size() > l.max_line_bytes)
      m.note_oversized();
    else
      m.feed(line);
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  m.finish();
  rein::report::RenderInfo info;
  info.source = "fuzz";
  std::string html = rein::report::render_html(m, info);
  // Fixed page + (rows x columns x capped strings): far below this for any input.
  if (html.size() > (size_t{4} << 20)) std::abort();
  // Our own script is the only one: escaping never lets the stream open another.
  size_t first = html.find("<script");
  if (first == std::string::npos || html.find("<script", first + 1) != std::string::npos)
    std::abort();
  for (std::string_view bad : {"<img", "<iframe", "<link", "<svg", "<a href=\"h"})
    if (html.find(bad) != std::string::npos) std::abort();
  // Bound parsers on their own.
  (void)rein::report::parse_time_bound(
      std::string_view(reinterpret_cast<const char*>(data), size < 64 ? size : 64));
  return 0;
}
