#include "binary/x86_decode.h"

#include <capstone/capstone.h>

namespace rein::binary {
namespace {

constexpr size_t kMaxInsnLen = 15;  // architectural limit

// capstone's cs_insn owns a detail block; this keeps the pair exception-free and leak-free.
struct InsnBuf {
  explicit InsnBuf(csh h) : p(cs_malloc(h)) {}
  ~InsnBuf() {
    if (p) cs_free(p, 1);
  }
  InsnBuf(const InsnBuf&) = delete;
  InsnBuf& operator=(const InsnBuf&) = delete;
  cs_insn* p;
};

bool in_group(const cs_insn* ci, uint8_t g) {
  const cs_detail* d = ci->detail;
  for (uint8_t i = 0; i < d->groups_count && i < sizeof(d->groups); ++i)
    if (d->groups[i] == g) return true;
  return false;
}

Insn convert(const cs_insn* ci) {
  Insn in;
  in.addr = ci->address;
  in.size = static_cast<uint8_t>(ci->size);
  in.mnemonic = ci->mnemonic;
  in.operands = ci->op_str;
  in.id = ci->id;
  const cs_x86& x = ci->detail->x86;
  in.is_ret = ci->id == X86_INS_RET || ci->id == X86_INS_RETF || ci->id == X86_INS_RETFQ;
  in.is_trap = ci->id == X86_INS_INT3 || ci->id == X86_INS_UD2 || ci->id == X86_INS_HLT;
  in.is_call = ci->id == X86_INS_CALL;
  in.is_jmp = ci->id == X86_INS_JMP || ci->id == X86_INS_LJMP;
  in.is_jcc = !in.is_jmp && in_group(ci, X86_GRP_JUMP);
  uint8_t n = x.op_count < 8 ? x.op_count : 8;
  for (uint8_t i = 0; i < n; ++i) {
    const cs_x86_op& op = x.operands[i];
    if (op.type == X86_OP_IMM && !in.imm) in.imm = op.imm;
    if (op.type == X86_OP_MEM && op.mem.base == X86_REG_RIP && op.mem.index == X86_REG_INVALID)
      in.rip_target = in.addr + in.size + static_cast<uint64_t>(op.mem.disp);
    if (op.type == X86_OP_REG && i == 0) in.dst = canonical_gpr(op.reg);
    if (op.type == X86_OP_REG && i == 1) in.src_reg = canonical_gpr(op.reg);
  }
  if ((in.is_call || in.is_jmp || in.is_jcc) && n == 1 && x.operands[0].type == X86_OP_IMM) {
    in.target = static_cast<uint64_t>(x.operands[0].imm);
    in.imm.reset();  // a branch target is not a data immediate
    in.dst = Gpr::none;
  }
  in.is_call_rel = in.is_call && ci->size == 5 && ci->bytes[0] == 0xe8;
  in.loads_register =
      (ci->id == X86_INS_MOV || ci->id == X86_INS_MOVABS || ci->id == X86_INS_LEA) && n == 2 &&
      x.operands[0].type == X86_OP_REG && in.dst != Gpr::none;
  return in;
}

}  // namespace

Gpr canonical_gpr(unsigned r) {
  switch (r) {
    case X86_REG_RAX:
    case X86_REG_EAX:
      return Gpr::rax;
    case X86_REG_RBX:
    case X86_REG_EBX:
      return Gpr::rbx;
    case X86_REG_RCX:
    case X86_REG_ECX:
      return Gpr::rcx;
    case X86_REG_RDX:
    case X86_REG_EDX:
      return Gpr::rdx;
    case X86_REG_RSI:
    case X86_REG_ESI:
      return Gpr::rsi;
    case X86_REG_RDI:
    case X86_REG_EDI:
      return Gpr::rdi;
    case X86_REG_RBP:
    case X86_REG_EBP:
      return Gpr::rbp;
    case X86_REG_RSP:
    case X86_REG_ESP:
      return Gpr::rsp;
    case X86_REG_R8:
    case X86_REG_R8D:
      return Gpr::r8;
    case X86_REG_R9:
    case X86_REG_R9D:
      return Gpr::r9;
    case X86_REG_R10:
    case X86_REG_R10D:
      return Gpr::r10;
    case X86_REG_R11:
    case X86_REG_R11D:
      return Gpr::r11;
    case X86_REG_R12:
    case X86_REG_R12D:
      return Gpr::r12;
    case X86_REG_R13:
    case X86_REG_R13D:
      return Gpr::r13;
    case X86_REG_R14:
    case X86_REG_R14D:
      return Gpr::r14;
    case X86_REG_R15:
    case X86_REG_R15D:
      return Gpr::r15;
    case X86_REG_RIP:
      return Gpr::rip;
    default:
      return Gpr::none;  // 8/16-bit and non-GPR: never argument registers here
  }
}

X86Decoder::X86Decoder() {
  csh h = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return;
  if (cs_option(h, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK) {
    cs_close(&h);
    return;
  }
  handle_ = h;
}

X86Decoder::~X86Decoder() {
  if (handle_) {
    csh h = handle_;
    cs_close(&h);
  }
}

std::optional<Insn> X86Decoder::decode(std::span<const uint8_t> code, uint64_t addr) const {
  if (!handle_ || code.empty()) return std::nullopt;
  InsnBuf buf(handle_);
  if (!buf.p) return std::nullopt;
  const uint8_t* p = code.data();
  size_t len = code.size() < kMaxInsnLen ? code.size() : kMaxInsnLen;
  uint64_t a = addr;
  if (!cs_disasm_iter(handle_, &p, &len, &a, buf.p)) return std::nullopt;
  return convert(buf.p);
}

bool X86Decoder::decode_range(std::span<const uint8_t> code, uint64_t code_addr, uint64_t start,
                              uint64_t end, std::vector<Insn>& out) const {
  if (!handle_ || start < code_addr || start - code_addr > code.size()) return false;
  InsnBuf buf(handle_);
  if (!buf.p) return false;
  uint64_t skip = start - code_addr;
  const uint8_t* p = code.data() + skip;
  size_t len = code.size() - skip;
  uint64_t a = start;
  // Each iteration consumes >= 1 byte of `len`, so the loop is bounded by the code size.
  while (a < end) {
    if (len == 0) return false;
    if (!cs_disasm_iter(handle_, &p, &len, &a, buf.p)) return false;
    out.push_back(convert(buf.p));
  }
  return true;
}

}  // namespace rein::binary
