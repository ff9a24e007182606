#include "capture/capture_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "capture/unique_fd.h"

namespace rein::capture {

namespace {

Result<HostKey> read_key_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return make_error("capture key " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return make_error("capture key " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error("capture key " + path + ": not a regular file");
  if (st.st_size != static_cast<off_t>(sizeof(HostKey)))
    return make_error("capture key " + path + ": expected exactly 32 bytes, found " +
                      std::to_string(st.st_size));
  HostKey key{};
  size_t got = 0;
  while (got < key.size()) {
    ssize_t n = ::read(fd.get(), key.data() + got, key.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      OPENSSL_cleanse(key.data(), key.size());
      return make_error("capture key " + path + ": short read");
    }
    got += static_cast<size_t>(n);
  }
  return key;
}

// Written under a temporary name and linked into place: link() fails with EEXIST when
// another process won the race, and nobody ever reads a half-written key.
Result<void> create_key_file(const std::string& path) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return make_error("capture key " + path + ": cannot create: " + std::strerror(errno));
  HostKey key{};
  auto fail = [&](const std::string& what) -> Result<void> {
    OPENSSL_cleanse(key.data(), key.size());
    ::unlink(tmp.c_str());
    return make_error("capture key " + path + ": " + what);
  };
  if (::fchmod(fd.get(), 0600) != 0) return fail(std::string("chmod: ") + std::strerror(errno));
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    return fail("no randomness available");
  size_t put = 0;
  while (put < key.size()) {
    ssize_t n = ::write(fd.get(), key.data() + put, key.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(std::string("write failed: ") + std::strerror(errno));
    put += static_cast<size_t>(n);
  }
  OPENSSL_cleanse(key.data(), key.size());
  if (::fsync(fd.get()) != 0) return fail(std::string("fsync failed: ") + std::strerror(errno));
  if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST)
    return fail(std::string("link: ") + std::strerror(errno));
  ::unlink(tmp.c_str());
  return {};
}

}  // namespace

Result<HostKey> load_capture_key(const std::string& state_dir) {
  return read_key_file(capture_key_path(state_dir));
}

Result<HostKey> load_or_create_capture_key(const std::string& state_dir) {
  const std::string path = capture_key_path(state_dir);
  if (::access(path.c_str(), F_OK) != 0) {
    if (errno != ENOENT) return make_error("capture key " + path + ": " + std::strerror(errno));
    if (auto ok = create_key_file(path); !ok) return ok.error();
  }
  return read_key_file(path);
}

}  // namespace rein::capture
