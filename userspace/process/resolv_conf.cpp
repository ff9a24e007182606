#include "process/resolv_conf.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "process/proc_reader.h"

namespace rein::process {

std::optional<ResolverAddr> parse_resolver_address(std::string_view text) {
  std::string s(text.substr(0, 64));
  if (auto pct = s.find('%'); pct != std::string::npos) s.resize(pct);
  ResolverAddr a{};
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    a[10] = a[11] = 0xff;
    std::memcpy(&a[12], &v4, 4);
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.data()) == 1) return a;
  return std::nullopt;
}

std::vector<ResolverAddr> parse_resolv_conf(std::string_view text) {
  std::vector<ResolverAddr> out;
  while (!text.empty() && out.size() < kMaxResolvConfServers) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto word = [&line]() {
      size_t b = line.find_first_not_of(" \t\r");
      if (b == std::string_view::npos) return std::string_view{};
      size_t e = line.find_first_of(" \t\r", b);
      std::string_view w = line.substr(b, e == std::string_view::npos ? line.size() - b : e - b);
      line = e == std::string_view::npos ? std::string_view{} : line.substr(e);
      return w;
    };
    if (word() != "nameserver") continue;
    auto a = parse_resolver_address(word());
    if (a && std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
  }
  return out;
}

std::string resolver_text(const ResolverAddr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.data(), mapped, 12) == 0)
    inet_ntop(AF_INET, &a[12], buf, sizeof(buf));
  else
    inet_ntop(AF_INET6, a.data(), buf, sizeof(buf));
  return buf;
}

uint64_t mount_ns_of(const std::string& ns_link) {
  // stat follows the link to the nsfs inode: its number names the namespace
  struct stat st {};
  if (stat(ns_link.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

std::vector<ResolverAddr> NamespaceResolvers::for_process(uint32_t pid) {
  std::string base = proc_root_ + "/" + std::to_string(pid);
  uint64_t ns = mount_ns_of(base + "/ns/mnt");
  if (!ns || ns == own_ns_ || seen_.count(ns) || seen_.size() >= kMaxNamespaces) return {};
  auto text = read_file_bounded(base + "/root/etc/resolv.conf", kMaxSmallProcFileBytes);
  if (!text) return {};  // retried with the namespace's next process
  seen_.insert(ns);
  return parse_resolv_conf(*text);
}

}  // namespace rein::process
