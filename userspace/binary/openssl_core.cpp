#include "binary/openssl_core.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "binary/x86_decode.h"

namespace rein::binary {
namespace {

// SSL_read_ex is ~30 bytes; SSL_read ~130. Anything larger is not the wrapper we prove.
constexpr uint64_t kWrapperBytes = 64;
constexpr uint64_t kCallerBytes = 256;

std::optional<std::vector<Insn>> decode_at(const ElfFile& elf, const X86Decoder& dec,
                                           uint64_t vaddr, uint64_t max_bytes) {
  auto off = elf.vaddr_to_offset(vaddr);
  if (!off) return std::nullopt;
  auto code = elf.bytes_at(*off, max_bytes);
  if (code.empty()) return std::nullopt;
  // Stops at the first ret: what follows may be padding or another function.
  std::vector<Insn> out;
  uint64_t at = vaddr;
  while (at < vaddr + code.size()) {
    auto in = dec.decode(code.subspan(at - vaddr), at);
    if (!in) return std::nullopt;
    out.push_back(*in);
    if (in->is_ret) return out;
    at = in->end();
  }
  return std::nullopt;  // no ret within the window: not a small function
}

// The callee of a pass-through wrapper, or nothing if `v` is not exactly one.
std::optional<uint64_t> passthrough_callee(const std::vector<Insn>& v) {
  size_t i = 0;
  for (; i < v.size() && !v[i].is_call; i++) {
    const auto& in = v[i];
    const bool stack = (in.mnemonic == "sub" || in.mnemonic == "add") && in.dst == Gpr::rsp;
    if (in.mnemonic == "endbr64" || in.mnemonic == "push" || stack) continue;
    return std::nullopt;  // anything else may change what the callee receives
  }
  if (i == v.size() || !v[i].is_call_rel) return std::nullopt;
  const uint64_t callee = v[i].target;
  for (i++; i < v.size(); i++) {
    const auto& in = v[i];
    if (in.is_ret) return callee;
    const bool keeps_rax =
        (in.mnemonic == "xor" && in.dst != Gpr::rax) || in.mnemonic == "test" ||
        (in.mnemonic == "cmovs" && in.dst == Gpr::rax) ||
        ((in.mnemonic == "add" || in.mnemonic == "sub") && in.dst == Gpr::rsp) ||
        (in.mnemonic == "pop" && in.dst != Gpr::rax);
    if (!keeps_rax) return std::nullopt;
  }
  return std::nullopt;
}

// Does `caller` (a small exported function) call `callee` directly?
bool calls(const ElfFile& elf, const X86Decoder& dec, const char* caller, uint64_t callee) {
  auto va = elf.symbol(caller);
  if (!va) return false;
  auto off = elf.vaddr_to_offset(*va);
  if (!off) return false;
  auto code = elf.bytes_at(*off, kCallerBytes);
  std::vector<Insn> v;
  dec.decode_range(code, *va, *va, *va + code.size(), v);  // a partial decode is fine here
  return std::any_of(v.begin(), v.end(),
                     [&](const Insn& in) { return in.is_call_rel && in.target == callee; });
}

Result<uint64_t> core_of(const ElfFile& elf, const X86Decoder& dec, const char* wrapper) {
  auto va = elf.symbol(wrapper);
  if (!va) return make_error(std::string(wrapper) + ": no symbol");
  auto body = decode_at(elf, dec, *va, kWrapperBytes);
  if (!body) return make_error(std::string(wrapper) + ": not a small function");
  auto callee = passthrough_callee(*body);
  if (!callee) return make_error(std::string(wrapper) + ": not a pass-through wrapper");
  auto off = elf.vaddr_to_offset(*callee);
  if (!off) return make_error(std::string(wrapper) + ": callee not in the file");
  auto first = dec.decode(elf.bytes_at(*off, 16), *callee);
  if (!first || first->mnemonic != "push")
    return make_error(std::string(wrapper) + ": callee does not start with a push");
  return *callee;
}

}  // namespace

Result<OpensslCore> find_openssl_core(const ElfFile& elf) {
  X86Decoder dec;
  if (!dec.ok()) return make_error("x86 decoder unavailable");
  auto rd = core_of(elf, dec, "SSL_read_ex");
  if (!rd) return rd.error();
  auto wr = core_of(elf, dec, "SSL_write_ex");
  if (!wr) return wr.error();
  if (*rd == *wr) return make_error("SSL_read_ex and SSL_write_ex call the same function");
  OpensslCore c;
  c.read_offset = *elf.vaddr_to_offset(*rd);
  c.write_offset = *elf.vaddr_to_offset(*wr);
  c.covers_ssl_read = calls(elf, dec, "SSL_read", *rd);
  c.covers_ssl_write = calls(elf, dec, "SSL_write", *wr);
  return c;
}

}  // namespace rein::binary
