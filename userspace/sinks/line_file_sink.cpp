#include "sinks/line_file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace rein::sinks {

Result<std::unique_ptr<LineFileSink>> LineFileSink::open(const std::string& path) {
  if (path.empty() || path == "-") {
    static char buf[1 << 16];
    setvbuf(stdout, buf, _IOFBF, sizeof(buf));
    return std::unique_ptr<LineFileSink>(new LineFileSink(stdout, false));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(fmt::format("--output {}: {}", path, std::strerror(errno)));
  FILE* f = fdopen(fd, "w");
  if (!f) {
    ::close(fd);
    return make_error(fmt::format("--output {}: {}", path, std::strerror(errno)));
  }
  return std::unique_ptr<LineFileSink>(new LineFileSink(f, true));
}

LineFileSink::~LineFileSink() {
  flush();
  if (owned_) fclose(f_);
}

void LineFileSink::write_line(std::string_view line) {
  if (fwrite(line.data(), 1, line.size(), f_) != line.size() || fputc('\n', f_) == EOF)
    write_errors_++;
}

void LineFileSink::flush() {
  if (fflush(f_) != 0) write_errors_++;
}

}  // namespace rein::sinks
