#include "sinks/line_file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace rein::sinks {

Result<std::unique_ptr<LineFileSink>> LineFileSink::open(const std::string& path) {
  if (path.empty() || path == "-") {
    static char buf[kBufferBytes];
    setvbuf(stdout, buf, _IOFBF, sizeof(buf));
    return std::unique_ptr<LineFileSink>(new LineFileSink(stdout, false, {}, nullptr));
  }
  auto buffer = std::make_unique_for_overwrite<char[]>(kBufferBytes);
  auto f = open_file(path, buffer.get());
  if (!f) return f.error();
  return std::unique_ptr<LineFileSink>(new LineFileSink(*f, true, path, std::move(buffer)));
}

// Appends: a restart never truncates what the previous run wrote, and another writer with
// O_APPEND (or logrotate's copytruncate) cannot interleave inside a line.
Result<FILE*> LineFileSink::open_file(const std::string& path, char* buffer) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(fmt::format("--output {}: {}", path, std::strerror(errno)));
  FILE* f = fdopen(fd, "a");
  if (!f) {
    ::close(fd);
    return make_error(fmt::format("--output {}: {}", path, std::strerror(errno)));
  }
  // 64 KiB, as for stdout: the default (the file system's 4 KiB block) meant a write(2) per
  // few events in a burst. Lines still go out at every flush() (each turn of the main loop).
  setvbuf(f, buffer, _IOFBF, kBufferBytes);
  return f;
}

Result<void> LineFileSink::reopen() {
  if (!owned_) return {};
  flush();
  auto buffer = std::make_unique_for_overwrite<char[]>(kBufferBytes);
  auto f = open_file(path_, buffer.get());
  if (!f) return f.error();
  fclose(f_);  // before its buffer goes
  f_ = *f;
  buffer_ = std::move(buffer);
  return {};
}

LineFileSink::~LineFileSink() {
  flush();
  if (owned_) fclose(f_);
}

void LineFileSink::write_line(std::string_view line) {
  // The sink has one thread: the unlocked calls skip a lock per line.
  if (fwrite_unlocked(line.data(), 1, line.size(), f_) != line.size() ||
      putc_unlocked('\n', f_) == EOF)
    write_errors_++;
}

void LineFileSink::flush() {
  if (fflush(f_) != 0) write_errors_++;
}

}  // namespace rein::sinks
