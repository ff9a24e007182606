#include "cli/microhttpd_lib.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <type_traits>

namespace rein::cli {

Result<std::unique_ptr<MicrohttpdLib>> MicrohttpdLib::load() {
  void* handle = dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return make_error(fmt::format("--metrics-addr needs {} (Debian package libmicrohttpd12): {}",
                                  kSoname, why ? why : "cannot load it"));
  }
  std::unique_ptr<MicrohttpdLib> lib(new MicrohttpdLib(handle));
  const char* missing = nullptr;
  auto need = [&](const char* name, auto& fn) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
    if (!fn && !missing) missing = name;
  };
  need("MHD_start_daemon", lib->start_daemon);
  need("MHD_stop_daemon", lib->stop_daemon);
  need("MHD_create_response_from_buffer", lib->create_response_from_buffer);
  need("MHD_add_response_header", lib->add_response_header);
  need("MHD_queue_response", lib->queue_response);
  need("MHD_destroy_response", lib->destroy_response);
  if (missing) return make_error(fmt::format("--metrics-addr: {} has no {}", kSoname, missing));
  return lib;
}

MicrohttpdLib::~MicrohttpdLib() {
  dlclose(handle_);
}

}  // namespace rein::cli
