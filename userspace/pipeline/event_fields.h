// Fields several event families share (file.mutation, net.connect).
#pragma once
#include <cstdint>

#include "sinks/json_writer.h"

namespace rein::pipeline {

// "result": the errno as a positive number (0: success), "error": its name or null.
void put_result(sinks::JsonWriter& w, int32_t result);

}  // namespace rein::pipeline
