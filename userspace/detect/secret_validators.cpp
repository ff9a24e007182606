#include "detect/secret_validators.h"

#include <array>
#include <cstdint>

namespace rein::detect {

bool luhn_valid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool dbl = false;
  for (size_t i = digits.size(); i-- > 0;) {
    char c = digits[i];
    if (c < '0' || c > '9') return false;
    int d = c - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

namespace {

int prefix_num(std::string_view digits, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n && i < digits.size(); i++) v = v * 10 + (digits[i] - '0');
  return v;
}

bool issuer_length_ok(std::string_view d) {
  size_t len = d.size();
  int p1 = prefix_num(d, 1), p2 = prefix_num(d, 2), p3 = prefix_num(d, 3), p4 = prefix_num(d, 4),
      p6 = prefix_num(d, 6);
  if (p1 == 4) return len == 13 || len == 16 || len == 19;                     // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return len == 16;  // Mastercard
  if (p2 == 34 || p2 == 37) return len == 15;                                  // Amex
  if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925))
    return len >= 16 && len <= 19;                              // Discover
  if (p4 >= 3528 && p4 <= 3589) return len >= 16 && len <= 19;  // JCB
  if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305))
    return len >= 14 && len <= 19;                                                   // Diners
  if (p2 == 62) return len >= 16 && len <= 19;                                       // UnionPay
  if (p2 == 50 || (p2 >= 56 && p2 <= 58) || p1 == 6) return len >= 13 && len <= 19;  // Maestro
  return false;
}

struct IbanCountry {
  char cc[3];
  int len;
};
// ISO 13616 registry (SWIFT IBAN registry), the countries that issue IBANs.
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

}  // namespace

bool card_number_valid(std::string_view digits) {
  if (digits.size() < 13 || digits.size() > 19) return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  // A run of one digit ("4444 4444 4444 4448" aside) is filler, not a card.
  bool same = true;
  for (char c : digits.substr(1, digits.size() - 2)) same = same && c == digits[1];
  if (same) return false;
  return issuer_length_ok(digits) && luhn_valid(digits);
}

int iban_length(std::string_view country) {
  if (country.size() != 2) return 0;
  for (const auto& c : kIbanCountries)
    if (country[0] == c.cc[0] && country[1] == c.cc[1]) return c.len;
  return 0;
}

bool iban_valid(std::string_view iban) {
  int want = iban_length(iban.substr(0, 2));
  if (want == 0 || static_cast<int>(iban.size()) != want) return false;
  if (iban[2] < '0' || iban[2] > '9' || iban[3] < '0' || iban[3] > '9') return false;
  int check = (iban[2] - '0') * 10 + (iban[3] - '0');
  if (check < 2 || check > 98) return false;
  // Rearranged (BBAN, country, check digits), letters as 10..35, reduced digit by digit.
  uint32_t rem = 0;
  for (size_t k = 0; k < iban.size(); k++) {
    char c = iban[(k + 4) % iban.size()];
    if (c >= '0' && c <= '9') {
      rem = (rem * 10 + uint32_t(c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      rem = (rem * 100 + uint32_t(c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

bool jwt_header_valid(std::string_view h) {
  if (h.size() < 8 || h.size() > 2048 || h.substr(0, 3) != "eyJ") return false;
  std::array<char, 1536> out{};
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : h) {
    if (c == '=') break;
    int v = b64url_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n < out.size()) out[n++] = char((acc >> bits) & 0xFF);
    }
  }
  std::string_view json(out.data(), n);
  return json.size() >= 2 && json[0] == '{' && json.find("\"alg\"") != std::string_view::npos;
}

}  // namespace rein::detect
