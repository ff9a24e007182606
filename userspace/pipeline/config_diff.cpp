#include "pipeline/config_diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "common/secret_redaction.h"

namespace rein::pipeline {

namespace {

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

enum class Op : uint8_t { kEq, kDel, kIns };

// Myers' O((N+M)D) diff of a[0..n) and b[0..m); false when D would exceed max_d.
bool myers(const std::vector<std::string_view>& a, size_t a0, size_t n,
           const std::vector<std::string_view>& b, size_t b0, size_t m, size_t max_d,
           std::vector<Op>& ops) {
  const long N = long(n), M = long(m);
  const long maxd = std::min<long>(long(max_d), N + M);
  const long off = maxd + 1;
  std::vector<long> v(size_t(2 * off + 1), 0);
  std::vector<std::vector<long>> trace;
  long found = -1;
  for (long d = 0; d <= maxd && found < 0; d++) {
    trace.emplace_back(v.begin() + (off - d - 1 < 0 ? 0 : off - d - 1), v.begin() + off + d + 2);
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && v[size_t(off + k - 1)] < v[size_t(off + k + 1)]))
                   ? v[size_t(off + k + 1)]
                   : v[size_t(off + k - 1)] + 1;
      long y = x - k;
      while (x < N && y < M && a[a0 + size_t(x)] == b[b0 + size_t(y)]) x++, y++;
      v[size_t(off + k)] = x;
      if (x >= N && y >= M) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return false;
  // Backtrack through the saved frontiers (trace[d] holds v before step d, k in [-d-1, d+1]).
  std::vector<Op> rev;
  long x = N, y = M;
  for (long d = found; d > 0; d--) {
    const auto& pv = trace[size_t(d)];
    auto at = [&](long k) { return pv[size_t(k + d + 1)]; };
    long k = x - y;
    long pk = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    long px = at(pk), py = px - pk;
    while (x > px && y > py) {
      rev.push_back(Op::kEq);
      x--, y--;
    }
    if (x == px)
      rev.push_back(Op::kIns), y--;
    else
      rev.push_back(Op::kDel), x--;
  }
  while (x > 0 && y > 0) rev.push_back(Op::kEq), x--, y--;
  ops.insert(ops.end(), rev.rbegin(), rev.rend());
  return true;
}

bool is_secret_word_at(std::string_view lower, size_t& end) {
  static const std::string_view words[] = {"password",   "passwd",      "secret",     "token",
                                           "api_key",    "api-key",     "apikey",     "auth",
                                           "credential", "private_key", "access_key", "cookie"};
  for (auto w : words) {
    size_t p = lower.find(w);
    if (p != std::string_view::npos) {
      end = p + w.size();
      return true;
    }
  }
  return false;
}

}  // namespace

std::string redact_config_line(std::string_view line, bool* changed) {
  std::string out = redact_url_passwords(redact_secret_tokens(line, RedactionMarker::kPlain));
  bool did = out != line;
  // KEY=value, key: value, "key": "value" where the key names a secret.
  std::string lower(out);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  size_t end = 0;
  if (is_secret_word_at(lower, end)) {
    size_t sep = out.find_first_of("=:", end);
    // the separator must follow the key closely (the key's tail, quotes, spaces)
    if (sep != std::string::npos && sep - end <= 32 &&
        out.find_first_of(" \t", end) >= std::min(sep, out.find_first_not_of(" \t\"'", end))) {
      size_t v = out.find_first_not_of(" \t", sep + 1);
      if (v != std::string::npos && out.compare(v, 10, "[redacted]") != 0) {
        out.resize(v);
        out += "[redacted]";
        did = true;
      }
    }
  }
  if (changed) *changed = did;
  return out;
}

std::string redact_config_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    out += redact_config_line(text.substr(start, end - start));
    if (nl == std::string_view::npos) break;
    out.push_back('\n');
    start = nl + 1;
  }
  return out;
}

TextDiff unified_diff(std::string_view before, std::string_view after, const DiffLimits& lim) {
  TextDiff out;
  auto a = split_lines(before), b = split_lines(after);
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) head++;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail])
    tail++;
  const size_t n = a.size() - head - tail, m = b.size() - head - tail;
  std::vector<Op> ops(head, Op::kEq);
  if (n == 0 || m == 0) {  // only insertions or only deletions: nothing to search
    ops.insert(ops.end(), n, Op::kDel);
    ops.insert(ops.end(), m, Op::kIns);
  } else if (!myers(a, head, n, b, head, m, lim.max_edit_distance, ops)) {
    out.approximate = true;
    ops.insert(ops.end(), n, Op::kDel);
    ops.insert(ops.end(), m, Op::kIns);
  }
  ops.insert(ops.end(), tail, Op::kEq);

  size_t out_lines = 0;
  auto emit = [&](std::string_view line) {
    if (out.truncated) return;
    if (out_lines + 1 > lim.max_lines || out.text.size() + line.size() + 1 > lim.max_bytes) {
      out.truncated = true;
      return;
    }
    out.text.append(line);
    out.text.push_back('\n');
    out_lines++;
  };
  auto body_line = [&](char tag, std::string_view l) {
    bool changed = false;
    std::string r = redact_config_line(l.substr(0, lim.max_line_bytes), &changed);
    // contents are redacted when read (redact_config_text): count those lines too
    if (changed || r.find("[redacted]") != std::string::npos) out.redactions++;
    std::string line(1, tag);
    line += r;
    if (l.size() > lim.max_line_bytes) line += " [line cut]";
    emit(line);
  };

  // Group changes into hunks with `context` lines around them.
  size_t i = 0;
  size_t ai = 0, bi = 0;  // line indexes before ops[i]
  while (i < ops.size()) {
    if (ops[i] == Op::kEq) {
      i++, ai++, bi++;
      continue;
    }
    size_t start = i, sa = ai, sb = bi;
    size_t ctx_before = 0;
    while (ctx_before < lim.context && start > 0 && ops[start - 1] == Op::kEq)
      start--, sa--, sb--, ctx_before++;
    // extend to the end of the hunk: changes separated by <= 2*context equal lines
    size_t j = i, ea = ai, eb = bi;
    while (j < ops.size()) {
      if (ops[j] != Op::kEq) {
        if (ops[j] == Op::kDel)
          ea++, out.lines_removed++;
        else
          eb++, out.lines_added++;
        j++;
        continue;
      }
      size_t run = 0;
      while (j + run < ops.size() && ops[j + run] == Op::kEq) run++;
      if (j + run < ops.size() && run <= 2 * lim.context) {
        j += run, ea += run, eb += run;
        continue;
      }
      size_t tailctx = std::min(run, lim.context);
      j += tailctx, ea += tailctx, eb += tailctx;
      break;
    }
    emit(fmt::format("@@ -{},{} +{},{} @@", ea - sa == 0 ? sa : sa + 1, ea - sa,
                     eb - sb == 0 ? sb : sb + 1, eb - sb));
    size_t x = sa, y = sb;
    for (size_t k = start; k < j; k++) {
      if (ops[k] == Op::kEq)
        body_line(' ', a[x++]), y++;
      else if (ops[k] == Op::kDel)
        body_line('-', a[x++]);
      else
        body_line('+', b[y++]);
    }
    i = j, ai = ea, bi = eb;
  }
  return out;
}

}  // namespace rein::pipeline
