#include "detect/scope_drift.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "detect/baseline_file.h"
#include "detect/state_bytes.h"
#include "llm/json_util.h"
#include "llm/text_util.h"

namespace rein::detect {

namespace {
using llm::json::obj_of;

constexpr size_t kMaxNames = 1024;
constexpr size_t kMaxItemsPerName = 4096;
constexpr size_t kMaxFileBytes = 16 << 20;
constexpr size_t kMaxValueBytes = 512;
constexpr size_t kSampleShown = 8;

std::string_view basename_of(std::string_view p) {
  size_t s = p.rfind('/');
  return s == std::string_view::npos ? p : p.substr(s + 1);
}

bool under(std::string_view path, std::string_view dir) {
  if (dir.empty()) return false;
  if (dir == "/") return path == "/";
  return path == dir ||
         (path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/');
}

const policy::DeclaredBaseline* declared_for(const policy::ScopeDriftConfig& c,
                                             std::string_view name) {
  for (const auto& b : c.baselines)
    if (b.agent == name) return &b;
  return nullptr;
}

bool declared_covers(const policy::DeclaredBaseline& b, std::string_view dim,
                     const std::string& v) {
  if (dim == "executable") {
    for (const auto& e : b.executables)
      if (e == v || (e.find('/') == std::string::npos && e == basename_of(v))) return true;
    return false;
  }
  if (dim == "directory") {
    for (const auto& d : b.directories)
      if (under(v, d)) return true;
    return false;
  }
  if (dim == "host") {
    size_t colon = v.rfind(':');
    std::string_view host = std::string_view(v).substr(0, colon);
    for (const auto& h : b.hosts)
      if (h == v || h == host) return true;
    return false;
  }
  if (dim == "llm") {
    size_t slash = v.find('/');
    std::string_view provider = std::string_view(v).substr(0, slash);
    std::string_view model =
        slash == std::string::npos ? "" : std::string_view(v).substr(slash + 1);
    bool p = b.providers.empty() ||
             std::find(b.providers.begin(), b.providers.end(), provider) != b.providers.end();
    bool m =
        b.models.empty() || std::find(b.models.begin(), b.models.end(), model) != b.models.end();
    return p && m;
  }
  return true;
}
}  // namespace

std::string written_directory(std::string_view path) {
  if (path.empty() || path[0] != '/') return {};
  for (std::string_view skip : {"/proc", "/dev", "/sys"})
    if (under(path, skip)) return {};
  for (std::string_view scratch : {"/tmp", "/var/tmp", "/dev/shm"})
    if (under(path, scratch)) return std::string(scratch);
  size_t slash = path.rfind('/');
  return slash == 0 ? std::string("/") : std::string(path.substr(0, slash));
}

void ScopeDriftDetector::configure(const policy::ScopeDriftConfig& c) {
  cfg_ = c;
  forget_fresh();
}

int64_t ScopeDriftDetector::now(uint64_t ts_ns) {
  if (wall_read_ && ts_ns >= wall_at_ns_ && ts_ns - wall_at_ns_ < 1'000'000'000ULL) return wall_s_;
  wall_s_ = wall_ ? wall_() : int64_t(::time(nullptr));
  wall_at_ns_ = ts_ns;
  wall_read_ = true;
  return wall_s_;
}

size_t ScopeDriftDetector::tracked() const {
  size_t n = 0;
  for (const auto& [k, b] : learned_) n += 1 + b.items.size();
  return n;
}

size_t ScopeDriftDetector::state_bytes() const {
  size_t n = mem::nodes(learned_);  // not path_: replay keeps its files elsewhere
  for (const auto& [k, b] : learned_) {
    n += mem::str(k) + mem::nodes(b.items);
    for (const auto& [item, seen] : b.items) n += mem::str(item);
  }
  return n;
}

Result<std::map<std::string, ScopeDriftDetector::Baseline>> ScopeDriftDetector::parse(
    std::string_view text) {
  llm::json::DocParser parser;
  llm::json::Element root;
  if (text.size() > kMaxFileBytes || parser.parse(text, root) != llm::json::DocParser::Status::kOk)
    return make_error("not a JSON document");
  auto names = llm::json::field(root, "names");
  if (!names || !llm::json::is_object(*names)) return make_error("no 'names' object");
  std::map<std::string, Baseline> out;
  for (auto [name, v] : obj_of(*names)) {
    if (out.size() >= kMaxNames || name.size() > kMaxValueBytes) break;
    Baseline b;
    auto since = llm::json::number(v, "since");
    if (!since || *since < 0 || *since > 1e12) continue;
    b.since = int64_t(*since);
    if (auto items = llm::json::field(v, "items"); items && llm::json::is_object(*items)) {
      for (auto [k, t] : obj_of(*items)) {
        if (b.items.size() >= kMaxItemsPerName) break;
        if (k.size() > kMaxValueBytes + 16 || k.find('\x1f') == std::string_view::npos) continue;
        auto seen = llm::json::as_count(t);
        if (seen) b.items[std::string(k)] = *seen;
      }
    }
    out[std::string(name)] = std::move(b);
  }
  return out;
}

Result<void> ScopeDriftDetector::load(const std::string& path) {
  path_ = path;
  forget_fresh();
  return load_baseline_file(path, kMaxFileBytes, &parse, "baselines", learned_);
}

Result<void> ScopeDriftDetector::save() {
  dirty_ = false;
  if (path_.empty()) return {};
  return save_baseline_file(path_, "names", learned_, [](sinks::JsonWriter& w, const Baseline& b) {
    w.key("since");
    w.number(b.since);
    w.key("items");
    w.begin_object();
    for (const auto& [k, t] : b.items) {
      w.key(k);
      w.number(t);
    }
    w.end_object();
  });
}

void ScopeDriftDetector::observe(const Who& who, uint64_t ts, std::string_view dimension,
                                 const std::string& value, std::vector<Detection>& out) {
  if (!cfg_.enabled || who.name.empty() || value.empty() || value.size() > kMaxValueBytes) return;
  const int64_t t = now(ts);
  const int64_t max_age = cfg_.max_age.count();
  Fresh& memo = fresh_[dimension == "llm"         ? 0
                       : dimension == "host"      ? 1
                       : dimension == "directory" ? 2
                                                  : 3];
  // The same answer as the walk below: the item is in the baseline, not aged out, and needs
  // no last-seen refresh yet.
  if (memo.valid && t - memo.seen <= max_age && t - memo.seen < 3600 && memo.value == value &&
      memo.name == who.name)
    return;
  const std::string name(who.name);
  if (const auto* decl = declared_for(cfg_, name)) {
    if (declared_covers(*decl, dimension, value)) return;
  }
  auto [it, fresh] = learned_.try_emplace(name);
  Baseline& b = it->second;
  if (fresh) {
    if (learned_.size() > kMaxNames) {  // the least recently started name makes room
      auto oldest = learned_.begin();
      for (auto i = learned_.begin(); i != learned_.end(); ++i)
        if (i->first != name && i->second.since < oldest->second.since) oldest = i;
      if (oldest->first != name) learned_.erase(oldest);
      forget_fresh();
    }
    b.since = t;
    dirty_ = true;
  }
  const std::string key = fmt::format("{}\x1f{}", dimension, value);
  auto item = b.items.find(key);
  if (item != b.items.end() && t - item->second <= max_age) {
    if (t - item->second >= 3600) {  // last-seen needs only hour precision: fewer saves
      item->second = t;
      dirty_ = true;
    }
    memo.name = name;
    memo.value = value;
    memo.seen = item->second;
    memo.valid = true;
    return;
  }
  // Directories: inside when an ancestor (not "/") is in the baseline.
  if (dimension == "directory") {
    for (size_t s = value.rfind('/'); s != std::string::npos && s > 0;
         s = value.rfind('/', s - 1)) {
      auto a = b.items.find(fmt::format("directory\x1f{}", value.substr(0, s)));
      if (a != b.items.end() && t - a->second <= max_age) return;
    }
  }
  const bool declared = declared_for(cfg_, name) != nullptr;
  const bool learning = !declared && t < b.since + cfg_.learn_for.count();
  if (b.items.size() < kMaxItemsPerName || item != b.items.end()) {
    b.items[key] = t;
    dirty_ = true;
  }
  if (learning) return;
  // Outside the baseline: one event, rate-limited per name.
  if (t >= b.hour_start + 3600) {
    b.hour_start = t;
    b.hour_events = 0;
  }
  if (b.hour_events >= cfg_.max_events_per_hour) {
    b.suppressed++;
    return;
  }
  b.hour_events++;
  const uint64_t suppressed = b.suppressed;
  b.suppressed = 0;
  std::vector<std::string> sample;
  size_t size = 0;
  const std::string prefix = fmt::format("{}\x1f", dimension);
  for (auto i = b.items.lower_bound(prefix);
       i != b.items.end() && i->first.compare(0, prefix.size(), prefix) == 0; ++i) {
    if (i->first == key) continue;
    size++;
    if (sample.size() < kSampleShown) sample.push_back(i->first.substr(prefix.size()));
  }
  const auto* decl = declared_for(cfg_, name);
  out.push_back(make_detection("scope_drift", who, ts, cfg_.action,
                               fmt::format("new {} for {}: {}", dimension, name, value),
                               [&](sinks::JsonWriter& w) {
                                 w.key("dimension");
                                 w.string(dimension);
                                 w.key("new");
                                 w.string(value);
                                 w.key("baseline");
                                 w.begin_object();
                                 w.key("source");
                                 w.string(decl ? "declared" : "learned");
                                 if (!decl) {
                                   w.key("learned_since");
                                   char buf[32];
                                   time_t since = time_t(b.since);
                                   struct tm tm {};
                                   gmtime_r(&since, &tm);
                                   strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
                                   w.string(buf);
                                   w.key("size");
                                   w.number(uint64_t(size));
                                   w.key("sample");
                                   w.begin_array();
                                   for (const auto& s : sample) w.string(s);
                                   w.end_array();
                                 } else {
                                   w.key("policy_line");
                                   w.number(uint64_t(decl->line));
                                 }
                                 w.end_object();
                                 w.key("suppressed_before");
                                 w.number(suppressed);
                               }));
}

void ScopeDriftDetector::on_exec(const ExecFact& f, std::vector<Detection>& out) {
  observe(f.who, f.ts_ns, "executable", std::string(f.exe), out);
}

void ScopeDriftDetector::on_file(const FileFact& f, std::vector<Detection>& out) {
  observe(f.who, f.ts_ns, "directory", written_directory(f.path), out);
}

void ScopeDriftDetector::on_connect(const ConnectFact& f, std::vector<Detection>& out) {
  if (f.result != 0 || f.address.empty()) return;
  std::string host = llm::to_lower(f.hostname.empty() ? f.address : f.hostname);
  observe(f.who, f.ts_ns, "host", fmt::format("{}:{}", host, f.port), out);
}

void ScopeDriftDetector::on_llm(const LlmFact& f, std::vector<Detection>& out) {
  if (!f.call || f.call->provider.empty()) return;
  // Every call names its model: built in a kept buffer (no allocation once it is warm), and
  // then most calls end at the memo in observe().
  llm_value_.assign(f.call->provider);
  llm_value_ += '/';
  llm_value_ += f.call->request_model;
  observe(f.who, f.ts_ns, "llm", llm_value_, out);
}

}  // namespace rein::detect
