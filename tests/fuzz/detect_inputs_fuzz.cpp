// What the detectors parse from traffic and files, under arbitrary bytes: the content
// extractor (request JSON, response JSON/SSE/NDJSON, read as each API lays its answer out),
// mention extraction from response text,
// install-command parsing, and the saved baseline files (scope, prompts). None may crash,
// and every mention must lie inside the text it came from. The first byte picks the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detect/llm_content.h"
#include "detect/mentions.h"
#include "detect/prompt_baseline.h"
#include "detect/scope_drift.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rein::detect;
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (sel % 4) {
    case 0: {  // request body | response body, split at the first NUL
      static LlmContentExtractor x;
      // bits 3-5: the API, for where its answer's text is read (TextLayout); 0: none known
      static constexpr std::pair<const char*, const char*> kApis[] = {
          {"", "/"},
          {"api.openai.com", "/v1/chat/completions"},
          {"api.anthropic.com", "/v1/messages"},
          {"api.openai.com", "/v1/responses"},
          {"generativelanguage.googleapis.com", "/v1beta/models/g:streamGenerateContent"},
          {"localhost:11434", "/api/chat"},
          {"api.openai.com", "/v1/embeddings"},
          {"localhost:11434", "/api/generate"},
      };
      size_t nul = in.find('\0');
      rein::proto::HttpExchange ex;
      ex.request.method = "POST";
      ex.request.host = kApis[(sel >> 3) & 7].first;
      ex.request.target = kApis[(sel >> 3) & 7].second;
      ex.request.body = std::string(in.substr(0, nul));
      rein::proto::HttpResponse r;
      r.status = 200;
      r.headers.push_back({"content-type", (sel & 4) ? "text/event-stream" : "application/json"});
      if (nul != std::string_view::npos) r.body = std::string(in.substr(nul + 1));
      ex.response = std::move(r);
      auto c = x.extract(ex);
      if (c.response_text.size() > kMaxResponseText) std::abort();
      if (c.system_prompt && c.system_prompt->line_hashes.size() > kMaxShapeLines) std::abort();
      if (c.tools && c.tools->names.size() > kMaxToolNames) std::abort();
      break;
    }
    case 1: {
      auto ms = extract_mentions(in);
      if (ms.size() > kMaxMentions) std::abort();
      for (const auto& m : ms)
        if (uint64_t(m.offset) + m.length > in.size()) std::abort();
      break;
    }
    case 2: {
      std::vector<std::string_view> argv;
      for (size_t a = 0; a < in.size();) {
        size_t z = in.find(' ', a);
        if (z == std::string_view::npos) z = in.size();
        argv.push_back(in.substr(a, z - a));
        a = z + 1;
      }
      auto inst = parse_install(argv);
      if (inst.packages.size() > 8) std::abort();
      break;
    }
    case 3: {  // the saved baseline files: scope, and earlier sessions' prompts
      (void)ScopeDriftDetector::parse(in);
      auto p = PromptBaselines::parse(in);
      if (p && p->size() > PromptBaselines::kMaxKeys) std::abort();
      if (p)
        for (const auto& [k, e] : *p) {
          if (e.variants.size() > PromptBaselines::kMaxVariants) std::abort();
          for (const auto& v : e.variants)
            if (v.lines.size() > PromptBaselines::kMaxLines) std::abort();
        }
      break;
    }
  }
  return 0;
}
