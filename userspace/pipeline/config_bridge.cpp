#include "pipeline/config_bridge.h"

#include <fmt/format.h>

namespace rein::pipeline {

void ConfigBridge::on_agent_start(uint32_t pid, uint64_t ts, bool existing, const ProcessView& v) {
  if (!v.info || !config_.enabled()) return;
  // The agent's config files now: the "before" of its changes (replay: as captured).
  auto files = state_.ask(
      fmt::format("config.agent_start/{}/{}", pid, ts), [&]() -> std::optional<std::string> {
        // Adopted agents ran before the sensor: what it reads now is the best "before" known.
        int64_t start_real = existing ? 0 : ConfigMutationTracker::realtime_of_boot(ts);
        return config_.read_agent_start(
            pid, v.info->cwd, ConfigMutationTracker::home_of(pid, v.info->uid), start_real);
      });
  if (files) config_.load_agent_start(*files, ts);
}

void ConfigBridge::on_change(const decode::Header& h, std::string_view op, const std::string& path,
                             const std::string& old_path) {
  if (!config_.enabled()) return;
  if (!config_.classify(path) && (old_path.empty() || !config_.classify(old_path))) return;
  const auto* agent = state_.agent_for(h.agent);
  if (!agent) return;
  auto v = state_.view(h.tgid);
  ConfigChange c{std::string(op), path, old_path, agent->id, v.info ? v.info->cwd : "", h.ts_ns};
  // The file as it is now (replay: as captured), read before the event is begun.
  auto after =
      state_.ask(fmt::format("config.after/{}/{}/{}/{}", h.ts_ns, h.tgid, op, path),
                 [&]() -> std::optional<std::string> {
                   return config_.read_after(c, {h.tgid, v.info ? v.info->ppid : 0, h.agent});
                 });
  auto& w = builder_.begin("config.mutation", h.ts_ns, v, agent);
  config_.write_event(w, c, after, clock_);
  w.key("tid");
  w.number(uint64_t(h.pid));
  emit_(builder_.finish());
}

}  // namespace rein::pipeline
