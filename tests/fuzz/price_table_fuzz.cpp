// Any bytes as a price file (--prices, or the shipped table edited by an operator): never
// crash, hang or leak; an error names the file and, for a syntax error, says where.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "llm/json_syntax.h"
#include "llm/price_table.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = rein::llm::PriceTable::parse(text, "fuzz.json");
  if (!t.ok()) {
    const std::string& m = t.error().message;
    check(m.rfind("fuzz.json: ", 0) == 0);
    check(m.size() < 4096);
  }
  std::string where = rein::llm::json_syntax_error(text);
  check(!where.empty() && where.size() < 4096);
  if (where.rfind("line ", 0) == 0) check(where.find(", column ") != std::string::npos);
  return 0;
}
