#include "detect/baseline_file.h"

#include <errno.h>
#include <fmt/format.h>
#include <string.h>

#include <cstdio>
#include <memory>

namespace rein::detect {

Result<std::optional<std::string>> read_baseline_file(const std::string& path, size_t max_bytes) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    if (errno == ENOENT) return std::optional<std::string>();
    return make_error(fmt::format("{}: {}", path, strerror(errno)));
  }
  std::string text;
  char buf[65536];
  while (text.size() <= max_bytes) {
    size_t got = std::fread(buf, 1, sizeof buf, f.get());
    text.append(buf, got);
    if (got < sizeof buf) break;
  }
  return std::optional<std::string>(std::move(text));
}

Result<void> write_baseline_file(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp";
  {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
    if (!f) return make_error(fmt::format("{}: {}", tmp, strerror(errno)));
    if (std::fwrite(text.data(), 1, text.size(), f.get()) != text.size() ||
        std::fflush(f.get()) != 0)
      return make_error(fmt::format("{}: {}", tmp, strerror(errno)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return make_error(fmt::format("{}: {}", path, strerror(errno)));
  return {};
}

}  // namespace rein::detect
