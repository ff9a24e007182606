#include "llm/price_table.h"

#include "llm/json_syntax.h"

#include <algorithm>
#include <cstring>

#include <cerrno>

#include <sys/stat.h>
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "llm/json_syntax.h"
#include "llm/json_util.h"
#include "policy/policy.h"
#include "llm/text_util.h"

namespace rein::llm {

namespace {

using simdjson::dom::element_type;

constexpr size_t kMaxPriceFileBytes = size_t{16} << 20;

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::vector<std::string_view> split_tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '-' || s[i] == '@') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool is_bedrock_version(std::string_view t) {  // v1, v2:0
  if (t.size() < 2 || t[0] != 'v') return false;
  t.remove_prefix(1);
  size_t colon = t.find(':');
  if (colon == std::string_view::npos) return all_digits(t);
  return all_digits(t.substr(0, colon)) && all_digits(t.substr(colon + 1));
}

// Parse context: builds "file: models[3].input: ..." messages.
class Loader {
 public:
  explicit Loader(std::string_view source) : source_(source) {}

  Error fail(const std::string& where, const std::string& what) const {
    return make_error(std::string(source_) + ": " + where + ": " + what);
  }

  Result<std::optional<double>> price_field(json::Element obj, std::string_view key,
                                            const std::string& where) const {
    auto v = json::field(obj, key);
    if (!v || v->type() == element_type::NULL_VALUE) return std::optional<double>{};
    auto n = json::number(obj, key);
    if (!n || *n < 0) return fail(where + "." + std::string(key), "expected a non-negative number");
    return std::optional<double>{*n};
  }

  Result<TokenPrices> prices(json::Element obj, const std::string& where, bool require_io) const {
    TokenPrices p;
    struct F {
      std::string_view key;
      std::optional<double> TokenPrices::*member;
    };
    static constexpr F kFields[] = {{"input", &TokenPrices::input},
                                    {"output", &TokenPrices::output},
                                    {"cache_read", &TokenPrices::cache_read},
                                    {"cache_write_5m", &TokenPrices::cache_write_5m},
                                    {"cache_write_1h", &TokenPrices::cache_write_1h}};
    for (const auto& f : kFields) {
      auto r = price_field(obj, f.key, where);
      if (!r.ok()) return r.error();
      p.*f.member = r.value();
    }
    if (require_io && !p.input) return fail(where + ".input", "missing (USD per 1M input tokens)");
    if (require_io && !p.output) return fail(where + ".output", "missing (USD per 1M output tokens)");
    return p;
  }

  Result<void> check_keys(json::Element obj, const std::string& where,
                          std::initializer_list<std::string_view> allowed) const {
    simdjson::dom::object o;
    if (obj.get_object().get(o)) return fail(where, "expected an object");
    for (auto kv : o) {
      bool ok = false;
      for (auto a : allowed) ok = ok || kv.key == a;
      if (!ok) return fail(where + "." + std::string(kv.key), "unknown field");
    }
    return {};
  }

 private:
  std::string_view source_;
};

// A provider the sensor never names would price nothing (a typo in an override file).
Result<void> known_provider(std::string_view prov, const std::string& where, const Loader& L) {
  const auto& known = policy::known_llm_providers();
  if (std::find(known.begin(), known.end(), prov) != known.end()) return {};
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + std::string(k);
  return L.fail(where, fmt::format("unknown provider '{}' (known: {})", prov, list));
}

Result<std::string> read_file(const std::string& path) {
  if (path.empty()) return make_error("price table: empty path");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) return make_error(path + ": is a directory");
  if (!S_ISREG(st.st_mode)) return make_error(path + ": is not a regular file (a FIFO, socket or device)");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) return make_error(path + ": cannot read");
  if (static_cast<uint64_t>(size) > kMaxPriceFileBytes) return make_error(path + ": larger than 16 MiB");
  in.seekg(0);
  std::string data(static_cast<size_t>(size), '\0');
  if (!in.read(data.data(), size)) return make_error(path + ": read failed");
  return data;
}

}  // namespace

bool is_version_suffix(std::string_view s) {
  auto toks = split_tokens(s);
  if (toks.empty()) return false;
  for (size_t i = 0; i < toks.size(); ++i) {
    std::string_view t = toks[i];
    if (t == "latest" || is_bedrock_version(t)) continue;
    if (!all_digits(t)) return false;
    if (t.size() == 8 || t.size() == 3) continue;  // YYYYMMDD, Gemini -001
    if (t.size() != 4) return false;
    // YYYY-MM-DD, or a bare MMDD snapshot (gpt-4-0613) that is a plausible date.
    if (i + 2 < toks.size() && toks[i + 1].size() == 2 && all_digits(toks[i + 1]) &&
        toks[i + 2].size() == 2 && all_digits(toks[i + 2])) {
      i += 2;
      continue;
    }
    const int mm = (t[0] - '0') * 10 + (t[1] - '0');
    const int dd = (t[2] - '0') * 10 + (t[3] - '0');
    if (mm < 1 || mm > 12 || dd < 1 || dd > 31) return false;
  }
  return true;
}

Result<PriceTable> PriceTable::parse(std::string_view json_text, std::string_view source_name) {
  PriceTable t;
  auto r = t.merge(json_text, source_name);
  if (!r.ok()) return r.error();
  return t;
}

Result<PriceTable> PriceTable::load_file(const std::string& path) {
  auto data = read_file(path);
  if (!data.ok()) return data.error();
  return parse(data.value(), path);
}

Result<PriceTable> PriceTable::load(const std::string& path, const std::string& override_path) {
  auto t = load_file(path);
  if (!t.ok() || override_path.empty()) return t;
  auto r = t->merge_file(override_path);
  if (!r.ok()) return r.error();
  return t;
}

Result<void> PriceTable::merge_file(const std::string& path) {
  auto data = read_file(path);
  if (!data.ok()) return data.error();
  return merge(data.value(), path);
}

Result<void> PriceTable::merge(std::string_view json_text, std::string_view source_name) {
  Loader L(source_name);
  json::DocParser parser;
  json::Element root;
  switch (parser.parse(json_text, root)) {
    case json::DocParser::Status::kOk: break;
    case json::DocParser::Status::kTooLarge: return L.fail("document", "larger than 16 MiB");
    case json::DocParser::Status::kInvalid:
      return L.fail("document", "not valid JSON: " + json_syntax_error(json_text));
  }
  if (auto r = L.check_keys(root, "top level",
                            {"schema", "unit", "source", "note", "models", "provider_defaults"});
      !r.ok())
    return r;
  if (auto unit = json::field(root, "unit")) {
    if (json::str(root, "unit").value_or("") != "usd_per_1m_tokens")
      return L.fail("unit", "must be \"usd_per_1m_tokens\"");
  }

  // Build into copies so a failing file leaves the table untouched.
  std::vector<ModelPrice> models = models_;
  StringMap<size_t> index = index_;
  StringMap<ModelPrice> defaults = provider_defaults_;

  if (auto list = json::field(root, "models")) {
    simdjson::dom::array arr;
    if (list->get_array().get(arr)) return L.fail("models", "expected an array");
    size_t i = 0;
    for (json::Element row : arr) {
      const std::string where = "models[" + std::to_string(i++) + "]";
      if (auto r = L.check_keys(row, where,
                                {"model", "provider", "aliases", "input", "output", "cache_read",
                                 "cache_write_5m", "cache_write_1h", "long_context", "note"});
          !r.ok())
        return r;
      auto name = json::str(row, "model");
      if (!name || trim(*name).empty()) return L.fail(where + ".model", "missing model name");
      ModelPrice mp;
      mp.model = to_lower(trim(*name));
      if (json::field(row, "provider")) {
        auto prov = json::str(row, "provider");
        if (!prov) return L.fail(where + ".provider", "expected a string");
        if (auto r = known_provider(*prov, where + ".provider", L); !r.ok()) return r;
        mp.provider = std::string(*prov);
      }
      auto base = L.prices(row, where, /*require_io=*/true);
      if (!base.ok()) return base.error();
      mp.base = base.value();
      if (auto lc = json::field(row, "long_context")) {
        const std::string lw = where + ".long_context";
        if (auto r = L.check_keys(*lc, lw,
                                  {"above_input_tokens", "input", "output", "cache_read",
                                   "cache_write_5m", "cache_write_1h"});
            !r.ok())
          return r;
        auto above = json::count(*lc, "above_input_tokens");
        if (!above || *above <= 0) return L.fail(lw + ".above_input_tokens", "expected a positive integer");
        auto lp = L.prices(*lc, lw, /*require_io=*/false);
        if (!lp.ok()) return lp.error();
        mp.long_context_above_input_tokens = above;
        mp.long_context = lp.value();
      }
      std::vector<std::string> aliases;
      if (auto al = json::field(row, "aliases")) {
        simdjson::dom::array aarr;
        if (al->get_array().get(aarr)) return L.fail(where + ".aliases", "expected an array of strings");
        size_t j = 0;
        for (json::Element a : aarr) {
          std::string_view s;
          if (a.get_string().get(s) || trim(s).empty()) {
            return L.fail(where + ".aliases[" + std::to_string(j) + "]", "expected a non-empty string");
          }
          aliases.push_back(to_lower(trim(s)));
          ++j;
        }
      }
      size_t slot;
      if (auto it = index.find(mp.model); it != index.end() && models[it->second].model == mp.model) {
        slot = it->second;  // override replaces the row
        models[slot] = mp;
      } else {
        slot = models.size();
        models.push_back(mp);
      }
      index[mp.model] = slot;
      for (auto& a : aliases) index[a] = slot;
    }
  }

  if (auto list = json::field(root, "provider_defaults")) {
    simdjson::dom::array arr;
    if (list->get_array().get(arr)) return L.fail("provider_defaults", "expected an array");
    size_t i = 0;
    for (json::Element row : arr) {
      const std::string where = "provider_defaults[" + std::to_string(i++) + "]";
      if (auto r = L.check_keys(row, where,
                                {"provider", "input", "output", "cache_read", "cache_write_5m",
                                 "cache_write_1h", "note"});
          !r.ok())
        return r;
      auto prov = json::str(row, "provider");
      if (!prov || prov->empty()) return L.fail(where + ".provider", "missing provider name");
      if (auto r = known_provider(*prov, where + ".provider", L); !r.ok()) return r;
      ModelPrice mp;
      mp.provider = std::string(*prov);
      mp.model = "(" + mp.provider + " default)";
      auto p = L.prices(row, where, /*require_io=*/true);
      if (!p.ok()) return p.error();
      mp.base = p.value();
      defaults[mp.provider] = mp;
    }
  }

  models_ = std::move(models);
  index_ = std::move(index);
  provider_defaults_ = std::move(defaults);
  memo_.clear();
  return {};
}

const ModelPrice* PriceTable::find_exact(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &models_[it->second];
}

const ModelPrice* PriceTable::find_dated(std::string_view name, std::string* matched_as) const {
  if (const ModelPrice* p = find_exact(name)) {
    if (matched_as) *matched_as = std::string(name);
    return p;
  }
  // Longest table key that leaves only a version tag behind.
  for (size_t p = name.size(); p-- > 1;) {
    if (name[p] != '-' && name[p] != '@') continue;
    if (!is_version_suffix(name.substr(p + 1))) continue;
    if (const ModelPrice* mp = find_exact(name.substr(0, p))) {
      if (matched_as) *matched_as = std::string(name.substr(0, p));
      return mp;
    }
  }
  return nullptr;
}

std::optional<PriceTable::FindMemo::Answer> PriceTable::FindMemo::get(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = answers_.find(name);
  if (it == answers_.end()) return std::nullopt;
  return it->second;
}

void PriceTable::FindMemo::put(std::string_view name, Answer a) {
  std::lock_guard lock(mu_);
  if (answers_.size() >= kMaxNames) answers_.clear();  // names from untrusted bodies: bounded
  answers_.insert_or_assign(std::string(name), std::move(a));
}

void PriceTable::FindMemo::clear() {
  std::lock_guard lock(mu_);
  answers_.clear();
}

const ModelPrice* PriceTable::find(std::string_view model, std::string* matched_as) const {
  if (model.size() > 512) return find_uncached(model, matched_as);  // not worth keeping
  if (auto a = memo_.get(model)) {
    if (a->index == FindMemo::kNone) return nullptr;
    if (matched_as) *matched_as = a->matched_as;
    return &models_[a->index];
  }
  FindMemo::Answer a;
  const ModelPrice* p = find_uncached(model, &a.matched_as);
  if (p) a.index = size_t(p - models_.data());
  memo_.put(model, a);
  if (p && matched_as) *matched_as = std::move(a.matched_as);
  return p;
}

// Every answer that is not null names the key it matched in matched_as.
const ModelPrice* PriceTable::find_uncached(std::string_view model_in,
                                            std::string* matched_as) const {
  std::string model = to_lower(trim(model_in));
  if (model.empty() || model.size() > 512) return nullptr;
  std::string_view name = model;
  if (const ModelPrice* p = find_dated(name, matched_as)) return p;

  // Routing wrappers around the vendor's model name.
  if (starts_with(name, "arn:")) name = name.substr(name.rfind('/') + 1);  // Bedrock ARN
  if (starts_with(name, "models/")) name.remove_prefix(7);                 // Gemini
  for (std::string_view region : {"us.", "eu.", "apac.", "global.", "jp.", "au.", "ca.", "us-gov."}) {
    if (starts_with(name, region)) {  // Bedrock cross-region inference profile
      name.remove_prefix(region.size());
      break;
    }
  }
  if (const ModelPrice* p = find_dated(name, matched_as)) return p;
  if (size_t slash = name.rfind('/'); slash != std::string_view::npos) {  // "openai/gpt-4o"
    name = name.substr(slash + 1);
    if (const ModelPrice* p = find_dated(name, matched_as)) return p;
  }
  for (std::string_view vendor : {"anthropic.", "meta.", "amazon.", "mistral.", "cohere.", "ai21.",
                                  "deepseek.", "openai.", "qwen.", "writer."}) {
    if (starts_with(name, vendor)) {  // Bedrock model id
      name.remove_prefix(vendor.size());
      if (const ModelPrice* p = find_dated(name, matched_as)) return p;
      break;
    }
  }
  // OpenRouter spells Claude versions with dots ("claude-sonnet-4.5").
  if (starts_with(name, "claude") && name.find('.') != std::string_view::npos) {
    std::string dashed(name);
    for (char& c : dashed) {
      if (c == '.') c = '-';
    }
    if (const ModelPrice* p = find_dated(dashed, matched_as)) return p;
  }
  return nullptr;
}

const ModelPrice* PriceTable::provider_default(std::string_view provider) const {
  auto it = provider_defaults_.find(provider);
  return it == provider_defaults_.end() ? nullptr : &it->second;
}

}  // namespace rein::llm
