// Whether a short body holds any literal one of the secret scanner's Hyperscan patterns
// needs (secret_scanner.cpp keeps the list a superset of its patterns). Bodies without one
// skip Hyperscan's per-scan start-up. The byte loop's switch was about 8% of the live
// detections' time on small chat requests (an indirect jump per byte, mispredicted on the
// letters that start a literal); where the CPU has AVX2 the body is screened 32 positions a
// step on the first two bytes of each literal, and only the few positions that pass are
// checked as the byte loop checks them.
#pragma once
#include <cstddef>
#include <string_view>

namespace rein::detect {

bool has_pattern_literal(std::string_view t);

namespace detail {
// Whether a literal starts at t[i].
bool literal_at(std::string_view t, size_t i);
// The byte loop over t[from..]; the reference the screened form must agree with.
bool has_pattern_literal_bytes(std::string_view t, size_t from = 0);
// The AVX2 screen; only on a CPU with AVX2.
bool has_pattern_literal_avx2(std::string_view t);
}  // namespace detail

}  // namespace rein::detect
