#include "pipeline/proc_snapshot_source.h"

#include <fmt/format.h>

#include <climits>

namespace rein::pipeline {

Result<ProcSnapshotSource> ProcSnapshotSource::from(const Files& files) {
  ProcSnapshotSource s;
  for (const auto& f : files) {
    std::string_view rel = f.path();
    const size_t slash = rel.find('/');
    std::optional<uint32_t> pid;
    if (slash != std::string_view::npos) pid = process::pid_from_dirname(rel.substr(0, slash));
    std::string_view name = pid ? rel.substr(slash + 1) : std::string_view();
    if (!pid || name.empty() || name.find('/') != std::string_view::npos)
      return make_error(fmt::format("capture: bad /proc snapshot path {:?}", rel));
    auto [it, fresh] = s.by_pid_.try_emplace(*pid);
    if (fresh) s.order_.push_back(*pid);
    auto& named = it->second;
    bool replaced = false;
    for (auto& [n, file] : named)
      if (n == name) {
        file = &f;
        replaced = true;
        break;
      }
    if (!replaced) named.emplace_back(name, &f);
  }
  return s;
}

std::vector<uint32_t> ProcSnapshotSource::pids(bool* complete) const {
  *complete = true;
  return order_;
}

const capture::ProcFile* ProcSnapshotSource::find(uint32_t pid, std::string_view name,
                                                  bool link) const {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return nullptr;
  for (const auto& [n, file] : it->second)
    if (n == name) return file->symlink() == link ? file : nullptr;
  return nullptr;
}

std::optional<std::string> ProcSnapshotSource::read(uint32_t pid, std::string_view name, size_t max,
                                                    bool* truncated) const {
  const auto* f = find(pid, name, false);
  if (!f) return std::nullopt;
  const std::string& c = f->content();
  if (truncated) *truncated = c.size() > max;
  return c.size() > max ? c.substr(0, max) : c;
}

std::optional<std::string> ProcSnapshotSource::read_link(uint32_t pid,
                                                         std::string_view name) const {
  const auto* f = find(pid, name, true);
  // readlink on a real /proc never gives PATH_MAX bytes or more: a longer target is hostile
  if (!f || f->content().size() >= PATH_MAX) return std::nullopt;
  return f->content();
}

}  // namespace rein::pipeline
