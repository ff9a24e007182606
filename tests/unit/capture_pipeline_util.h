// Shared by the capture/replay pipeline tests: the live run they record watches one agent,
// /usr/bin/agent (class 62); its capture Context says so, so a replay rebuilds the same
// selectors from it.
#pragma once
#include <string>

#include "capture/capture.pb.h"
#include "common/result.h"
#include "pipeline/selectors.h"
#include "rein/abi/events.h"

namespace rein::pipeline::testutil {

inline capture::Context agent_context(const std::string& prices_path) {
  capture::Context ctx;
  ctx.set_abi_version(REIN_ABI_VERSION);
  ctx.set_realtime_minus_boottime_ns(1'700'000'000'000'000'000LL);
  auto* spec = ctx.add_selector_specs();
  spec->set_kind(uint32_t(SelectorKind::Exe));
  spec->set_value("/usr/bin/agent");
  spec->set_name("agent");
  spec->set_agent_class(62);
  ctx.set_prices_path(prices_path);
  return ctx;
}

inline Result<SelectorSet> agent_selectors() {
  return SelectorSet::build({{SelectorKind::Exe, "/usr/bin/agent", "agent", 62}});
}

}  // namespace rein::pipeline::testutil
