#include "cli/verify_command.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "capture/capture_key.h"
#include "capture/capture_reader.h"

namespace rein::cli {

int verify(const VerifyOptions& o) {
  struct stat st {};
  if (::stat(o.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fmt::print(stderr, "rein verify: {}: {}\n", o.dir,
               errno ? std::strerror(errno) : "not a directory");
    return 2;
  }
  auto key = capture::load_capture_key(o.state_dir);
  if (!key) {
    fmt::print(stderr, "rein verify: {} (the --state-dir of the `rein run` that wrote it)\n",
               key.error().message);
    return 2;
  }
  auto rep = capture::verify_capture(o.dir, *key);
  size_t bad = 0;
  for (const auto& f : rep.findings) {
    if (!f.ok) bad++;
    fmt::print("{}: {}{}\n", f.name.empty() ? o.dir : f.name, f.ok ? "" : "FAILED: ", f.message);
  }
  for (const auto& n : rep.notes) fmt::print("note: {}\n", n);
  if (rep.ok)
    fmt::print("capture intact: {} segments, {} blocks, {} entries\n", rep.segments, rep.blocks,
               rep.entries);
  else
    fmt::print("capture NOT intact: {} problem{} in {} segments\n", bad, bad == 1 ? "" : "s",
               rep.segments);
  return rep.ok ? 0 : 1;
}

}  // namespace rein::cli
