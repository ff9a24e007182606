// Where the shipped price table is, for `rein run` and `rein replay` alike.
#pragma once
#include <string>

namespace rein::cli {

// $REIN_PRICES; else next to the binary when installed; else the source tree's data/.
std::string default_prices_path();

}  // namespace rein::cli
