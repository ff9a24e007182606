#include "decode/records.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <fmt/format.h>

#include "rein/abi/events.h"

namespace rein::decode {

// The layout both compilers must agree on.
static_assert(sizeof(rein_hdr) == 32);
static_assert(offsetof(rein_hdr, ts_ns) == 8 && offsetof(rein_hdr, agent) == 24);
static_assert(sizeof(rein_exec) == 88 && offsetof(rein_exec, comm) == 64);
static_assert(sizeof(rein_fork) == 64);
static_assert(sizeof(rein_exit) == 40);
static_assert(sizeof(rein_cipher_key) == 112 && offsetof(rein_cipher_key, key) == 56);
static_assert(sizeof(rein_file) == 72 && offsetof(rein_file, result) == 40);
static_assert(sizeof(rein_file_open) == 72 && offsetof(rein_file_open, path_len) == 56);
static_assert(sizeof(rein_file_close) == 56 && offsetof(rein_file_close, bytes) == 48);
static_assert(sizeof(rein_connect) == 160 && offsetof(rein_connect, sockaddr) == 48);
static_assert(sizeof(rein_connect_outcome) == 56 && offsetof(rein_connect_outcome, latency_ns) == 40);
static_assert(sizeof(rein_dns) == 72 && offsetof(rein_dns, addr) == 52);
static_assert(sizeof(rein_data) == 88 && offsetof(rein_data, fd) == 56 &&
              offsetof(rein_data, peer_addr) == 72);
static_assert(sizeof(rein_policy_net) == 64 && offsetof(rein_policy_net, addr) == 40);
static_assert(sizeof(rein_bind) == 56 && sizeof(rein_tls_lib) == 40);
static_assert(sizeof(rein_mechanism) == 48 && sizeof(rein_inode_key) == 16);
static_assert(sizeof(rein_config) == 64);
static_assert(sizeof(rein_rule) == 40 && sizeof(rein_path_key) == 260 && sizeof(rein_net_key) == 20);

namespace {

template <typename T>
bool read_fixed(std::span<const uint8_t> b, T& out) {
  if (b.size() < sizeof(T)) return false;
  std::memcpy(&out, b.data(), sizeof(T));
  return true;
}

Header header_of(const rein_hdr& h) {
  return Header{h.kind, h.ts_ns, h.pid, h.tgid, h.agent, h.uid};
}

std::string comm_of(const char (&c)[REIN_COMM_LEN]) {
  return std::string(c, strnlen(c, REIN_COMM_LEN));
}

// Cuts consecutive tails out of the bytes after the fixed part, checking each fits.
class Tail {
 public:
  Tail(std::span<const uint8_t> rec, size_t fixed) : rec_(rec), off_(fixed) {}
  bool take(size_t len, std::string& out) {
    if (len > rec_.size() - off_) return false;
    out.assign(reinterpret_cast<const char*>(rec_.data() + off_), len);
    off_ += len;
    return true;
  }

 private:
  std::span<const uint8_t> rec_;
  size_t off_;
};

Error bad(const char* what, uint16_t kind) {
  return make_error(fmt::format("record kind {}: {}", kind, what));
}

std::string unix_path_text(const uint8_t* p, size_t n) {
  if (n == 0) return {};
  if (p[0] == 0) {  // abstract namespace: shown with a leading '@' like ss(8) does
    std::string s = "@";
    s.append(reinterpret_cast<const char*>(p + 1), n - 1);
    while (!s.empty() && s.back() == '\0') s.pop_back();
    return s;
  }
  return std::string(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), n));
}

ConnectRec decode_connect(const rein_connect& c) {
  ConnectRec r;
  r.h = header_of(c.h);
  r.result = c.result;
  r.fd = c.fd;
  uint16_t family = 0;
  std::memcpy(&family, c.sockaddr, sizeof(family));
  r.family = family;
  size_t len = std::min<size_t>(c.addrlen, sizeof(c.sockaddr));
  if (family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in{};
    std::memcpy(&in, c.sockaddr, sizeof(in));
    r.port = ntohs(in.sin_port);
    r.address = inet_text(AF_INET, reinterpret_cast<const uint8_t*>(&in.sin_addr));
  } else if (family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, c.sockaddr, sizeof(in6));
    r.port = ntohs(in6.sin6_port);
    r.address = inet_text(AF_INET6, reinterpret_cast<const uint8_t*>(&in6.sin6_addr));
  } else if (family == AF_UNIX && len > offsetof(sockaddr_un, sun_path)) {
    size_t off = offsetof(sockaddr_un, sun_path);
    r.unix_path = unix_path_text(c.sockaddr + off, len - off);
  }
  return r;
}

}  // namespace

std::string inet_text(uint16_t family, const uint8_t* addr) {
  if (family == AF_INET) {
    // Every TLS/HTTP data record names its peer: glibc's inet_ntop formats IPv4 through
    // sprintf, which was 5% of a replay.
    char buf[16];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
      unsigned v = addr[i];
      if (i) buf[n++] = '.';
      if (v >= 100) buf[n++] = char('0' + v / 100);
      if (v >= 10) buf[n++] = char('0' + v / 10 % 10);
      buf[n++] = char('0' + v % 10);
    }
    return std::string(buf, n);
  }
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family, addr, buf, sizeof(buf))) return {};
  return buf;
}

std::vector<std::string> split_args(std::string_view block) {
  std::vector<std::string> out;
  while (!block.empty() && block.back() == '\0') block.remove_suffix(1);
  size_t start = 0;
  while (start <= block.size() && !block.empty()) {
    size_t end = block.find('\0', start);
    if (end == std::string_view::npos) end = block.size();
    out.emplace_back(block.substr(start, end - start));
    start = end + 1;
    if (end == block.size()) break;
  }
  return out;
}

Result<Record> decode_record(std::span<const uint8_t> b) {
  rein_hdr h{};
  if (!read_fixed(b, h)) return make_error("record shorter than its header");
  if (h.abi != REIN_ABI_VERSION)
    return make_error(fmt::format("record ABI {} (this build reads {})", h.abi, REIN_ABI_VERSION));
  if (h.size != b.size()) return bad("size field does not match the record", h.kind);
  switch (h.kind) {
    case REIN_REC_EXEC: {
      rein_exec e{};
      if (!read_fixed(b, e)) return bad("short exec", h.kind);
      ExecRec r;
      r.h = header_of(e.h);
      r.policy = PolicyHit{e.rule, e.action, e.outcome};
      r.ppid = e.ppid;
      r.flags = e.flags;
      r.selector = e.selector;
      r.gid = e.gid;
      r.cgroup_id = e.cgroup_id;
      r.comm = comm_of(e.comm);
      Tail t(b, sizeof(e));
      std::string args;
      if (!t.take(e.exe_len, r.exe) || !t.take(e.args_len, args) || !t.take(e.cwd_len, r.cwd) ||
          !t.take(e.name_len, r.exec_name))
        return bad("exec tails exceed the record", h.kind);
      r.args = split_args(args);
      return Record{std::move(r)};
    }
    case REIN_REC_FORK: {
      rein_fork f{};
      if (!read_fixed(b, f)) return bad("short fork", h.kind);
      return Record{ForkRec{header_of(f.h), f.ppid, f.cgroup_id, comm_of(f.comm)}};
    }
    case REIN_REC_EXIT: {
      rein_exit x{};
      if (!read_fixed(b, x)) return bad("short exit", h.kind);
      return Record{ExitRec{header_of(x.h), x.exit_code, x.ppid}};
    }
    case REIN_REC_FILE: {
      rein_file f{};
      if (!read_fixed(b, f)) return bad("short file", h.kind);
      FileRec r;
      r.h = header_of(f.h);
      r.policy = PolicyHit{f.rule, f.action, f.outcome};
      r.op = f.op;
      r.result = f.result;
      r.flags = f.flags;
      r.mode = f.mode;
      r.owner = f.owner;
      r.group = f.group;
      r.syscall = f.syscall;
      Tail t(b, sizeof(f));
      if (!t.take(f.path_len, r.path) || !t.take(f.path2_len, r.path2))
        return bad("file paths exceed the record", h.kind);
      return Record{std::move(r)};
    }
    case REIN_REC_FILE_OPEN: {
      rein_file_open f{};
      if (!read_fixed(b, f)) return bad("short file open", h.kind);
      FileOpenRec r;
      r.h = header_of(f.h);
      r.policy = PolicyHit{f.rule, f.action, f.outcome};
      r.file_id = f.file_id;
      r.fd = f.fd;
      r.flags = f.flags;
      r.open_flags = f.open_flags;
      r.mode = f.mode;
      Tail t(b, sizeof(f));
      if (!t.take(f.path_len, r.path)) return bad("open path exceeds the record", h.kind);
      return Record{std::move(r)};
    }
    case REIN_REC_FILE_CLOSE: {
      rein_file_close c{};
      if (!read_fixed(b, c)) return bad("short file close", h.kind);
      return Record{FileCloseRec{header_of(c.h), c.file_id, c.fd, c.writes, c.bytes}};
    }
    case REIN_REC_CONNECT: {
      rein_connect c{};
      if (!read_fixed(b, c)) return bad("short connect", h.kind);
      return Record{decode_connect(c)};
    }
    case REIN_REC_CONNECT_OUTCOME: {
      rein_connect_outcome o{};
      if (!read_fixed(b, o)) return bad("short connect outcome", h.kind);
      return Record{ConnectOutcomeRec{header_of(o.h), o.fd, o.result, o.latency_ns, o.state}};
    }
    case REIN_REC_DNS: {
      rein_dns d{};
      if (!read_fixed(b, d)) return bad("short dns", h.kind);
      if (d.len > b.size() - sizeof(d) || d.len > REIN_DNS_MAX)
        return bad("dns payload exceeds the record", h.kind);
      DnsRec r;
      r.h = header_of(d.h);
      r.cookie = d.sock_cookie;
      r.ingress = d.flags & REIN_F_INGRESS;
      r.untrusted = d.flags & REIN_F_DNS_UNTRUSTED;
      r.orig_len = d.orig_len;
      r.family = d.family;
      r.port = d.port;
      r.address = inet_text(d.family == 10 ? AF_INET6 : AF_INET, d.addr);
      r.payload.assign(b.begin() + sizeof(d), b.begin() + sizeof(d) + d.len);
      return Record{std::move(r)};
    }
    case REIN_REC_DATA: {
      rein_data d{};
      if (!read_fixed(b, d)) return bad("short data", h.kind);
      if (d.len > b.size() - sizeof(d)) return bad("data exceeds the record", h.kind);
      DataRec r;
      r.h = header_of(d.h);
      r.conn = d.conn;
      r.offset = d.offset;
      r.call_len = d.call_len;
      r.fd = d.fd;
      r.dir = d.dir;
      r.source = d.source;
      r.peer_family = d.peer_family;
      r.peer_port = d.peer_port;
      if (d.peer_family == AF_INET || d.peer_family == AF_INET6)
        r.peer_address = inet_text(d.peer_family, d.peer_addr);
      r.flags = d.flags;
      r.data = b.subspan(sizeof(d), d.len);
      return Record{r};
    }
    case REIN_REC_POLICY_NET: {
      rein_policy_net p{};
      if (!read_fixed(b, p)) return bad("short policy", h.kind);
      PolicyNetRec r;
      r.h = header_of(p.h);
      r.policy = PolicyHit{p.rule, p.action, p.outcome};
      r.budget = p.budget;
      r.family = p.family;
      r.port = p.port;
      r.hook = p.hook;
      // v4-mapped addresses print as plain IPv4
      static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      r.address = std::memcmp(p.addr, mapped, 12) == 0 ? inet_text(AF_INET, p.addr + 12)
                                                         : inet_text(AF_INET6, p.addr);
      return Record{std::move(r)};
    }
    case REIN_REC_BIND: {
      rein_bind d{};
      if (!read_fixed(b, d)) return bad("short bind", h.kind);
      return Record{BindRec{header_of(d.h), d.from, d.to, d.fd}};
    }
    case REIN_REC_TLS_LIB: {
      rein_tls_lib l{};
      if (!read_fixed(b, l)) return bad("short tls lib", h.kind);
      TlsLibRec r;
      r.h = header_of(l.h);
      Tail t(b, sizeof(l));
      if (!t.take(l.path_len, r.path)) return bad("tls lib path exceeds the record", h.kind);
      return Record{std::move(r)};
    }
    case REIN_REC_MECHANISM: {
      rein_mechanism m{};
      if (!read_fixed(b, m)) return bad("short mechanism", h.kind);
      MechanismRec r{header_of(m.h), PolicyHit{m.rule, m.action, m.outcome}, m.mechanism, m.flags, {}};
      Tail t(b, sizeof(m));
      if (!t.take(m.path_len, r.path)) return bad("mechanism path exceeds the record", h.kind);
      return Record{std::move(r)};
    }
    default:
      return bad("unknown kind", h.kind);
  }
}

}  // namespace rein::decode
