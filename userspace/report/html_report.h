// Renders an EventModel as one self-contained HTML page for `rein report`: inline CSS, no
// external resource of any kind, readable with JavaScript off (sections collapse with
// <details>; a small inline script only adds column sorting). Every string from the event
// stream is HTML-escaped here, and a Content-Security-Policy forbids every fetch and every
// script but our own, so even a rendering bug could not make the page load or run anything.
#pragma once
#include <string>
#include <string_view>

#include "report/event_model.h"

namespace rein::report {

struct RenderInfo {
  std::string source;     // what the report was built from (shown escaped)
  std::string generated;  // RFC 3339 time of rendering; empty: not shown
  std::string version;    // rein version; empty: not shown
};

// Text for an HTML text node or a quoted attribute value: & < > " ' escaped, control
// characters (except tab and newline) and invalid UTF-8 replaced by U+FFFD.
std::string html_escape(std::string_view s);

std::string render_html(const EventModel& model, const RenderInfo& info);

// "2026-11-30 05:43:37.112Z" (UTC, milliseconds).
std::string format_time(int64_t ns);

}  // namespace rein::report
