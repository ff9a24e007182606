// The file side of the baselines detectors keep in --state-dir: a bounded read (an
// oversized file is cut so it fails to parse instead of being read whole) and a write that
// replaces the file atomically, so a crash mid-save leaves the previous baseline.
#pragma once
#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sinks/json_writer.h"

namespace rein::detect {

// The file's text, at most a little over `max_bytes`; nullopt when it does not exist yet.
Result<std::optional<std::string>> read_baseline_file(const std::string& path, size_t max_bytes);

// Writes `text` to path + ".tmp", then renames it over `path`.
Result<void> write_baseline_file(const std::string& path, std::string_view text);

// Saves `baselines` (a map by name) as {"version":1,"<top>":{"<name>":{...},...}}, `members`
// writing the members of one name's object.
template <typename Map, typename Members>
Result<void> save_baseline_file(const std::string& path, std::string_view top, const Map& baselines,
                                Members&& members) {
  sinks::JsonWriter w;
  w.begin_object();
  w.key("version");
  w.number(int64_t(1));
  w.key(top);
  w.begin_object();
  for (const auto& [name, b] : baselines) {
    w.key(name);
    w.begin_object();
    members(w, b);
    w.end_object();
  }
  w.end_object();
  w.end_object();
  return write_baseline_file(path, w.str());
}

// Loads `into` with parse(text of path): a missing file leaves it as it is; a file that does
// not parse too, and the error says the detector starts with empty `what`.
template <typename T, typename Parse>
Result<void> load_baseline_file(const std::string& path, size_t max_bytes, Parse&& parse,
                                std::string_view what, T& into) {
  auto text = read_baseline_file(path, max_bytes);
  if (!text) return text.error();
  if (!*text) return {};
  auto parsed = parse(**text);
  if (!parsed)
    return make_error(
        fmt::format("{}: {} (starting with empty {})", path, parsed.error().message, what));
  into = std::move(*parsed);
  return {};
}

}  // namespace rein::detect
