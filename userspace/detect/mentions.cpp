#include "detect/mentions.h"

#include <algorithm>
#include <charconv>

#include "common/fast_find.h"
#include "llm/text_util.h"

namespace rein::detect {

namespace {

constexpr size_t kMaxHostBytes = 253;
constexpr size_t kMaxPathBytes = 512;
constexpr size_t kMaxPackages = 8;

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

bool alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool url_end(char c) {
  return c <= ' ' || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == ')' ||
         c == ']' || c == '}' || c == '\\' || c == '|';
}

// A plausible DNS name: two or more labels, letters in the last one, or an IPv4 address.
bool plausible_host(std::string_view h) {
  if (h.empty() || h.size() > kMaxHostBytes || h.front() == '.' || h.front() == '-') return false;
  size_t dot = h.rfind('.');
  if (dot == std::string_view::npos || dot + 1 >= h.size()) return h == "localhost";
  std::string_view tld = h.substr(dot + 1);
  if (std::all_of(tld.begin(), tld.end(), alpha)) return tld.size() >= 2;
  // dotted quad
  int parts = 0;
  size_t pos = 0;
  while (pos <= h.size()) {
    size_t e = h.find('.', pos);
    if (e == std::string_view::npos) e = h.size();
    auto p = h.substr(pos, e - pos);
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || v > 255) return false;
    parts++;
    pos = e + 1;
  }
  return parts == 4;
}

uint16_t parse_port(std::string_view text, size_t& i) {
  size_t start = i;
  unsigned v = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 5)
    v = v * 10 + (text[i++] - '0');
  if (i == start || v == 0 || v > 65535) return 0;
  return uint16_t(v);
}

std::string_view strip_version(std::string_view manager, std::string_view p) {
  if (manager == "pip") {
    size_t e = p.find_first_of("=<>~![;@ ");
    return p.substr(0, e);
  }
  if (manager == "npm") {
    size_t at = p.find('@', p.size() && p[0] == '@' ? 1 : 0);
    return p.substr(0, at);
  }
  size_t at = p.find('@');  // go: module@version; cargo: name@version
  return p.substr(0, at);
}

bool package_name(std::string_view p) {
  if (p.empty() || p.size() > 214) return false;
  for (char c : p)
    if (!(host_char(c) || c == '_' || c == '/' || c == '@')) return false;
  return alpha(p[0]) || p[0] == '@' || (p[0] >= '0' && p[0] <= '9');
}

void add(std::vector<Mention>& out, Mention m, size_t max) {
  if (out.size() >= max) return;
  for (const auto& o : out)
    if (o.kind == m.kind && o.host == m.host && o.port == m.port && o.path == m.path &&
        o.package == m.package && o.manager == m.manager)
      return;
  out.push_back(std::move(m));
}

}  // namespace

namespace detail {
// Each of the words ends in a space after 'l', 'm', 't' or 'd': a short text (a streamed
// answer's few words) is read once for those spaces instead of searched four times, once
// per word. Long texts take the vector search.
bool holds_command_word(std::string_view t) {
  if (t.size() >= 64) return fast_contains_any(t, {"install ", "npm ", "go get ", "cargo add "});
  for (size_t i = 1; i < t.size(); i++) {
    if (t[i] != ' ') continue;
    const std::string_view head = t.substr(0, i + 1);
    switch (t[i - 1]) {
      case 'l':
        if (head.ends_with("install ")) return true;
        break;
      case 'm':
        if (head.ends_with("npm ")) return true;
        break;
      case 't':
        if (head.ends_with("go get ")) return true;
        break;
      case 'd':
        if (head.ends_with("cargo add ")) return true;
        break;
      default:
        break;
    }
  }
  return false;
}
}  // namespace detail

InstallCommand parse_install(const std::vector<std::string_view>& argv) {
  InstallCommand out;
  if (argv.empty()) return out;
  auto base = [](std::string_view s) {
    size_t slash = s.rfind('/');
    return slash == std::string_view::npos ? s : s.substr(slash + 1);
  };
  size_t i = 0;
  std::string_view cmd = base(argv[0]);
  std::string manager;
  if (llm::starts_with(cmd, "python") && argv.size() > 2 && argv[1] == "-m" &&
      (argv[2] == "pip" || argv[2] == "pip3")) {
    manager = "pip";
    i = 3;
  } else if (cmd == "pip" || cmd == "pip3" || llm::starts_with(cmd, "pip3.")) {
    manager = "pip";
    i = 1;
  } else if (cmd == "npm" || cmd == "pnpm" || cmd == "yarn") {
    manager = "npm";
    i = 1;
  } else if (cmd == "go") {
    manager = "go";
    i = 1;
  } else if (cmd == "cargo") {
    manager = "cargo";
    i = 1;
  } else {
    return out;
  }
  while (i < argv.size() && llm::starts_with(argv[i], "-")) i++;  // global options
  if (i >= argv.size()) return out;
  std::string_view verb = argv[i++];
  bool ok = (manager == "pip" && verb == "install") ||
            (manager == "npm" && (verb == "install" || verb == "i" || verb == "add")) ||
            (manager == "go" && (verb == "get" || verb == "install")) ||
            (manager == "cargo" && (verb == "add" || verb == "install"));
  if (!ok) return out;
  for (; i < argv.size() && out.packages.size() < kMaxPackages; i++) {
    std::string_view a = argv[i];
    if (a.empty() || a[0] == '-') {
      // options that take a value: skip it too
      if (a == "-r" || a == "-e" || a == "-c" || a == "-i" || a == "--index-url" ||
          a == "--target" || a == "-t" || a == "--registry" || a == "--prefix")
        i++;
      continue;
    }
    if (a.find("://") != std::string_view::npos || a[0] == '.' || a[0] == '/') continue;
    auto name = strip_version(manager, a);
    if (package_name(name)) out.packages.emplace_back(llm::to_lower(name));
  }
  if (!out.packages.empty()) out.manager = manager;
  return out;
}

std::vector<Mention> extract_mentions(std::string_view text, size_t max) {
  std::vector<Mention> out;
  // Read in place, case-blind: only what is kept (a host) is lowered. What marks a mention
  // ("://", '.', '/', ':', '@', digits) has no case, and host_char and alpha take both; a
  // lowered copy of every answer was a copy and a pass per LLM call for the few hosts in it.
  // URLs
  for (size_t pos = 0; out.size() < max;) {
    size_t s = text.find("://", pos);
    if (s == std::string_view::npos) break;
    pos = s + 3;
    size_t b = s;
    while (b > 0 && alpha(text[b - 1]) && s - b < 8) b--;
    std::string_view scheme = text.substr(b, s - b);
    if (!llm::iequals(scheme, "http") && !llm::iequals(scheme, "https") &&
        !llm::iequals(scheme, "ws") && !llm::iequals(scheme, "wss"))
      continue;
    size_t i = pos;
    size_t auth_end = i;
    while (auth_end < text.size() && !url_end(text[auth_end]) && text[auth_end] != '/' &&
           text[auth_end] != '?' && text[auth_end] != '#')
      auth_end++;
    std::string_view auth = text.substr(i, auth_end - i);
    if (size_t at = auth.rfind('@'); at != std::string_view::npos) {  // userinfo: never kept
      i += at + 1;
      auth = auth.substr(at + 1);
    }
    Mention m;
    m.kind = Mention::Kind::kUrl;
    size_t h = i;
    if (h < text.size() && text[h] == '[') {  // [v6]
      size_t close = text.find(']', h);
      if (close == std::string_view::npos || close > auth_end) continue;
      m.host = llm::to_lower(text.substr(h + 1, close - h - 1));
      h = close + 1;
    } else {
      while (h < auth_end && host_char(text[h])) h++;
      m.host = llm::to_lower(text.substr(i, h - i));
      while (!m.host.empty() && m.host.back() == '.') m.host.pop_back();
      if (!plausible_host(m.host)) continue;
    }
    if (h < auth_end && text[h] == ':') {
      h++;
      m.port = parse_port(text, h);
    }
    size_t p = auth_end;
    while (p < text.size() && !url_end(text[p]) && text[p] != '?' && text[p] != '#' &&
           p - auth_end < kMaxPathBytes)
      p++;
    m.path = std::string(text.substr(auth_end, p - auth_end));
    while (!m.path.empty() &&
           (m.path.back() == '.' || m.path.back() == ',' || m.path.back() == ';'))
      m.path.pop_back();
    m.offset = uint32_t(b);
    m.length = uint32_t(p - b);
    pos = p;
    add(out, std::move(m), max);
  }
  // Bare host names, with a port when written host:port: none without a dot, so only the
  // words around dots are looked at (a byte loop over every word of a long answer was the
  // cost of this function). A word is a run of host characters; one that follows '/', '@'
  // or ':' is part of something else (a path, userinfo, a port).
  for (size_t d = text.find('.'); d != std::string_view::npos && out.size() < max;) {
    size_t i = d;
    while (i > 0 && host_char(text[i - 1])) i--;
    size_t word_end = d;
    while (word_end < text.size() && host_char(text[word_end])) word_end++;
    const bool inside = i > 0 && (text[i - 1] == '/' || text[i - 1] == '@' || text[i - 1] == ':');
    size_t e = i;
    while (!inside && e < text.size() && host_char(text[e]) && e - i <= kMaxHostBytes) e++;
    // Most words are not hosts: look at them in place, copy only a host. With a dot in it,
    // plausible_host does not depend on case (its one name without a dot is "localhost").
    std::string_view host = text.substr(i, e - i);
    while (!host.empty() && host.back() == '.') host.remove_suffix(1);
    bool after_scheme = e + 2 < text.size() && text.compare(e, 3, "://") == 0;
    if (!inside && !after_scheme && host.find('.') != std::string_view::npos &&
        plausible_host(host)) {
      Mention m;
      m.kind = Mention::Kind::kHost;
      m.host = llm::to_lower(host);
      size_t q = i + host.size();
      if (q < text.size() && text[q] == ':') {
        size_t r = q + 1;
        m.port = parse_port(text, r);
        if (m.port) q = r;
      }
      m.offset = uint32_t(i);
      m.length = uint32_t(q - i);
      add(out, std::move(m), max);
    }
    d = text.find('.', word_end);  // the rest of a word over the length bound is not a host
  }
  // Install commands: the rest of the line after the command word.
  static constexpr std::string_view kCommands[] = {"pip install ", "pip3 install ", "npm install ",
                                                   "npm i ",       "npm add ",      "go get ",
                                                   "cargo add "};
  // Found as written: parse_install takes the command and its verb only in lower case (as a
  // shell runs them), so a match in another case could never give a package.
  // One pass says whether any command can be there (each command holds one of these).
  const bool any_command = detail::holds_command_word(text);
  for (auto cmd : kCommands) {
    for (size_t pos = 0; any_command && out.size() < max;) {
      size_t s = text.find(cmd, pos);
      if (s == std::string_view::npos) break;
      pos = s + cmd.size();
      size_t e = s;
      while (e < text.size() && text[e] != '\n' && text[e] != '`' && text[e] != ';' &&
             text[e] != '&' && text[e] != '|' && text[e] != '"' && e - s < 1024)
        e++;
      std::vector<std::string_view> argv;
      std::string_view line = text.substr(s, e - s);
      for (size_t a = 0; a < line.size();) {
        while (a < line.size() && (line[a] == ' ' || line[a] == '\t')) a++;
        size_t z = a;
        while (z < line.size() && line[z] != ' ' && line[z] != '\t') z++;
        if (z > a) argv.push_back(line.substr(a, z - a));
        a = z;
      }
      auto inst = parse_install(argv);
      for (const auto& p : inst.packages) {
        Mention m;
        m.kind = Mention::Kind::kPackage;
        m.manager = inst.manager;
        m.package = p;
        m.offset = uint32_t(s);
        m.length = uint32_t(e - s);
        add(out, std::move(m), max);
      }
    }
  }
  return out;
}

}  // namespace rein::detect
