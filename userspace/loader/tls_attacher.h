// Finds TLS libraries and attaches the TLS uprobes to each one once, by inode, system wide:
// the system libssl/libgnutls at start, executables that export OpenSSL (node links it in),
// and whatever processes map later (Python loads libssl on `import ssl`; a container's own
// libssl is reached through /proc/PID/root).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

struct bpf_program;
struct bpf_link;

namespace rein::loader {

struct TlsTarget {
  std::string path;     // as the process sees it
  std::string library;  // "openssl" or "gnutls"
  int functions = 0;    // entry+return pairs attached
  std::string error;    // set when a known TLS file could not be attached
};

class TlsAttacher {
 public:
  TlsAttacher(struct bpf_program* enter, struct bpf_program* exit) : enter_(enter), exit_(exit) {}
  ~TlsAttacher();
  TlsAttacher(const TlsAttacher&) = delete;
  TlsAttacher& operator=(const TlsAttacher&) = delete;

  // Considers one file (reachable at `fs_path`); attaches when it exports a TLS API and its
  // inode is new. Returns true when something new was attached.
  bool consider(const std::string& fs_path, const std::string& shown_path);
  // The process's executable and mapped TLS libraries.
  void scan_process(uint32_t pid);
  // Every process in /proc (bounded).
  void scan_all(size_t max_processes = 8192);
  // Well-known locations, so the first process that loads them is covered.
  void attach_system_libraries();
  // Targets attached since the last call (for the start-up report and sensor.health).
  std::vector<TlsTarget> take_new();
  size_t attached_files() const { return attached_files_; }

 private:
  int attach_functions(const std::string& path, bool openssl);
  struct bpf_program* enter_;
  struct bpf_program* exit_;
  std::set<std::pair<dev_t, ino_t>> seen_;
  std::vector<struct bpf_link*> links_;
  std::vector<TlsTarget> new_;
  size_t attached_files_ = 0;
};

}  // namespace rein::loader
