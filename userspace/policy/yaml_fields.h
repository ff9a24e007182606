// Typed, strict reads of YamlNode values for the policy schema. Each reader reports a
// diagnostic naming the field and returns nullopt/nullptr on a problem, so the schema code
// can keep going and collect every error in one pass.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/diagnostic.h"
#include "policy/yaml_tree.h"

namespace rein::policy {

std::string field_index(std::string_view list_field, size_t i);  // "rules[2]"
std::string field_key(std::string_view parent, std::string_view key);  // "rules[2].name"

class FieldReader {
 public:
  explicit FieldReader(DiagnosticSink& sink) : sink_(sink) {}

  void error(const YamlNode& at, const std::string& field, std::string reason) {
    sink_.add(at.line, at.column, field, std::move(reason));
  }

  // A mapping whose keys must come from `keys`. Unknown, duplicate and non-string keys are
  // reported (with a "did you mean" for near misses); get() then sees only valid keys.
  class Map {
   public:
    bool ok() const { return node_ != nullptr; }
    const YamlNode* get(std::string_view key) const;
    const YamlNode* require(std::string_view key) const;  // reports a missing key
    bool has(std::string_view key) const { return get(key) != nullptr; }
    const YamlNode* key_node(std::string_view key) const;
    std::string field(std::string_view key) const { return field_key(path_, key); }
    const YamlNode& node() const { return *node_; }

   private:
    friend class FieldReader;
    FieldReader* reader_ = nullptr;
    const YamlNode* node_ = nullptr;
    std::string path_;
    std::vector<std::pair<const YamlNode*, const YamlNode*>> entries_;  // key, value
  };

  Map map(const YamlNode& n, const std::string& field, std::initializer_list<std::string_view> keys);

  // A list of at most max_items. allow_null: an empty value means an empty list
  // (top-level sections); otherwise an empty list is an error.
  const std::vector<YamlNode>* list(const YamlNode& n, const std::string& field, size_t max_items,
                                    bool allow_empty = false);

  // A non-null scalar, at most max_bytes, no control characters.
  std::optional<std::string> string(const YamlNode& n, const std::string& field, size_t max_bytes = 4096);
  // One of `choices`; the error lists them.
  std::optional<std::string> choice(const YamlNode& n, const std::string& field,
                                    std::initializer_list<std::string_view> choices);
  std::optional<bool> boolean(const YamlNode& n, const std::string& field);
  // Plain decimal digits (no sign, no leading zeros, no '_', no 0x) within [min, max].
  std::optional<uint64_t> integer(const YamlNode& n, const std::string& field, uint64_t min, uint64_t max);
  // Finite decimal number; the range check is the caller's.
  std::optional<double> number(const YamlNode& n, const std::string& field);
  // [A-Za-z0-9._-]{1,64}
  std::optional<std::string> name(const YamlNode& n, const std::string& field);

 private:
  DiagnosticSink& sink_;
};

}  // namespace rein::policy
