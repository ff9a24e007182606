// Any bytes as one UDP DNS payload: never crash, and whatever parses obeys the bounds the
// event pipeline relies on (kept-record caps, printable names of bounded length).
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "proto/dns.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

void check_name(const std::string& name) {
  check(!name.empty());
  check(name.size() <= 1020);  // 255 wire bytes, at most 4 characters each
  for (char c : name) check(c >= 0x21 && c <= 0x7E);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = rein::proto::parse_dns(std::span<const uint8_t>(data, size));
  if (!r.ok()) {
    check(!r.error().message.empty());
    return 0;
  }
  const rein::proto::DnsMessage& m = *r;
  check(m.questions.size() <= rein::proto::kDnsMaxQuestions);
  check(m.answers.size() <= rein::proto::kDnsMaxAnswers);
  check(m.questions.size() + m.questions_dropped <= m.question_count);
  check(m.answers.size() + m.answers_dropped <= m.answer_count);
  if (!m.incomplete) {
    check(m.questions.size() + m.questions_dropped == m.question_count);
    check(m.answers.size() + m.answers_dropped == m.answer_count);
  }
  for (const auto& q : m.questions) check_name(q.name);
  for (const auto& a : m.answers) {
    check_name(a.name);
    if (a.type == 5 || a.type == 12 || a.type == 2) check_name(a.data);
    if (a.type == 1) check(a.data.size() >= 7 && a.data.size() <= 15);
  }
  (void)rein::proto::dns_type_name(static_cast<uint16_t>(size));
  return 0;
}
