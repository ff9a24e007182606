#include "loader/tls_attacher.h"

#include <bpf/libbpf.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>

#include "rein/abi/events.h"

namespace rein::loader {
namespace {

struct Fn {
  const char* name;
  uint32_t source, dir, ex;
};
constexpr Fn kOpenSsl[] = {{"SSL_write", REIN_SRC_OPENSSL, REIN_DIR_EGRESS, 0},
                           {"SSL_write_ex", REIN_SRC_OPENSSL, REIN_DIR_EGRESS, 1},
                           {"SSL_read", REIN_SRC_OPENSSL, REIN_DIR_INGRESS, 0},
                           {"SSL_read_ex", REIN_SRC_OPENSSL, REIN_DIR_INGRESS, 1}};
constexpr Fn kGnuTls[] = {{"gnutls_record_send", REIN_SRC_GNUTLS, REIN_DIR_EGRESS, 0},
                          {"gnutls_record_recv", REIN_SRC_GNUTLS, REIN_DIR_INGRESS, 0}};

std::string_view base_name(std::string_view p) {
  auto pos = p.rfind('/');
  return pos == std::string_view::npos ? p : p.substr(pos + 1);
}

bool tls_library_name(std::string_view name) {
  return name.substr(0, 6) == "libssl" || name.substr(0, 9) == "libgnutls";
}

}  // namespace

TlsAttacher::~TlsAttacher() {
  for (auto* l : links_) bpf_link__destroy(l);
}

int TlsAttacher::attach_functions(const std::string& path, bool openssl) {
  int n = 0;
  auto attach = [&](const Fn& f) {
    uint64_t cookie = f.source | (f.dir << 8) | (f.ex << 16);
    LIBBPF_OPTS(bpf_uprobe_opts, in, .bpf_cookie = cookie, .retprobe = false, .func_name = f.name);
    struct bpf_link* a = bpf_program__attach_uprobe_opts(enter_, -1, path.c_str(), 0, &in);
    if (!a) return;
    LIBBPF_OPTS(bpf_uprobe_opts, out, .bpf_cookie = cookie, .retprobe = true, .func_name = f.name);
    struct bpf_link* b = bpf_program__attach_uprobe_opts(exit_, -1, path.c_str(), 0, &out);
    if (!b) {
      bpf_link__destroy(a);
      return;
    }
    links_.push_back(a);
    links_.push_back(b);
    n++;
  };
  if (openssl)
    for (const auto& f : kOpenSsl) attach(f);
  else
    for (const auto& f : kGnuTls) attach(f);
  return n;
}

bool TlsAttacher::consider(const std::string& fs_path, const std::string& shown_path) {
  struct stat st {};
  if (stat(fs_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (!seen_.insert({st.st_dev, st.st_ino}).second) return false;  // never attach twice
  // libbpf resolves the symbols from the ELF; a file without them attaches nothing.
  int n = attach_functions(fs_path, true);
  std::string lib = "openssl";
  if (n == 0) {
    n = attach_functions(fs_path, false);
    lib = "gnutls";
  }
  if (n == 0) {
    if (tls_library_name(base_name(shown_path)))
      new_.push_back({shown_path, lib, 0, "no TLS functions could be attached"});
    return false;
  }
  attached_files_++;
  new_.push_back({shown_path, lib, n, {}});
  return true;
}

void TlsAttacher::attach_system_libraries() {
  for (const char* p : {"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.1.1",
                        "/usr/lib/x86_64-linux-gnu/libgnutls.so.30", "/usr/lib64/libssl.so.3",
                        "/usr/lib/libssl.so.3", "/usr/bin/node", "/usr/local/bin/node"})
    consider(p, p);
}

void TlsAttacher::scan_process(uint32_t pid) {
  std::string proc = "/proc/" + std::to_string(pid);
  std::string root = proc + "/root";
  char exe[4096];
  ssize_t n = readlink((proc + "/exe").c_str(), exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = 0;
    // Only executables that could embed OpenSSL are worth an ELF symbol scan: skip the
    // usual system binaries that link it dynamically.
    std::string_view b = base_name(exe);
    if (b == "node" || b == "bun" || b == "deno" || b.find("claude") != std::string_view::npos)
      consider(root + exe, exe);
  }
  std::ifstream maps(proc + "/maps");
  std::string line;
  int lines = 0;
  while (std::getline(maps, line) && ++lines < 20000) {
    auto slash = line.find('/');
    if (slash == std::string::npos || line.find(" r-xp ") == std::string::npos) continue;
    std::string path = line.substr(slash);
    if (!tls_library_name(base_name(path))) continue;
    consider(root + path, path);
  }
}

void TlsAttacher::scan_all(size_t max_processes) {
  DIR* d = opendir("/proc");
  if (!d) return;
  size_t seen = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    if (++seen > max_processes) break;
    scan_process(static_cast<uint32_t>(strtoul(e->d_name, nullptr, 10)));
  }
  closedir(d);
}

std::vector<TlsTarget> TlsAttacher::take_new() {
  std::vector<TlsTarget> out;
  out.swap(new_);
  return out;
}

}  // namespace rein::loader
