// JSON lines to stdout or a file. Files are created 0600: events can name paths and
// hosts an operator may not want world-readable.
#pragma once
#include <cstdio>
#include <string>

#include "common/result.h"
#include "pipeline/sensor_pipeline.h"

namespace rein::sinks {

class LineFileSink : public pipeline::LineSink {
 public:
  // path empty or "-": stdout.
  static Result<std::unique_ptr<LineFileSink>> open(const std::string& path);
  ~LineFileSink() override;
  void write_line(std::string_view line) override;
  void flush() override;
  uint64_t write_errors() const { return write_errors_; }

 private:
  explicit LineFileSink(FILE* f, bool owned) : f_(f), owned_(owned) {}
  FILE* f_;
  bool owned_;
  uint64_t write_errors_ = 0;
};

}  // namespace rein::sinks
