// Checksums and shape rules that turn a pattern match into a finding. Pure functions over
// the candidate value; none keeps or prints it.
#pragma once
#include <string_view>

namespace rein::detect {

// Luhn (mod 10) over a string of ASCII digits only; false for anything else or "".
bool luhn_valid(std::string_view digits);

// A card number: 13-19 digits, a known issuer prefix with a length that issuer uses (Visa,
// Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro) and a valid Luhn check.
bool card_number_valid(std::string_view digits);

// The IBAN length registered for a two-letter country code, 0 when unknown.
int iban_length(std::string_view country);

// An IBAN without spaces, upper case: known country, its exact length, the check digits
// between 02 and 98, and ISO 7064 mod-97 == 1.
bool iban_valid(std::string_view iban);

// A JWT header segment (base64url, no padding): decodes to a JSON object with an "alg".
bool jwt_header_valid(std::string_view header_b64url);

}  // namespace rein::detect
