// Capture and replay without a kernel: credentials are replaced before anything is kept,
// the journal answers lookups the way the live system did, and a pipeline fed the captured
// entries prints what the live pipeline printed.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <regex>
#include <string>
#include <vector>

#include "abi_record_builder.h"
#include "capture_pipeline_util.h"
#include "llm/key_fingerprint.h"
#include "llm/price_table.h"
#include "pipeline/capture_inputs.h"
#include "pipeline/capture_replay.h"
#include "pipeline/capture_scrubber.h"

namespace {

using namespace rein::testrec;
using rein::pipeline::CaptureRecorder;
using rein::pipeline::MemoryJournal;
using rein::pipeline::RecordingInputJournal;
using rein::pipeline::ReplayInputJournal;
using rein::pipeline::SecretScrubber;

// A fake key: prefix of a real class, random-looking tail.
const std::string kKey = "sk-ant-api03-Zq7Xk2LmW9pR4tVb8NcYd3HfJ6sGa1Qe5UoTi0";
const std::string kGoogle = "AIzaSyD4kP9mQ2rT7vX1bN8cF3hJ6wL0sE5gY";

rein::llm::Fingerprinter make_fp() {
  std::array<uint8_t, 32> k{};
  for (size_t i = 0; i < k.size(); i++) k[i] = uint8_t(i * 7 + 1);
  return rein::llm::Fingerprinter(k);
}

std::string fp_of_header(const rein::llm::Fingerprinter& fp, std::string name, std::string value) {
  rein::proto::HttpRequest req;
  req.headers.push_back({std::move(name), std::move(value)});
  return fp.fingerprint_request(req).fingerprint;
}

Bytes data_rec(const Hdr& h, uint8_t dir, uint64_t conn, uint64_t offset, std::string_view data) {
  rein_data d{};
  fill(d.h, REIN_REC_DATA, h);
  d.conn = conn;
  d.offset = offset;
  d.len = uint32_t(data.size());
  d.call_len = uint32_t(data.size());
  d.fd = 7;
  d.dir = dir;
  d.source = REIN_SRC_OPENSSL;
  d.peer_family = AF_INET;
  d.peer_port = 443;
  d.peer_addr[10] = d.peer_addr[11] = 0xff;
  d.peer_addr[12] = 127;
  d.peer_addr[15] = 1;
  return assemble(d, {data});
}

std::string as_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

TEST(CaptureScrubber, PlaceholderKeepsLengthAndClassPrefix) {
  auto ph = SecretScrubber::make_placeholder(kKey, 3);
  EXPECT_EQ(ph.size(), kKey.size());
  EXPECT_EQ(ph.rfind("sk-ant-api03-REDACTED3", 0), 0u) << ph;
  EXPECT_EQ(ph.find(kKey.substr(13)), std::string::npos);
  EXPECT_EQ(SecretScrubber::make_placeholder("abc", 12).size(), 3u);
  EXPECT_EQ(SecretScrubber::make_placeholder("abcdefghij", 12), "REDACTED12");
}

TEST(CaptureScrubber, Http1HeadersQueryAndBodyTokens) {
  auto fp = make_fp();
  SecretScrubber s(fp);
  std::string req = "POST /v1beta/models/x:generateContent?alt=sse&key=" + kGoogle +
                    " HTTP/1.1\r\nHost: api.anthropic.com\r\nAuthorization: Bearer " + kKey +
                    "\r\nx-goog-api-key: opaque-value-1234\r\n\r\n{\"note\":\"ghp_abcdefghijklmnopqrstuvwxyz0123\"}";
  std::string bytes = as_string(data_rec({}, REIN_DIR_EGRESS, 1, 0, req));
  const size_t size = bytes.size();
  auto maps = s.scrub(bytes, true);
  EXPECT_EQ(bytes.size(), size);
  EXPECT_EQ(bytes.find(kKey), std::string::npos);
  EXPECT_EQ(bytes.find(kKey.substr(13)), std::string::npos);
  EXPECT_EQ(bytes.find(kGoogle), std::string::npos);
  EXPECT_EQ(bytes.find("opaque-value-1234"), std::string::npos);
  EXPECT_EQ(bytes.find("ghp_abcdefghijklmnopqrstuvwxyz0123"), std::string::npos);
  EXPECT_NE(bytes.find("Authorization: Bearer sk-ant-api03-REDACTED"), std::string::npos);
  ASSERT_GE(maps.size(), 4u);
  // Each placeholder maps to the fingerprint the live fingerprinter gives the credential.
  bool bearer = false, query = false;
  for (const auto& m : maps) {
    EXPECT_NE(bytes.find(m.placeholder), std::string::npos) << m.placeholder;
    if (m.fingerprint == fp_of_header(fp, "authorization", "Bearer " + kKey)) bearer = true;
    rein::proto::HttpRequest q;
    q.target = "/?key=" + kGoogle;
    if (m.fingerprint == fp.fingerprint_request(q).fingerprint) query = true;
  }
  EXPECT_TRUE(bearer);
  EXPECT_TRUE(query);
  // Scrubbing again finds nothing new: placeholders are not secrets.
  EXPECT_TRUE(s.scrub(bytes, true).empty());
}

TEST(CaptureScrubber, KnownCredentialIsFoundLater) {
  auto fp = make_fp();
  SecretScrubber s(fp);
  fp.set_observer(&s);
  rein::proto::HttpRequest req;
  req.headers.push_back({"x-api-key", "plain-opaque-credential-42"});
  auto live = fp.fingerprint_request(req).fingerprint;
  std::string bytes = as_string(data_rec({}, REIN_DIR_INGRESS, 1, 0, "echo plain-opaque-credential-42 back"));
  auto maps = s.scrub(bytes, true);
  fp.set_observer(nullptr);
  EXPECT_EQ(bytes.find("plain-opaque-credential-42"), std::string::npos);
  ASSERT_EQ(maps.size(), 1u);
  EXPECT_EQ(maps[0].fingerprint, live);
}

// Several known credentials are looked for together, a few at a time: each one is found
// wherever it is (the record's last bytes, a record under a vector block, a record with
// several), and a record with none of them is left as it was.
TEST(CaptureScrubber, EveryKnownCredentialOfSeveralIsFound) {
  auto fp = make_fp();
  SecretScrubber s(fp);
  fp.set_observer(&s);
  const std::vector<std::string> creds = {"opaque-credential-one-1", "opaque-credential-two-22",
                                          "opaque-credential-three-333"};
  for (const auto& c : creds) {
    rein::proto::HttpRequest req;
    req.headers.push_back({"x-api-key", c});
    (void)fp.fingerprint_request(req);
  }
  for (const auto& c : creds) {
    for (const std::string& text :
         {std::string(200, '.') + c, c, "a " + c + " b", std::string(70, 'x') + c + creds[0]}) {
      std::string bytes = as_string(data_rec({}, REIN_DIR_INGRESS, 1, 0, text));
      const size_t size = bytes.size();
      (void)s.scrub(bytes, true);
      EXPECT_EQ(bytes.size(), size);
      for (const auto& any : creds) EXPECT_EQ(bytes.find(any), std::string::npos) << text;
    }
  }
  std::string clean =
      as_string(data_rec({}, REIN_DIR_INGRESS, 1, 0, std::string(300, 'o') + "opaque-credential"));
  const std::string before = clean;
  EXPECT_TRUE(s.scrub(clean, true).empty());
  EXPECT_EQ(clean, before);
  fp.set_observer(nullptr);
}

// The recorder holds a turn's entries from its first record to its tick: then they go out
// in the order they came, each record after the placeholders it uses. A credential the pipeline fingerprints
// later in the same turn is already known when the earlier record is scrubbed.
TEST(CaptureRecorder, StagesATurnAndKeepsItsOrder) {
  auto fp = make_fp();
  MemoryJournal mem;
  {
    CaptureRecorder rec(mem, fp);
    const std::string secret = "plain-opaque-credential-77";
    rec.tick(1);  // no record waits: written at once
    ASSERT_EQ(mem.entries.size(), 1u);
    mem.entries.clear();
    rec.record(data_rec({}, REIN_DIR_INGRESS, 1, 0, "first: " + secret));
    EXPECT_EQ(rec.inputs()->lookup("k", [] { return std::optional<std::string>("v"); }), "v");
    rein::proto::HttpRequest req;  // the pipeline fingerprinting the next record's header
    req.headers.push_back({"x-api-key", secret});
    const std::string live = fp.fingerprint_request(req).fingerprint;
    rec.record(data_rec({}, REIN_DIR_EGRESS, 1, 0, "POST / HTTP/1.1\r\nx-api-key: " + secret + "\r\n\r\n"));
    EXPECT_TRUE(mem.entries.empty());  // staged until the turn ends
    rec.tick(7);
    ASSERT_EQ(mem.entries.size(), 5u);
    EXPECT_TRUE(mem.entries[0].has_secret());
    EXPECT_EQ(mem.entries[0].secret().fingerprint(), live);
    EXPECT_TRUE(mem.entries[1].has_record());
    EXPECT_TRUE(mem.entries[2].has_lookup());
    EXPECT_TRUE(mem.entries[3].has_record());
    EXPECT_TRUE(mem.entries[4].has_tick());
    for (const auto& e : mem.entries) EXPECT_EQ(e.SerializeAsString().find(secret), std::string::npos);
    rec.record(data_rec({}, REIN_DIR_INGRESS, 1, 0, "left for the end"));
  }
  ASSERT_EQ(mem.entries.size(), 6u);  // the recorder's end sends what was staged
  EXPECT_TRUE(mem.entries[5].has_record());
}

// The stage passes entries through while no record is held, keeps them behind held records
// otherwise, and hands records over writable (the recorder wipes one that held a secret).
TEST(JournalStage, HoldsEntriesBehindRecordsAndHandsRecordsOverWritable) {
  MemoryJournal out;
  rein::pipeline::JournalStage stage(out);
  rein::capture::Entry e;
  e.mutable_tick()->set_now_boot_ns(1);
  stage.append(std::move(e));
  EXPECT_EQ(out.entries.size(), 1u);
  EXPECT_TRUE(stage.empty());
  stage.append_record("abc");
  rein::capture::Entry t;
  t.mutable_tick()->set_now_boot_ns(2);
  stage.append(std::move(t));
  stage.append_record("defg");
  EXPECT_EQ(out.entries.size(), 1u);
  EXPECT_EQ(stage.record_bytes(), 7u);
  std::vector<std::string> seen;
  stage.drain([&](std::span<char> r) {
    seen.emplace_back(r.data(), r.size());
    out.entries.emplace_back();  // where the record goes, to check the order
    std::fill(r.begin(), r.end(), 'X');
  });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "abc");
  EXPECT_EQ(seen[1], "defg");
  ASSERT_EQ(out.entries.size(), 4u);
  EXPECT_FALSE(out.entries[1].has_tick());
  EXPECT_EQ(out.entries[2].tick().now_boot_ns(), 2u);
  EXPECT_FALSE(out.entries[3].has_tick());
  EXPECT_TRUE(stage.empty());
  EXPECT_EQ(stage.record_bytes(), 0u);
}

std::string hpack_block(const std::vector<std::pair<std::string, std::string>>& headers) {
  nghttp2_hd_deflater* d = nullptr;
  EXPECT_EQ(nghttp2_hd_deflate_new(&d, 4096), 0);
  std::vector<nghttp2_nv> nv;
  for (const auto& [n, v] : headers)
    nv.push_back({(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
  std::string out(4096, '\0');
  ssize_t n = nghttp2_hd_deflate_hd(d, (uint8_t*)out.data(), out.size(), nv.data(), nv.size());
  nghttp2_hd_deflate_del(d);
  EXPECT_GT(n, 0);
  out.resize(size_t(n));
  return out;
}

std::vector<std::pair<std::string, std::string>> inflate(std::string_view block) {
  nghttp2_hd_inflater* inf = nullptr;
  EXPECT_EQ(nghttp2_hd_inflate_new(&inf), 0);
  std::vector<std::pair<std::string, std::string>> out;
  auto* in = (const uint8_t*)block.data();
  size_t left = block.size();
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t n = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, left, 1);
    if (n < 0) {
      ADD_FAILURE() << "inflate failed";
      break;
    }
    in += n;
    left -= size_t(n);
    if (flags & NGHTTP2_HD_INFLATE_EMIT)
      out.emplace_back(std::string((char*)nv.name, nv.namelen), std::string((char*)nv.value, nv.valuelen));
    if (flags & NGHTTP2_HD_INFLATE_FINAL) break;
  }
  nghttp2_hd_inflate_del(inf);
  return out;
}

TEST(CaptureScrubber, Http2HuffmanHeaderBecomesRawPlaceholder) {
  auto fp = make_fp();
  SecretScrubber s(fp);
  std::string block = hpack_block({{":method", "POST"},
                                   {":path", "/v1/messages"},
                                   {":authority", "api.anthropic.com"},
                                   {"authorization", "Bearer " + kKey},
                                   {"x-api-key", kKey},
                                   {"content-type", "application/json"}});
  std::string frame;
  frame += char(block.size() >> 16);
  frame += char(block.size() >> 8);
  frame += char(block.size());
  frame += '\x01';  // HEADERS
  frame += '\x04';  // END_HEADERS
  frame += std::string("\x00\x00\x00\x01", 4);
  frame += block;
  std::string payload = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9) + frame;
  std::string bytes = as_string(data_rec({}, REIN_DIR_EGRESS, 1, 0, payload));
  const size_t size = bytes.size();
  auto maps = s.scrub(bytes, true);
  EXPECT_EQ(bytes.size(), size);
  size_t at = bytes.size() - block.size();
  auto headers = inflate(std::string_view(bytes).substr(at));
  ASSERT_EQ(headers.size(), 6u);
  std::string auth, xkey;
  for (const auto& [n, v] : headers) {
    if (n == "authorization") auth = v;
    if (n == "x-api-key") xkey = v;
    EXPECT_EQ(v.find(kKey.substr(13)), std::string::npos) << n;
  }
  EXPECT_NE(auth.find("REDACTED"), std::string::npos) << auth;
  EXPECT_NE(xkey.find("REDACTED"), std::string::npos) << xkey;
  // Replay reads the placeholder as the credential and gets the live fingerprint.
  rein::pipeline::RecordedCredentials creds;
  for (const auto& m : maps) creds.add(m.placeholder, m.fingerprint);
  auto replay_fp = rein::llm::Fingerprinter(std::array<uint8_t, 32>{});
  replay_fp.set_observer(&creds);
  EXPECT_EQ(fp_of_header(replay_fp, "authorization", auth), fp_of_header(fp, "authorization", "Bearer " + kKey));
  EXPECT_EQ(fp_of_header(replay_fp, "x-api-key", xkey), fp_of_header(fp, "x-api-key", kKey));
}

// A HEADERS frame (stream 1, END_HEADERS) holding `block`, after the client preface when
// `preface`.
std::string headers_frame(const std::string& block, bool preface) {
  std::string frame;
  frame += char(block.size() >> 16);
  frame += char(block.size() >> 8);
  frame += char(block.size());
  frame += '\x01';
  frame += '\x04';
  frame += std::string("\x00\x00\x00\x01", 4);
  frame += block;
  if (!preface) return frame;
  return "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9) + frame;
}

// A TLS record whose header reads as an HTTP/2 HEADERS frame header (a ClientHello of 256-511
// bytes: content type 22, version 3.1, length 0x01xx) is not HTTP/2: whatever its bytes decode
// to as HPACK, nothing in it is replaced (a live capture once overwrote a hello's key share).
TEST(CaptureScrubber, TlsRecordIsNotReadAsHttp2) {
  auto fp = make_fp();
  SecretScrubber s(fp);
  std::string block = hpack_block({{"x-custom", kKey}});  // Huffman: only HPACK decoding sees it
  std::string payload = std::string("\x16\x03\x01\x01\x04\x00\x00\x00\x01", 9) + block;
  std::string bytes = as_string(data_rec({}, REIN_DIR_EGRESS, 1, 0, payload));
  const std::string before = bytes;
  EXPECT_TRUE(s.scrub(bytes, true).empty());
  EXPECT_EQ(bytes, before);
  // the same block in a real HEADERS frame is scrubbed
  std::string h2 = as_string(data_rec({}, REIN_DIR_EGRESS, 1, 0, headers_frame(block, false)));
  const std::string h2_before = h2;
  s.scrub(h2, true);
  EXPECT_NE(h2, h2_before);
}

// Cookies, session tokens and signed-URL parameters are secrets too, whatever their shape:
// none of them reaches a capture, in either direction, and each maps to a fingerprint.
TEST(CaptureScrubber, CookiesTokensAndSignedUrlParameters) {
  auto fp = make_fp();
  SecretScrubber s(fp);
  const std::string req =
      "GET /v1/files?sv=2024&sig=Qm9ndXNTaWduYXR1cmU1Mzk%3D&token=opaquetok991 HTTP/1.1\r\n"
      "Host: example.test\r\nCookie: __cf_bm=cfbmvalue123; sid=sessionvalue456\r\n"
      "X-Amz-Security-Token: IQoJb3JpZ2luX2VjEXAMPLETOKEN\r\n"
      "cf-aig-authorization: Bearer gatewaytoken789\r\n\r\n";
  std::string out = as_string(data_rec({}, REIN_DIR_EGRESS, 1, 0, req));
  auto maps = s.scrub(out, true);
  const std::string resp = "HTTP/1.1 200 OK\r\nset-cookie: _cfuvid=uvidvalue321; Path=/; HttpOnly\r\n\r\n";
  std::string in = as_string(data_rec({}, REIN_DIR_INGRESS, 1, 0, resp));
  auto in_maps = s.scrub(in, true);
  for (const char* secret : {"Qm9ndXNTaWduYXR1cmU1Mzk", "opaquetok991", "cfbmvalue123", "sessionvalue456",
                             "IQoJb3JpZ2luX2VjEXAMPLETOKEN", "gatewaytoken789"})
    EXPECT_EQ(out.find(secret), std::string::npos) << secret;
  EXPECT_EQ(in.find("uvidvalue321"), std::string::npos);
  EXPECT_NE(out.find("GET /v1/files?sv=2024&sig="), std::string::npos) << "the rest of the target is kept";
  EXPECT_NE(out.find("Host: example.test\r\n"), std::string::npos);
  EXPECT_EQ(maps.size(), 5u);  // sig, token, the cookie header, the AWS token, the gateway's
  EXPECT_EQ(in_maps.size(), 1u);
  for (const auto& m : maps) EXPECT_FALSE(m.fingerprint.empty()) << m.placeholder;
  EXPECT_TRUE(s.scrub(out, true).empty());
}

// A key after a dot inside a longer token: the OpenAI Realtime API's browser-style
// subprotocol carries it that way in the WebSocket handshake.
TEST(CaptureScrubber, KeyAfterADotInsideAToken) {
  auto fp = make_fp();
  SecretScrubber s(fp);
  const std::string key = "sk-proj-Zq7Xk2LmW9pR4tVb8NcYd3HfJ6sGa1Qe5UoTi0";
  const std::string req = "GET /v1/realtime?model=gpt-4o-realtime HTTP/1.1\r\nHost: api.openai.com\r\n"
                          "Sec-WebSocket-Protocol: realtime, openai-insecure-api-key." + key +
                          ", openai-beta.realtime-v1\r\n\r\n";
  for (bool prefilter : {true, false}) {
    std::string bytes = as_string(data_rec({}, REIN_DIR_EGRESS, 1, 0, req));
    s.use_prefilter(prefilter);
    auto maps = s.scrub(bytes, true);
    EXPECT_EQ(bytes.find(key.substr(8)), std::string::npos) << prefilter;
    EXPECT_NE(bytes.find("openai-insecure-api-key.sk-proj-"), std::string::npos) << prefilter;
    EXPECT_NE(bytes.find(", openai-beta.realtime-v1\r\n"), std::string::npos) << prefilter;
  }
}

// HTTP/2: a cookie by HPACK's static name index, a response's set-cookie, and a Huffman-coded
// :path whose query holds the key. The path stays readable up to the key, whose placeholder
// replay reads as the credential (the live fingerprint back).
TEST(CaptureScrubber, Http2CookiesAndHuffmanPathKey) {
  auto fp = make_fp();
  SecretScrubber s(fp);
  const std::string path = "/v1beta/models/gemini-2.0-flash:generateContent?alt=sse&key=" + kGoogle;
  std::string block = hpack_block({{":method", "POST"},
                                   {":path", path},
                                   {":authority", "generativelanguage.googleapis.com"},
                                   {"cookie", "NID=nidcookievalue0123456789"}});
  std::string bytes = as_string(data_rec({}, REIN_DIR_EGRESS, 1, 0, headers_frame(block, true)));
  const size_t size = bytes.size();
  auto maps = s.scrub(bytes, true);
  EXPECT_EQ(bytes.size(), size);
  auto headers = inflate(std::string_view(bytes).substr(bytes.size() - block.size()));
  ASSERT_EQ(headers.size(), 4u);
  std::string got_path;
  for (const auto& [n, v] : headers) {
    EXPECT_EQ(v.find(kGoogle.substr(8)), std::string::npos) << n << ": " << v;
    EXPECT_EQ(v.find("nidcookievalue"), std::string::npos) << n << ": " << v;
    if (n == ":path") got_path = v;
  }
  ASSERT_EQ(got_path.rfind("/v1beta/models/gemini-2.0-flash:generateContent?alt=sse&key=", 0), 0u) << got_path;
  rein::pipeline::RecordedCredentials creds;
  for (const auto& m : maps) creds.add(m.placeholder, m.fingerprint);
  auto replay_fp = rein::llm::Fingerprinter(std::array<uint8_t, 32>{});
  replay_fp.set_observer(&creds);
  rein::proto::HttpRequest live, replayed;
  live.target = path;
  replayed.target = got_path;
  EXPECT_EQ(replay_fp.fingerprint_request(replayed).fingerprint, fp.fingerprint_request(live).fingerprint);

  std::string rblock = hpack_block({{":status", "200"}, {"set-cookie", "__Secure-sess=responsecookie987654; Secure"}});
  std::string in = as_string(data_rec({}, REIN_DIR_INGRESS, 1, 0, headers_frame(rblock, false)));
  EXPECT_FALSE(s.scrub(in, true).empty());
  for (const auto& [n, v] : inflate(std::string_view(in).substr(in.size() - rblock.size())))
    EXPECT_EQ(v.find("responsecookie987654"), std::string::npos) << n << ": " << v;
}

TEST(CaptureJournal, RecordsChangedAnswersAndReplaysTheLatest) {
  MemoryJournal mem;
  RecordingInputJournal live(mem);
  int calls = 0;
  std::string answer = "/a";
  auto ask = [&]() -> std::optional<std::string> {
    calls++;
    return answer;
  };
  EXPECT_EQ(live.lookup("cgroup.path/1", ask), "/a");
  EXPECT_EQ(live.lookup("cgroup.path/1", ask), "/a");
  answer = "/b";
  EXPECT_EQ(live.lookup("cgroup.path/1", ask), "/b");
  EXPECT_EQ(live.lookup("gone", [] { return std::optional<std::string>(); }), std::nullopt);
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(mem.entries.size(), 3u);  // the repeated answer is not recorded again
  ReplayInputJournal replay;
  bool asked = false;
  auto never = [&]() -> std::optional<std::string> {
    asked = true;
    return "live";
  };
  replay.on_lookup(mem.entries[0].lookup());
  EXPECT_EQ(replay.lookup("cgroup.path/1", never), "/a");
  replay.on_lookup(mem.entries[1].lookup());
  EXPECT_EQ(replay.lookup("cgroup.path/1", never), "/b");
  replay.on_lookup(mem.entries[2].lookup());
  EXPECT_EQ(replay.lookup("gone", never), std::nullopt);
  EXPECT_EQ(replay.lookup("never recorded", never), std::nullopt);
  EXPECT_FALSE(asked);
}

TEST(CaptureJournal, HealthFieldsRoundTrip) {
  auto fields = rein::pipeline::render_health_fields([](rein::sinks::JsonWriter& w) {
    w.key("hooks");
    w.begin_array();
    w.begin_object();
    w.key("hook");
    w.string("a,\"b\"}");
    w.end_object();
    w.end_array();
    w.key("policy");
    w.null();
    w.key("n");
    w.number(uint64_t(3));
  });
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0].first, "hooks");
  EXPECT_EQ(fields[0].second, R"([{"hook":"a,\"b\"}"}])");
  EXPECT_EQ(fields[1].second, "null");
  EXPECT_EQ(fields[2].second, "3");
}

TEST(CaptureJournal, CoverageEncoding) {
  rein::pipeline::TlsCoverage c{{"libssl.so.3", "node"}, {"go: stripped"}, true, 42};
  auto d = rein::pipeline::decode_coverage(rein::pipeline::encode_coverage(c));
  EXPECT_EQ(d.hooked, c.hooked);
  EXPECT_EQ(d.undecodable, c.undecodable);
  EXPECT_TRUE(d.pending);
  EXPECT_EQ(d.hooked_at_ns, 42u);
}

TEST(ReplayTime, ParsesRfc3339AndTimeOfDay) {
  auto a = rein::pipeline::parse_rfc3339_ns("2026-11-30T14:02:00.5Z");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, 1796047320LL * 1'000'000'000 + 500'000'000);
  EXPECT_EQ(rein::pipeline::parse_rfc3339_ns("2026-11-30T16:02:00.5+02:00"), a);
  EXPECT_EQ(rein::pipeline::parse_rfc3339_ns("2026-11-30T14:02:00.500000000Z"), a);
  EXPECT_FALSE(rein::pipeline::parse_rfc3339_ns("2026-11-30"));
  EXPECT_FALSE(rein::pipeline::parse_time_spec("14:62"));
  EXPECT_FALSE(rein::pipeline::parse_time_spec("yesterday"));
  auto t = rein::pipeline::parse_time_spec("14:02");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->time_of_day);
  // on the first event's (UTC) day
  EXPECT_EQ(rein::pipeline::resolve_time_spec(*t, *a + 3'600'000'000'000LL), *a - 500'000'000);
}

class Lines : public rein::pipeline::LineSink {
 public:
  void write_line(std::string_view line) override { lines.emplace_back(line); }
  void flush() override {}
  std::vector<std::string> lines;
};

TEST(ReplayFilter, TimeAndAgent) {
  Lines out;
  rein::pipeline::ReplayOptions o;
  o.from = rein::pipeline::parse_time_spec("14:02");
  o.to = rein::pipeline::parse_time_spec("2026-11-30T14:09:00Z");
  o.agent = "claude";
  rein::pipeline::ReplayFilter f(out, o);
  auto line = [](const char* time, const char* agent) {
    return fmt::format(R"({{"type":"file.mutation","time":"{}","process":{{}},"agent":{}}})", time, agent);
  };
  f.write_line(line("2026-11-30T14:01:00.000000000Z", R"({"id":"claude-1","name":"claude"})"));
  f.write_line(line("2026-11-30T14:03:00.000000000Z", R"({"id":"claude-1","name":"claude"})"));
  f.write_line(line("2026-11-30T14:04:00.000000000Z", "null"));
  f.write_line(line("2026-11-30T14:05:00.000000000Z", R"({"id":"codex-2","name":"codex"})"));
  f.write_line(line("2026-11-30T14:10:00.000000000Z", R"({"id":"claude-1","name":"claude"})"));
  ASSERT_EQ(out.lines.size(), 1u);
  EXPECT_NE(out.lines[0].find("14:03:00"), std::string::npos);
}

TEST(ReplayFilter, MarksPolicyActionsUnderAnotherPolicy) {
  Lines out;
  rein::pipeline::ReplayOptions o;
  o.policy_text = "x";
  rein::pipeline::ReplayFilter f(out, o);
  f.write_line(R"({"type":"policy.action","time":"t","outcome":"denied"})");
  f.write_line(R"({"type":"process.exec","time":"t"})");
  ASSERT_EQ(out.lines.size(), 2u);
  EXPECT_EQ(out.lines[0], R"({"type":"policy.action","time":"t","outcome":"denied","replay":true,"would":"denied"})");
  EXPECT_EQ(out.lines[1], R"({"type":"process.exec","time":"t"})");
}

// The whole loop in memory: a live pipeline with a recorder, then a Replayer fed the
// entries, must print the same lines; the key never reaches an entry.
TEST(CaptureReplay, InMemoryLiveAndReplayLinesMatch) {
  auto prices_path = std::string(REIN_SOURCE_DIR) + "/data/prices.json";
  auto prices = rein::llm::PriceTable::load(prices_path, "");
  ASSERT_TRUE(prices) << prices.error().message;
  auto fp = make_fp();
  MemoryJournal mem;
  Lines live_out;
  {
    CaptureRecorder rec(mem, fp);
    const auto ctx = rein::pipeline::testutil::agent_context(prices_path);
    rec.context(ctx);
    auto sels = rein::pipeline::testutil::agent_selectors();
    ASSERT_TRUE(sels);
    rein::pipeline::SensorPipeline pipe(std::move(*sels), live_out,
                                        rec.wrap(rein::pipeline::TrackFn{}), nullptr,
                                        rein::pipeline::LlmConfig{&*prices, &fp});
    pipe.set_input_journal(rec.inputs());
    pipe.set_clock_offset(ctx.realtime_minus_boottime_ns());
    pipe.set_tls_coverage(rec.wrap(rein::pipeline::TlsCoverageFn{}));
    rec.health(pipe, 900'000'000, "started", {{"ring_drops", 0}}, [](rein::sinks::JsonWriter& w) {
      w.key("tls_hooks");
      w.string("process");
    });
    Hdr h;
    h.tgid = 100;
    h.agent = 100;
    Exec x;
    x.h = h;
    x.flags = REIN_F_NEW_AGENT;
    x.exe = "/usr/bin/agent";
    x.args = {"agent", "--token", kKey};
    auto feed = [&](const Bytes& b) {
      pipe.on_record(b);
      rec.record(b);
    };
    feed(exec_rec(x));
    std::string body = R"({"model":"claude-sonnet-4-20250514","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";
    std::string req = "POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nx-api-key: " + kKey +
                      "\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
                      "content-length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    std::string resp_body =
        R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":3}})";
    std::string resp = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " +
                       std::to_string(resp_body.size()) + "\r\n\r\n" + resp_body;
    h.ts = 2'000'000'000;
    feed(data_rec(h, REIN_DIR_EGRESS, 9, 0, req));
    h.ts = 2'500'000'000;
    feed(data_rec(h, REIN_DIR_INGRESS, 9, 0, resp));
    pipe.tick(3'000'000'000);
    rec.tick(3'000'000'000);
    h.ts = 4'000'000'000;
    feed(exit_rec(h, 0));
    pipe.finish(5'000'000'000);
    rec.finish(5'000'000'000);
    rec.health(pipe, 5'000'000'000, "stopped", {{"ring_drops", 0}});
  }
  bool has_call = false;
  for (const auto& l : live_out.lines) has_call |= l.find("\"type\":\"llm.call\"") != std::string::npos;
  EXPECT_TRUE(has_call);
  for (const auto& e : mem.entries) {
    std::string wire = e.SerializeAsString();
    EXPECT_EQ(wire.find(kKey), std::string::npos);
    EXPECT_EQ(wire.find(kKey.substr(13)), std::string::npos);
  }
  Lines replay_out;
  rein::pipeline::ReplayOptions o;
  o.default_prices_path = prices_path;
  rein::pipeline::Replayer r(replay_out, o);
  for (const auto& e : mem.entries) ASSERT_TRUE(r.feed(e)) << e.DebugString();
  r.end();
  // The decode budget is one per process: this test's live run already raised its peak.
  auto norm = [](std::string l) {
    return std::regex_replace(l, std::regex(R"("decode_peak_bytes":\d+)"), "");
  };
  ASSERT_EQ(replay_out.lines.size(), live_out.lines.size());
  for (size_t i = 0; i < live_out.lines.size(); i++)
    EXPECT_EQ(norm(replay_out.lines[i]), norm(live_out.lines[i]));
}

}  // namespace
