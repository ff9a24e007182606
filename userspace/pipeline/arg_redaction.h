// Credentials in argv: what `process.args` masks, and which bytes of the argument those
// masks stand for, so a capture can hide exactly them (docs/events.md, docs/capture.md).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret_redaction.h"

namespace rein::pipeline {

// What the previous argument says of this one: a secret flag's value, curl's -u/--user
// (user:password: the password is masked) or -b (name=value cookies: the values are).
enum class ArgState { kPlain, kSecret, kUser, kCookie };

// argv with credentials masked: values of --*key*/--*token*/--*secret*/--password flags and
// strings shaped like known API keys become "[redacted]", as do such values inside an
// argument (header values, URL passwords, query parameters). Secrets never reach a sink.
std::string redact_arg(std::string_view arg, ArgState previous, ArgState* next);
std::string redact_arg(std::string_view arg, bool previous_was_secret_flag, bool* is_secret_flag);

// The same decision, as the ranges of `arg` whose bytes the output does not show (sorted,
// disjoint, merged where they touch). An empty range is a marker put between two bytes.
std::vector<TextRange> redacted_ranges(std::string_view arg, ArgState previous, ArgState* next);

// Capture's side: in `argv` (NUL-separated, as in an exec record or /proc cmdline), every
// byte redact_arg hides is overwritten with 'X', except key-shaped tokens (the capture
// scrubber gives those placeholders of their own, which stay key-shaped). What replay's
// redact_arg prints for the result is what the live sensor printed for the original
// (ArgRedaction.MaskedArgvRedactsTheSame). Returns whether a byte changed.
bool mask_argv_secrets(char* argv, size_t len);

}  // namespace rein::pipeline
