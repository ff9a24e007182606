// Retry spiral: one agent session repeating LLM calls that fail (429, 5xx, overloaded, no
// response), repeating near-identical successful requests, or its model emitting the same
// tool call with the same arguments, N times within a window. One spiral is one event:
// after firing, the same pattern is quiet until it stops for a whole window.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "common/string_map.h"
#include "detect/detector_util.h"

namespace rein::detect {

class RetrySpiralDetector {
 public:
  void configure(const policy::RetrySpiralConfig& c) { cfg_ = c; }
  void set_time_format(TimeFormat f) { time_ = std::move(f); }
  void on_llm(const LlmFact& f, std::vector<Detection>& out);
  void on_session_end(std::string_view session) { sessions_.erase(std::string(session)); }
  size_t tracked() const;
  size_t state_bytes() const;  // estimate (detect/state_bytes.h)

 private:
  struct Attempt {
    uint64_t ts = 0;
    int status = 0;
    double usd = 0;
    int64_t tokens = 0;
    double retry_after_s = -1;
    std::string response_id;
    bool cut = false;  // 2xx whose stream or body ended before its end
    // Everything but the id from `from`, the id from `id`: into a kept attempt's own buffer.
    void assign(const Attempt& from, std::string_view id) {
      ts = from.ts;
      status = from.status;
      usd = from.usd;
      tokens = from.tokens;
      retry_after_s = from.retry_after_s;
      cut = from.cut;
      response_id.assign(id);
    }
  };
  // The attempts of one series in order, oldest dropped first. Nearly every series holds one
  // attempt (an agent's requests differ from call to call): that one is held in place, where
  // a vector of one element was an allocation and a free on every call (a deque took two).
  // From the second attempt on they live in a vector read from `head_` on. Dropped attempts
  // are reclaimed when the vector is full and they are a quarter of what is kept, and it
  // grows by a quarter, not by doubling: a long spiral holds at most about 1.25x its
  // attempts, for a few moves per attempt.
  class AttemptLog {
   public:
    size_t size() const { return one_ ? 1 : v_.size() - head_; }
    bool empty() const { return size() == 0; }
    const Attempt* begin() const { return one_ ? &first_ : v_.data() + head_; }
    const Attempt* end() const { return begin() + size(); }
    const Attempt& front() const { return *begin(); }
    const Attempt& back() const { return end()[-1]; }
    const Attempt& operator[](size_t i) const { return begin()[i]; }
    void push_back(Attempt a) {
      if (empty() && v_.empty()) {
        first_ = std::move(a);
        one_ = true;
        return;
      }
      if (one_) {  // a second attempt: both go to the vector
        one_ = false;
        v_.push_back(std::move(first_));
      }
      if (v_.size() == v_.capacity() && !v_.empty()) {
        if (head_ >= 8 && head_ * 4 >= size()) {
          v_.erase(v_.begin(), v_.begin() + long(head_));
          head_ = 0;
        } else {
          v_.reserve(v_.size() + size() / 4 + 4);
        }
      }
      v_.push_back(std::move(a));
    }
    // The one attempt held becomes `a` (with id `id`), in place: a spiral that goes on
    // replaces its newest attempt on every call.
    void replace_only(const Attempt& a, std::string_view id) {
      (one_ ? first_ : v_[head_]).assign(a, id);
    }
    void pop_front() {
      if (one_) {
        drop_first();
      } else if (++head_ == v_.size()) {
        clear();
      } else if (head_ + 1 == v_.size()) {  // one left: back in place, the vector empties
        Attempt last = std::move(v_.back());
        clear();
        first_ = std::move(last);
        one_ = true;
      }
    }
    // A spiral that ended gives its memory back (a session keeps its failure series).
    void clear() {
      drop_first();
      if (v_.capacity() > 16)
        std::vector<Attempt>().swap(v_);
      else
        v_.clear();
      head_ = 0;
    }
    size_t capacity() const { return v_.capacity(); }  // heap slots (the first is in place)

   private:
    void drop_first() {
      if (!one_) return;
      one_ = false;
      first_ = Attempt{};  // its response id's buffer goes too
    }

    Attempt first_;
    bool one_ = false;
    std::vector<Attempt> v_;
    size_t head_ = 0;
  };
  struct Series {
    AttemptLog attempts;
    uint64_t quiet_until = 0;  // fired: no new event before this (extended while it goes on)
  };
  struct Session {
    Series failures;
    std::unordered_map<uint64_t, Series> requests, tool_calls;
    uint64_t last = 0;
  };
  // `a` without its response id, which is `id`: it is copied only into the attempt kept.
  void judge(const LlmFact& f, Series& s, const Attempt& a, std::string_view id, uint32_t threshold,
             std::string_view pattern, std::vector<Detection>& out);

  policy::RetrySpiralConfig cfg_;
  TimeFormat time_;
  StringMap<Session> sessions_;
};

}  // namespace rein::detect
