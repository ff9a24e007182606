// Typed views of the kernel's ring-buffer records (include/rein/abi/events.h). Decoding
// validates every length against the record size: a record that does not add up is an
// error value, never an out-of-bounds read.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"

namespace rein::decode {

struct Header {
  uint16_t kind = 0;
  uint64_t ts_ns = 0;  // CLOCK_BOOTTIME
  uint32_t pid = 0, tgid = 0, agent = 0, uid = 0;
};

// What the kernel did about a matched rule (rule is the policy rule index + 1; 0 = none).
struct PolicyHit {
  uint32_t rule = 0;
  uint8_t action = 0;   // REIN_ACT_*
  uint8_t outcome = 0;  // REIN_OUT_*
};

struct ExecRec {
  Header h;
  PolicyHit policy;
  uint32_t ppid = 0, flags = 0, selector = 0, gid = 0;
  uint64_t cgroup_id = 0;
  std::string comm, exe, cwd;
  std::string exec_name;  // the name it was exec'd by (empty: not recorded)
  std::vector<std::string> args;
};

struct ForkRec {
  Header h;
  uint32_t ppid = 0;
  uint64_t cgroup_id = 0;
  std::string comm;
};

struct ExitRec {
  Header h;
  uint32_t status = 0;  // wait(2) encoding
  uint32_t ppid = 0;
};

struct FileRec {
  Header h;
  PolicyHit policy;
  uint16_t op = 0;
  int32_t result = 0;
  uint32_t flags = 0, mode = 0, owner = 0, group = 0, syscall = 0;
  std::string path, path2;
};

struct FileOpenRec {
  Header h;
  PolicyHit policy;
  uint64_t file_id = 0;  // the open file description; dup'ed fds share it
  int32_t fd = -1;
  uint32_t flags = 0, open_flags = 0, mode = 0;
  std::string path;
};

struct FileCloseRec {
  Header h;
  uint64_t file_id = 0;
  int32_t fd = -1;
  uint32_t writes = 0;
  uint64_t bytes = 0;
};

struct ConnectRec {
  Header h;
  int32_t result = 0, fd = -1;
  uint16_t family = 0;  // AF_INET, AF_INET6, AF_UNIX, or what the caller passed
  uint16_t port = 0;
  std::string address;    // text form for inet families
  std::string unix_path;  // AF_UNIX; abstract names start with '@'
};

struct DnsRec {
  Header h;
  uint64_t cookie = 0;
  bool ingress = false;
  bool untrusted = false;  // an answer nothing may be learned from (REIN_F_DNS_UNTRUSTED)
  uint16_t orig_len = 0, family = 0, port = 0;
  std::string address;
  std::vector<uint8_t> payload;
};

// How a non-blocking connect (EINPROGRESS) ended; joins its ConnectRec by (h.tgid, fd).
struct ConnectOutcomeRec {
  Header h;
  int32_t fd = -1;
  int32_t result = 0;  // 0 = established, else -errno
  uint64_t latency_ns = 0;
  uint32_t state = 0;  // TCP state reached
};

// A slice of plaintext from a TLS library call or a plain HTTP socket.
struct DataRec {
  Header h;
  uint64_t conn = 0;    // with h.tgid, names the stream
  uint64_t offset = 0;  // of data[0] in this direction's stream
  uint32_t call_len = 0;
  int32_t fd = -1;
  uint8_t dir = 0;      // REIN_DIR_EGRESS (request side) or REIN_DIR_INGRESS
  uint8_t source = 0;   // REIN_SRC_*
  uint16_t peer_family = 0;  // AF_INET/AF_INET6 once the socket is known, else 0
  uint16_t peer_port = 0;
  std::string peer_address;
  uint16_t flags = 0;   // REIN_DF_*
  std::span<const uint8_t> data;  // points into the ring record: valid during on_record
};

// rustls: egress data sent under cipher key `from` continues the socket stream `to`.
struct BindRec {
  Header h;
  uint64_t from = 0, to = 0;
  int32_t fd = -1;
};

// A tracked process opened a TLS library (user space hooks it for that process).
struct TlsLibRec {
  Header h;
  std::string path;
};

// A network rule (or an agent's LLM budget) matched in a cgroup connect/sendmsg hook.
struct PolicyNetRec {
  Header h;
  PolicyHit policy;  // rule is the rule index itself here (not + 1); see budget
  uint32_t budget = 0;  // non-zero: budget index + 1 that refused it
  uint16_t family = 0, port = 0, hook = 0;
  std::string address;
};

// A tracked process used io_uring (REIN_MECH_*); under a file rule the kernel killed it. Or
// it mapped a file an exec rule names as code (REIN_MECH_EXEC_MAP), and the rule acted.
struct MechanismRec {
  Header h;
  PolicyHit policy;  // io_uring: the file rule index + 1 whose scope the process is in;
                     // exec map: the exec rule index + 1
  uint32_t mechanism = 0;
  uint32_t flags = 0;  // exec map: REIN_F_PATH_TRUNCATED
  std::string path;    // exec map: the mapped file
};

using Record = std::variant<ExecRec, ForkRec, ExitRec, FileRec, FileOpenRec, FileCloseRec,
                            ConnectRec, ConnectOutcomeRec, DnsRec, DataRec, PolicyNetRec, BindRec, TlsLibRec,
                            MechanismRec>;

Result<Record> decode_record(std::span<const uint8_t> bytes);

// Splits the NUL-separated argv block the kernel copied from the process's stack.
std::vector<std::string> split_args(std::string_view block);

// Text form of an IPv4/IPv6 address in network byte order.
std::string inet_text(uint16_t family, const uint8_t* addr);

}  // namespace rein::decode
