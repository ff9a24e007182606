#include "binary/tls_plan.h"

#include <chrono>
#include <charconv>
#include <fmt/format.h>

#include "binary/awslc_finder.h"
#include "binary/boringssl_finder.h"
#include "binary/go_tls_finder.h"
#include "binary/openssl_core.h"
#include "rein/abi/events.h"

namespace rein::binary {
namespace {

uint64_t tls_cookie(uint32_t source, uint32_t dir, uint32_t ex) {
  return source | (dir << 8) | (ex << 16);
}

struct Export {
  const char* name;
  uint32_t dir, ex;
};
constexpr Export kOpenSsl[] = {{"SSL_write", REIN_DIR_EGRESS, 0},
                               {"SSL_write_ex", REIN_DIR_EGRESS, 1},
                               {"SSL_read", REIN_DIR_INGRESS, 0},
                               {"SSL_read_ex", REIN_DIR_INGRESS, 1}};
constexpr Export kGnuTls[] = {{"gnutls_record_send", REIN_DIR_EGRESS, 0},
                              {"gnutls_record_recv", REIN_DIR_INGRESS, 0}};

// Exported (or, unstripped, local) functions of a TLS library's public API.
bool plan_exports(const ElfFile& elf, const Export* fns, size_t n, uint32_t source,
                  TlsPlan& plan) {
  size_t found = 0;
  for (size_t i = 0; i < n; i++) {
    auto vaddr = elf.symbol(fns[i].name);
    if (!vaddr) continue;
    auto off = elf.vaddr_to_offset(*vaddr);
    if (!off) continue;
    uint64_t cookie = tls_cookie(source, fns[i].dir, fns[i].ex);
    plan.probes.push_back({*off, ProbeProgram::TlsEnter, cookie});
    plan.probes.push_back({*off, ProbeProgram::TlsExit, cookie});
    found++;
  }
  return found > 0;
}

// OpenSSL through its internal read/write functions when the wrappers prove them (see
// openssl_core.h): one trap per hook instead of two, the same data.
bool plan_openssl(const ElfFile& elf, TlsPlan& plan) {
  if (!elf.symbol("SSL_read_ex") || !elf.symbol("SSL_write_ex"))
    return plan_exports(elf, kOpenSsl, std::size(kOpenSsl), REIN_SRC_OPENSSL, plan);
  auto core = find_openssl_core(elf);
  if (!core) return plan_exports(elf, kOpenSsl, std::size(kOpenSsl), REIN_SRC_OPENSSL, plan);
  auto add = [&](uint64_t off, uint32_t dir) {
    uint64_t cookie = tls_cookie(REIN_SRC_OPENSSL, dir, 1);
    plan.probes.push_back({off, ProbeProgram::TlsEnter, cookie});
    plan.probes.push_back({off, ProbeProgram::TlsExit, cookie});
  };
  add(core->write_offset, REIN_DIR_EGRESS);
  add(core->read_offset, REIN_DIR_INGRESS);
  // A wrapper that does not go through the internal function keeps its own hook.
  const Export* rest[2] = {core->covers_ssl_write ? nullptr : &kOpenSsl[0],
                           core->covers_ssl_read ? nullptr : &kOpenSsl[2]};
  for (const Export* e : rest)
    if (e) plan_exports(elf, e, 1, REIN_SRC_OPENSSL, plan);
  return true;
}

void plan_bun(const ElfFile& elf, TlsPlan& plan) {
  bool bun = false;
  auto f = find_bun_boringssl(elf, &bun);
  if (!bun) return;
  if (!f) {
    plan.undecodable.push_back("boringssl (bun): " + f.error().message);
    return;
  }
  uint64_t w = tls_cookie(REIN_SRC_BORINGSSL, REIN_DIR_EGRESS, 0);
  uint64_t r = tls_cookie(REIN_SRC_BORINGSSL, REIN_DIR_INGRESS, 0);
  plan.probes.push_back({f->ssl_write_offset, ProbeProgram::TlsEnter, w});
  plan.probes.push_back({f->ssl_write_offset, ProbeProgram::TlsExit, w});
  plan.probes.push_back({f->ssl_read_offset, ProbeProgram::TlsEnter, r});
  plan.probes.push_back({f->ssl_read_offset, ProbeProgram::TlsExit, r});
  plan.libraries.push_back("boringssl (bun)");
}

void plan_awslc(const ElfFile& elf, TlsPlan& plan) {
  if (!looks_like_awslc(elf)) return;
  auto f = find_awslc_gcm(elf);
  if (!f) {
    plan.undecodable.push_back("rustls (aws-lc): " + f.error().message);
    return;
  }
  plan.probes.push_back({f->encrypt_offset, ProbeProgram::GcmSeal, 0});
  plan.probes.push_back({f->decrypt_offset, ProbeProgram::GcmOpenEnter, 0});
  plan.probes.push_back({f->decrypt_offset, ProbeProgram::GcmOpenExit, 0});
  plan.libraries.push_back("rustls (aws-lc aes-gcm avx512)");
  const bool aesni = f->aesni_encrypt_offset && f->aesni_decrypt_offset;
  if (aesni) {
    plan.probes.push_back({f->aesni_encrypt_offset, ProbeProgram::AesniSeal, 0});
    plan.probes.push_back({f->aesni_decrypt_offset, ProbeProgram::AesniOpen, 0});
    plan.libraries.push_back("rustls (aws-lc aes-gcm aes-ni)");
  }
  if (f->has_chacha20_poly1305) {
    plan.probes.push_back({f->chacha_seal_offset, ProbeProgram::ChachaSeal, 0});
    plan.probes.push_back({f->chacha_open_offset, ProbeProgram::ChachaOpen, 0});
    plan.libraries.push_back("rustls (aws-lc chacha20-poly1305)");
  }
  // What never reaches a hooked function, said rather than left silent: AES-GCM on a CPU
  // with neither AVX-512 (VAES) nor AVX and MOVBE runs through aws-lc's C code and its
  // counter-mode blocks, which see no record whole (docs/architecture.md).
  std::string missed = aesni ? "AES-GCM on a CPU with neither AVX-512 nor AVX+MOVBE"
                              : "AES-GCM on a CPU without AVX-512 (its AES-NI path)";
  if (!f->has_chacha20_poly1305) missed += ", ChaCha20-Poly1305";
  plan.undecodable.push_back("rustls (aws-lc): " + missed + " (no hooked function sees them)");
}

void plan_go(const ElfFile& elf, TlsPlan& plan) {
  if (!looks_like_go(elf)) return;
  auto f = find_go_tls(elf);
  if (!f) {
    // A Go program without crypto/tls has nothing to hook and nothing to report.
    if (f.error().message.find("no function named") == std::string::npos)
      plan.undecodable.push_back("go crypto/tls: " + f.error().message);
    return;
  }
  plan.probes.push_back({f->read_entry, ProbeProgram::GoEnter, REIN_DIR_INGRESS});
  plan.probes.push_back({f->write_entry, ProbeProgram::GoEnter, REIN_DIR_EGRESS});
  for (auto r : f->read_rets) plan.probes.push_back({r, ProbeProgram::GoRet, REIN_DIR_INGRESS});
  for (auto r : f->write_rets) plan.probes.push_back({r, ProbeProgram::GoRet, REIN_DIR_EGRESS});
  plan.libraries.push_back(f->go_version.empty() ? "go crypto/tls"
                                                 : "go crypto/tls (" + f->go_version + ")");
}

// Cache text fields never hold the separators.
std::string clean(std::string s) {
  for (char& c : s)
    if (c == '\t' || c == '|' || c == '\n' || c == '\r') c = ' ';
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? s.size() - start : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

bool parse_hex(std::string_view s, uint64_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Last line of defence against a crafted file whose sections and segments disagree: the
// byte the kernel will patch must be what the finder proved is there. A RET is c3; a
// function entry found by shape starts with endbr64 or a push.
bool probe_bytes_ok(const ElfFile& elf, const Probe& p) {
  auto b = elf.bytes_at(p.offset, 1);
  if (b.size() != 1) return false;
  switch (p.program) {
    case ProbeProgram::GoRet: return b[0] == 0xc3;
    case ProbeProgram::GcmSeal:
    case ProbeProgram::GcmOpenEnter:
    case ProbeProgram::GcmOpenExit:
      return b[0] == 0xf3 || b[0] == 0x55 || b[0] == 0x53 || b[0] == 0x41;
    case ProbeProgram::AesniSeal:
    case ProbeProgram::AesniOpen: return b[0] == 0xf3 || b[0] == 0x48 || b[0] == 0x4d;  // endbr64, xor
    case ProbeProgram::ChachaSeal:
    case ProbeProgram::ChachaOpen: return b[0] == 0xf3 || b[0] == 0x55;  // endbr64, push rbp
    default: return true;
  }
}

}  // namespace

const char* probe_program_name(ProbeProgram p) {
  switch (p) {
    case ProbeProgram::TlsEnter: return "tls_enter";
    case ProbeProgram::TlsExit: return "tls_exit";
    case ProbeProgram::GcmSeal: return "gcm_seal";
    case ProbeProgram::GcmOpenEnter: return "gcm_open_enter";
    case ProbeProgram::GcmOpenExit: return "gcm_open_exit";
    case ProbeProgram::GoEnter: return "go_enter";
    case ProbeProgram::GoRet: return "go_ret";
    case ProbeProgram::AesniSeal: return "aesni_seal";
    case ProbeProgram::AesniOpen: return "aesni_open";
    case ProbeProgram::ChachaSeal: return "chacha_seal";
    case ProbeProgram::ChachaOpen: return "chacha_open";
  }
  return "unknown";
}

TlsPlan plan_tls_hooks(const ElfFile& elf) {
  auto start = std::chrono::steady_clock::now();
  TlsPlan plan;
  if (plan_openssl(elf, plan))
    plan.libraries.push_back("openssl");
  else if (plan_exports(elf, kGnuTls, std::size(kGnuTls), REIN_SRC_GNUTLS, plan))
    plan.libraries.push_back("gnutls");
  // Statically linked TLS stacks; an executable may carry more than one (Codex links
  // OpenSSL too but talks to the model API through rustls).
  plan_go(elf, plan);
  if (plan.libraries.empty()) plan_bun(elf, plan);
  plan_awslc(elf, plan);
  for (const auto& p : plan.probes) {
    if (probe_bytes_ok(elf, p)) continue;
    plan.undecodable.push_back(fmt::format("a probe at file offset {:#x} does not hold the proven "
                                           "instruction: nothing is hooked in this file",
                                           p.offset));
    plan.probes.clear();
    plan.libraries.clear();
    break;
  }
  plan.analysis_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return plan;
}

std::string serialize_plan(const TlsPlan& plan) {
  std::string probes;
  for (const auto& p : plan.probes) {
    if (!probes.empty()) probes += ',';
    probes += fmt::format("{:x}:{:x}:{:x}", p.offset, unsigned(p.program), p.cookie);
  }
  std::string libs, und;
  for (const auto& l : plan.libraries) libs += (libs.empty() ? "" : "|") + clean(l);
  for (const auto& u : plan.undecodable) und += (und.empty() ? "" : "|") + clean(u);
  return fmt::format("{}\t{}\t{}\t{:.1f}", probes, libs, und, plan.analysis_ms);
}

Result<TlsPlan> parse_plan(std::string_view line) {
  auto fields = split(line, '\t');
  if (fields.size() != 4) return make_error("plan cache line: expected 4 fields");
  TlsPlan plan;
  for (auto p : split(fields[0], ',')) {
    auto parts = split(p, ':');
    uint64_t off = 0, prog = 0, cookie = 0;
    if (parts.size() != 3 || !parse_hex(parts[0], off) || !parse_hex(parts[1], prog) ||
        !parse_hex(parts[2], cookie) || prog > uint64_t(ProbeProgram::ChachaOpen))
      return make_error("plan cache line: bad probe");
    plan.probes.push_back({off, ProbeProgram(prog), cookie});
  }
  if (plan.probes.size() > 4096) return make_error("plan cache line: too many probes");
  for (auto l : split(fields[1], '|')) plan.libraries.emplace_back(l);
  for (auto u : split(fields[2], '|')) plan.undecodable.emplace_back(u);
  return plan;
}

}  // namespace rein::binary
