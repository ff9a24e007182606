// Two properties, picked by the first input byte:
//  even: the rest is one hostile string value; the output must parse, be valid UTF-8, and
//        decode back to the input exactly whenever the input was valid UTF-8 itself.
//  odd:  the rest is a script of writer calls; whenever the writer reports well_formed(),
//        the output must parse.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "sinks/json_writer.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

bool parses(const std::string& json, simdjson::dom::element* out, simdjson::dom::parser& parser,
            simdjson::padded_string& keep) {
  keep = simdjson::padded_string(json);
  return parser.parse(keep).get(*out) == simdjson::SUCCESS;
}

void string_property(std::string_view in) {
  rein::sinks::JsonWriter w;
  w.begin_object();
  w.key(in);
  w.string(in);
  w.end_object();
  check(w.well_formed());
  check(simdjson::validate_utf8(w.str()));

  simdjson::dom::parser parser;
  simdjson::padded_string keep;
  simdjson::dom::element doc;
  check(parses(w.str(), &doc, parser, keep));
  simdjson::dom::object obj;
  check(doc.get_object().get(obj) == simdjson::SUCCESS);
  size_t fields = 0;
  for (auto field : obj) {
    ++fields;
    std::string_view value;
    check(field.value.get_string().get(value) == simdjson::SUCCESS);
    check(field.key == value);
    if (simdjson::validate_utf8(in.data(), in.size())) {
      check(value == in);
    } else {
      // Every invalid byte became a 3-byte U+FFFD, valid sequences were kept.
      check(value.size() > in.size());
    }
  }
  check(fields == 1);
}

void script_property(const uint8_t* data, size_t size) {
  rein::sinks::JsonWriter w;
  size_t i = 0;
  auto take_bytes = [&](size_t n) {
    n = n < size - i ? n : size - i;
    std::string_view s(reinterpret_cast<const char*>(data + i), n);
    i += n;
    return s;
  };
  while (i < size) {
    const uint8_t op = data[i++];
    switch (op % 12) {
      case 0: w.begin_object(); break;
      case 1: w.end_object(); break;
      case 2: w.begin_array(); break;
      case 3: w.end_array(); break;
      case 4: w.key(take_bytes(op >> 4)); break;
      case 5: w.string(take_bytes(op >> 4)); break;
      case 6: {
        uint64_t bits = 0;
        auto b = take_bytes(8);
        std::memcpy(&bits, b.data(), b.size());
        double d;
        std::memcpy(&d, &bits, sizeof d);
        w.number(d);
        break;
      }
      case 7: {
        int64_t v = 0;
        auto b = take_bytes(8);
        std::memcpy(&v, b.data(), b.size());
        if (op & 0x10) {
          w.number(static_cast<uint64_t>(v));
        } else {
          w.number(v);
        }
        break;
      }
      case 8: w.boolean(op & 0x10); break;
      case 9: w.null(); break;
      case 10: w.raw("{\"r\":[1,2]}"); break;
      case 11: w.clear(); break;
    }
  }
  if (w.well_formed()) {
    check(simdjson::validate_utf8(w.str()));
    simdjson::dom::parser parser;
    // The script can nest past simdjson's default depth of 1024; depth never exceeds length.
    check(parser.allocate(w.str().size() + 64, w.str().size() + 1) == simdjson::SUCCESS);
    simdjson::padded_string keep;
    simdjson::dom::element doc;
    check(parses(w.str(), &doc, parser, keep));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1) == 0) {
    string_property(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  } else {
    script_property(data + 1, size - 1);
  }
  return 0;
}
