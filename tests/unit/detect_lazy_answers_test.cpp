// The hallucinated-endpoint detector keeps answers unread and reads them only when a failure
// of their session comes, or when they leave its bounds: what a failure is compared with
// must be what reading every answer at once gave.
#include <errno.h>
#include <gtest/gtest.h>

#include <string>

#include "detect/hallucinated_endpoint.h"

namespace rein::detect {
namespace {

constexpr uint64_t kSec = 1'000'000'000ULL;

// An OpenAI chat stream whose text is `parts` joined, one event per part.
std::string chat_stream(std::initializer_list<std::string_view> parts) {
  std::string body;
  for (auto p : parts)
    body +=
        R"(data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")" +
        std::string(p) + "\"}}]}\n\n";
  body += "data: [DONE]\n\n";
  return body;
}

llm::LlmCall call(std::string id) {
  llm::LlmCall c;
  c.provider = "openai";
  c.request_model = "gpt-4o";
  c.status = 200;
  c.response_id = std::move(id);
  return c;
}

struct Feed {
  HallucinatedEndpointDetector d;
  // One answer, as the engine hands it over: lazily (its body) or at once (its text).
  void answer(uint64_t ts, const Who& who, const std::string& id, const std::string& body,
              const std::string& text, bool lazy) {
    auto c = call(id);
    LlmContent content;
    if (lazy)
      content.answer = AnswerSource{llm::Api::kOpenAIChat, "text/event-stream", body};
    else
      content.response_text = text;
    d.on_llm({ts, who, &c, &content});
  }
  std::vector<Detection> refused(uint64_t ts, const Who& who, uint16_t port) {
    std::vector<Detection> out;
    d.on_connect({ts, who, "127.0.0.1", "", port, -ECONNREFUSED}, out);
    return out;
  }
};

const Who kWho{100, 100, "sess-a", "coder"};

TEST(DetectLazyAnswers, ReadOnlyAtAFailureAndTheSameAsReadingAtOnce) {
  const std::string body =
      chat_stream({"Use the API at http://127.0.", "0.1:45999/v2/widgets", " for that."});
  Feed lazy, eager;
  lazy.answer(kSec, kWho, "resp-1", body, "", true);
  eager.answer(kSec, kWho, "resp-1", "",
               "Use the API at http://127.0.0.1:45999/v2/widgets for that.", false);
  EXPECT_EQ(lazy.d.answers_read(), 0u);  // nothing failed yet: the stream was not walked
  auto a = lazy.refused(2 * kSec, kWho, 45999);
  auto b = eager.refused(2 * kSec, kWho, 45999);
  EXPECT_EQ(lazy.d.answers_read(), 1u);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].evidence, b[0].evidence);  // span, response id, mention: all the same
  EXPECT_NE(a[0].evidence.find("\"offset\":15"), std::string::npos) << a[0].evidence;
  // read once: a second failure compares with the mentions already taken
  EXPECT_TRUE(lazy.refused(3 * kSec, kWho, 45998).empty());
  EXPECT_EQ(lazy.d.answers_read(), 1u);
}

TEST(DetectLazyAnswers, AFailureReadsOnlyItsOwnSession) {
  Feed f;
  f.answer(kSec, kWho, "resp-1", chat_stream({"see http://127.0.0.1:45999/x"}), "", true);
  const Who other{200, 200, "sess-b", "coder"};
  EXPECT_TRUE(f.refused(2 * kSec, other, 45999).empty());
  EXPECT_EQ(f.d.answers_read(), 0u);
  EXPECT_EQ(f.refused(3 * kSec, kWho, 45999).size(), 1u);
}

TEST(DetectLazyAnswers, TheNewestAnswerNamingItIsTheOneLinked) {
  Feed f;
  f.answer(kSec, kWho, "resp-old", chat_stream({"try http://127.0.0.1:45999/a"}), "", true);
  f.answer(2 * kSec, kWho, "resp-new", chat_stream({"or http://127.0.0.1:45999/b"}), "", true);
  auto ds = f.refused(3 * kSec, kWho, 45999);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_NE(ds[0].evidence.find("resp-new"), std::string::npos) << ds[0].evidence;
  EXPECT_EQ(f.d.answers_read(), 2u);
}

// Answers pushed out by the bounds are read on the way out: the mention is still there.
TEST(DetectLazyAnswers, AnswersPastTheBoundsAreReadNotLost) {
  Feed f;
  f.answer(kSec, kWho, "resp-first", chat_stream({"use http://127.0.0.1:45999/v1"}), "", true);
  const std::string filler = chat_stream({std::string(600 * 1024, 'x')});
  for (int i = 0; i < 8; i++)  // 4.8 MB, over the 4 MiB bound
    f.answer((2 + i) * kSec, kWho, "resp-x" + std::to_string(i), filler, "", true);
  EXPECT_GE(f.d.answers_read(), 2u);  // the first and at least one filler left the bounds
  auto ds = f.refused(20 * kSec, kWho, 45999);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_NE(ds[0].evidence.find("resp-first"), std::string::npos) << ds[0].evidence;
}

TEST(DetectLazyAnswers, PastTheWindowOrAfterTheSessionTheyAreDroppedUnread) {
  Feed f;
  f.answer(kSec, kWho, "resp-1", chat_stream({"http://127.0.0.1:45999/x"}), "", true);
  // the next answer comes after the 600 s window: the first can no longer be named
  f.answer(700 * kSec, kWho, "resp-2", chat_stream({"nothing here"}), "", true);
  EXPECT_EQ(f.d.answers_dropped_unread(), 1u);
  EXPECT_TRUE(f.refused(701 * kSec, kWho, 45999).empty());
  f.answer(702 * kSec, kWho, "resp-3", chat_stream({"http://127.0.0.1:45998/x"}), "", true);
  f.d.on_session_end(kWho.session);
  EXPECT_EQ(f.d.answers_dropped_unread(), 2u);
  EXPECT_EQ(f.d.tracked(), 0u);
  EXPECT_TRUE(f.refused(703 * kSec, kWho, 45998).empty());
}

// What the detector holds is counted, and its bound holds.
TEST(DetectLazyAnswers, UnreadBytesAreCountedAndBounded) {
  Feed f;
  const size_t empty = f.d.state_bytes();
  const std::string body = chat_stream({std::string(64 * 1024, 'y')});
  f.answer(kSec, kWho, "r", body, "", true);
  EXPECT_GE(f.d.state_bytes(), empty + body.size());
  for (int i = 0; i < 200; i++) f.answer((2 + i) * kSec, kWho, "r", body, "", true);
  EXPECT_LE(f.d.state_bytes(), empty + (5u << 20));
}

}  // namespace
}  // namespace rein::detect
