// NDJSON splitter, streamed-JSON-array splitter and AWS eventstream decoder under arbitrary
// bytes: no crash, bounds respected, and the same output however the body is sliced.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/aws_eventstream.h"
#include "proto/json_array_stream.h"
#include "proto/ndjson.h"

namespace {

std::vector<std::string> ndjson(std::string_view body, size_t slice, size_t max) {
  rein::proto::NdjsonSplitter s(max);
  std::vector<std::string> out;
  auto cb = [&](std::string_view l) {
    if (l.size() > max) std::abort();
    out.emplace_back(l);
  };
  for (size_t i = 0; i < body.size(); i += slice) s.feed(body.substr(i, slice), cb);
  s.finish(cb);
  return out;
}

std::vector<std::string> array(std::string_view body, size_t slice, size_t max) {
  rein::proto::JsonArrayStream s(max);
  std::vector<std::string> out;
  auto cb = [&](std::string_view o) {
    if (o.size() > max || o.empty() || o.front() != '{' || o.back() != '}') std::abort();
    out.emplace_back(o);
  };
  for (size_t i = 0; i < body.size(); i += slice) s.feed(body.substr(i, slice), cb);
  s.finish();
  return out;
}

std::vector<std::string> eventstream(std::string_view body, size_t slice, size_t max) {
  rein::proto::EventStreamDecoder d(max);
  std::vector<std::string> out;
  auto cb = [&](const rein::proto::EventStreamMessage& m) {
    if (m.payload.size() > max) std::abort();
    out.push_back(m.event_type + "|" + m.message_type + "|" + std::string(m.payload));
  };
  for (size_t i = 0; i < body.size(); i += slice) d.feed(body.substr(i, slice), cb);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t slice = 1 + data[0] % 13;
  const size_t max = 8 + (data[0] >> 4) * 24;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (ndjson(body, slice, max) != ndjson(body, body.size() + 1, max)) std::abort();
  if (array(body, slice, max) != array(body, body.size() + 1, max)) std::abort();
  if (eventstream(body, slice, max) != eventstream(body, body.size() + 1, max)) std::abort();
  return 0;
}
