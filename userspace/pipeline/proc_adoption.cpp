#include "pipeline/proc_adoption.h"

#include <cstdlib>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "rein/abi/events.h"

namespace rein::pipeline {

size_t adopt_from_proc(
    PipelineState& s, const TrackFn& track, const process::ProcSource& proc,
    const std::function<void(uint32_t pid, uint64_t now, uint32_t flags)>& adopted_fn) {
  process::CgroupPathToId to_id;
  if (s.cgroups && !s.journal)
    to_id = [&s](std::string_view p) { return s.cgroups->id_for_path(p); };
  if (s.journal)
    to_id = [&s](std::string_view p) -> std::optional<uint64_t> {
      auto v =
          s.journal->lookup(fmt::format("cgroup.id/{}", p), [&]() -> std::optional<std::string> {
            auto id = s.cgroups ? s.cgroups->id_for_path(p) : std::nullopt;
            return id ? std::optional<std::string>(std::to_string(*id)) : std::nullopt;
          });
      return v ? std::optional<uint64_t>(std::strtoull(v->c_str(), nullptr, 10)) : std::nullopt;
    };
  auto now_text = s.ask(
      "adopt.now", [] { return std::optional<std::string>(std::to_string(Clock::boot_now_ns())); });
  const uint64_t now = now_text ? std::strtoull(now_text->c_str(), nullptr, 10) : 0;
  s.table.seed_from_proc(proc, to_id, now);
  std::vector<std::pair<uint32_t, uint32_t>> roots;  // pid, selector
  const uint32_t self = s.self_pid();
  for (uint32_t pid : s.table.pids()) {
    const auto* p = s.table.find(pid);
    if (!p || p->exited || p->pid == self) continue;
    std::string cg;
    if (p->cgroup_id && (s.cgroups || s.journal))
      if (auto path = s.cgroup_path(p->cgroup_id)) cg = *path;
    if (auto m = s.selectors.match_existing(pid, p->exe, p->args, cg)) roots.emplace_back(pid, *m);
  }
  size_t adopted = 0;
  for (auto [root, sel] : roots) {
    const auto* rp = s.table.find(root);
    if (!rp || rp->agent_root) continue;  // already inside an adopted tree
    const auto* agent = s.start_agent(root, rp->start_ns ? rp->start_ns : now, sel, rp->comm);
    std::vector<uint32_t> members{root};
    for (uint32_t d : s.table.descendants(root)) members.push_back(d);
    for (uint32_t pid : members) {
      if (track) {
        if (auto ok = track(pid, root, sel, agent->start_ns); !ok) {
          s.stats.track_failed++;
          continue;
        }
      }
      s.table.set_agent(pid, root, agent->start_ns);
      adopted_fn(pid, now, pid == root ? REIN_F_NEW_AGENT : 0);
      adopted++;
    }
  }
  return adopted;
}

}  // namespace rein::pipeline
