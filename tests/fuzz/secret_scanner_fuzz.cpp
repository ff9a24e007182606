// Feeds arbitrary bytes to the secret scanner as a request body. Checks that nothing
// crashes, that work stays bounded, and the invariants of every finding: a count, at most
// kMaxLocations locations, a "<class>:<12 hex>" fingerprint. A second pass over the input
// wrapped in a JSON string exercises the unescape-and-rescan path. The screened literal
// check must answer as its byte loop does.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/fast_find.h"
#include "detect/pattern_literal.h"
#include "detect/secret_scanner.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

const rein::detect::SecretScanner& scanner() {
  static const rein::detect::SecretScanner* s = [] {
    auto r =
        rein::detect::SecretScanner::create(rein::llm::Fingerprinter(std::array<uint8_t, 32>{}));
    check(r.ok());
    return new rein::detect::SecretScanner(std::move(*r));
  }();
  return *s;
}

void check_result(const rein::detect::SecretScanResult& r, size_t size) {
  check(r.bytes_scanned <= size);
  uint64_t total = 0;
  for (const auto& f : r.findings) {
    check(f.count > 0);
    total += f.count;
    check(f.locations.size() <= rein::detect::SecretScanner::kMaxLocations);
    size_t colon = f.fingerprint.rfind(':');
    check(colon != std::string::npos && f.fingerprint.size() - colon == 13);
    check(f.message_index >= -1);
  }
  check(total <= 2 * 4096);
  (void)rein::detect::summarize(r.findings);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  if (rein::detail::have_avx2())
    check(rein::detect::detail::has_pattern_literal_avx2(body) ==
          rein::detect::detail::has_pattern_literal_bytes(body));
  check_result(scanner().scan(body, "anthropic"), body.size());
  std::string wrapped = R"({"messages":[{"role":"user","content":")";
  wrapped.append(body);
  wrapped += R"("}],"x":"\/"})";
  check_result(scanner().scan(wrapped, ""), wrapped.size());
  return 0;
}
