// The ring-record fast path of replay reads exactly what protobuf reads, and refuses
// (leaving it to protobuf) every other shape.
#include <gtest/gtest.h>

#include <string>

#include "capture/capture.pb.h"
#include "capture/record_entry.h"

namespace rein::capture {
namespace {

std::string entry_with_record(uint64_t seq, const std::string& data) {
  Entry e;
  e.set_seq(seq);
  e.mutable_record()->set_data(data);
  return e.SerializeAsString();
}

TEST(CaptureRecordEntry, ReadsWhatProtobufReads) {
  for (uint64_t seq :
       {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{1} << 40, ~uint64_t{0}})
    for (size_t len : {size_t{1}, size_t{127}, size_t{128}, size_t{70000}}) {
      std::string data(len, '\0');
      for (size_t i = 0; i < len; i++) data[i] = char(i * 31 + seq);
      const std::string bytes = entry_with_record(seq, data);
      auto r = read_record_entry(bytes);
      ASSERT_TRUE(r) << seq << " " << len;
      EXPECT_EQ(r->seq, seq);
      EXPECT_EQ(r->data, data);
    }
  // the writer always writes the seq field, even 0; protobuf leaves a 0 out: both read
  const std::string writer_zero = std::string("\x08\x00\x1a\x03\x0a\x01z", 7);
  auto r = read_record_entry(writer_zero);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->seq, 0u);
  EXPECT_EQ(r->data, "z");
}

TEST(CaptureRecordEntry, OtherShapesAreLeftToProtobuf) {
  Entry tick;
  tick.set_seq(5);
  tick.mutable_tick()->set_now_boot_ns(9);
  EXPECT_FALSE(read_record_entry(tick.SerializeAsString()));
  const std::string rec = entry_with_record(7, "abc");
  EXPECT_FALSE(read_record_entry(rec + std::string("\x08\x01", 2)));             // a later field
  EXPECT_FALSE(read_record_entry(rec.substr(0, rec.size() - 1)));                // cut short
  EXPECT_FALSE(read_record_entry(std::string("\x1a\x05\x0a\x01z\x10\x01", 7)));  // extra field
  EXPECT_FALSE(read_record_entry(std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11)));
  EXPECT_FALSE(read_record_entry(""));
  // whenever the fast path answers, protobuf agrees (the fuzzer checks this on any bytes)
  for (const std::string& b :
       {rec, std::string("\x1a\x00", 2), std::string("\x1a\x02\x0a\x00", 4)}) {
    auto fast = read_record_entry(b);
    ASSERT_TRUE(fast);
    Entry e;
    ASSERT_TRUE(e.ParseFromString(b));
    ASSERT_TRUE(e.has_record());
    EXPECT_EQ(e.record().data(), fast->data);
    EXPECT_EQ(e.seq(), fast->seq);
  }
}

}  // namespace
}  // namespace rein::capture
