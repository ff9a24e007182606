// Several consumers of every llm.call behind the pipeline's one observer slot (the usage
// ledger and the per-pod metrics), in the order added.
#pragma once
#include <vector>

#include "pipeline/llm_call_observer.h"

namespace rein::pipeline {

class LlmCallObservers : public LlmCallObserver {
 public:
  void add(LlmCallObserver* o) {
    if (o) observers_.push_back(o);
  }
  bool empty() const { return observers_.empty(); }
  void on_llm_call(const ObservedLlmCall& call) override {
    for (auto* o : observers_) o->on_llm_call(call);
  }
  uint64_t write_errors() const override {
    uint64_t n = 0;
    for (auto* o : observers_) n += o->write_errors();
    return n;
  }

 private:
  std::vector<LlmCallObserver*> observers_;
};

}  // namespace rein::pipeline
