#include "detect/prompt_baseline.h"

#include <fmt/format.h>

#include <algorithm>

#include "detect/baseline_file.h"
#include "detect/state_bytes.h"
#include "llm/json_util.h"
#include "sinks/json_writer.h"

namespace rein::detect {

namespace {
constexpr size_t kMaxFileBytes = 16 << 20;
constexpr size_t kMaxKeyBytes = 1024;
constexpr size_t kMaxHashBytes = 64;
constexpr size_t kMaxJudged = 16384;

using llm::json::arr_of;
using llm::json::obj_of;

size_t common(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  size_t n = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      i++;
    } else if (b[j] < a[i]) {
      j++;
    } else {
      n++, i++, j++;
    }
  }
  return n;
}
}  // namespace

std::string stable_line(std::string_view line) {
  std::string out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    size_t end = i;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != '\r') end++;
    if (end == i) break;
    std::string_view word = line.substr(i, end - i);
    if (!out.empty()) out += ' ';
    const bool hex_id =
        word.size() >= 7 &&
        word.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos &&
        word.find_first_of("0123456789") != std::string_view::npos;
    if (word.find('/') != std::string_view::npos) {
      out += '/';
    } else if (hex_id) {  // commit and object ids
      out += '#';
    } else {
      for (size_t k = 0; k < word.size(); k++) {
        const bool digit = word[k] >= '0' && word[k] <= '9';
        if (!digit) {
          out += word[k];
        } else if (k == 0 || !(word[k - 1] >= '0' && word[k - 1] <= '9')) {
          out += '0';
        }
      }
    }
    i = end;
  }
  return out;
}

size_t PromptBaselines::state_bytes() const {
  size_t n =
      mem::nodes(entries_) + mem::nodes(judged_);  // not path_: replay keeps its files elsewhere
  for (const auto& j : judged_) n += mem::str(j);
  for (const auto& [k, e] : entries_) {
    n += mem::str(k) + mem::vec(e.variants);
    for (const auto& v : e.variants) n += mem::str(v.hash) + mem::vec(v.lines);
  }
  return n;
}

size_t PromptBaselines::tracked() const {
  size_t n = judged_.size();
  for (const auto& [k, e] : entries_) {
    n += 1;
    for (const auto& v : e.variants) n += v.lines.size();
  }
  return n;
}

void PromptBaselines::on_session_end(std::string_view session) {
  const std::string prefix = std::string(session) + "\x1f";
  for (auto it = judged_.lower_bound(prefix);
       it != judged_.end() && it->compare(0, prefix.size(), prefix) == 0;)
    it = judged_.erase(it);
}

std::optional<PromptBaselines::Drift> PromptBaselines::check(
    std::string_view name, std::string_view model, std::string_view what, std::string_view session,
    const std::string& hash, const std::vector<uint64_t>& stable, int64_t now) {
  if (name.empty() || session.empty() || stable.empty()) return std::nullopt;
  const std::string key = fmt::format("{}\x1f{}\x1f{}", name, model, what);
  if (key.size() > kMaxKeyBytes) return std::nullopt;
  if (!judged_.insert(fmt::format("{}\x1f{}", session, key)).second) return std::nullopt;
  if (judged_.size() > kMaxJudged) judged_.erase(judged_.begin());
  std::vector<uint64_t> lines(stable);
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  if (lines.size() > kMaxLines) lines.resize(kMaxLines);

  auto [it, fresh] = entries_.try_emplace(key);
  if (fresh && entries_.size() > kMaxKeys) {  // the least recently used key makes room
    auto oldest = entries_.end();
    for (auto i = entries_.begin(); i != entries_.end(); ++i)
      if (i != it && (oldest == entries_.end() || i->second.last_seen < oldest->second.last_seen))
        oldest = i;
    if (oldest != entries_.end()) entries_.erase(oldest);
  }
  Entry& e = it->second;
  const uint32_t earlier = e.sessions;
  e.sessions++;
  e.last_seen = now;
  dirty_ = true;

  int best = -1;
  size_t best_kept = 0;
  for (size_t i = 0; i < e.variants.size(); i++) {
    auto& v = e.variants[i];
    const size_t kept = common(v.lines, lines);
    if (kept == lines.size()) {  // no line the variant lacks: inside
      v.last_seen = now;
      return std::nullopt;
    }
    // Less than half of a variant kept: another role or mode, not an edit of it.
    if (kept * 2 >= v.lines.size() && (best < 0 || kept > best_kept)) {
      best = int(i);
      best_kept = kept;
    }
  }
  if (best < 0) {
    Variant v{hash.substr(0, kMaxHashBytes), std::move(lines), now};
    if (e.variants.size() < kMaxVariants) {
      e.variants.push_back(std::move(v));
    } else {
      *std::min_element(e.variants.begin(), e.variants.end(),
                        [](const Variant& a, const Variant& b) {
                          return a.last_seen < b.last_seen;
                        }) = std::move(v);
    }
    return std::nullopt;
  }
  Variant& v = e.variants[size_t(best)];
  Drift d;
  d.baseline_hash = v.hash;
  d.baseline_sessions = earlier;
  d.baseline_lines = v.lines.size();
  d.removed = v.lines.size() - best_kept;
  std::set_difference(lines.begin(), lines.end(), v.lines.begin(), v.lines.end(),
                      std::back_inserter(d.added));
  // Reported once: the change joins the baseline.
  std::vector<uint64_t> merged;
  std::set_union(v.lines.begin(), v.lines.end(), lines.begin(), lines.end(),
                 std::back_inserter(merged));
  if (merged.size() > kMaxLines) merged.resize(kMaxLines);
  v.lines = std::move(merged);
  v.last_seen = now;
  if (earlier < kMinSessions) return std::nullopt;
  return d;
}

Result<std::map<std::string, PromptBaselines::Entry>> PromptBaselines::parse(
    std::string_view text) {
  llm::json::DocParser parser;
  llm::json::Element root;
  if (text.size() > kMaxFileBytes || parser.parse(text, root) != llm::json::DocParser::Status::kOk)
    return make_error("not a JSON document");
  auto keys = llm::json::field(root, "keys");
  if (!keys || !llm::json::is_object(*keys)) return make_error("no 'keys' object");
  std::map<std::string, Entry> out;
  for (auto [k, v] : obj_of(*keys)) {
    if (out.size() >= kMaxKeys) break;
    if (k.size() > kMaxKeyBytes || !llm::json::is_object(v)) continue;
    Entry e;
    auto sessions = llm::json::count(v, "sessions");
    auto seen = llm::json::count(v, "last_seen");
    if (!sessions || !seen || *sessions > UINT32_MAX) continue;
    e.sessions = uint32_t(*sessions);
    e.last_seen = *seen;
    if (auto vs = llm::json::field(v, "variants"); vs && llm::json::is_array(*vs)) {
      for (auto x : arr_of(*vs)) {
        if (e.variants.size() >= kMaxVariants) break;
        Variant var;
        auto h = llm::json::str(x, "hash");
        auto t = llm::json::count(x, "last_seen");
        auto ls = llm::json::field(x, "lines");
        if (!h || h->size() > kMaxHashBytes || !t || !ls || !llm::json::is_array(*ls)) continue;
        var.hash = std::string(*h);
        var.last_seen = *t;
        for (auto l : arr_of(*ls)) {
          if (var.lines.size() >= kMaxLines) break;
          std::string_view hex;
          if (l.get_string().get(hex) != simdjson::SUCCESS || hex.empty() || hex.size() > 16)
            continue;
          uint64_t n = 0;
          bool ok = true;
          for (char c : hex) {
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) {
              ok = false;
              break;
            }
            n = n << 4 | uint64_t(d);
          }
          if (ok) var.lines.push_back(n);
        }
        std::sort(var.lines.begin(), var.lines.end());
        var.lines.erase(std::unique(var.lines.begin(), var.lines.end()), var.lines.end());
        e.variants.push_back(std::move(var));
      }
    }
    out[std::string(k)] = std::move(e);
  }
  return out;
}

Result<void> PromptBaselines::load(const std::string& path) {
  path_ = path;
  return load_baseline_file(path, kMaxFileBytes, &parse, "prompt baselines", entries_);
}

Result<void> PromptBaselines::save() {
  dirty_ = false;
  if (path_.empty()) return {};
  return save_baseline_file(path_, "keys", entries_, [](sinks::JsonWriter& w, const Entry& e) {
    w.key("sessions");
    w.number(uint64_t(e.sessions));
    w.key("last_seen");
    w.number(e.last_seen);
    w.key("variants");
    w.begin_array();
    for (const auto& v : e.variants) {
      w.begin_object();
      w.key("hash");
      w.string(v.hash);
      w.key("last_seen");
      w.number(v.last_seen);
      w.key("lines");
      w.begin_array();
      for (uint64_t l : v.lines) w.string(fmt::format("{:016x}", l));
      w.end_array();
      w.end_object();
    }
    w.end_array();
  });
}

}  // namespace rein::detect
