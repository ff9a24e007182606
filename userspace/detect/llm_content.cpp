#include "detect/llm_content.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>
#include <utility>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "detect/prompt_baseline.h"
#include "detect/state_bytes.h"
#include "llm/json_util.h"
#include "llm/provider_detect.h"
#include "llm/text_util.h"
#include "proto/ndjson.h"
#include "proto/sse.h"

namespace rein::detect {

namespace {
constexpr size_t kKeptTextCapacity = 64 * 1024;
}  // namespace

namespace json = llm::json;
using simdjson::dom::element_type;

uint64_t fnv1a(std::string_view s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string short_sha256(std::string_view s) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  if (EVP_Digest(s.data(), s.size(), md.data(), &n, EVP_sha256(), nullptr) != 1 || n < 8)
    return fmt::format("{:016x}", fnv1a(s));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (unsigned i = 0; i < 8; i++) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

namespace {

using json::arr_of;
using json::obj_of;

constexpr size_t kMaxDepth = 64;
constexpr size_t kMaxSystemBytes = 1 << 20;

// Request fields that differ between retries of the same request (ids, user tags, stream
// options) and so are left out of the near-identity hash.
// `k` is `lit` (a literal of N characters plus its NUL), compared with a constant length
// the compiler inlines; callers check the length first.
template <size_t N>
inline bool is(std::string_view k, const char (&lit)[N]) {
  return std::memcmp(k.data(), lit, N - 1) == 0;
}

// `k` is exactly `lit`.
template <size_t N>
inline bool key_is(std::string_view k, const char (&lit)[N]) {
  return k.size() == N - 1 && is(k, lit);
}

bool volatile_key(std::string_view k) {
  switch (k.size()) {
    case 4:
      return is(k, "user") || is(k, "seed");
    case 5:
      return is(k, "store");
    case 6:
      return is(k, "labels");
    case 8:
      return is(k, "metadata");
    case 10:
      return is(k, "request_id");
    case 12:
      return is(k, "service_tier");
    case 14:
      return is(k, "stream_options");
    case 15:
      return is(k, "client_metadata");
    case 16:
      return is(k, "prompt_cache_key");
    case 17:
      return is(k, "safety_identifier");
    case 20:
      return is(k, "previous_response_id");
    default:
      return false;
  }
}

// FNV-1a of a JSON value's content (key order kept: the same client serialises the same
// way). What is kept in --state-dir (tool lists) and compared across runs: unchanged.
uint64_t hash_value(json::Element e, uint64_t h, size_t depth) {
  const auto t = e.type();
  h = fnv1a(std::string_view(reinterpret_cast<const char*>(&t), 1), h);
  if (depth > kMaxDepth) return h;
  switch (t) {
    case element_type::OBJECT:
      for (auto [k, v] : obj_of(e)) {
        h = fnv1a(k, h);
        h = hash_value(v, h, depth + 1);
      }
      return h;
    case element_type::ARRAY:
      for (auto v : arr_of(e)) h = hash_value(v, h, depth + 1);
      return h;
    case element_type::STRING:
      return fnv1a(e.get_string().value_unsafe(), h);
    // Numbers hash as their decimal text ("{}"), formatted without a heap string: hashes
    // of tool lists are kept in --state-dir and must not change.
    case element_type::INT64: {
      fmt::format_int f(e.get_int64().value_unsafe());
      return fnv1a(std::string_view(f.data(), f.size()), h);
    }
    case element_type::UINT64: {
      fmt::format_int f(e.get_uint64().value_unsafe());
      return fnv1a(std::string_view(f.data(), f.size()), h);
    }
    case element_type::DOUBLE: {
      fmt::memory_buffer b;
      fmt::format_to(std::back_inserter(b), "{}", e.get_double().value_unsafe());
      return fnv1a(std::string_view(b.data(), b.size()), h);
    }
    case element_type::BOOL:
      return fnv1a(e.get_bool().value_unsafe() ? "t" : "f", h);
    case element_type::NULL_VALUE:
      return h;
  }
  return h;
}

// Hashes that live only in memory (a request's near-identity, a conversation, the cache key
// of a tool list): the value's content, each piece tagged with its type and length, is laid
// out in a buffer that XXH3 takes in wide blocks. FNV-1a takes a byte per multiply, which
// over a coding agent's request (its whole conversation, hundreds of KB, every call) was
// three quarters of the detections' time on it (BM_DetectContentLargeRequest); an XXH3 call
// per piece was most of it on small requests. The buffer is on the stack and hashed when
// full, so nothing is allocated whatever the request.
class FastHash {
 public:
  explicit FastHash(uint64_t seed) : h_(seed) {}
  void bytes(std::string_view s) {
    const auto n = uint32_t(s.size());
    put(&n, sizeof(n));
    put(s.data(), s.size());
  }
  void value(json::Element e, size_t depth) {
    const auto t = e.type();
    tag(char(t));
    if (depth > kMaxDepth) return;
    switch (t) {
      case element_type::OBJECT:
        for (auto [k, v] : obj_of(e)) {
          bytes(k);
          value(v, depth + 1);
        }
        return;
      case element_type::ARRAY:
        for (auto v : arr_of(e)) value(v, depth + 1);
        return;
      case element_type::STRING:
        bytes(e.get_string().value_unsafe());
        return;
      case element_type::INT64:
        scalar(e.get_int64().value_unsafe());
        return;
      case element_type::UINT64:
        scalar(e.get_uint64().value_unsafe());
        return;
      case element_type::DOUBLE:
        scalar(e.get_double().value_unsafe());
        return;
      case element_type::BOOL:
        tag(e.get_bool().value_unsafe() ? 't' : 'f');
        return;
      case element_type::NULL_VALUE:
        return;
    }
  }
  // An array whose elements the caller feeds (value() or hashed() each), as value() of the
  // array would open it.
  void open_array() { tag(char(element_type::ARRAY)); }
  // A member's value that was hashed on its own (`h`): the same value gives the same piece.
  void hashed(uint64_t h) {
    tag('h');
    scalar(h);
  }
  uint64_t done() {
    flush();
    return h_;
  }

 private:
  static constexpr size_t kBuf = 4096;
  void tag(char c) {
    if (n_ == kBuf) flush();
    buf_[n_++] = c;
  }
  template <typename T>
  void scalar(T v) {
    put(&v, sizeof(v));
  }
  void put(const void* p, size_t len) {
    if (len > kBuf - n_) {
      flush();
      if (len > kBuf) {  // a long string goes straight in, after what came before it
        h_ = XXH3_64bits_withSeed(p, len, h_);
        return;
      }
    }
    std::memcpy(buf_ + n_, p, len);
    n_ += len;
  }
  void flush() {
    if (n_ == 0) return;
    h_ = XXH3_64bits_withSeed(buf_, n_, h_);
    n_ = 0;
  }
  char buf_[kBuf];  // only the first n_ bytes are ever read
  size_t n_ = 0;
  uint64_t h_;
};

uint64_t fast_hash_value(json::Element e, uint64_t seed) {
  FastHash h(seed);
  h.value(e, 0);
  return h.done();
}

// Whether strings under a key are assistant text, found by length first: the walk asks it
// of every string and array member of every streamed event.
inline bool text_key(std::string_view k) {
  switch (k.size()) {
    case 4:
      return is(k, "text");
    case 5:
      return is(k, "delta");
    case 7:
      return is(k, "content");
    case 8:
      return is(k, "response");
    case 11:
      return is(k, "output_text");
    default:
      return false;
  }
}

void append_bounded(std::string& out, std::string_view s, size_t max, bool& truncated) {
  if (out.size() >= max) {
    truncated |= !s.empty();
    return;
  }
  size_t n = std::min(s.size(), max - out.size());
  truncated |= n < s.size();
  out.append(s.substr(0, n));
}

// Text of a content value: a string, or an array of parts carrying "text".
void content_text(json::Element e, std::string& out, bool& truncated) {
  if (e.type() == element_type::STRING) {
    append_bounded(out, e.get_string().value_unsafe(), kMaxSystemBytes, truncated);
    return;
  }
  if (e.type() != element_type::ARRAY) return;
  for (auto part : arr_of(e)) {
    if (auto t = json::str(part, "text")) {
      if (!out.empty()) append_bounded(out, "\n", kMaxSystemBytes, truncated);
      append_bounded(out, *t, kMaxSystemBytes, truncated);
    } else if (part.type() == element_type::STRING) {
      append_bounded(out, part.get_string().value_unsafe(), kMaxSystemBytes, truncated);
    }
  }
}

// An agent sends the same system prompt and tool list with every call of a session: their
// shapes (SHA-256, per-line and per-tool FNV-1a hashes, kept in --state-dir and so not
// changed) are computed once and found again by an XXH3 hash of what they were made from.
// A handful of entries, replaced in turn: sessions with other prompts (sub-agents, other
// agents on the host) take their own.
class ShapeCache {
 public:
  static constexpr size_t kEntries = 8;
  template <typename Make>
  TextShape get(uint64_t key, Make&& make) {
    for (const auto& e : entries_)
      if (e.first == key) return e.second;
    TextShape shape = make();
    if (entries_.size() < kEntries) {
      entries_.emplace_back(key, shape);
    } else {
      entries_[next_] = {key, shape};
      next_ = (next_ + 1) % kEntries;
    }
    return shape;
  }
  size_t bytes() const {
    size_t n = mem::vec(entries_);
    for (const auto& [key, shape] : entries_) {
      n += mem::str(shape.hash) + mem::vec(shape.line_hashes) + mem::vec(shape.names) +
           mem::vec(shape.stable_hashes);
      for (const auto& name : shape.names) n += mem::str(name);
    }
    return n;
  }

 private:
  std::vector<std::pair<uint64_t, TextShape>> entries_;
  size_t next_ = 0;
};

TextShape shape_of(std::string_view text) {
  TextShape s;
  s.hash = short_sha256(text);
  s.size = text.size();
  size_t pos = 0;
  while (pos <= text.size() && s.line_hashes.size() < kMaxShapeLines) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    s.line_hashes.push_back(fnv1a(text.substr(pos, nl - pos)));
    if (std::string st = stable_line(text.substr(pos, nl - pos)); !st.empty())
      s.stable_hashes.push_back(fnv1a(st));
    pos = nl + 1;
  }
  return s;
}

// The request's top-level members the prompt shapes read, noted in the one pass over the
// members the near-identity hash makes anyway (the first of a repeated key, as a lookup
// would find it) instead of a lookup each: a lookup walks the members from the start.
struct TopFields {
  std::optional<json::Element> system, instructions, gemini_system[2], messages, input, contents,
      tools;

  void note(std::string_view k, json::Element v) {
    auto first = [&](std::optional<json::Element>& slot) {
      if (!slot) slot = v;
    };
    switch (k.size()) {
      case 5:
        if (is(k, "input")) first(input);
        if (is(k, "tools")) first(tools);
        break;
      case 6:
        if (is(k, "system")) first(system);
        break;
      case 8:
        if (is(k, "messages")) first(messages);
        if (is(k, "contents")) first(contents);
        break;
      case 12:
        if (is(k, "instructions")) first(instructions);
        break;
      case 17:
        if (is(k, "systemInstruction")) first(gemini_system[0]);
        break;
      case 18:
        if (is(k, "system_instruction")) first(gemini_system[1]);
        break;
      default:
        break;
    }
  }
};

// The system prompt as each API carries it.
std::optional<TextShape> system_prompt(const TopFields& top, ShapeCache& cache) {
  std::string text;
  bool truncated = false;
  bool found = false;
  if (const auto& v = top.system) {  // anthropic, ollama generate
    content_text(*v, text, truncated);
    found = true;
  }
  if (const auto& v = top.instructions) {  // openai responses
    content_text(*v, text, truncated);
    found = true;
  }
  for (const auto& sys : top.gemini_system)  // gemini
    if (auto v = sys ? json::field(*sys, "parts") : std::nullopt) {
      content_text(*v, text, truncated);
      found = true;
    }
  for (const auto* msgs : {&top.messages, &top.input}) {  // openai chat, ollama chat, responses
    if (!*msgs || !json::is_array(**msgs)) continue;
    for (auto m : arr_of(**msgs)) {
      auto role = json::str(m, "role");
      if (!role || (*role != "system" && *role != "developer")) continue;
      if (auto c = json::field(m, "content")) {
        if (!text.empty()) append_bounded(text, "\n", kMaxSystemBytes, truncated);
        content_text(*c, text, truncated);
        found = true;
      }
    }
  }
  if (!found) return std::nullopt;
  return cache.get(XXH3_64bits_withSeed(text.data(), text.size(), 1),
                   [&] { return shape_of(text); });
}

// The lists a conversation is in, in the order they are looked at: OpenAI chat (and Ollama),
// the Responses API, Gemini. -1: none of them.
constexpr std::string_view kConversationLists[] = {"messages", "input", "contents"};
int conversation_list(std::string_view k) {
  for (int i = 0; i < 3; i++)
    if (k == kConversationLists[i]) return i;
  return -1;
}

bool system_message(json::Element m) {
  auto role = json::str(m, "role");
  return role && (*role == "system" || *role == "developer");
}

// The hash of a conversation list's first non-system message `m`: calls that continue one
// conversation share it. Never 0.
uint64_t first_message_hash(json::Element m, int list) {
  return fast_hash_value(m, fnv1a(kConversationLists[list])) | 1;
}

// The conversation in one list's value; 0 when it is not an array or holds only system
// messages.
uint64_t conversation_in(json::Element list_value, int list) {
  if (!json::is_array(list_value)) return 0;
  for (auto m : arr_of(list_value))
    if (!system_message(m)) return first_message_hash(m, list);
  return 0;
}

// The shape of a tool list: names, a hash of the whole list and one per tool.
TextShape tool_shape(json::Element tools) {
  TextShape s;
  uint64_t h = hash_value(tools, 1469598103934665603ULL, 0);
  s.hash = fmt::format("{:016x}", h);
  for (auto t : arr_of(tools)) {
    std::optional<std::string_view> name = json::str(t, "name");
    if (!name) {
      if (auto f = json::field(t, "function")) name = json::str(*f, "name");
    }
    auto add = [&](std::string_view n) {
      if (s.names.size() < kMaxToolNames) s.names.emplace_back(n.substr(0, 128));
      s.stable_hashes.push_back(fnv1a(n));
      fmt::format_int tool_hash(hash_value(t, fnv1a(n), 0));
      s.line_hashes.push_back(fnv1a(std::string_view(tool_hash.data(), tool_hash.size())));
    };
    if (name) {
      add(*name);
    } else if (auto decls = json::field(t, "functionDeclarations");
               decls && json::is_array(*decls)) {
      for (auto d : arr_of(*decls))
        if (auto n = json::str(d, "name")) add(*n);
    } else if (auto type = json::str(t, "type")) {
      add(*type);  // built-in tools (web_search, code_interpreter)
    }
    if (s.line_hashes.size() >= kMaxShapeLines) break;
  }
  s.size = arr_of(tools).size();
  return s;
}

// `key`: fast_hash_value(tools, 2), when the caller has it already.
std::optional<TextShape> tool_list(const TopFields& top, ShapeCache& cache,
                                   std::optional<uint64_t> key) {
  const auto& tools = top.tools;
  if (!tools || !json::is_array(*tools)) return std::nullopt;
  return cache.get(key ? *key : fast_hash_value(*tools, 2), [&] { return tool_shape(*tools); });
}

// The `data` of every event of a complete SSE body whose lines end in LF only (what every
// provider sends), as proto::SseParser would hand them out (BOM, comments, multi-line data
// joined with '\n', the unterminated last event, oversized events dropped), found with
// memchr instead of a byte loop. False, having called nothing, when the body has a CR: the
// caller uses SseParser.
template <typename Fn>
bool for_each_lf_sse_data(std::string_view body, Fn&& on_data) {
  if (std::memchr(body.data(), '\r', body.size()) != nullptr) return false;
  constexpr size_t kMax = proto::SseParser::kDefaultMaxEventBytes;
  std::string joined;       // only for events of several data lines
  std::string_view single;  // the one data line of the usual event, not copied
  size_t lines = 0;
  bool overflow = false;
  auto dispatch = [&] {
    if (lines > 0 && !overflow) on_data(lines == 1 ? single : std::string_view(joined));
    lines = 0;
    overflow = false;
    joined.clear();
  };
  size_t pos = 0;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  while (pos <= body.size()) {
    const void* nl = std::memchr(body.data() + pos, '\n', body.size() - pos);
    const size_t end = nl ? size_t(static_cast<const char*>(nl) - body.data()) : body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      if (nl) dispatch();
      if (!nl) break;
      continue;
    }
    if (line.size() > kMax) overflow = true;
    if (line.front() == ':' || overflow) {
      if (!nl) break;
      continue;
    }
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      const size_t have = lines == 0 ? 0 : lines == 1 ? single.size() : joined.size();
      if (have + value.size() + 1 > kMax) {
        overflow = true;
      } else if (lines == 0) {
        single = value;
      } else {
        if (lines == 1) joined.assign(single);
        joined.push_back('\n');
        joined.append(value);
      }
      lines++;
    }
    if (!nl) break;
  }
  dispatch();  // unterminated last event (a stream cut after its last data line)
  return true;
}

}  // namespace

// Where an API puts the model's text, so that each streamed event is read only along the
// members that can hold it instead of walked whole (docs/detections.md): OpenAI chat and
// completions in `choices` (their `delta`, `message` and text members), Anthropic in
// `delta`, `content_block`, `message` and `content`, the Responses API in `delta` (streamed)
// and `output` (buffered; its streams repeat the deltas in done events and in the final
// response), Gemini in `candidates`, Ollama in `message` and `response`. Inside those
// members the rule is the generic walk's. Other APIs (Bedrock) are walked whole, and
// embeddings carry no text.
enum class TextLayout { kWhole, kNone, kOpenAIChat, kAnthropic, kResponses, kGemini, kOllama };

TextLayout layout_of(llm::Api api) {
  switch (api) {
    case llm::Api::kOpenAIChat:
    case llm::Api::kOpenAICompletions:
      return TextLayout::kOpenAIChat;
    case llm::Api::kOpenAIEmbeddings:
      return TextLayout::kNone;
    case llm::Api::kOpenAIResponses:
      return TextLayout::kResponses;
    case llm::Api::kAnthropicMessages:
      return TextLayout::kAnthropic;
    case llm::Api::kGemini:
      return TextLayout::kGemini;
    case llm::Api::kOllama:
      return TextLayout::kOllama;
    case llm::Api::kBedrockConverse:
    case llm::Api::kBedrockInvoke:
      return TextLayout::kWhole;
  }
  return TextLayout::kWhole;
}

// Both ways of filling an LlmContent go through the observer calls: riding on the LLM
// stage's parse (begin, on_request_doc, on_response_doc from llm::analyze), or parsing the
// bodies here (extract() of an exchange the analyzer did not see), so both give the same.
struct LlmContentExtractor::Impl final : llm::BodyObserver {
  json::DocParser parser;
  ContentNeeds needs;
  LlmContent cur;  // of the exchange being observed
  const proto::HttpExchange* observed = nullptr;
  std::string_view target;  // of the observed request, for the near-identity hash
  bool read_request = false, read_response = false;
  TextLayout layout = TextLayout::kWhole;
  ShapeCache prompts, tool_lists;

  void begin(const proto::HttpExchange& ex, llm::Api api) override {
    begin_with(ex, layout_of(api));
  }

  void begin_with(const proto::HttpExchange& ex, TextLayout l) {
    layout = l;
    // Everything afresh but the answer text's buffer, which the next answer reuses (up to
    // kKeptTextCapacity: one long answer does not pin its buffer).
    cur.reset();
    if (cur.response_text.capacity() > kKeptTextCapacity) cur.response_text = std::string();
    observed = &ex;
    target = ex.request.target;
    read_request = (needs.request_hash || needs.prompt_shape) && !ex.request.body_truncated;
    read_response = ex.response && ex.response->status < 400 && needs.response_text;
    // a streamed answer arrives a few words at a time: one allocation, not one per doubling
    if (read_response) cur.response_text.reserve(std::min(ex.response->body.size(), size_t{4096}));
  }

  void on_request_doc(json::Element root) override {
    if (!read_request || !json::is_object(root)) return;
    read_request = false;  // one request document per exchange
    cur.request_parsed = true;
    TopFields top;
    FastHash hash(0);
    hash.bytes(target);
    // The tool list (tens of kilobytes of schemas in a coding agent's every request) is
    // walked once, for this hash and for the tool-list cache's key: its first member is the
    // one TopFields keeps.
    std::optional<uint64_t> tools_key;
    // The conversation (the hash of the first non-system message of the first conversation
    // list that has one) is taken in this pass too: that message is hashed on its own and
    // goes into the near-identity hash as its hash, instead of being walked twice.
    uint64_t conversation[3] = {0, 0, 0};
    bool list_seen[3] = {false, false, false};  // the first of a repeated key, as a lookup finds
    for (auto [k, v] : obj_of(root)) {
      int list = -1;
      if (needs.prompt_shape) {
        top.note(k, v);
        list = conversation_list(k);
        if (list >= 0 && std::exchange(list_seen[list], true)) list = -1;
      }
      if (!needs.request_hash || volatile_key(k)) {
        if (list >= 0) conversation[list] = conversation_in(v, list);
        continue;
      }
      hash.bytes(k);
      if (!tools_key && key_is(k, "tools")) {
        tools_key = fast_hash_value(v, 2);
        hash.hashed(*tools_key);
      } else if (list >= 0 && json::is_array(v)) {
        hash.open_array();
        for (auto m : arr_of(v)) {
          if (conversation[list] == 0 && !system_message(m)) {
            conversation[list] = first_message_hash(m, list);
            hash.hashed(conversation[list]);
          } else {
            hash.value(m, 2);
          }
        }
      } else {
        hash.value(v, 1);
      }
    }
    const uint64_t h = hash.done();
    if (needs.request_hash) cur.request_hash = h ? h : 1;
    if (needs.prompt_shape) {
      cur.system_prompt = system_prompt(top, prompts);
      cur.tools = tool_list(top, tool_lists, tools_key);
      for (uint64_t c : conversation)
        if (c) {
          cur.conversation = c;
          break;
        }
    }
  }

  void on_response_doc(json::Element doc, std::string_view, const llm::DocHints& hints) override {
    if (!read_response) return;
    if (layout == TextLayout::kOpenAIChat && hints.top_read) {  // the sink found the choices
      if (hints.choices) choices(*hints.choices, 1);
      return;
    }
    switch (layout) {
      case TextLayout::kWhole:
        walk(doc);
        return;
      case TextLayout::kNone:
        return;
      default:
        break;
    }
    if (doc.type() == element_type::OBJECT) {
      read_members(doc, 0);
    } else if (doc.type() == element_type::ARRAY) {  // Gemini's streamed array, parsed whole
      for (auto el : arr_of(doc))
        if (el.type() == element_type::OBJECT) read_members(el, 1);
    }
  }

  // The members of an event (an object at `depth`) that its API's layout says can hold the
  // model's text; what is in them is read as the generic walk reads it.
  void read_members(json::Element obj, size_t depth) {
    if (depth >= kMaxDepth) return;
    const auto o = obj_of(obj);
    for (auto it = o.begin(), end = o.end(); it != end; ++it) {
      const std::string_view k = it.key();
      switch (layout) {
        case TextLayout::kOpenAIChat:
          if (key_is(k, "choices")) choices(it.value(), depth + 1);
          break;
        case TextLayout::kAnthropic:
          if (key_is(k, "content_block") || key_is(k, "message") || text_key(k))
            member(k, it.value(), depth + 1);
          break;
        case TextLayout::kResponses:
          if (key_is(k, "delta") || key_is(k, "output")) member(k, it.value(), depth + 1);
          break;
        case TextLayout::kGemini:
          if (key_is(k, "candidates")) member(k, it.value(), depth + 1);
          break;
        case TextLayout::kOllama:
          if (key_is(k, "message") || key_is(k, "response")) member(k, it.value(), depth + 1);
          break;
        default:
          break;
      }
    }
  }

  // OpenAI's choices (an array at `depth`): each one's delta, message and text members.
  void choices(json::Element arr, size_t depth) {
    if (arr.type() != element_type::ARRAY || depth >= kMaxDepth) return;
    for (auto ch : arr_of(arr)) {
      if (ch.type() != element_type::OBJECT || depth + 1 >= kMaxDepth) continue;
      const auto o = obj_of(ch);
      for (auto it = o.begin(), end = o.end(); it != end; ++it) {
        const std::string_view k = it.key();
        if (key_is(k, "message") || text_key(k)) member(k, it.value(), depth + 2);
      }
    }
  }

  // One member (its value at `depth`) as walk_object judges it. Inlined into each layout's
  // reader, with the first level of an object's walk: a streamed event's text sits one
  // object down (OpenAI's `delta`, Anthropic's `delta`), and the calls' entries and exits
  // were a third of the walk on small events.
  [[gnu::always_inline]] void member(std::string_view k, json::Element v, size_t depth) {
    switch (v.type()) {
      case element_type::OBJECT:
        if (depth < kMaxDepth) walk_members(v, depth);
        break;
      case element_type::ARRAY:
        walk_array(v, depth, text_key(k));
        break;
      case element_type::STRING:
        if (text_key(k)) append_text(v);
        break;
      default:
        break;
    }
  }

  LlmContent& finish(const proto::HttpExchange& ex) {
    observed = nullptr;
    if (ex.response && ex.response->status < 400)
      cur.response_cut = ex.response->status >= 200 && !ex.response->complete;
    return cur;
  }

  // Assistant text wherever the APIs put it (buffered or streamed): strings under a text
  // key, directly or in (nested) arrays, in document order; nothing inside a container
  // deeper than kMaxDepth. Every streamed event is walked, so scalars are judged in the loop
  // over their parent instead of a call each.
  void walk(json::Element root) {
    switch (root.type()) {
      case element_type::OBJECT:
        walk_object(root, 0);
        return;
      case element_type::ARRAY:
        walk_array(root, 0, false);
        return;
      default:
        return;
    }
  }

  [[gnu::always_inline]] void append_text(json::Element s) {
    append_bounded(cur.response_text, s.get_string().value_unsafe(), kMaxResponseText,
                   cur.response_text_truncated);
  }

  // Children sit one level deeper: none past kMaxDepth is read.
  void walk_object(json::Element e, size_t depth) {
    if (depth >= kMaxDepth) return;
    walk_members(e, depth);
  }

  // walk_object's work on an object at `depth` < kMaxDepth.
  [[gnu::always_inline]] void walk_members(json::Element e, size_t depth) {
    const auto obj = obj_of(e);
    // The key is read only for the values it matters to (strings under it, directly or in
    // arrays): most members of a streamed event are numbers, nulls and objects.
    for (auto it = obj.begin(), end = obj.end(); it != end; ++it) {
      const json::Element v = it.value();
      switch (v.type()) {
        case element_type::OBJECT:
          walk_object(v, depth + 1);
          break;
        case element_type::ARRAY:
          walk_array(v, depth + 1, text_key(it.key()));
          break;
        case element_type::STRING:
          if (text_key(it.key())) append_text(v);
          break;
        default:
          break;
      }
    }
  }

  void walk_array(json::Element e, size_t depth, bool text) {
    if (depth >= kMaxDepth) return;
    for (auto v : arr_of(e)) {
      switch (v.type()) {
        case element_type::OBJECT:
          walk_object(v, depth + 1);
          break;
        case element_type::ARRAY:
          walk_array(v, depth + 1, text);
          break;
        case element_type::STRING:
          if (text) append_text(v);
          break;
        default:
          break;
      }
    }
  }

  void doc(std::string_view text) {
    json::Element d;
    if (parser.parse(text, d) == json::DocParser::Status::kOk) on_response_doc(d, text, {});
  }

  void response(const proto::HttpResponse& r) {
    const std::string* ct = proto::find_header(r.headers, "content-type");
    std::string type = ct ? llm::to_lower(*ct) : "";
    std::string_view body = llm::trim(r.body);
    if (body.empty()) return;
    if (type.find("event-stream") != std::string::npos || llm::starts_with(body, "data:") ||
        llm::starts_with(body, "event:")) {
      auto on_data = [&](std::string_view d) {
        std::string_view data = llm::trim(d);
        if (!data.empty() && data != "[DONE]") doc(data);
      };
      if (for_each_lf_sse_data(body, on_data)) return;
      proto::SseParser sse;
      auto on = [&](const proto::SseEvent& ev) { on_data(ev.data); };
      sse.feed(body, on);
      sse.finish(on);
      return;
    }
    if (type.find("ndjson") != std::string::npos ||
        (body.front() == '{' && body.find('\n') != std::string_view::npos &&
         body.find("}\n{") != std::string_view::npos)) {
      proto::NdjsonSplitter lines;
      auto on = [&](std::string_view line) { doc(line); };
      lines.feed(body, on);
      lines.finish(on);
      return;
    }
    doc(body);  // one document, or a streamed JSON array (Gemini) parsed whole
  }
};

LlmContentExtractor::LlmContentExtractor() : impl_(std::make_unique<Impl>()) {}
LlmContentExtractor::~LlmContentExtractor() = default;

size_t LlmContentExtractor::state_bytes() const {
  // The answer text's buffer is kept between calls (up to kKeptTextCapacity): it counts.
  return impl_->prompts.bytes() + impl_->tool_lists.bytes() + impl_->cur.response_text.capacity();
}

void LlmContentExtractor::set_needs(const ContentNeeds& n) {
  impl_->needs = n;
}

llm::BodyObserver* LlmContentExtractor::observer() {
  return impl_.get();
}

LlmContent& LlmContentExtractor::extract(const proto::HttpExchange& ex) {
  Impl& x = *impl_;
  if (x.observed == &ex) return x.finish(ex);  // the analyzer's parse already fed it
  const proto::HttpRequest& req = ex.request;
  auto det = llm::detect_provider(req.host, req.method, req.target, req.headers,
                                  std::string_view(req.body).substr(0, 4096));
  x.begin_with(ex, det ? layout_of(det->api) : TextLayout::kWhole);
  json::Element root;
  if (x.read_request && x.parser.parse(ex.request.body, root) == json::DocParser::Status::kOk)
    x.on_request_doc(root);
  if (x.read_response) x.response(*ex.response);
  return x.finish(ex);
}

}  // namespace rein::detect
