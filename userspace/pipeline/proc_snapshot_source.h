// A /proc snapshot from a capture (Adopt entries) read in place: the live sensor adopts from
// it when it records, and replay adopts from the same files, without writing them out.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "capture/capture.pb.h"
#include "common/result.h"
#include "process/proc_source.h"

namespace rein::pipeline {

class ProcSnapshotSource final : public process::ProcSource {
 public:
  using Files = google::protobuf::RepeatedPtrField<capture::ProcFile>;
  // Every path must be "<pid>/<name>"; one that is not makes the whole snapshot an error (a
  // hostile or damaged capture adopts nothing rather than a guess). `files` must outlive it.
  static Result<ProcSnapshotSource> from(const Files& files);

  std::vector<uint32_t> pids(bool* complete) const override;
  std::optional<std::string> read(uint32_t pid, std::string_view name, size_t max,
                                  bool* truncated) const override;
  std::optional<std::string> read_link(uint32_t pid, std::string_view name) const override;
  // A snapshot keeps no owners: seed_from_proc then falls back to uid 0, the same in the
  // live run that recorded it and in replay.
  std::optional<uint32_t> owner(uint32_t) const override { return std::nullopt; }

 private:
  const capture::ProcFile* find(uint32_t pid, std::string_view name, bool link) const;
  std::vector<uint32_t> order_;  // pids as first listed
  // pid -> its files; a later file of the same name replaces an earlier one
  std::unordered_map<uint32_t, std::vector<std::pair<std::string_view, const capture::ProcFile*>>>
      by_pid_;
};

}  // namespace rein::pipeline
