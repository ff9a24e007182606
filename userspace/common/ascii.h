// ASCII helpers shared by the protocol parsers (locale-independent on purpose: wire formats
// are bytes, not text in the user's locale).
#pragma once

namespace rein {

// Value of a hexadecimal digit, or -1.
inline int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace rein
