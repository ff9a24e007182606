#include "pipeline/event_observer.h"

namespace rein::pipeline {

std::string_view event_type_of(std::string_view line) {
  constexpr std::string_view kPrefix = R"({"type":")";
  if (line.substr(0, kPrefix.size()) != kPrefix) return {};
  auto end = line.find('"', kPrefix.size());
  if (end == std::string_view::npos) return {};
  return line.substr(kPrefix.size(), end - kPrefix.size());
}

}  // namespace rein::pipeline
