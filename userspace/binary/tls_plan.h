// Where to hook one executable or library so its TLS plaintext can be read: which kernel
// program goes at which file offset, for every TLS implementation the file carries (OpenSSL
// or GnuTLS exports, BoringSSL inside Bun, aws-lc's AES-GCM under rustls, Go crypto/tls),
// and why a TLS implementation it carries cannot be hooked. Pure analysis of the file's
// bytes: every offset is a proven function entry or instruction boundary (the finders'
// contract), never a guess.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "binary/elf_file.h"
#include "common/result.h"

namespace rein::binary {

enum class ProbeProgram : uint8_t {
  TlsEnter,      // uprobe at an SSL_write/SSL_read-shaped entry
  TlsExit,       // uretprobe of the same function
  GcmSeal,       // uprobe at aws-lc's AES-GCM encrypt entry
  GcmOpenEnter,  // uprobe at aws-lc's AES-GCM decrypt entry
  GcmOpenExit,   // uretprobe of the decrypt
  GoEnter,       // uprobe at (*tls.Conn).Read/Write entry
  GoRet,         // uprobe on one RET instruction of the same
  AesniSeal,     // uprobe at aws-lc's AES-NI GCM encrypt entry (CPUs without AVX-512)
  AesniOpen,     // uprobe at aws-lc's AES-NI GCM decrypt entry
  ChachaSeal,    // uprobe at aws-lc's ChaCha20-Poly1305 seal entry
  ChachaOpen,    // uprobe at aws-lc's ChaCha20-Poly1305 open entry
};
const char* probe_program_name(ProbeProgram p);

struct Probe {
  uint64_t offset = 0;  // file offset
  ProbeProgram program = ProbeProgram::TlsEnter;
  uint64_t cookie = 0;  // bpf_get_attach_cookie(): source | dir << 8 | ex << 16, or the Go dir
};

struct TlsPlan {
  std::vector<std::string> libraries;    // hooked: "openssl", "boringssl (bun)", ...
  std::vector<Probe> probes;
  std::vector<std::string> undecodable;  // TLS code found but not hookable, with the reason
  double analysis_ms = 0;
};

// Everything `elf` offers. A file with no TLS at all gives an empty plan.
TlsPlan plan_tls_hooks(const ElfFile& elf);

// One line, for the persistent plan cache; parse_plan reverses it (nullopt-like error on
// anything malformed: the cache is a file on disk and is not trusted).
std::string serialize_plan(const TlsPlan& plan);
Result<TlsPlan> parse_plan(std::string_view line);

}  // namespace rein::binary
