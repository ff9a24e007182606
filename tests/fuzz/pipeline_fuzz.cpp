// A fuzz input is a script of ring-buffer records (valid headers, random kinds, tails whose
// lengths usually add up) plus ticks and health reports, replayed through SensorPipeline.
// Pids, file ids, socket cookies and DNS ids come from small ranges so records about the
// same process, file and query meet. Every line the pipeline writes must be one valid JSON
// object.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "pipeline/sensor_pipeline.h"
#include "rein/abi/events.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

class ValidatingSink : public rein::pipeline::LineSink {
 public:
  void write_line(std::string_view line) override {
    check(!line.empty() && line.front() == '{');
    check(line.find('\n') == std::string_view::npos);
    simdjson::padded_string padded(line);
    simdjson::dom::element doc;
    check(parser_.parse(padded).get(doc) == simdjson::SUCCESS);
    std::string_view type;
    check(doc["type"].get_string().get(type) == simdjson::SUCCESS && !type.empty());
    simdjson::dom::object proc;
    check(doc["process"].get_object().get(proc) == simdjson::SUCCESS);
  }
  void flush() override {}

 private:
  simdjson::dom::parser parser_;
};

class Script {
 public:
  explicit Script(FuzzedDataProvider& in) : in_(in) {}

  uint32_t pid() { return 100 + in_.ConsumeIntegralInRange<uint32_t>(0, 7); }

  rein_hdr hdr(uint16_t kind) {
    rein_hdr h{};
    h.kind = kind;
    h.abi = REIN_ABI_VERSION;
    // Mostly moving forward a little; sometimes back in time or far ahead.
    switch (in_.ConsumeIntegralInRange<int>(0, 7)) {
      case 0: ts_ -= in_.ConsumeIntegralInRange<uint64_t>(0, ts_ / 2); break;
      case 1: ts_ += in_.ConsumeIntegralInRange<uint64_t>(0, 20'000'000'000ULL); break;
      default: ts_ += in_.ConsumeIntegralInRange<uint64_t>(0, 5'000'000); break;
    }
    h.ts_ns = ts_;
    h.tgid = pid();
    h.pid = in_.ConsumeBool() ? h.tgid : pid();
    h.agent = in_.ConsumeBool() ? 0 : pid();
    h.uid = in_.ConsumeIntegralInRange<uint32_t>(0, 2000);
    return h;
  }

  std::string str(size_t max) { return in_.ConsumeRandomLengthString(max); }

  template <typename Fixed>
  std::vector<uint8_t> finish(Fixed& f, std::initializer_list<std::string_view> tails) {
    size_t total = sizeof f;
    for (auto t : tails) total += t.size();
    f.h.size = static_cast<uint32_t>(total);
    std::vector<uint8_t> out(sizeof f);
    std::memcpy(out.data(), &f, sizeof f);
    for (auto t : tails) out.insert(out.end(), t.begin(), t.end());
    // Sometimes lie about a tail length, to reach the rejection paths mid-stream.
    if (in_.ConsumeIntegralInRange<int>(0, 15) == 0 && out.size() > sizeof(rein_hdr)) {
      size_t at = sizeof(rein_hdr) + in_.ConsumeIntegralInRange<size_t>(0, out.size() - 33);
      out[at] = in_.ConsumeIntegral<uint8_t>();
    }
    return out;
  }

  std::vector<uint8_t> exec() {
    rein_exec e{};
    e.h = hdr(REIN_REC_EXEC);
    e.ppid = pid();
    e.flags = in_.ConsumeIntegral<uint32_t>() & 0x7ff;
    e.cgroup_id = in_.ConsumeIntegralInRange<uint64_t>(0, 3);
    e.selector = in_.ConsumeIntegralInRange<uint32_t>(0, 4);
    e.gid = in_.ConsumeIntegral<uint32_t>();
    std::string comm = str(REIN_COMM_LEN);
    if (!comm.empty()) std::memcpy(e.comm, comm.data(), comm.size());
    std::string exe = str(300), args = str(2000), cwd = str(300);
    e.exe_len = static_cast<uint16_t>(exe.size());
    e.args_len = static_cast<uint16_t>(args.size());
    e.cwd_len = static_cast<uint16_t>(cwd.size());
    return finish(e, {exe, args, cwd});
  }

  std::vector<uint8_t> fork() {
    rein_fork f{};
    f.h = hdr(REIN_REC_FORK);
    f.ppid = pid();
    f.cgroup_id = in_.ConsumeIntegralInRange<uint64_t>(0, 3);
    std::string comm = str(REIN_COMM_LEN);
    if (!comm.empty()) std::memcpy(f.comm, comm.data(), comm.size());
    return finish(f, {});
  }

  std::vector<uint8_t> exit() {
    rein_exit x{};
    x.h = hdr(REIN_REC_EXIT);
    x.exit_code = in_.ConsumeIntegral<uint32_t>();
    x.ppid = pid();
    return finish(x, {});
  }

  std::vector<uint8_t> file() {
    rein_file f{};
    f.h = hdr(REIN_REC_FILE);
    f.op = in_.ConsumeIntegralInRange<uint16_t>(0, REIN_OP_MAX + 1);
    f.result = in_.ConsumeBool() ? 0 : -in_.ConsumeIntegralInRange<int32_t>(-2, 5000);
    f.flags = in_.ConsumeIntegral<uint32_t>() & 0x7ff;
    f.mode = in_.ConsumeIntegral<uint32_t>();
    f.owner = in_.ConsumeBool() ? UINT32_MAX : in_.ConsumeIntegral<uint32_t>();
    f.group = in_.ConsumeBool() ? UINT32_MAX : in_.ConsumeIntegral<uint32_t>();
    std::string path = (in_.ConsumeBool() ? "/" : "") + str(400);
    std::string path2 = str(400);
    f.path_len = static_cast<uint16_t>(path.size());
    f.path2_len = static_cast<uint16_t>(path2.size());
    return finish(f, {path, path2});
  }

  std::vector<uint8_t> file_open() {
    rein_file_open f{};
    f.h = hdr(REIN_REC_FILE_OPEN);
    f.file_id = in_.ConsumeIntegralInRange<uint64_t>(0, 7);
    f.fd = in_.ConsumeIntegralInRange<int32_t>(-1, 10);
    f.flags = in_.ConsumeIntegral<uint32_t>() & 0x7ff;
    f.open_flags = in_.ConsumeIntegral<uint32_t>();
    f.mode = in_.ConsumeIntegral<uint32_t>();
    std::string path = "/" + str(400);
    f.path_len = static_cast<uint16_t>(path.size());
    return finish(f, {path});
  }

  std::vector<uint8_t> file_close() {
    rein_file_close c{};
    c.h = hdr(REIN_REC_FILE_CLOSE);
    c.file_id = in_.ConsumeIntegralInRange<uint64_t>(0, 7);
    c.fd = in_.ConsumeIntegralInRange<int32_t>(-1, 10);
    c.writes = in_.ConsumeIntegralInRange<uint32_t>(0, 3);
    c.bytes = in_.ConsumeIntegral<uint64_t>();
    return finish(c, {});
  }

  std::vector<uint8_t> connect() {
    rein_connect c{};
    c.h = hdr(REIN_REC_CONNECT);
    c.result = in_.ConsumeBool() ? 0 : -in_.ConsumeIntegralInRange<int32_t>(0, 200);
    c.fd = in_.ConsumeIntegralInRange<int32_t>(-1, 10);
    static const uint16_t families[] = {AF_INET, AF_INET6, AF_UNIX, 0, 16};
    uint16_t fam = families[in_.ConsumeIntegralInRange<size_t>(0, 4)];
    std::memcpy(c.sockaddr, &fam, sizeof fam);
    auto rest = in_.ConsumeBytes<uint8_t>(sizeof c.sockaddr - 2);
    if (!rest.empty()) std::memcpy(c.sockaddr + 2, rest.data(), rest.size());
    if (fam == AF_INET && in_.ConsumeBool()) {  // an address the DNS answers above give out
      const uint8_t ip[4] = {10, 10, 10, in_.ConsumeIntegralInRange<uint8_t>(0, 3)};
      std::memcpy(c.sockaddr + 4, ip, sizeof ip);
    }
    c.addrlen = in_.ConsumeBool() ? in_.ConsumeIntegralInRange<uint32_t>(0, 128)
                                  : in_.ConsumeIntegral<uint32_t>();
    return finish(c, {});
  }

  // A DNS message shaped enough to pair queries with answers; or raw bytes.
  std::string dns_payload(bool response) {
    if (in_.ConsumeIntegralInRange<int>(0, 3) == 0) return str(REIN_DNS_MAX + 8);
    std::string m;
    auto put16 = [&](uint16_t v) {
      m += static_cast<char>(v >> 8);
      m += static_cast<char>(v & 0xff);
    };
    put16(in_.ConsumeIntegralInRange<uint16_t>(0, 3));
    put16(response ? 0x8180 | in_.ConsumeIntegralInRange<uint16_t>(0, 5) : 0x0100);
    uint16_t answers = response ? in_.ConsumeIntegralInRange<uint16_t>(0, 3) : 0;
    put16(1);
    put16(answers);
    put16(0);
    put16(0);
    std::string label = str(20);
    m += static_cast<char>(label.size() & 0x3f);
    m += label.substr(0, label.size() & 0x3f);
    m += '\0';
    uint16_t qtype = in_.ConsumeBool() ? 1 : 28;
    put16(qtype);
    put16(1);
    for (uint16_t i = 0; i < answers; i++) {
      put16(0xc00c);
      uint16_t type = in_.ConsumeBool() ? 1 : in_.ConsumeIntegralInRange<uint16_t>(0, 30);
      put16(type);
      put16(1);
      put16(0);
      put16(60);
      uint16_t rdlen = type == 1 ? 4 : type == 28 ? 16 : in_.ConsumeIntegralInRange<uint16_t>(0, 8);
      put16(rdlen);
      // A few distinct addresses so later connects find their hostname.
      uint8_t b = in_.ConsumeIntegralInRange<uint8_t>(0, 3);
      for (uint16_t j = 0; j < rdlen; j++) m += static_cast<char>(j == rdlen - 1 ? b : 10);
    }
    return m;
  }

  std::vector<uint8_t> dns() {
    rein_dns d{};
    d.h = hdr(REIN_REC_DNS);
    d.sock_cookie = in_.ConsumeIntegralInRange<uint64_t>(0, 3);
    bool ingress = in_.ConsumeBool();
    d.flags = ingress ? REIN_F_INGRESS : 0;
    std::string payload = dns_payload(in_.ConsumeBool() ? ingress : !ingress);
    d.len = static_cast<uint16_t>(payload.size());
    d.orig_len = in_.ConsumeBool() ? d.len : in_.ConsumeIntegral<uint16_t>();
    d.family = in_.ConsumeBool() ? AF_INET : AF_INET6;
    d.port = 53;
    auto addr = in_.ConsumeBytes<uint8_t>(sizeof d.addr);
    if (!addr.empty()) std::memcpy(d.addr, addr.data(), addr.size());
    return finish(d, {payload});
  }

  // Any other kind (including ones newer code may know): a header and random bytes.
  std::vector<uint8_t> other() {
    auto h = hdr(in_.ConsumeIntegralInRange<uint16_t>(0, 15));
    auto body = in_.ConsumeBytes<uint8_t>(in_.ConsumeIntegralInRange<size_t>(0, 300));
    std::vector<uint8_t> out(sizeof h);
    h.size = static_cast<uint32_t>(sizeof h + body.size());
    std::memcpy(out.data(), &h, sizeof h);
    out.insert(out.end(), body.begin(), body.end());
    return out;
  }

  uint64_t now() const { return ts_; }

 private:
  FuzzedDataProvider& in_;
  uint64_t ts_ = 1'000'000'000'000ULL;
};

rein::pipeline::SelectorSet selectors() {
  using rein::pipeline::SelectorKind;
  auto s = rein::pipeline::SelectorSet::build({{SelectorKind::Exe, "agent", ""},
                                               {SelectorKind::Cmdline, "a.?g", ""},
                                               {SelectorKind::Cgroup, "/a", "cg"}});
  check(s.ok());
  return std::move(s).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const rein::pipeline::SelectorSet kSelectors = selectors();
  FuzzedDataProvider in(data, size);
  ValidatingSink sink;
  bool fail_track = in.ConsumeBool();
  rein::pipeline::SensorPipeline pipe(
      kSelectors, sink,
      [fail_track](uint32_t, uint32_t, uint32_t, uint64_t) -> rein::Result<void> {
        if (fail_track) return rein::make_error("full");
        return {};
      },
      nullptr);
  Script s(in);
  for (int steps = 0; in.remaining_bytes() > 0 && steps < 256; steps++) {
    switch (in.ConsumeIntegralInRange<int>(0, 12)) {
      case 0: case 1: pipe.on_record(s.exec()); break;
      case 2: pipe.on_record(s.fork()); break;
      case 3: pipe.on_record(s.exit()); break;
      case 4: pipe.on_record(s.file()); break;
      case 5: pipe.on_record(s.file_open()); break;
      case 6: pipe.on_record(s.file_close()); break;
      case 7: pipe.on_record(s.connect()); break;
      case 8: case 9: pipe.on_record(s.dns()); break;
      case 10: pipe.on_record(s.other()); break;
      case 11: pipe.tick(s.now() + in.ConsumeIntegralInRange<uint64_t>(0, 10'000'000'000ULL)); break;
      case 12: pipe.emit_health(s.now(), "running", {{"records", in.ConsumeIntegral<uint64_t>()}});
        break;
    }
  }
  pipe.tick(s.now() + 3600'000'000'000ULL);
  pipe.emit_health(s.now(), "stopped", {});
  const auto& st = pipe.stats();
  check(st.decode_errors <= st.records);
  return 0;
}
