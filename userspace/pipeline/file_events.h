// The JSON of file.mutation (one per file change, with the fields of each operation) and
// file.mechanism (io_uring, which the file hooks do not see).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "decode/records.h"
#include "pipeline/event_builder.h"

namespace rein::pipeline {

// The event's "op" for a REIN_OP_* code.
const char* op_name(uint16_t op);
// The kernel joins the caller's relative tail to a resolved directory; fold "." and "..".
std::string clean_path(const std::string& p, uint32_t flags);

// file.mutation: op and path, then what `extra` adds, then result/error and tid.
const std::string& file_mutation_event(EventBuilder& b, const decode::Header& h,
                                       const ProcessView& v, const process::Agent* agent,
                                       std::string_view op, const std::string& path,
                                       int32_t result,
                                       const std::function<void(sinks::JsonWriter&)>& extra);
// The fields of a name-based operation (rename, chmod, chown...): `shown`/`shown2` are the
// paths reported (resolved when they could be), `path`/`path2` as the process wrote them.
void write_file_op_fields(sinks::JsonWriter& w, const decode::FileRec& r, const std::string& path,
                          const std::string& path2, const std::string& shown,
                          const std::string& shown2);
// The fields of a create or truncate at open.
void write_open_fields(sinks::JsonWriter& w, const decode::FileOpenRec& r);
const std::string& mechanism_event(EventBuilder& b, const ProcessView& v,
                                   const process::Agent* agent, const decode::MechanismRec& r);

}  // namespace rein::pipeline
