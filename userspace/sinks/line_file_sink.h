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
  // glibc's setvbuf ignores the size it is given without a buffer and keeps the file
  // system's block (4 KiB): the buffer is passed in, and lives as long as the FILE.
  static constexpr size_t kBufferBytes = size_t{1} << 16;
  static Result<FILE*> open_file(const std::string& path, char* buffer);
  LineFileSink(FILE* f, bool owned, std::string path, std::unique_ptr<char[]> buffer)
      : f_(f), owned_(owned), path_(std::move(path)), buffer_(std::move(buffer)) {}
  FILE* f_;
  bool owned_;
  std::string path_;
  std::unique_ptr<char[]> buffer_;  // f_'s (null for stdout, which has its own)
  uint64_t write_errors_ = 0;
};

}  // namespace rein::sinks
