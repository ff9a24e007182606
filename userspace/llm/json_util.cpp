#include "llm/json_util.h"

#include <algorithm>
#include <cmath>

namespace rein::llm::json {

using simdjson::dom::element_type;

namespace {
// A DocParser that outlives its thread's pool (one held by a static object, destroyed after
// the thread-locals at exit) frees its buffers: the flag is trivially destructible, so it can
// still be read then.
thread_local bool pool_gone = false;
struct Pool {
  std::vector<std::unique_ptr<DocParser::Buffers>> free;
  ~Pool() { pool_gone = true; }
};
thread_local Pool pool;
}  // namespace

DocParser::DocParser() {
  if (pool_gone || pool.free.empty()) {
    b_ = std::make_unique<Buffers>();
  } else {
    b_ = std::move(pool.free.back());
    pool.free.pop_back();
  }
}

DocParser::~DocParser() {
  if (pool_gone || pool.free.size() >= kMaxPooled) return;
  if (b_->parser.capacity() <= kMaxPooledBytes && b_->padded.size() <= kMaxPooledBytes)
    pool.free.push_back(std::move(b_));
}

size_t DocParser::capacity() const {
  return std::max(b_->parser.capacity(), b_->padded.size());
}

void DocParser::release_large() {
  if (b_->parser.capacity() > kMaxPooledBytes || b_->padded.size() > kMaxPooledBytes)
    b_ = std::make_unique<Buffers>();
}

DocParser::Status DocParser::parse(std::string_view text, Element& out) {
  if (text.size() > kMaxDocBytes) return Status::kTooLarge;
  if (text.size() <= kMaxPooledBytes) release_large();  // a large one before: not kept
  const size_t need = text.size() + simdjson::SIMDJSON_PADDING;
  auto& padded = b_->padded;
  if (padded.size() < need) padded.resize(need);
  std::copy(text.begin(), text.end(), padded.begin());
  auto err = b_->parser.parse(padded.data(), text.size(), /*realloc_if_needed=*/false).get(out);
  if (err == simdjson::CAPACITY) return Status::kTooLarge;
  return err ? Status::kInvalid : Status::kOk;
}

bool is_object(Element e) { return e.type() == element_type::OBJECT; }
bool is_array(Element e) { return e.type() == element_type::ARRAY; }

std::optional<Element> field(Element e, std::string_view key) {
  if (!is_object(e)) return std::nullopt;
  Element v;
  if (e.at_key(key).get(v)) return std::nullopt;
  return v;
}

std::optional<Element> path(Element e, std::initializer_list<std::string_view> keys) {
  std::optional<Element> cur = e;
  for (std::string_view k : keys) {
    cur = field(*cur, k);
    if (!cur) return std::nullopt;
  }
  return cur;
}

std::optional<int64_t> as_count(Element e) {
  switch (e.type()) {
    case element_type::INT64: {
      int64_t v = 0;
      if (e.get_int64().get(v) || v < 0) return std::nullopt;
      return v;
    }
    case element_type::UINT64:
      return std::nullopt;  // above INT64_MAX: not a real token count
    case element_type::DOUBLE: {
      double d = 0;
      if (e.get_double().get(d)) return std::nullopt;
      if (!std::isfinite(d) || d < 0 || d > 9.0e15 || std::floor(d) != d) return std::nullopt;
      return static_cast<int64_t>(d);
    }
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> count(Element e, std::string_view key) {
  auto v = field(e, key);
  return v ? as_count(*v) : std::nullopt;
}

std::optional<int64_t> count_at(Element e, std::initializer_list<std::string_view> keys) {
  auto v = path(e, keys);
  return v ? as_count(*v) : std::nullopt;
}

std::optional<std::string_view> str(Element e, std::string_view key) {
  auto v = field(e, key);
  if (!v || v->type() != element_type::STRING) return std::nullopt;
  std::string_view s;
  if (v->get_string().get(s)) return std::nullopt;
  return s;
}

std::optional<bool> boolean(Element e, std::string_view key) {
  auto v = field(e, key);
  if (!v || v->type() != element_type::BOOL) return std::nullopt;
  bool b = false;
  if (v->get_bool().get(b)) return std::nullopt;
  return b;
}

std::optional<double> number(Element e, std::string_view key) {
  auto v = field(e, key);
  if (!v) return std::nullopt;
  double d = 0;
  switch (v->type()) {
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      if (v->get_double().get(d) || !std::isfinite(d)) return std::nullopt;
      return d;
    default:
      return std::nullopt;
  }
}

}  // namespace rein::llm::json
