#include "policy/regex.h"

#include <algorithm>
#include <fmt/format.h>
#include <vector>

namespace rein::policy {

namespace {

// Upper estimate of the NFA size: every atom is one state and a counted repetition copies
// what it repeats. libstdc++ expands "{n}" into n copies, so "((a{100}){100}){100}" would
// cost a million states (and about 100 ms to refuse); this refuses it before compiling.
std::optional<std::string> too_complex(std::string_view p) {
  std::vector<uint64_t> groups{0};
  uint64_t last = 0;  // size of the atom or group a quantifier would apply to
  auto add = [&](uint64_t n) {
    groups.back() += n;
    last = n;
  };
  for (size_t i = 0; i < p.size(); i++) {
    const char c = p[i];
    if (c == '\\') {
      i++;
      add(1);
    } else if (c == '[') {
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') j++;
      if (j < p.size() && p[j] == ']') j++;
      while (j < p.size() && p[j] != ']') j += p[j] == '\\' ? 2 : 1;
      i = j;
      add(1);
    } else if (c == '(') {
      groups.push_back(1);
      last = 0;
    } else if (c == ')') {
      if (groups.size() == 1) return std::nullopt;  // std::regex reports the imbalance
      uint64_t g = groups.back() + 1;
      groups.pop_back();
      add(g);
    } else if (c == '|') {
      groups.back() += 1;
      last = 0;
    } else if (c == '{') {
      size_t j = i + 1;
      uint64_t n = 0, m = 0;
      bool digits = false;
      // Every digit is consumed (saturating): stopping early would make "a{10000000}" look
      // like no quantifier at all and let std::regex expand it.
      auto number = [&](uint64_t& v) {
        while (j < p.size() && p[j] >= '0' && p[j] <= '9') {
          v = std::min<uint64_t>(v * 10 + (p[j++] - '0'), 1000000);
          digits = true;
        }
      };
      number(n);
      m = n;
      if (j < p.size() && p[j] == ',') {
        j++;
        m = 0;
        number(m);
        m = std::max(m, n);
      }
      if (!digits || j >= p.size() || p[j] != '}') {
        add(1);  // not a quantifier; std::regex decides whether it is valid
        continue;
      }
      const uint64_t grown = last * std::max<uint64_t>(m, 1);
      groups.back() += grown - last;
      last = grown;
      i = j;
    } else {
      add(1);
    }
    uint64_t total = 0;
    for (uint64_t g : groups) total += g;
    if (total > Regex::kMaxStates)
      return fmt::format("regex too complex: counted repetitions expand it past {} states", Regex::kMaxStates);
  }
  return std::nullopt;
}

}  // namespace

Result<Regex> Regex::compile(std::string_view pattern) {
  if (pattern.empty()) return make_error("empty regex");
  if (pattern.size() > kMaxPatternBytes)
    return make_error(fmt::format("regex longer than {} bytes", kMaxPatternBytes));
  if (pattern.find('\0') != std::string_view::npos) return make_error("regex contains a NUL byte");
  if (auto why = too_complex(pattern)) return make_error(*why);
  Regex r;
  r.source_ = std::string(pattern);
  // Config-time only: std::regex reports errors by throwing, so they stop here.
  // __polynomial (libstdc++) selects the breadth-first matcher: no recursion per input
  // byte and no back-references. regex_search would still restart it at every offset
  // (quadratic: seconds for "(a|aa)*c" on 4 KiB), so search() runs one anchored match of
  // "[\s\S]*(?:P)[\s\S]*" instead: one pass, subject bytes x states. The pattern is
  // compiled alone first so it is validated as written ("a)(b" must not become valid).
  const auto flags = std::regex::ECMAScript | std::regex::nosubs | std::regex_constants::__polynomial;
  try {
    std::regex alone(r.source_, flags);
    r.re_ = std::make_shared<const std::regex>("[\\s\\S]*(?:" + r.source_ + ")[\\s\\S]*", flags);
  } catch (const std::regex_error& e) {
    if (e.code() == std::regex_constants::error_complexity)
      return make_error("back-references (\\1) are not supported: matching must stay linear");
    return make_error(fmt::format("invalid regex: {}", e.what()));
  } catch (const std::exception& e) {
    return make_error(fmt::format("invalid regex: {}", e.what()));
  }
  return r;
}

std::optional<bool> Regex::search(std::string_view subject) const {
  if (!re_) return std::nullopt;
  if (subject.size() > kMaxSubjectBytes) subject = subject.substr(0, kMaxSubjectBytes);
  try {
    return std::regex_match(subject.begin(), subject.end(), *re_);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace rein::policy
