// What the pipeline asks of the live system while it processes a record (cgroup paths,
// its own pid, the boot clock at adoption, real paths behind a file name...) goes through
// this journal when a capture runs or a capture is replayed: live, the answer is computed
// and recorded; in replay, the recorded answer is given back and nothing live is asked.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace rein::pipeline {

class InputJournal {
 public:
  virtual ~InputJournal() = default;
  // The answer to `key`: live, compute() (recorded); in replay, the latest recorded answer
  // for key (compute is not called), nullopt when none was recorded.
  virtual std::optional<std::string> lookup(
      std::string_view key, const std::function<std::optional<std::string>()>& compute) = 0;
};

}  // namespace rein::pipeline
