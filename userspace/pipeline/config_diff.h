// The bounded, redacted unified diff a config.mutation carries. Lines are compared after
// the common head and tail are set aside; the middle is diffed with Myers' algorithm up
// to a bounded edit distance, beyond which it is shown as one replaced block (a correct,
// non-minimal diff). Every output line has credential-shaped tokens and the values of
// secret-looking assignments (API_KEY=..., "password": ...) replaced by "[REDACTED]".
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rein::pipeline {

struct DiffLimits {
  size_t max_lines = 200;        // output lines (hunk headers included)
  size_t max_bytes = 16 * 1024;  // output bytes
  size_t max_line_bytes = 512;   // each line cut here
  size_t max_edit_distance = 1000;
  size_t context = 3;
};

struct TextDiff {
  std::string text;  // unified diff hunks ("@@ -a,b +c,d @@" and ' ', '-', '+' lines)
  uint64_t lines_added = 0, lines_removed = 0;
  bool truncated = false;    // text stops at a bound (counts are still complete)
  bool approximate = false;  // the edit distance bound was hit: a block replacement
  uint64_t redactions = 0;   // lines in which something was redacted
};

TextDiff unified_diff(std::string_view before, std::string_view after,
                      const DiffLimits& limits = {});

// Every line of a text with secrets masked (the line structure is kept), so file contents
// held by the sensor never carry a raw secret.
std::string redact_config_text(std::string_view text);

// One line with secrets masked; `changed` says whether anything was.
std::string redact_config_line(std::string_view line, bool* changed = nullptr);

}  // namespace rein::pipeline
