// JSON lines to stdout or a file. Files are created 0600: events can name paths and
// hosts an operator may not want world-readable.
#pragma once
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "sinks/line_sink.h"

namespace rein::sinks {

class LineFileSink : public LineSink {
 public:
  // path empty or "-": stdout.
  static Result<std::unique_ptr<LineFileSink>> open(const std::string& path);
  ~LineFileSink() override;
  void write_line(std::string_view line) override;
  void flush() override;
  uint64_t write_errors() const override { return write_errors_; }
  // Opens the path again (after logrotate moved the file away): lines keep going to the
  // new file. Stdout is left alone. On failure the old file stays in use.
  Result<void> reopen();

 private:
  static Result<FILE*> open_file(const std::string& path);
  LineFileSink(FILE* f, bool owned, std::string path) : f_(f), owned_(owned), path_(std::move(path)) {}
  FILE* f_;
  bool owned_;
  std::string path_;
  uint64_t write_errors_ = 0;
};

}  // namespace rein::sinks
