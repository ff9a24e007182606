#include "policy/yaml_fields.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace rein::policy {

namespace {

// Edit distance for "did you mean" hints; inputs are short schema keys.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string join(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

// Shown back to the user inside quotes: bounded and printable.
std::string quote_text(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

std::string field_index(std::string_view list_field, size_t i) { return fmt::format("{}[{}]", list_field, i); }

std::string field_key(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

FieldReader::Map FieldReader::map(const YamlNode& n, const std::string& field,
                                  std::initializer_list<std::string_view> keys) {
  Map m;
  m.reader_ = this;
  m.path_ = field;
  if (n.kind != YamlNode::Kind::kMap) {
    error(n, field.empty() ? "policy" : field, fmt::format("expected a mapping, got {}", yaml_kind_name(n)));
    return m;
  }
  m.node_ = &n;
  for (size_t i = 0; i + 1 < n.items.size(); i += 2) {
    const YamlNode& k = n.items[i];
    const YamlNode& v = n.items[i + 1];
    if (k.kind != YamlNode::Kind::kScalar || k.text.empty()) {
      error(k, field.empty() ? "policy" : field, "mapping keys must be plain names");
      continue;
    }
    std::string_view key = k.text;
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::string hint;
      if (key.size() <= 64) {
        for (auto cand : keys)
          if (edit_distance(key, cand) <= 2) {
            hint = fmt::format("; did you mean '{}'?", cand);
            break;
          }
      }
      error(k, field_key(field, quote_text(key)),
            fmt::format("unknown key{} (allowed here: {})", hint, join(keys)));
      continue;
    }
    auto dup = std::find_if(m.entries_.begin(), m.entries_.end(),
                            [&](const auto& e) { return e.first->text == key; });
    if (dup != m.entries_.end()) {
      error(k, field_key(field, key), fmt::format("duplicate key (first at line {})", dup->first->line));
      continue;
    }
    m.entries_.emplace_back(&k, &v);
  }
  return m;
}

const YamlNode* FieldReader::Map::get(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k->text == key) return v;
  return nullptr;
}

const YamlNode* FieldReader::Map::key_node(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k->text == key) return k;
  return nullptr;
}

const YamlNode* FieldReader::Map::require(std::string_view key) const {
  if (!node_) return nullptr;
  const YamlNode* v = get(key);
  if (!v) reader_->error(*node_, field(key), "required key missing");
  return v;
}

const std::vector<YamlNode>* FieldReader::list(const YamlNode& n, const std::string& field, size_t max_items,
                                               bool allow_empty) {
  static const std::vector<YamlNode> kEmpty;
  if (n.kind == YamlNode::Kind::kNull && allow_empty) return &kEmpty;
  if (n.kind != YamlNode::Kind::kSeq) {
    error(n, field, fmt::format("expected a list, got {}", yaml_kind_name(n)));
    return nullptr;
  }
  if (n.items.empty() && !allow_empty) {
    error(n, field, "empty list (leave the key out instead)");
    return nullptr;
  }
  if (n.items.size() > max_items) {
    error(n, field, fmt::format("{} items, more than the limit of {}", n.items.size(), max_items));
    return nullptr;
  }
  return &n.items;
}

std::optional<std::string> FieldReader::string(const YamlNode& n, const std::string& field, size_t max_bytes) {
  if (n.kind != YamlNode::Kind::kScalar) {
    error(n, field, fmt::format("expected a string, got {}", yaml_kind_name(n)));
    return std::nullopt;
  }
  if (n.text.empty()) {
    error(n, field, "empty string");
    return std::nullopt;
  }
  if (n.text.size() > max_bytes) {
    error(n, field, fmt::format("longer than {} bytes", max_bytes));
    return std::nullopt;
  }
  for (char c : n.text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      error(n, field, "contains a control character");
      return std::nullopt;
    }
  }
  return n.text;
}

std::optional<std::string> FieldReader::choice(const YamlNode& n, const std::string& field,
                                               std::initializer_list<std::string_view> choices) {
  auto s = string(n, field, 64);
  if (!s) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
    error(n, field, fmt::format("'{}' is not one of: {}", quote_text(*s), join(choices)));
    return std::nullopt;
  }
  return s;
}

std::optional<bool> FieldReader::boolean(const YamlNode& n, const std::string& field) {
  if (n.kind == YamlNode::Kind::kScalar && !n.quoted) {
    const std::string& t = n.text;
    if (t == "true" || t == "True" || t == "TRUE") return true;
    if (t == "false" || t == "False" || t == "FALSE") return false;
  }
  error(n, field, "expected true or false");
  return std::nullopt;
}

std::optional<uint64_t> FieldReader::integer(const YamlNode& n, const std::string& field, uint64_t min,
                                             uint64_t max) {
  const std::string& t = n.text;
  bool digits = n.kind == YamlNode::Kind::kScalar && !t.empty() && t.size() <= 20 &&
                std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                (t.size() == 1 || t[0] != '0');
  uint64_t v = 0;
  if (digits) {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    digits = ec == std::errc() && p == t.data() + t.size();
  }
  if (!digits) {
    error(n, field, n.kind == YamlNode::Kind::kScalar
                        ? fmt::format("'{}' is not a whole number", quote_text(t))
                        : fmt::format("expected a whole number, got {}", yaml_kind_name(n)));
    return std::nullopt;
  }
  if (v < min || v > max) {
    error(n, field, fmt::format("{} is out of range {}..{}", v, min, max));
    return std::nullopt;
  }
  return v;
}

std::optional<double> FieldReader::number(const YamlNode& n, const std::string& field) {
  if (n.kind != YamlNode::Kind::kScalar) {
    error(n, field, fmt::format("expected a number, got {}", yaml_kind_name(n)));
    return std::nullopt;
  }
  const std::string& t = n.text;
  double v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v, std::chars_format::general);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size() || !std::isfinite(v)) {
    error(n, field, fmt::format("'{}' is not a number", quote_text(t)));
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> FieldReader::name(const YamlNode& n, const std::string& field) {
  auto s = string(n, field, 4096);
  if (!s) return std::nullopt;
  bool ok = s->size() <= 64 && std::all_of(s->begin(), s->end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                     c == '_' || c == '-';
            });
  if (!ok) {
    error(n, field, fmt::format("'{}' is not a valid name: 1-64 of A-Z a-z 0-9 . _ -", quote_text(*s)));
    return std::nullopt;
  }
  return s;
}

}  // namespace rein::policy
