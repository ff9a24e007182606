#include "cli/metrics_server.h"

#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "cli/microhttpd_lib.h"
#include "metrics/exposition.h"

namespace rein::cli {

namespace {
// Bounds what a scraper (or anyone who can reach the port) can hold open.
constexpr unsigned kMaxConnections = 32;
constexpr unsigned kConnectionTimeoutS = 10;

MHD_Result reply(const MicrohttpdLib& mhd, MHD_Connection* c, unsigned status,
                 std::string_view body, std::string_view content_type) {
  auto* r = mhd.create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                            MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, std::string(content_type).c_str());
  MHD_Result ret = mhd.queue_response(c, status, r);
  mhd.destroy_response(r);
  return ret;
}

MHD_Result handle(void* cls, MHD_Connection* c, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload*/, size_t* upload_size,
                  void** /*state*/) {
  const auto* self = static_cast<const MetricsServer*>(cls);
  const MicrohttpdLib& mhd = self->mhd();
  const std::string_view m(method), u(url);
  if (m != "GET" && m != "HEAD")
    return reply(mhd, c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n", "text/plain");
  if (upload_size && *upload_size)
    return reply(mhd, c, MHD_HTTP_BAD_REQUEST, "no body\n", "text/plain");
  if (u == "/metrics")
    return reply(mhd, c, MHD_HTTP_OK, self->registry().render(), metrics::kContentType);
  if (u == "/healthz") {
    return self->ready() ? reply(mhd, c, MHD_HTTP_OK, "ok\n", "text/plain")
                         : reply(mhd, c, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n", "text/plain");
  }
  return reply(mhd, c, MHD_HTTP_NOT_FOUND, "not found: /metrics, /healthz\n", "text/plain");
}
}  // namespace

MetricsServer::MetricsServer(const metrics::Registry& r) : registry_(r) {}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const metrics::ListenAddress& a,
                                                            const metrics::Registry& registry) {
  auto mhd = MicrohttpdLib::load();
  if (!mhd) return mhd.error();
  const int family = a.addr.ss_family;
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return make_error(fmt::format("--metrics-addr {}: socket: {}", a.text, std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0 || listen(fd, 64) != 0) {
    const int err = errno;
    close(fd);
    return make_error(
        fmt::format("--metrics-addr {}: cannot listen: {}", a.text, std::strerror(err)));
  }
  std::unique_ptr<MetricsServer> s(new MetricsServer(registry));
  s->mhd_ = std::move(*mhd);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
  if (family == AF_INET6) flags |= MHD_USE_IPv6;
  s->daemon_ =
      s->mhd_->start_daemon(flags, 0, nullptr, nullptr, &handle, s.get(), MHD_OPTION_LISTEN_SOCKET,
                            fd, MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
                            MHD_OPTION_CONNECTION_TIMEOUT, kConnectionTimeoutS, MHD_OPTION_END);
  if (!s->daemon_) {
    close(fd);
    return make_error(fmt::format("--metrics-addr {}: the HTTP server did not start", a.text));
  }
  return s;
}

MetricsServer::~MetricsServer() {
  if (daemon_) mhd_->stop_daemon(daemon_);  // closes the listening socket too
}

}  // namespace rein::cli
