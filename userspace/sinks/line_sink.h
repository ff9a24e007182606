// Where finished JSON lines go. The interface lives with the sinks (not in the pipeline
// that writes to it) so sinks stay below the pipeline in the layer order.
#pragma once
#include <cstdint>
#include <string_view>

namespace rein::sinks {

class LineSink {
 public:
  virtual ~LineSink() = default;
  virtual void write_line(std::string_view line) = 0;
  virtual void flush() = 0;
  // Lines or flushes that failed (disk full, a closed pipe), for sensor.health.
  virtual uint64_t write_errors() const { return 0; }
};

}  // namespace rein::sinks
