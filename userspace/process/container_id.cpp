#include "process/container_id.h"

#include <array>
#include <vector>

namespace rein::process {
namespace {

constexpr size_t kContainerIdLen = 64;

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool all_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!is_lower_hex(c)) return false;
  }
  return true;
}

bool is_container_id(std::string_view s) {
  return s.size() == kContainerIdLen && all_lower_hex(s);
}

// 8-4-4-4-12 lower-case hex with dashes, or 32 hex (static pods use a config hash).
bool is_pod_uid(std::string_view s) {
  if (s.size() == 32) return all_lower_hex(s);
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_pos ? s[i] != '-' : !is_lower_hex(s[i])) return false;
  }
  return true;
}

std::vector<std::string_view> split_components(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    if (end > i) out.push_back(path.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

std::string_view strip_suffix(std::string_view s, std::string_view suffix) {
  if (s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix) {
    s.remove_suffix(suffix.size());
  }
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_runtime_parent(std::string_view comp) {
  return comp == "docker" || comp == "libpod_parent" || comp == "k8s.io" ||
         starts_with(comp, "kubepods");
}

std::optional<std::string_view> prefixed_container_id(std::string_view comp) {
  static constexpr std::array<std::string_view, 4> kPrefixes = {"docker-", "cri-containerd-",
                                                                "crio-", "libpod-"};
  const std::string_view base = strip_suffix(comp, ".scope");
  for (std::string_view prefix : kPrefixes) {
    if (starts_with(base, prefix)) {
      const std::string_view id = base.substr(prefix.size());
      if (is_container_id(id)) return id;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> container_id_from_cgroup(std::string_view cgroup_path) {
  const auto comps = split_components(cgroup_path);
  size_t first_parent = comps.size();
  for (size_t i = 0; i < comps.size(); ++i) {
    if (is_runtime_parent(comps[i])) {
      first_parent = i;
      break;
    }
  }
  for (size_t i = comps.size(); i-- > 0;) {
    if (auto id = prefixed_container_id(comps[i])) return std::string(*id);
    if (i > first_parent && is_container_id(comps[i])) return std::string(comps[i]);
  }
  return std::nullopt;
}

std::optional<std::string> pod_uid_from_cgroup(std::string_view cgroup_path) {
  const auto comps = split_components(cgroup_path);
  bool under_kubepods = false;
  std::optional<std::string> found;
  for (std::string_view comp : comps) {
    if (starts_with(comp, "kubepods") && comp.size() > 6 &&
        comp.substr(comp.size() - 6) == ".slice") {
      // systemd: kubepods[-<qos>]-pod<uid with '_'>.slice
      const std::string_view base = comp.substr(0, comp.size() - 6);
      const size_t at = base.rfind("-pod");
      if (at != std::string_view::npos) {
        std::string uid(base.substr(at + 4));
        for (char& c : uid) {
          if (c == '_') c = '-';
        }
        if (is_pod_uid(uid)) found = std::move(uid);
      }
    } else if (under_kubepods && starts_with(comp, "pod") && is_pod_uid(comp.substr(3))) {
      found = std::string(comp.substr(3));  // cgroupfs: kubepods/<qos>/pod<uid>
    }
    if (starts_with(comp, "kubepods")) under_kubepods = true;
  }
  return found;
}

}  // namespace rein::process
