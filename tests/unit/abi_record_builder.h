// Builds ring-buffer records byte for byte from the ABI structs (include/rein/abi/events.h),
// the way the BPF programs lay them out, so decode and pipeline tests need no kernel.
// Also builds DNS wire messages (RFC 1035) for the DNS records' payloads.
#pragma once
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "rein/abi/events.h"

namespace rein::testrec {

using Bytes = std::vector<uint8_t>;

// Header fields a test cares about; pid (thread id) defaults to tgid.
struct Hdr {
  uint64_t ts = 1'000'000'000;
  uint32_t tgid = 100;
  uint32_t agent = 0;
  uint32_t uid = 1000;
  uint32_t pid = 0;
};

inline void fill(rein_hdr& h, uint16_t kind, const Hdr& in) {
  h.kind = kind;
  h.abi = REIN_ABI_VERSION;
  h.ts_ns = in.ts;
  h.tgid = in.tgid;
  h.pid = in.pid ? in.pid : in.tgid;
  h.agent = in.agent;
  h.uid = in.uid;
}

// Fixed part followed by the tails; h.size is set to the total.
template <typename Fixed>
Bytes assemble(Fixed fixed, std::initializer_list<std::string_view> tails = {}) {
  size_t total = sizeof(Fixed);
  for (auto t : tails) total += t.size();
  fixed.h.size = static_cast<uint32_t>(total);
  Bytes out(sizeof(Fixed));
  std::memcpy(out.data(), &fixed, sizeof(Fixed));
  for (auto t : tails) out.insert(out.end(), t.begin(), t.end());
  return out;
}

inline std::string_view sv(const std::string& s) {
  return std::string_view(s.data(), s.size());
}

// argv as the kernel copies it from the stack: each argument NUL-terminated.
inline std::string args_block(const std::vector<std::string>& args) {
  std::string b;
  for (const auto& a : args) {
    b += a;
    b += '\0';
  }
  return b;
}

inline void set_comm(char (&dst)[REIN_COMM_LEN], std::string_view comm) {
  std::memset(dst, 0, REIN_COMM_LEN);
  std::memcpy(dst, comm.data(), comm.size() < REIN_COMM_LEN ? comm.size() : REIN_COMM_LEN);
}

struct Exec {
  Hdr h;
  uint32_t ppid = 1;
  uint32_t flags = 0;
  uint32_t selector = 0;
  uint32_t gid = 1000;
  uint64_t cgroup_id = 0;
  std::string comm = "proc";
  std::string exe = "/usr/bin/proc";
  std::vector<std::string> args = {"proc"};
  std::string cwd = "/home/u";
  std::string exec_name;  // the name exec'd by (empty: none recorded)
  // When set, used verbatim instead of args_block(args) (malformed/edge-case blocks).
  const std::string* raw_args = nullptr;
};

inline Bytes exec_rec(const Exec& x) {
  rein_exec e{};
  fill(e.h, REIN_REC_EXEC, x.h);
  e.ppid = x.ppid;
  e.flags = x.flags;
  e.cgroup_id = x.cgroup_id;
  e.selector = x.selector;
  std::string block = x.raw_args ? *x.raw_args : args_block(x.args);
  e.exe_len = static_cast<uint16_t>(x.exe.size());
  e.args_len = static_cast<uint16_t>(block.size());
  e.cwd_len = static_cast<uint16_t>(x.cwd.size());
  e.name_len = static_cast<uint16_t>(x.exec_name.size());
  e.gid = x.gid;
  set_comm(e.comm, x.comm);
  return assemble(e, {sv(x.exe), sv(block), sv(x.cwd), sv(x.exec_name)});
}

inline Bytes fork_rec(const Hdr& h, uint32_t ppid, std::string_view comm, uint64_t cgroup_id = 0) {
  rein_fork f{};
  fill(f.h, REIN_REC_FORK, h);
  f.ppid = ppid;
  f.cgroup_id = cgroup_id;
  set_comm(f.comm, comm);
  return assemble(f);
}

// REIN_REC_MECHANISM of kind REIN_MECH_EXEC_MAP: a file mapped as code, an exec rule's verdict.
inline Bytes exec_map_rec(const Hdr& h, std::string_view path, uint32_t rule_plus1 = 0,
                          uint8_t action = 0, uint8_t outcome = 0) {
  rein_mechanism m{};
  fill(m.h, REIN_REC_MECHANISM, h);
  m.mechanism = REIN_MECH_EXEC_MAP;
  m.rule = rule_plus1;
  m.action = action;
  m.outcome = outcome;
  m.path_len = static_cast<uint16_t>(path.size());
  return assemble(m, {path});
}

// REIN_REC_MECHANISM of kind REIN_MECH_RAW_SOCKET: flags carry family << 16 | socket type.
inline Bytes raw_socket_rec(const Hdr& h, uint32_t family, uint32_t type, uint32_t rule_plus1 = 0,
                            uint8_t outcome = 0) {
  rein_mechanism m{};
  fill(m.h, REIN_REC_MECHANISM, h);
  m.mechanism = REIN_MECH_RAW_SOCKET;
  m.flags = family << 16 | type;
  m.rule = rule_plus1;
  m.action = rule_plus1 ? REIN_ACT_DENY : 0;
  m.outcome = outcome;
  return assemble(m);
}

// REIN_REC_MECHANISM of kind REIN_MECH_SENSOR_TAMPER: `what` as bpf/sensor_guard.bpf.h sets it.
inline Bytes tamper_rec(const Hdr& h, uint32_t what, uint32_t rule_plus1 = 0, uint8_t outcome = 0) {
  rein_mechanism m{};
  fill(m.h, REIN_REC_MECHANISM, h);
  m.mechanism = REIN_MECH_SENSOR_TAMPER;
  m.flags = what;
  m.rule = rule_plus1;
  m.action = rule_plus1 ? REIN_ACT_DENY : 0;
  m.outcome = outcome;
  return assemble(m);
}

inline Bytes exit_rec(const Hdr& h, uint32_t status, uint32_t ppid = 1) {
  rein_exit x{};
  fill(x.h, REIN_REC_EXIT, h);
  x.exit_code = status;
  x.ppid = ppid;
  return assemble(x);
}

struct File {
  Hdr h;
  uint16_t op = REIN_OP_CREATE;
  std::string path = "/tmp/f";
  std::string path2;
  int32_t result = 0;
  uint32_t flags = 0, mode = 0, owner = 0, group = 0, syscall = 0;
};

inline Bytes file_rec(const File& x) {
  rein_file f{};
  fill(f.h, REIN_REC_FILE, x.h);
  f.op = x.op;
  f.path_len = static_cast<uint16_t>(x.path.size());
  f.path2_len = static_cast<uint16_t>(x.path2.size());
  f.result = x.result;
  f.flags = x.flags;
  f.mode = x.mode;
  f.owner = x.owner;
  f.group = x.group;
  f.syscall = x.syscall;
  return assemble(f, {sv(x.path), sv(x.path2)});
}

struct FileOpen {
  Hdr h;
  uint64_t file_id = 0xffff888000001000ULL;
  int32_t fd = 3;
  uint32_t flags = REIN_F_PATH_FROM_FD | REIN_F_WRITABLE;
  uint32_t open_flags = 01101;  // O_WRONLY|O_CREAT|O_TRUNC
  uint32_t mode = 0100644;
  std::string path = "/tmp/out.txt";
};

inline Bytes file_open_rec(const FileOpen& x) {
  rein_file_open f{};
  fill(f.h, REIN_REC_FILE_OPEN, x.h);
  f.file_id = x.file_id;
  f.fd = x.fd;
  f.flags = x.flags;
  f.open_flags = x.open_flags;
  f.mode = x.mode;
  f.path_len = static_cast<uint16_t>(x.path.size());
  return assemble(f, {sv(x.path)});
}

inline Bytes file_close_rec(const Hdr& h, uint64_t file_id, int32_t fd, uint32_t writes,
                            uint64_t bytes) {
  rein_file_close c{};
  fill(c.h, REIN_REC_FILE_CLOSE, h);
  c.file_id = file_id;
  c.fd = fd;
  c.writes = writes;
  c.bytes = bytes;
  return assemble(c);
}

// A sockaddr as the caller passed it: raw bytes and the addrlen it claimed.
struct Sockaddr {
  Bytes bytes;
  uint32_t addrlen = 0;
};

inline Sockaddr sockaddr_v4(const char* ip, uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  inet_pton(AF_INET, ip, &in.sin_addr);
  Sockaddr s;
  s.bytes.resize(sizeof in);
  std::memcpy(s.bytes.data(), &in, sizeof in);
  s.addrlen = sizeof in;
  return s;
}

inline Sockaddr sockaddr_v6(const char* ip, uint16_t port) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &in6.sin6_addr);
  Sockaddr s;
  s.bytes.resize(sizeof in6);
  std::memcpy(s.bytes.data(), &in6, sizeof in6);
  s.addrlen = sizeof in6;
  return s;
}

// name is copied after the family as is: a leading '\0' makes it abstract. addrlen is what
// a caller computes: offsetof(sun_path) + name length (+1 for the NUL of a filesystem path).
inline Sockaddr sockaddr_unix(std::string_view name, bool nul_terminated) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, name.data(), name.size());
  Sockaddr s;
  s.bytes.resize(sizeof un);
  std::memcpy(s.bytes.data(), &un, sizeof un);
  s.addrlen = static_cast<uint32_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                    (nul_terminated ? 1 : 0));
  return s;
}

inline Bytes connect_rec(const Hdr& h, const Sockaddr& sa, int32_t result = 0, int32_t fd = 5) {
  rein_connect c{};
  fill(c.h, REIN_REC_CONNECT, h);
  c.result = result;
  c.fd = fd;
  c.addrlen = sa.addrlen;
  std::memcpy(c.sockaddr, sa.bytes.data(),
              sa.bytes.size() < sizeof c.sockaddr ? sa.bytes.size() : sizeof c.sockaddr);
  return assemble(c);
}

struct Dns {
  Hdr h;
  uint64_t cookie = 0x1234;
  bool ingress = false;
  uint16_t family = AF_INET;
  uint16_t port = 53;
  const char* server = "10.0.0.53";
  int orig_len = -1;  // -1: payload size
};

inline Bytes dns_rec(const Dns& x, const Bytes& payload) {
  rein_dns d{};
  fill(d.h, REIN_REC_DNS, x.h);
  d.sock_cookie = x.cookie;
  d.flags = x.ingress ? REIN_F_INGRESS : 0;
  d.len = static_cast<uint16_t>(payload.size());
  d.orig_len = static_cast<uint16_t>(x.orig_len < 0 ? payload.size() : size_t(x.orig_len));
  d.family = x.family;
  d.port = x.port;
  inet_pton(x.family == AF_INET6 ? AF_INET6 : AF_INET, x.server, d.addr);
  std::string p(payload.begin(), payload.end());
  return assemble(d, {sv(p)});
}

// --- DNS wire format ---

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}

inline void put32(Bytes& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}

inline void put_name(Bytes& b, std::string_view name) {
  while (!name.empty()) {
    auto dot = name.find('.');
    auto label = name.substr(0, dot);
    b.push_back(uint8_t(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  b.push_back(0);
}

struct DnsAnswerSpec {
  uint16_t type;
  Bytes rdata;
  uint32_t ttl = 300;
};

// One question; answers (if any) name the question through a pointer to offset 12.
inline Bytes dns_message(uint16_t id, bool response, std::string_view qname, uint16_t qtype,
                         const std::vector<DnsAnswerSpec>& answers = {}, uint8_t rcode = 0) {
  Bytes b;
  put16(b, id);
  uint16_t flags = response ? uint16_t(0x8180 | rcode) : uint16_t(0x0100);
  put16(b, flags);
  put16(b, 1);
  put16(b, uint16_t(answers.size()));
  put16(b, 0);
  put16(b, 0);
  put_name(b, qname);
  put16(b, qtype);
  put16(b, 1);
  for (const auto& a : answers) {
    put16(b, 0xC00C);
    put16(b, a.type);
    put16(b, 1);
    put32(b, a.ttl);
    put16(b, uint16_t(a.rdata.size()));
    b.insert(b.end(), a.rdata.begin(), a.rdata.end());
  }
  return b;
}

inline Bytes ipv4_bytes(const char* ip) {
  Bytes b(4);
  inet_pton(AF_INET, ip, b.data());
  return b;
}

inline Bytes ipv6_bytes(const char* ip) {
  Bytes b(16);
  inet_pton(AF_INET6, ip, b.data());
  return b;
}

}  // namespace rein::testrec
