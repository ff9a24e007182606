#include "cli/prices_path.h"

#include <unistd.h>

#include <cstdlib>

namespace rein::cli {

std::string default_prices_path() {
  if (const char* env = getenv("REIN_PRICES")) return env;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = 0;
    std::string dir(self);
    dir = dir.substr(0, dir.rfind('/'));
    for (const auto& c : {dir + "/prices.json", dir + "/../share/rein/prices.json"})
      if (access(c.c_str(), R_OK) == 0) return c;
  }
  return std::string(REIN_SOURCE_DIR) + "/data/prices.json";
}

}  // namespace rein::cli
