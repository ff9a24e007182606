#include "llm/json_syntax.h"

#include <simdjson.h>

#include <fmt/format.h>

namespace rein::llm {

namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// Deeper than any document the DOM parser accepts: the walk stops there rather than
// recursing without bound on "[[[[...".
constexpr int kMaxDepth = 1024;

error_code walk(od::value v, int depth);

error_code walk_object(od::object o, int depth) {
  for (auto field : o) {
    if (field.error()) return field.error();
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    od::value fv;
    if (auto e = field.value().get(fv)) return e;
    if (auto e = walk(fv, depth + 1)) return e;
  }
  return simdjson::SUCCESS;
}

error_code walk_array(od::array a, int depth) {
  for (auto item : a) {
    od::value iv;
    if (auto e = item.get(iv)) return e;
    if (auto e = walk(iv, depth + 1)) return e;
  }
  return simdjson::SUCCESS;
}

error_code walk(od::value v, int depth) {
  if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::object: {
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      return walk_object(o, depth);
    }
    case od::json_type::array: {
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      return walk_array(a, depth);
    }
    case od::json_type::number: {
      od::number n;
      return v.get_number().get(n);
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::boolean: {
      bool b = false;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool null = false;
      if (auto e = v.is_null().get(null)) return e;
      return null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

std::string at(std::string_view text, size_t offset, std::string_view what) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); i++) {
    if (text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return fmt::format("line {}, column {}: {}", line, col, what);
}

}  // namespace

std::string json_syntax_error(std::string_view text) {
  simdjson::padded_string padded(text);
  od::parser parser;
  od::document doc;
  if (auto e = parser.iterate(padded).get(doc)) return simdjson::error_message(e);
  od::value root;
  error_code e = doc.get_value().get(root);
  if (!e) e = walk(root, 0);
  const char* loc = nullptr;
  const bool located = !doc.current_location().get(loc) && loc && loc >= padded.data() &&
                       loc <= padded.data() + text.size();
  if (!e) {
    // after a whole value, what is left must be blank (this simdjson does not check)
    if (!located) return "valid JSON";
    size_t off = size_t(loc - padded.data());
    while (off < text.size() && (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' ||
                                 text[off] == '\r'))
      off++;
    if (off == text.size()) return "valid JSON";
    return at(text, off, simdjson::error_message(simdjson::TRAILING_CONTENT));
  }
  if (!located) return simdjson::error_message(e);
  return at(text, size_t(loc - padded.data()), simdjson::error_message(e));
}

}  // namespace rein::llm
