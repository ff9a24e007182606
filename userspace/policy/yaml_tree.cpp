#include "policy/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>
#include <sstream>

namespace rein::policy {

namespace {

// Thrown from the event handler to stop yaml-cpp at the first structural refusal; caught
// in load_yaml_tree, never escapes.
struct Refuse {
  uint32_t line, column;
  std::string reason;
};

uint32_t pos1(int zero_based) { return zero_based < 0 ? 1u : static_cast<uint32_t>(zero_based) + 1u; }

// yaml-cpp ends a quoted scalar at the end of the input when its closing quote is missing
// (the line break becoming a space): a policy cut short would load with a changed value
// ("/etc/shadow " never matches /etc/shadow). Whether the scalar quoted at `pos` closes.
bool quote_closes(std::string_view text, size_t pos) {
  if (pos >= text.size()) return true;
  const char q = text[pos];
  if (q != '"' && q != '\'') return true;  // not where a quoted scalar starts: nothing to say
  for (size_t i = pos + 1; i < text.size(); i++) {
    if (q == '"' && text[i] == '\\') {
      i++;
      continue;
    }
    if (text[i] != q) continue;
    if (q == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {  // '' is a quote inside
      i++;
      continue;
    }
    return true;
  }
  return false;
}

class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const YamlLimits& limits, std::string_view text) : limits_(limits), text_(text) {}

  std::optional<YamlNode> root;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    check_anchor(mark, anchor);
    YamlNode n = leaf(mark);
    n.kind = YamlNode::Kind::kNull;
    // yaml-cpp marks an empty value at the next token, often on a later line; the key
    // is where the user needs to look.
    if (!stack_.empty() && stack_.back().kind == YamlNode::Kind::kMap && stack_.back().items.size() % 2 == 1) {
      n.line = stack_.back().items.back().line;
      n.column = stack_.back().items.back().column;
    }
    attach(std::move(n));
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    throw Refuse{pos1(mark.line), pos1(mark.column),
                 "YAML aliases ('*name') are not supported in policy files; write the value out"};
  }
  void OnAnchor(const YAML::Mark& mark, const std::string&) override { refuse_anchor(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    check_anchor(mark, anchor);
    check_tag(mark, tag);
    if (tag == "!" && mark.pos >= 0 && !quote_closes(text_, size_t(mark.pos)))
      throw Refuse{pos1(mark.line), pos1(mark.column), "quoted string without its closing quote"};
    YamlNode n = leaf(mark);
    n.kind = YamlNode::Kind::kScalar;
    n.quoted = tag == "!";
    n.text = value;
    attach(std::move(n));
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, tag, anchor, YamlNode::Kind::kSeq);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, tag, anchor, YamlNode::Kind::kMap);
  }
  void OnMapEnd() override { close(); }

 private:
  YamlNode leaf(const YAML::Mark& mark) {
    if (++nodes_ > limits_.max_nodes)
      throw Refuse{pos1(mark.line), pos1(mark.column),
                   fmt::format("more than {} YAML nodes", limits_.max_nodes)};
    YamlNode n;
    n.line = pos1(mark.line);
    n.column = pos1(mark.column);
    return n;
  }
  void refuse_anchor(const YAML::Mark& mark) {
    throw Refuse{pos1(mark.line), pos1(mark.column),
                 "YAML anchors ('&name') are not supported in policy files; write the value out"};
  }
  void check_anchor(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) refuse_anchor(mark);
  }
  // "?" = plain, "!" = quoted or a bare '!': the only non-specific tags. Anything else was
  // written explicitly ("!!str", "!custom") and could change what a value means.
  void check_tag(const YAML::Mark& mark, const std::string& tag) {
    if (!tag.empty() && tag != "?" && tag != "!")
      throw Refuse{pos1(mark.line), pos1(mark.column),
                   "explicit YAML tags ('!!type', '!tag') are not supported in policy files"};
  }
  void open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, YamlNode::Kind kind) {
    check_anchor(mark, anchor);
    check_tag(mark, tag);
    if (stack_.size() + 1 > limits_.max_depth)
      throw Refuse{pos1(mark.line), pos1(mark.column),
                   fmt::format("nested deeper than {} levels", limits_.max_depth)};
    YamlNode n = leaf(mark);
    n.kind = kind;
    stack_.push_back(std::move(n));
  }
  void close() {
    if (stack_.empty()) return;
    YamlNode n = std::move(stack_.back());
    stack_.pop_back();
    attach(std::move(n));
  }
  void attach(YamlNode n) {
    if (stack_.empty()) {
      root = std::move(n);
      return;
    }
    stack_.back().items.push_back(std::move(n));
  }

  const YamlLimits& limits_;
  std::string_view text_;
  std::vector<YamlNode> stack_;
  size_t nodes_ = 0;
};

}  // namespace

std::string_view yaml_kind_name(const YamlNode& n) {
  switch (n.kind) {
    case YamlNode::Kind::kNull: return "null";
    case YamlNode::Kind::kScalar: return "a scalar";
    case YamlNode::Kind::kSeq: return "a list";
    case YamlNode::Kind::kMap: return "a mapping";
  }
  return "?";
}

std::optional<YamlNode> load_yaml_tree(std::string_view text, DiagnosticSink& sink, const YamlLimits& limits) {
  if (text.size() > limits.max_bytes) {
    sink.add(1, 1, "file", fmt::format("larger than {} bytes ({} bytes)", limits.max_bytes, text.size()));
    return std::nullopt;
  }
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    uint32_t line = 1, col = 1;
    for (size_t i = 0; i < nul; i++) {
      if (text[i] == '\n') line++, col = 1;
      else col++;
    }
    sink.add(line, col, "file", "contains a NUL byte (not a text file?)");
    return std::nullopt;
  }
  // yaml-cpp reports every problem by throwing; nothing thrown here leaves this function.
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    TreeBuilder builder(limits, text);
    if (!parser.HandleNextDocument(builder) || !builder.root) {
      YamlNode empty;
      return empty;
    }
    YamlNode root = std::move(*builder.root);
    TreeBuilder extra(limits, text);
    if (parser.HandleNextDocument(extra)) {
      uint32_t line = extra.root ? extra.root->line : 1;
      sink.add(line, 1, "yaml", "more than one YAML document ('---'); a policy is one document");
      return std::nullopt;
    }
    return root;
  } catch (const Refuse& r) {
    sink.add(r.line, r.column, "yaml", r.reason);
  } catch (const YAML::Exception& e) {
    sink.add(pos1(e.mark.line), pos1(e.mark.column), "yaml", e.msg.empty() ? "invalid YAML" : e.msg);
  } catch (const std::exception& e) {
    sink.add(1, 1, "yaml", fmt::format("cannot parse: {}", e.what()));
  }
  return std::nullopt;
}

}  // namespace rein::policy
