#include "pipeline/event_fields.h"

#include <string.h>

#include <fmt/format.h>

namespace rein::pipeline {

void put_result(sinks::JsonWriter& w, int32_t result) {
  // Widened first: negating INT32_MIN (a corrupt record) would overflow.
  const int64_t err = result < 0 ? -int64_t(result) : int64_t(result);
  w.key("result");
  w.number(err);
  w.key("error");
  if (result < 0) {
    const char* name = err <= INT32_MAX ? strerrorname_np(int(err)) : nullptr;
    if (name) w.string(name); else w.string(fmt::format("E{}", err));
  } else {
    w.null();
  }
}

}  // namespace rein::pipeline
