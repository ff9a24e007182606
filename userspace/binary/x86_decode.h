// Thin RAII wrapper over capstone (x86-64, detail on) exposing only what the binary finders
// need: boundaries, direct branch targets, immediates, and RIP-relative addresses.
// libcapstone.so.4 is dlopen'ed by the first decoder, not linked: linked, it cost ~3 MiB of
// RSS from start (relocations, relocated tables) in a sensor that needs it only to compute a
// TLS plan, which --state-dir caches. Without it ok() is false and error() says why.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rein::binary {

// Canonical 64-bit general-purpose registers, so `mov $x,%esi` and `mov $x,%rsi` compare equal.
enum class Gpr : uint8_t {
  none,
  rax,
  rbx,
  rcx,
  rdx,
  rsi,
  rdi,
  rbp,
  rsp,
  r8,
  r9,
  r10,
  r11,
  r12,
  r13,
  r14,
  r15,
  rip
};

struct Insn {
  uint64_t addr = 0;
  uint8_t size = 0;
  std::string mnemonic, operands;
  unsigned id = 0;           // capstone x86_insn
  bool is_call_rel = false;  // e8 rel32: target valid
  bool is_call = false;      // any call
  bool is_jmp = false;       // unconditional jmp (any form)
  bool is_jcc = false;       // conditional branch
  bool is_ret = false;
  bool is_trap = false;                // int3 / ud2 / hlt
  uint64_t target = 0;                 // direct call/jmp/jcc destination
  std::optional<int64_t> imm;          // first immediate operand
  std::optional<uint64_t> rip_target;  // address of a [rip+disp] memory operand
  Gpr dst = Gpr::none;                 // first operand when it is a register
  Gpr src_reg = Gpr::none;             // second operand when it is a register
  bool loads_register = false;         // op0 is a register written by mov/movabs/lea
  uint64_t end() const { return addr + size; }
};

Gpr canonical_gpr(unsigned capstone_reg);

class X86Decoder {
 public:
  X86Decoder();
  ~X86Decoder();
  X86Decoder(const X86Decoder&) = delete;
  X86Decoder& operator=(const X86Decoder&) = delete;
  bool ok() const { return handle_ != 0; }
  // Why ok() is false (the library missing, or capstone refusing x86-64); empty when ok().
  const std::string& error() const { return error_; }

  // First instruction of `code`, which is mapped at virtual address `addr`.
  std::optional<Insn> decode(std::span<const uint8_t> code, uint64_t addr) const;
  // Linear decode from `start` while addr < end; stops (returns what it has + false) on an
  // undecodable byte or when `start` is outside [code_addr, code_addr + code.size()).
  bool decode_range(std::span<const uint8_t> code, uint64_t code_addr, uint64_t start, uint64_t end,
                    std::vector<Insn>& out) const;

 private:
  size_t handle_ = 0;  // csh
  std::string error_;
};

// Unloads capstone if it is loaded and no decoder is alive; true when it did. A plan computed
// leaves 3-5 MiB of capstone resident otherwise; the next decoder loads it again (20-30 ms),
// so only the daemon's periodic trim calls this, not each decoder's destructor.
bool unload_idle_x86_decoder();

}  // namespace rein::binary
