// SSE parser under arbitrary bytes: must never crash, must respect its event bound, and
// must produce the same events however the body is sliced.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/sse.h"

namespace {

struct Ev {
  std::string event, data, id;
  bool operator==(const Ev& o) const { return event == o.event && data == o.data && id == o.id; }
};

std::vector<Ev> run(std::string_view body, size_t slice, size_t max_event) {
  rein::proto::SseParser p(max_event);
  std::vector<Ev> out;
  auto cb = [&](const rein::proto::SseEvent& e) {
    if (e.event.size() + e.data.size() + e.id.size() > max_event) std::abort();
    out.push_back({e.event, e.data, e.id});
  };
  for (size_t i = 0; i < body.size(); i += slice) p.feed(body.substr(i, slice), cb);
  p.finish(cb);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t slice = 1 + data[0] % 17;
  const size_t max_event = 16 + (data[0] >> 4) * 32;  // small bounds exercise the drop paths
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto whole = run(body, body.size() + 1, max_event);
  auto sliced = run(body, slice, max_event);
  if (!(whole == sliced)) std::abort();
  run(body, body.size() + 1, rein::proto::SseParser::kDefaultMaxEventBytes);
  return 0;
}
