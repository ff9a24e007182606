// libmicrohttpd, loaded with dlopen only when --metrics-addr is given. Linked, it and what it
// pulls in (libgnutls, libp11-kit, libnettle, libhogweed, ...) kept ~2.7 MiB resident in
// every sensor, most of which never serve metrics. microhttpd.h is still used for the types
// and constants; only the functions metrics_server.cpp calls are resolved.
#pragma once
#include <microhttpd.h>

#include <memory>

#include "common/result.h"

namespace rein::cli {

class MicrohttpdLib {
 public:
  // The library's soname, as the Debian package libmicrohttpd12 installs it.
  static constexpr const char* kSoname = "libmicrohttpd.so.12";

  // An error naming the library and the package when it cannot be loaded or lacks a function.
  static Result<std::unique_ptr<MicrohttpdLib>> load();
  ~MicrohttpdLib();  // dlclose: every daemon started through it must be stopped first
  MicrohttpdLib(const MicrohttpdLib&) = delete;
  MicrohttpdLib& operator=(const MicrohttpdLib&) = delete;

  decltype(&::MHD_start_daemon) start_daemon = nullptr;
  decltype(&::MHD_stop_daemon) stop_daemon = nullptr;
  decltype(&::MHD_create_response_from_buffer) create_response_from_buffer = nullptr;
  decltype(&::MHD_add_response_header) add_response_header = nullptr;
  decltype(&::MHD_queue_response) queue_response = nullptr;
  decltype(&::MHD_destroy_response) destroy_response = nullptr;

 private:
  explicit MicrohttpdLib(void* handle) : handle_(handle) {}
  void* handle_;
};

}  // namespace rein::cli
