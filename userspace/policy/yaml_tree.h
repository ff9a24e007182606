// A small, bounded YAML document tree built from yaml-cpp's event stream. Building it
// ourselves (rather than YAML::Load) lets us refuse anchors/aliases, explicit tags, extra
// documents and deep or huge documents before they cost anything, keep 1-based positions
// on every node, and keep yaml-cpp's exceptions inside this file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/diagnostic.h"

namespace rein::policy {

struct YamlNode {
  enum class Kind : uint8_t { kNull, kScalar, kSeq, kMap };
  Kind kind = Kind::kNull;
  bool quoted = false;  // scalar written in quotes (never a number, bool or null)
  uint32_t line = 1;    // 1-based
  uint32_t column = 1;
  std::string text;              // scalars
  std::vector<YamlNode> items;   // seq: elements; map: key, value, key, value, ...
};

std::string_view yaml_kind_name(const YamlNode& n);

struct YamlLimits {
  size_t max_bytes = 1 << 20;
  size_t max_depth = 16;       // the policy schema needs 6
  size_t max_nodes = 250000;   // ~10,000 rules of typical size
};

// nullopt when the text is not a single acceptable YAML document; the reasons are in sink.
// An empty document yields a kNull root.
std::optional<YamlNode> load_yaml_tree(std::string_view text, DiagnosticSink& sink,
                                       const YamlLimits& limits = {});

}  // namespace rein::policy
