#include "binary/x86_decode.h"

#include <capstone/capstone.h>  // types and constants only: the library is dlopen'ed
#include <dlfcn.h>

#include <mutex>

namespace rein::binary {
namespace {

constexpr size_t kMaxInsnLen = 15;  // architectural limit
// The soname whose ABI capstone/capstone.h (4.x) describes: cs_insn and cs_detail layouts
// change between majors, so no other version is tried.
constexpr const char* kCapstoneLib = "libcapstone.so.4";

// The capstone functions this file calls. The first decoder loads the library and it stays
// loaded until unload_idle_x86_decoder() finds no decoder alive: a load relocates ~75k
// entries (20-30 ms here), too slow to repeat per finder call or fuzz input.
struct Capstone {
  void* lib = nullptr;  // dlopen handle; null when not loaded
  decltype(&::cs_version) version = nullptr;
  decltype(&::cs_open) open = nullptr;
  decltype(&::cs_option) option = nullptr;
  decltype(&::cs_close) close = nullptr;
  decltype(&::cs_malloc) malloc = nullptr;
  decltype(&::cs_free) free = nullptr;
  decltype(&::cs_disasm_iter) disasm_iter = nullptr;
  decltype(&::cs_strerror) strerror = nullptr;
};

std::mutex g_mu;
Capstone g_cs;       // written under g_mu, and only while g_users == 0
size_t g_users = 0;  // decoders holding an open capstone handle: g_cs stays as it is

template <typename Fn>
bool resolve(void* lib, const char* name, Fn& out, std::string& error) {
  out = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!out) error = std::string(kCapstoneLib) + ": no symbol " + name;
  return out != nullptr;
}

bool load(Capstone& cs, std::string& error) {
  void* lib = dlopen(kCapstoneLib, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    error = std::string("cannot load ") + kCapstoneLib +
            " (Debian package libcapstone4): " + (why ? why : "unknown error");
    return false;
  }
  if (!resolve(lib, "cs_version", cs.version, error) || !resolve(lib, "cs_open", cs.open, error) ||
      !resolve(lib, "cs_option", cs.option, error) || !resolve(lib, "cs_close", cs.close, error) ||
      !resolve(lib, "cs_malloc", cs.malloc, error) || !resolve(lib, "cs_free", cs.free, error) ||
      !resolve(lib, "cs_disasm_iter", cs.disasm_iter, error) ||
      !resolve(lib, "cs_strerror", cs.strerror, error)) {
    dlclose(lib);
    return false;
  }
  int major = 0, minor = 0;
  cs.version(&major, &minor);
  if (major != CS_API_MAJOR) {
    error = std::string(kCapstoneLib) + " reports API " + std::to_string(major) + "." +
            std::to_string(minor) + ", built against " + std::to_string(CS_API_MAJOR);
    dlclose(lib);
    return false;
  }
  cs.lib = lib;
  return true;
}

// Loads capstone if needed and counts one user; nullptr with `error` set when unusable.
const Capstone* acquire(std::string& error) {
  std::lock_guard lock(g_mu);
  if (!g_cs.lib) {
    Capstone cs;
    if (!load(cs, error)) return nullptr;
    g_cs = cs;
  }
  ++g_users;
  return &g_cs;
}

void release() {
  std::lock_guard lock(g_mu);
  --g_users;
}

// capstone's cs_insn owns a detail block; this keeps the pair exception-free and leak-free.
struct InsnBuf {
  InsnBuf(const Capstone& cs, csh h) : cs(cs), p(cs.malloc(h)) {}
  ~InsnBuf() {
    if (p) cs.free(p, 1);
  }
  InsnBuf(const InsnBuf&) = delete;
  InsnBuf& operator=(const InsnBuf&) = delete;
  const Capstone& cs;
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
  const Capstone* cs = acquire(error_);
  if (!cs) return;
  csh h = 0;
  if (cs_err e = cs->open(CS_ARCH_X86, CS_MODE_64, &h); e != CS_ERR_OK) {
    error_ = std::string("capstone x86-64: ") + cs->strerror(e);
    release();
    return;
  }
  if (cs_err e = cs->option(h, CS_OPT_DETAIL, CS_OPT_ON); e != CS_ERR_OK) {
    error_ = std::string("capstone detail mode: ") + cs->strerror(e);
    cs->close(&h);
    release();
    return;
  }
  handle_ = h;
}

X86Decoder::~X86Decoder() {
  if (handle_) {
    csh h = handle_;
    g_cs.close(&h);  // handle_ != 0: this decoder is a user, g_cs is loaded and stable
    release();
  }
}

std::optional<Insn> X86Decoder::decode(std::span<const uint8_t> code, uint64_t addr) const {
  if (!handle_ || code.empty()) return std::nullopt;
  const Capstone& cs = g_cs;  // handle_ != 0: this decoder is a user, g_cs is stable
  InsnBuf buf(cs, handle_);
  if (!buf.p) return std::nullopt;
  const uint8_t* p = code.data();
  size_t len = code.size() < kMaxInsnLen ? code.size() : kMaxInsnLen;
  uint64_t a = addr;
  if (!cs.disasm_iter(handle_, &p, &len, &a, buf.p)) return std::nullopt;
  return convert(buf.p);
}

bool X86Decoder::decode_range(std::span<const uint8_t> code, uint64_t code_addr, uint64_t start,
                              uint64_t end, std::vector<Insn>& out) const {
  if (!handle_ || start < code_addr || start - code_addr > code.size()) return false;
  const Capstone& cs = g_cs;  // handle_ != 0: this decoder is a user, g_cs is stable
  InsnBuf buf(cs, handle_);
  if (!buf.p) return false;
  uint64_t skip = start - code_addr;
  const uint8_t* p = code.data() + skip;
  size_t len = code.size() - skip;
  uint64_t a = start;
  // Each iteration consumes >= 1 byte of `len`, so the loop is bounded by the code size.
  while (a < end) {
    if (len == 0) return false;
    if (!cs.disasm_iter(handle_, &p, &len, &a, buf.p)) return false;
    out.push_back(convert(buf.p));
  }
  return true;
}

bool unload_idle_x86_decoder() {
  std::lock_guard lock(g_mu);
  if (!g_cs.lib || g_users > 0) return false;
  dlclose(g_cs.lib);
  g_cs = Capstone{};
  return true;
}

}  // namespace rein::binary
