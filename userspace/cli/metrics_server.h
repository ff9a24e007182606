// The --metrics-addr endpoint: GET /metrics (Prometheus text) and /healthz ("ok" once the
// sensor is ready, 503 before), served by libmicrohttpd's own thread. That thread only
// reads: Registry::render takes the registry's mutex.
#pragma once
#include <atomic>
#include <memory>

#include "common/result.h"
#include "metrics/listen_address.h"
#include "metrics/metrics_registry.h"

struct MHD_Daemon;

namespace rein::cli {

class MicrohttpdLib;

class MetricsServer {
 public:
  // Binds the address itself (so "in use" or "cannot assign" name the flag and the reason).
  static Result<std::unique_ptr<MetricsServer>> start(const metrics::ListenAddress& addr,
                                                      const metrics::Registry& registry);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void set_ready(bool ready) { ready_.store(ready); }
  bool ready() const { return ready_.load(); }
  const metrics::Registry& registry() const { return registry_; }
  const MicrohttpdLib& mhd() const { return *mhd_; }

 private:
  explicit MetricsServer(const metrics::Registry& r);  // out of line: needs MicrohttpdLib
  const metrics::Registry& registry_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<MicrohttpdLib> mhd_;  // unloaded after the destructor stops daemon_
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace rein::cli
