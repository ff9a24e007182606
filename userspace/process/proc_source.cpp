#include "process/proc_source.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>

#include "process/proc_reader.h"

namespace rein::process {

std::optional<uint32_t> pid_from_dirname(std::string_view s) {
  if (s.empty() || s.size() > 10 || s[0] < '1' || s[0] > '9') return std::nullopt;
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<uint32_t> ProcDirSource::pids(bool* complete) const {
  std::vector<uint32_t> out;
  *complete = false;
  DIR* dir = ::opendir(root_.c_str());
  if (dir == nullptr) return out;
  for (;;) {
    errno = 0;
    const dirent* de = ::readdir(dir);
    if (de == nullptr) {
      *complete = errno == 0;
      break;
    }
    if (auto pid = pid_from_dirname(de->d_name)) out.push_back(*pid);
  }
  ::closedir(dir);
  return out;
}

std::string ProcDirSource::path(uint32_t pid, std::string_view name) const {
  std::string p = root_;
  p += '/';
  p += std::to_string(pid);
  if (!name.empty()) {
    p += '/';
    p += name;
  }
  return p;
}

std::optional<std::string> ProcDirSource::read(uint32_t pid, std::string_view name, size_t max,
                                               bool* truncated) const {
  return read_file_bounded(path(pid, name), max, truncated);
}

std::optional<std::string> ProcDirSource::read_link(uint32_t pid, std::string_view name) const {
  return read_link_bounded(path(pid, name));
}

std::optional<uint32_t> ProcDirSource::owner(uint32_t pid) const {
  struct stat sb {};
  if (::stat(path(pid, {}).c_str(), &sb) != 0) return std::nullopt;
  return sb.st_uid;
}

}  // namespace rein::process
