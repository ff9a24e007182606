#include "process/k8s_pod_labels.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <fmt/format.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cstdlib>

#include "process/proc_reader.h"

namespace rein::process {
namespace {

constexpr size_t kMaxReplyBytes = 4 * 1024 * 1024;  // a Pod object is a few KiB
constexpr size_t kMaxTokenBytes = 64 * 1024;
constexpr size_t kMaxLabels = 64;
constexpr size_t kMaxLabelKey = 317;  // 253 prefix + '/' + 63 name
constexpr size_t kMaxLabelValue = 63;
constexpr int kIoTimeoutS = 3;

uint64_t monotonic_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec);
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

bool is_ip_literal(const std::string& host) {
  std::array<unsigned char, 16> buf{};
  return ::inet_pton(AF_INET, host.c_str(), buf.data()) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf.data()) == 1;
}

Result<int> connect_to(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return make_error("k8s api: cannot resolve " + host);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{kIoTimeoutS, 0};
    // SO_SNDTIMEO also bounds connect() on Linux
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) return fd;
    ::close(fd);
  }
  return make_error("k8s api: cannot connect to " + host + ":" + port);
}

}  // namespace

Result<K8sApiConfig> k8s_api_config_from_env(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return make_error("k8s api: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set");
  }
  K8sApiConfig cfg;
  cfg.host = host;
  cfg.port = port;
  auto token = read_file_bounded(sa_dir + "/token", kMaxTokenBytes);
  if (!token || trim(*token).empty()) {
    return make_error("k8s api: no service account token in " + sa_dir);
  }
  cfg.token = trim(std::move(*token));
  cfg.ca_file = sa_dir + "/ca.crt";
  if (::access(cfg.ca_file.c_str(), R_OK) != 0) {
    return make_error("k8s api: no CA certificate " + cfg.ca_file);
  }
  return cfg;
}

std::optional<PodLabels> parse_pod_labels(std::string_view json, std::string_view uid) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(json)).get(doc)) return std::nullopt;
  std::string_view kind, got_uid;
  if (doc["kind"].get_string().get(kind) || kind != "Pod") return std::nullopt;
  simdjson::dom::element meta;
  if (doc["metadata"].get(meta)) return std::nullopt;
  if (meta["uid"].get_string().get(got_uid) || got_uid != uid) return std::nullopt;
  PodLabels out;
  simdjson::dom::object labels;
  if (meta["labels"].get_object().get(labels)) return out;  // a pod without labels
  for (auto kv : labels) {
    std::string_view v;
    if (kv.value.get_string().get(v)) continue;
    if (kv.key.empty() || kv.key.size() > kMaxLabelKey || v.size() > kMaxLabelValue) continue;
    if (out.size() >= kMaxLabels) break;
    out.emplace(std::string(kv.key), std::string(v));
  }
  return out;
}

Result<std::string> k8s_api_get(const K8sApiConfig& cfg, const std::string& path) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return make_error("k8s api: TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx.get(), cfg.ca_file.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return make_error("k8s api: cannot load CA " + cfg.ca_file);
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl) return make_error("k8s api: TLS session");
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip_literal(cfg.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, cfg.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, cfg.host.c_str(), 0);
    SSL_set_tlsext_host_name(ssl.get(), cfg.host.c_str());
  }
  auto fd = connect_to(cfg.host, cfg.port);
  if (!fd) return fd.error();
  Fd sock{*fd};
  SSL_set_fd(ssl.get(), sock.fd);
  if (SSL_connect(ssl.get()) != 1) {
    ERR_clear_error();
    return make_error("k8s api: TLS handshake with " + cfg.host + " failed (certificate?)");
  }
  // HTTP/1.0: the reply is not chunked and ends at the close.
  const std::string host =
      cfg.host.find(':') != std::string::npos ? "[" + cfg.host + "]" : cfg.host;
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + host +
                          "\r\nAuthorization: Bearer " + cfg.token +
                          "\r\nAccept: application/json\r\nUser-Agent: rein\r\n\r\n";
  size_t off = 0;
  while (off < req.size()) {
    const int n = SSL_write(ssl.get(), req.data() + off, static_cast<int>(req.size() - off));
    if (n <= 0) {
      ERR_clear_error();
      return make_error("k8s api: write failed");
    }
    off += static_cast<size_t>(n);
  }
  std::string reply;
  std::array<char, 16384> buf{};
  while (reply.size() < kMaxReplyBytes) {
    const int n = SSL_read(ssl.get(), buf.data(), static_cast<int>(buf.size()));
    if (n <= 0) break;
    reply.append(buf.data(), static_cast<size_t>(n));
  }
  ERR_clear_error();
  if (reply.size() >= kMaxReplyBytes) return make_error("k8s api: reply too large");
  const size_t eoh = reply.find("\r\n\r\n");
  if (eoh == std::string::npos) return make_error("k8s api: no complete reply");
  // "HTTP/1.x 200 ..."
  if (reply.compare(0, 5, "HTTP/") != 0) return make_error("k8s api: not HTTP");
  const size_t sp = reply.find(' ');
  if (sp == std::string::npos || sp > eoh || reply.compare(sp + 1, 3, "200") != 0) {
    const size_t eol = reply.find("\r\n");
    return make_error("k8s api: " + reply.substr(0, std::min<size_t>(eol, 80)));
  }
  return reply.substr(eoh + 4);
}

K8sLabelFetcher::K8sLabelFetcher(K8sApiConfig cfg, Options opts)
    : cfg_(std::move(cfg)), opts_(opts) {
  if (opts_.cache_max == 0) opts_.cache_max = 1;
  worker_ = std::thread([this] { run(); });
}

K8sLabelFetcher::~K8sLabelFetcher() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

uint64_t K8sLabelFetcher::fetch_errors() const {
  std::lock_guard<std::mutex> lk(mu_);
  return fetch_errors_;
}

std::shared_ptr<const PodLabels> K8sLabelFetcher::labels(const std::string& ns,
                                                         const std::string& pod,
                                                         const std::string& uid) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = cache_.find(uid);
  if (it == cache_.end()) {
    while (cache_.size() >= opts_.cache_max && !cache_order_.empty()) {
      cache_.erase(cache_order_.front());
      cache_order_.pop_front();
    }
    cache_order_.push_back(uid);
    it = cache_.emplace(uid, Entry{}).first;
  }
  Entry& e = it->second;
  if (!e.queued && monotonic_s() >= e.next_fetch_s && queue_.size() < opts_.queue_max) {
    e.queued = true;
    queue_.push_back(Job{ns, pod, uid});
    cv_.notify_one();
  }
  return e.labels;
}

void K8sLabelFetcher::run() {
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    // ns and pod were checked as DNS names (k8s_identity.cpp): nothing to escape in the path
    auto body = k8s_api_get(cfg_, "/api/v1/namespaces/" + job.ns + "/pods/" + job.pod);
    std::optional<PodLabels> labels;
    std::string error;
    if (!body) {
      error = body.error().message;
    } else if (!(labels = parse_pod_labels(*body, job.uid))) {
      error = "k8s api: " + job.ns + "/" + job.pod + " is not the pod of UID " + job.uid;
    }
    // Each distinct failure once (RBAC, certificate, address): enough to fix it, no flood.
    if (!error.empty() && error != last_error_) {
      fmt::print(stderr, "rein: --k8s-api: {}\n", error);
      last_error_ = error;
    }
    lk.lock();
    auto it = cache_.find(job.uid);
    if (it == cache_.end()) continue;  // evicted meanwhile
    it->second.queued = false;
    if (labels) {
      it->second.labels = std::make_shared<const PodLabels>(std::move(*labels));
      it->second.next_fetch_s = monotonic_s() + opts_.ttl_s;
    } else {
      ++fetch_errors_;
      it->second.next_fetch_s = monotonic_s() + opts_.retry_s;
    }
  }
}

}  // namespace rein::process
