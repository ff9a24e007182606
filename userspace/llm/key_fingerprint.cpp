#include "llm/key_fingerprint.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/secret_redaction.h"
#include "llm/text_util.h"

namespace rein::llm {

namespace {

// Closes the fd on every path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<Fingerprinter> read_key(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return make_error("key file " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error("key file " + path + ": not a regular file");
  if (st.st_size != 32) {
    return make_error("key file " + path + ": expected exactly 32 bytes, found " +
                      std::to_string(st.st_size));
  }
  std::array<uint8_t, 32> key{};
  size_t got = 0;
  while (got < key.size()) {
    ssize_t n = ::read(fd, key.data() + got, key.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error("key file " + path + ": short read");
    got += static_cast<size_t>(n);
  }
  Fingerprinter fp(key);
  OPENSSL_cleanse(key.data(), key.size());
  return fp;
}

Result<Fingerprinter> create_key(const std::string& path, bool* lost_race) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    *lost_race = errno == EEXIST;
    return make_error("key file " + path + ": cannot create: " + std::strerror(errno));
  }
  std::array<uint8_t, 32> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    ::unlink(path.c_str());
    return make_error("key file " + path + ": no randomness available");
  }
  size_t put = 0;
  while (put < key.size()) {
    ssize_t n = ::write(fd.get(), key.data() + put, key.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      OPENSSL_cleanse(key.data(), key.size());
      ::unlink(path.c_str());
      return make_error("key file " + path + ": write failed: " + std::strerror(errno));
    }
    put += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    OPENSSL_cleanse(key.data(), key.size());
    ::unlink(path.c_str());
    return make_error("key file " + path + ": fsync failed: " + std::strerror(errno));
  }
  Fingerprinter fp(key);
  OPENSSL_cleanse(key.data(), key.size());
  return fp;
}

bool sensitive_param(std::string_view name) {
  std::string decoded = to_lower(percent_decode(name));
  for (std::string_view n : kCredentialQueryParams) {
    if (decoded == n) return true;
  }
  return false;
}

// Credential from the query string: Gemini ?key=, Azure ?api-key=, presigned SigV4.
std::optional<std::string> query_credential(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  if (size_t h = query.find('#'); h != std::string_view::npos) query = query.substr(0, h);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name = to_lower(percent_decode(param.substr(0, eq)));
    std::string value = percent_decode(param.substr(eq + 1));
    if (value.empty()) continue;
    if (name == "x-amz-credential") return value.substr(0, value.find('/'));
    if (name == "key" || name == "api-key" || name == "api_key" || name == "apikey" ||
        name == "access_token" || name == "x-goog-api-key")
      return value;
  }
  return std::nullopt;
}

struct Credential {
  std::string secret;
  std::string cls;  // overrides classify_key when set
};

std::optional<Credential> authorization_credential(std::string_view value) {
  value = trim(value);
  size_t sp = value.find(' ');
  std::string_view scheme = value.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? std::string_view{} : trim(value.substr(sp + 1));
  if (iequals(scheme, "Bearer")) {
    if (rest.empty()) return std::nullopt;
    return Credential{std::string(rest), ""};
  }
  if (iequals(scheme, "AWS4-HMAC-SHA256")) {
    // Only the access key id identifies the caller; the Signature changes per request
    // and is never kept.
    size_t c = rest.find("Credential=");
    if (c == std::string_view::npos) return std::nullopt;
    std::string_view cred = rest.substr(c + 11);
    cred = cred.substr(0, cred.find_first_of("/, "));
    if (cred.empty()) return std::nullopt;
    return Credential{std::string(cred), ""};
  }
  if (iequals(scheme, "Basic")) {
    if (rest.empty()) return std::nullopt;
    return Credential{std::string(rest), "basic"};
  }
  if (value.empty()) return std::nullopt;
  return Credential{std::string(value), ""};
}

}  // namespace

std::string classify_key(std::string_view secret) {
  std::string_view cls = secret_prefix_class(secret);
  return cls.empty() ? "unknown" : std::string(cls);
}

namespace {
std::shared_ptr<EVP_MAC_CTX> keyed_hmac(const std::array<uint8_t, 32>& key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) return nullptr;
  std::shared_ptr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(mac), EVP_MAC_CTX_free);
  EVP_MAC_free(mac);  // the context keeps its own reference
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) return nullptr;
  return ctx;
}
}  // namespace

struct Fingerprinter::RecentMacs {
  static constexpr size_t kMax = 8;
  struct Entry {
    std::string secret, mac;
  };
  std::mutex mu;
  std::vector<Entry> entries;  // most recent last
  ~RecentMacs() {
    for (auto& e : entries) OPENSSL_cleanse(e.secret.data(), e.secret.size());
  }
};

Fingerprinter::Fingerprinter(std::array<uint8_t, 32> key)
    : key_(key), mac_(keyed_hmac(key)), recent_(std::make_shared<RecentMacs>()) {
  OPENSSL_cleanse(key.data(), key.size());
}

Fingerprinter::~Fingerprinter() { OPENSSL_cleanse(key_.data(), key_.size()); }

Result<Fingerprinter> Fingerprinter::from_key_file(const std::string& path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() >= 0) return read_key(fd.get(), path);
    if (errno != ENOENT) return make_error("key file " + path + ": " + std::strerror(errno));
    bool lost_race = false;
    auto created = create_key(path, &lost_race);
    if (created.ok() || !lost_race) return created;  // lost race: another process created it
  }
  return make_error("key file " + path + ": could not create or read");
}

std::string Fingerprinter::hmac12(std::string_view secret) const {
  std::lock_guard<std::mutex> lock(recent_->mu);
  auto& recent = recent_->entries;
  for (const auto& e : recent)
    if (e.secret == secret) return e.mac;
  std::string mac = hmac12_uncached(secret);
  if (mac == "unavailable") return mac;
  if (recent.size() >= RecentMacs::kMax) {
    OPENSSL_cleanse(recent.front().secret.data(), recent.front().secret.size());
    recent.erase(recent.begin());
  }
  recent.push_back({std::string(secret), mac});
  return mac;
}

std::string Fingerprinter::hmac12_uncached(std::string_view secret) const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(secret.data());
  if (mac_) {
    std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_dup(mac_.get()),
                                                                   EVP_MAC_CTX_free);
    size_t n = 0;
    if (!ctx || EVP_MAC_update(ctx.get(), in, secret.size()) != 1 ||
        EVP_MAC_final(ctx.get(), md, &n, sizeof(md)) != 1)
      return "unavailable";
    md_len = static_cast<unsigned int>(n);
  } else if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), in, secret.size(), md,
                  &md_len) == nullptr) {
    return "unavailable";
  }
  if (md_len < 6) return "unavailable";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 6; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xF]);
  }
  OPENSSL_cleanse(md, sizeof(md));
  return out;
}

std::string Fingerprinter::fingerprint(std::string_view secret) const {
  return classify_key(secret) + ":" + hmac12(secret);
}

KeyFingerprint Fingerprinter::fingerprint_request(const proto::HttpRequest& req) const {
  std::optional<Credential> cred;
  if (const std::string* auth = proto::find_header(req.headers, "authorization")) {
    cred = authorization_credential(*auth);
  }
  for (std::string_view h : {"x-api-key", "api-key", "x-goog-api-key", "x-litellm-api-key"}) {
    if (cred) break;
    if (const std::string* v = proto::find_header(req.headers, h)) {
      std::string_view t = trim(*v);
      if (!t.empty()) cred = Credential{std::string(t), ""};
    }
  }
  if (!cred) {
    if (auto q = query_credential(req.target)) cred = Credential{std::move(*q), ""};
  }
  if (!cred) return {};
  KeyFingerprint out;
  out.key_class = cred->cls.empty() ? classify_key(cred->secret) : cred->cls;
  if (auto fp = observer_ ? observer_->recorded(cred->secret) : std::nullopt) {
    out.fingerprint = std::move(*fp);  // replay: the placeholder of a credential seen live
    out.key_class = out.fingerprint.substr(0, out.fingerprint.find(':'));
  } else {
    out.fingerprint = out.key_class + ":" + hmac12(cred->secret);
    if (observer_) observer_->seen(cred->secret, out.fingerprint);
  }
  OPENSSL_cleanse(cred->secret.data(), cred->secret.size());
  return out;
}

std::string scrub_query(std::string_view raw_target) {
  // An absolute-form target (a proxy request) may carry a URL password: masked first.
  const std::string unpassworded = redact_url_passwords(raw_target);
  const std::string_view target = unpassworded;
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  std::string_view fragment;
  if (size_t h = query.find('#'); h != std::string_view::npos) {
    fragment = query.substr(h);
    query = query.substr(0, h);
  }
  bool first = true;
  while (true) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (!first) out.push_back('&');
    first = false;
    size_t eq = param.find('=');
    if (eq != std::string_view::npos && sensitive_param(param.substr(0, eq))) {
      out.append(param.substr(0, eq + 1));
      out.append("REDACTED");
    } else {
      out.append(param);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  out.append(fragment);
  return out;
}

std::string redact_secrets(std::string_view text) {
  return redact_secret_tokens(text, RedactionMarker::kClassed);
}

}  // namespace rein::llm
