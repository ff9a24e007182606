// Where a /proc seed reads from: the live /proc (or a fake tree in tests), or a snapshot
// held in memory (capture and replay), so replay does not write thousands of small files
// back to disk only to read them again.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rein::process {

class ProcSource {
 public:
  virtual ~ProcSource() = default;
  // The pids listed, in listing order; *complete is false when the listing broke off (a
  // partial listing must not be taken as proof that a pid is gone).
  virtual std::vector<uint32_t> pids(bool* complete) const = 0;
  // One file of <pid>/: at most max bytes; *truncated tells whether more was there.
  virtual std::optional<std::string> read(uint32_t pid, std::string_view name, size_t max,
                                          bool* truncated = nullptr) const = 0;
  virtual std::optional<std::string> read_link(uint32_t pid, std::string_view name) const = 0;
  // The owner of <pid>/ (the effective uid of the process), when the source knows it.
  virtual std::optional<uint32_t> owner(uint32_t pid) const = 0;
};

// A directory laid out like /proc.
class ProcDirSource final : public ProcSource {
 public:
  explicit ProcDirSource(std::string root) : root_(std::move(root)) {}
  std::vector<uint32_t> pids(bool* complete) const override;
  std::optional<std::string> read(uint32_t pid, std::string_view name, size_t max,
                                  bool* truncated) const override;
  std::optional<std::string> read_link(uint32_t pid, std::string_view name) const override;
  std::optional<uint32_t> owner(uint32_t pid) const override;

 private:
  std::string path(uint32_t pid, std::string_view name) const;
  std::string root_;
};

// "1234" -> 1234; nullopt for anything that is not a /proc pid directory name.
std::optional<uint32_t> pid_from_dirname(std::string_view name);

}  // namespace rein::process
