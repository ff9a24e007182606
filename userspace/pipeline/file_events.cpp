#include "pipeline/file_events.h"

#include <fmt/format.h>

#include "pipeline/event_fields.h"
#include "process/path_normalize.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

namespace {
void put_mode(sinks::JsonWriter& w, uint32_t mode) {
  w.key("mode");
  w.string(fmt::format("{:04o}", mode & 07777));
}
}  // namespace

const char* op_name(uint16_t op) {
  switch (op) {
    case REIN_OP_CREATE: return "create";
    case REIN_OP_WRITE: return "write";
    case REIN_OP_TRUNCATE: return "truncate";
    case REIN_OP_RENAME: return "rename";
    case REIN_OP_UNLINK: return "unlink";
    case REIN_OP_CHMOD: return "chmod";
    case REIN_OP_CHOWN: return "chown";
    case REIN_OP_MKDIR: return "mkdir";
    case REIN_OP_RMDIR: return "rmdir";
    case REIN_OP_LINK: return "link";
    case REIN_OP_SYMLINK: return "symlink";
    case REIN_OP_XATTR: return "xattr";
  }
  return "unknown";
}

std::string clean_path(const std::string& p, uint32_t flags) {
  if (p.empty() || p[0] != '/' || (flags & REIN_F_PATH_FROM_FD)) return p;
  return process::normalize_path(p);
}

const std::string& file_mutation_event(EventBuilder& b, const decode::Header& h,
                                       const ProcessView& v, const process::Agent* agent,
                                       std::string_view op, const std::string& path,
                                       int32_t result,
                                       const std::function<void(sinks::JsonWriter&)>& extra) {
  auto& w = b.begin("file.mutation", h.ts_ns, v, agent);
  w.key("op");
  w.string(op);
  w.key("path");
  w.string(path);
  if (extra) extra(w);
  put_result(w, result);
  w.key("tid");
  w.number(uint64_t(h.pid));
  return b.finish();
}

void write_file_op_fields(sinks::JsonWriter& w, const decode::FileRec& r, const std::string& path,
                          const std::string& path2, const std::string& shown,
                          const std::string& shown2) {
  if (shown != path) {
    w.key("path_as_written");
    w.string(path);
  }
  if (r.op == REIN_OP_RENAME || r.op == REIN_OP_LINK) {
    w.key("new_path");
    w.string(shown2);
    if (shown2 != path2) {
      w.key("new_path_as_written");
      w.string(path2);
    }
  } else if (r.op == REIN_OP_SYMLINK) {
    w.key("target");
    w.string(r.path2);
  }
  if (r.op == REIN_OP_CHMOD || r.op == REIN_OP_MKDIR || r.op == REIN_OP_CREATE) put_mode(w, r.mode);
  if (r.op == REIN_OP_CHOWN) {
    w.key("owner");
    if (r.owner == UINT32_MAX) w.null(); else w.number(uint64_t(r.owner));
    w.key("group");
    if (r.group == UINT32_MAX) w.null(); else w.number(uint64_t(r.group));
  }
  if (r.flags & (REIN_F_PATH_TRUNCATED | REIN_F_PATH2_TRUNCATED)) {
    w.key("path_truncated");
    w.boolean(true);
  }
  if (r.flags & REIN_F_PATH_UNRESOLVED) {
    w.key("path_unresolved");
    w.boolean(true);
  }
}

void write_open_fields(sinks::JsonWriter& w, const decode::FileOpenRec& r) {
  put_mode(w, r.mode);
  if (r.flags & REIN_F_PATH_TRUNCATED) {
    w.key("path_truncated");
    w.boolean(true);
  }
}

const std::string& mechanism_event(EventBuilder& b, const ProcessView& v,
                                   const process::Agent* agent, const decode::MechanismRec& r) {
  auto& w = b.begin("file.mechanism", r.h.ts_ns, v, agent);
  w.key("mechanism");
  if (r.mechanism == REIN_MECH_EXEC_MAP) {
    w.string("exec_map");
    w.key("path");
    w.string(r.path);
    if (r.flags & REIN_F_PATH_TRUNCATED) {
      w.key("path_truncated");
      w.boolean(true);
    }
    w.key("enforcement");
    switch (r.policy.outcome) {
      case REIN_OUT_KILLED: w.string("killed"); break;
      case REIN_OUT_PAUSED: w.string("paused"); break;
      case REIN_OUT_AUDITED: w.string("audited"); break;
      default: w.null(); break;
    }
    w.key("reason");
    w.string("a program an exec rule names, mapped as code without an exec (a loader running it)");
    return b.finish();
  }
  w.string(r.mechanism == REIN_MECH_IO_URING_SETUP   ? "io_uring_setup"
           : r.mechanism == REIN_MECH_IO_URING_ENTER ? "io_uring_enter"
                                                     : "io_uring_register");
  w.key("enforcement");
  if (r.policy.outcome == REIN_OUT_KILLED) w.string("killed"); else w.null();
  w.key("reason");
  w.string(r.policy.rule ? "io_uring under a file rule: its operations bypass the file hooks"
                         : "io_uring operations are not seen by the file hooks");
  return b.finish();
}

}  // namespace rein::pipeline
