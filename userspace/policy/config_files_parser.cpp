#include <fmt/format.h>

#include <map>

#include "policy/config_files.h"
#include "policy/policy_parser.h"
#include "policy/yaml_fields.h"
#include "policy/yaml_tree.h"

namespace rein::policy {

namespace {

std::optional<Glob> class_glob(FieldReader& r, const YamlNode& n, const std::string& f) {
  auto s = r.string(n, f, Glob::kMaxPatternBytes);
  if (!s) return std::nullopt;
  if (s->empty() || (s->front() != '/' && s->compare(0, 2, "**") != 0)) {
    r.error(n, f, "config file paths must be absolute or start with '**' (e.g. \"**/CLAUDE.md\")");
    return std::nullopt;
  }
  auto g = Glob::compile(*s, GlobMode::kPath);
  if (!g) {
    r.error(n, f, g.error().message);
    return std::nullopt;
  }
  return std::move(g).value();
}

std::optional<ConfigFileClass> config_class(FieldReader& r, const YamlNode& n, const std::string& f,
                                            std::map<std::string, uint32_t>& names) {
  auto m = r.map(n, f, {"name", "paths", "credential"});
  if (!m.ok()) return std::nullopt;
  ConfigFileClass c;
  c.line = n.line;
  c.column = n.column;
  bool ok = true;
  if (const YamlNode* v = m.require("name")) {
    auto s = r.name(*v, m.field("name"));
    if (!s) {
      ok = false;
    } else if (auto [it, fresh] = names.emplace(*s, v->line); !fresh) {
      r.error(*v, m.field("name"),
              fmt::format("duplicate config class name '{}' (first at line {})", *s, it->second));
      ok = false;
    } else {
      c.name = *s;
    }
  } else {
    ok = false;
  }
  if (const YamlNode* v = m.require("paths")) {
    const std::string pf = m.field("paths");
    if (const auto* items = r.list(*v, pf, kMaxListItems, false)) {
      for (size_t i = 0; i < items->size(); i++) {
        if (auto g = class_glob(r, (*items)[i], field_index(pf, i)))
          c.paths.push_back(std::move(*g));
        else
          ok = false;
      }
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  if (const YamlNode* v = m.get("credential")) {
    if (auto b = r.boolean(*v, m.field("credential")))
      c.credential = *b;
    else
      ok = false;
  }
  if (!ok) return std::nullopt;
  return c;
}

}  // namespace

void parse_config_files(FieldReader& r, const YamlNode& n, const std::string& field,
                        ConfigFilesConfig& out) {
  auto m = r.map(n, field, {"enabled", "defaults", "classes"});
  if (!m.ok()) return;
  if (const YamlNode* v = m.get("enabled"))
    if (auto b = r.boolean(*v, m.field("enabled"))) out.enabled = *b;
  if (const YamlNode* v = m.get("defaults"))
    if (auto b = r.boolean(*v, m.field("defaults"))) out.defaults = *b;
  if (const YamlNode* v = m.get("classes")) {
    std::map<std::string, uint32_t> names;
    const std::string lf = m.field("classes");
    if (const auto* items = r.list(*v, lf, kMaxConfigClasses, true)) {
      for (size_t i = 0; i < items->size(); i++)
        if (auto c = config_class(r, (*items)[i], field_index(lf, i), names))
          out.classes.push_back(std::move(*c));
    }
  }
}

}  // namespace rein::policy
