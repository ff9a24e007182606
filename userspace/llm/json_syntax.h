// Where a JSON document goes wrong, for messages about configuration files (a price table):
// the DOM parser the sensor uses says only that a document is invalid, and a person fixing a
// file needs the line and column.
#pragma once
#include <string>
#include <string_view>

namespace rein::llm {

// "line L, column C: WHAT" for the first syntax error in `text` (1-based; columns count
// bytes), or just "WHAT" when the error has no position (a string never closed, bytes that
// are not UTF-8: found before the document is walked). Call it only for a document the
// parser rejected: for a valid one it returns "valid JSON".
std::string json_syntax_error(std::string_view text);

}  // namespace rein::llm
