#include "detect/pattern_db_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "capture/unique_fd.h"

namespace rein::detect {

namespace {
constexpr std::string_view kMagic = "REIN-HSDB-1\n";
constexpr std::string_view kPrefix = "secret-patterns-";
constexpr std::string_view kSuffix = ".hsdb";
constexpr size_t kDigest = 32;

std::array<unsigned char, kDigest> sha256(std::string_view s) {
  std::array<unsigned char, kDigest> md{};
  unsigned int n = 0;
  if (EVP_Digest(s.data(), s.size(), md.data(), &n, EVP_sha256(), nullptr) != 1 || n != kDigest)
    md.fill(0);
  return md;
}

std::string file_of(const std::string& dir, std::string_view key) {
  return dir + "/" + std::string(kPrefix) + std::string(key.substr(0, 16)) + std::string(kSuffix);
}

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(size_t(n));
  }
  return true;
}
}  // namespace

std::string pattern_db_key(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto md = sha256(text);
  std::string out;
  for (unsigned char c : md) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<std::string> read_pattern_db(const std::string& dir, std::string_view key,
                                           size_t max_bytes) {
  if (dir.empty() || key.size() < 16) return std::nullopt;
  capture::UniqueFd f(::open(file_of(dir, key).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (f.get() < 0 || ::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
      size_t(st.st_size) > max_bytes)
    return std::nullopt;
  std::string text(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(f.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += size_t(n);
  }
  // magic, the full key (the name holds only its start), the payload's SHA-256, the payload
  const size_t head = kMagic.size() + key.size() + 1 + kDigest;
  if (text.size() <= head || std::string_view(text).substr(0, kMagic.size()) != kMagic ||
      std::string_view(text).substr(kMagic.size(), key.size()) != key ||
      text[kMagic.size() + key.size()] != '\n')
    return std::nullopt;
  std::string_view payload = std::string_view(text).substr(head);
  auto md = sha256(payload);
  if (std::memcmp(md.data(), text.data() + head - kDigest, kDigest) != 0) return std::nullopt;
  return std::string(payload);
}

bool write_pattern_db(const std::string& dir, std::string_view key, std::string_view bytes) {
  if (dir.empty() || key.size() < 16) return false;
  const std::string path = file_of(dir, key);
  const std::string tmp = path + ".tmp";
  bool ok = false;
  {
    capture::UniqueFd f(
        ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (f.get() < 0) return false;
    auto md = sha256(bytes);
    std::string head(kMagic);
    head.append(key).push_back('\n');
    head.append(reinterpret_cast<const char*>(md.data()), md.size());
    ok = write_all(f.get(), head) && write_all(f.get(), bytes);
  }
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  // Databases of earlier pattern sets or Hyperscan versions are of no further use.
  const std::string keep = path.substr(dir.size() + 1);
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> stale;
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n.starts_with(kPrefix) && n.ends_with(kSuffix) && n != keep) stale.emplace_back(n);
    }
    ::closedir(d);
    for (const auto& n : stale) ::unlink((dir + "/" + n).c_str());
  }
  return true;
}

}  // namespace rein::detect
