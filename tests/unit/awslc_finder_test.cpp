// aws-lc AVX-512 GCM finder: hand-assembled prologues in a tiny ELF with an .eh_frame_hdr
// table, and (when present) the real Codex binary.
#include "binary/awslc_finder.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace rein::binary {
namespace {

constexpr uint64_t kBase = 0x400000;

struct Sec {
  std::string name;
  uint32_t pflags;
  std::vector<uint8_t> data;
};

// Each section becomes its own PT_LOAD at vaddr = kBase + file offset; `offs` receives the
// file offsets (layout depends only on sizes, so a second build with filled-in bytes of the
// same sizes lands at the same places).
std::vector<uint8_t> make_elf(const std::vector<Sec>& secs, std::vector<uint64_t>& offs) {
  const uint64_t phnum = secs.size();
  std::vector<uint8_t> f(sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr), 0);
  offs.clear();
  for (const auto& s : secs) {
    while (f.size() % 16) f.push_back(0);
    offs.push_back(f.size());
    f.insert(f.end(), s.data.begin(), s.data.end());
  }
  std::string shstr(1, '\0');
  std::vector<uint32_t> name_at;
  for (const auto& s : secs) {
    name_at.push_back(uint32_t(shstr.size()));
    shstr += s.name + '\0';
  }
  const uint32_t shstr_name = uint32_t(shstr.size());
  shstr += std::string(".shstrtab") + '\0';
  const uint64_t shstr_off = f.size();
  f.insert(f.end(), shstr.begin(), shstr.end());
  while (f.size() % 8) f.push_back(0);
  const uint64_t shoff = f.size();
  const uint64_t shnum = secs.size() + 2;
  f.resize(f.size() + shnum * sizeof(Elf64_Shdr), 0);

  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_DYN;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = uint16_t(phnum);
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shoff = shoff;
  eh.e_shnum = uint16_t(shnum);
  eh.e_shstrndx = uint16_t(shnum - 1);
  std::memcpy(f.data(), &eh, sizeof eh);
  for (uint64_t i = 0; i < phnum; ++i) {
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = secs[i].pflags;
    ph.p_offset = offs[i];
    ph.p_vaddr = ph.p_paddr = kBase + offs[i];
    ph.p_filesz = ph.p_memsz = secs[i].data.size();
    ph.p_align = 16;
    std::memcpy(f.data() + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), &ph, sizeof ph);
  }
  for (uint64_t i = 0; i < secs.size(); ++i) {
    Elf64_Shdr sh{};
    sh.sh_name = name_at[i];
    sh.sh_type = SHT_PROGBITS;
    sh.sh_flags = SHF_ALLOC | ((secs[i].pflags & PF_X) ? SHF_EXECINSTR : 0);
    sh.sh_addr = kBase + offs[i];
    sh.sh_offset = offs[i];
    sh.sh_size = secs[i].data.size();
    std::memcpy(f.data() + shoff + (i + 1) * sizeof(Elf64_Shdr), &sh, sizeof sh);
  }
  Elf64_Shdr ss{};
  ss.sh_name = shstr_name;
  ss.sh_type = SHT_STRTAB;
  ss.sh_offset = shstr_off;
  ss.sh_size = shstr.size();
  std::memcpy(f.data() + shoff + (shnum - 1) * sizeof(Elf64_Shdr), &ss, sizeof ss);
  return f;
}

using Bytes = std::vector<uint8_t>;
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const Bytes kEndbr = {0xf3, 0x0f, 0x1e, 0xfa};
// push rbx; push rbp; push r12; push r13; push r14; push r15
const Bytes kPushes = {0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57};
// lea rbp,[rsp]; sub rsp,0x634; and rsp,-64
const Bytes kFrame = {0x48, 0x8d, 0x2c, 0x24, 0x48, 0x81, 0xec, 0x34, 0x06, 0x00, 0x00, 0x48, 0x83, 0xe4, 0xc0};
// mov eax,[rdi+0xf0]; cmp eax,9; je; cmp eax,11; je; cmp eax,13; je; ret
const Bytes kSwitch = {0x8b, 0x87, 0xf0, 0x00, 0x00, 0x00, 0x83, 0xf8, 0x09, 0x74, 0x00, 0x83, 0xf8,
                       0x0b, 0x74, 0x00, 0x83, 0xf8, 0x0d, 0x74, 0x00, 0xc3};
const Bytes kGcmEntry = cat({kEndbr, kPushes, kFrame, kSwitch});
// frameless IV helper: vpxor xmm0,xmm0,xmm0 then the same switch
const Bytes kHelper = cat({kEndbr, {0xc5, 0xf9, 0xef, 0xc0}, kSwitch});
// AES-NI GCM entry: xor rax,rax; cmp rdx,0x120; jb; ret
const Bytes kAesni = cat({kEndbr, {0x48, 0x31, 0xc0, 0x48, 0x81, 0xfa, 0x20, 0x01, 0x00, 0x00, 0x72, 0x00, 0xc3}});

// aws-lc's ChaCha20-Poly1305 entries: push rbp,rbx,r12-r15,r9; sub rsp,0x140;
// lea rbp,[rsp+0x20]; and rbp,-32; (open) mov rbx,rdx / (seal) mov rbx,[r9+0x38];
// mov eax,[rip]; and eax,0x120; xor eax,0x120; je; ret
const Bytes kChachaFrame = {0x55, 0x53, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, 0x41, 0x51,
                            0x48, 0x81, 0xec, 0x40, 0x01, 0x00, 0x00, 0x48, 0x8d, 0x6c, 0x24, 0x20,
                            0x48, 0x83, 0xe5, 0xe0};
const Bytes kChachaTest = {0x8b, 0x05, 0x00, 0x00, 0x00, 0x00, 0x25, 0x20, 0x01, 0x00, 0x00,
                           0x35, 0x20, 0x01, 0x00, 0x00, 0x74, 0x00, 0xc3};
const Bytes kChachaOpen = cat({kEndbr, kChachaFrame, {0x48, 0x89, 0xd3}, kChachaTest});
const Bytes kChachaSeal = cat({kEndbr, kChachaFrame, {0x49, 0x8b, 0x59, 0x38}, kChachaTest});

// Functions placed at 64-byte slots of .text (int3 filler); `starts` are the slot indices
// listed in .eh_frame_hdr.
struct Built {
  Bytes file;
  uint64_t text_off = 0;
};

Built build(const std::vector<Bytes>& slots, const std::vector<size_t>& starts, bool marker = true) {
  Bytes text;
  for (const auto& s : slots) {
    Bytes slot(64, 0xcc);
    std::copy(s.begin(), s.end(), slot.begin());
    text.insert(text.end(), slot.begin(), slot.end());
  }
  Bytes hdr(12 + 8 * starts.size(), 0);
  std::vector<Sec> secs = {{".rodata", PF_R, Bytes{'A', 'W', 'S', '-', marker ? uint8_t('L') : uint8_t('x'), 'C', 0}},
                           {".eh_frame_hdr", PF_R, hdr},
                           {".text", PF_R | PF_X, text}};
  std::vector<uint64_t> offs;
  make_elf(secs, offs);
  // version 1, eh_frame_ptr pcrel|sdata4, count udata4, table datarel|sdata4
  hdr[0] = 1;
  hdr[1] = 0x1b;
  hdr[2] = 0x03;
  hdr[3] = 0x3b;
  const uint32_t n = uint32_t(starts.size());
  std::memcpy(hdr.data() + 8, &n, 4);
  for (size_t i = 0; i < starts.size(); ++i) {
    const int32_t rel = int32_t((offs[2] + starts[i] * 64) - offs[1]);  // vaddr deltas equal offset deltas
    std::memcpy(hdr.data() + 12 + 8 * i, &rel, 4);
  }
  secs[1].data = hdr;
  Built b;
  b.file = make_elf(secs, offs);
  b.text_off = offs[2];
  return b;
}

Result<AwsLcGcm> run(const Built& b) {
  auto elf = ElfFile::from_bytes(b.file);
  if (!elf) return elf.error();
  return find_awslc_gcm(**elf);
}

TEST(AwsLcFinder, OnePairIsFound) {
  auto b = build({kGcmEntry, kGcmEntry, kAesni}, {0, 1, 2});
  auto elf = ElfFile::from_bytes(b.file);
  ASSERT_TRUE(elf) << elf.error().message;
  EXPECT_TRUE(looks_like_awslc(**elf));
  auto r = find_awslc_gcm(**elf);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->encrypt_offset, b.text_off);
  EXPECT_EQ(r->decrypt_offset, b.text_off + 64);
  EXPECT_TRUE(r->has_aesni_gcm);
  EXPECT_FALSE(r->has_chacha20_poly1305);
}

TEST(AwsLcFinder, ChachaEntriesNextToThePair) {
  auto b = build({kGcmEntry, kGcmEntry, kAesni, kChachaSeal, kChachaOpen}, {0, 1, 2, 3, 4});
  auto r = run(b);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->has_chacha20_poly1305) << r->evidence;
  EXPECT_EQ(r->chacha_seal_offset, b.text_off + 3 * 64);
  EXPECT_EQ(r->chacha_open_offset, b.text_off + 4 * 64);
}

TEST(AwsLcFinder, ChachaEntriesMustBeProvenAndUnique) {
  // off a function start, two opens, or a prologue one push short: nothing is hooked
  Bytes short_frame = cat({kEndbr, Bytes(kChachaFrame.begin() + 2, kChachaFrame.end()), {0x48, 0x89, 0xd3},
                           kChachaTest});
  for (const auto& [slots, starts] :
       std::vector<std::pair<std::vector<Bytes>, std::vector<size_t>>>{
           {{kGcmEntry, kGcmEntry, kChachaSeal, kChachaOpen}, {0, 1, 2}},
           {{kGcmEntry, kGcmEntry, kChachaSeal, kChachaOpen, kChachaOpen}, {0, 1, 2, 3, 4}},
           {{kGcmEntry, kGcmEntry, kChachaSeal, short_frame}, {0, 1, 2, 3}}}) {
    auto r = run(build(slots, starts));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->has_chacha20_poly1305) << r->evidence;
    EXPECT_EQ(r->chacha_open_offset, 0u);
    EXPECT_EQ(r->chacha_seal_offset, 0u);
  }
}

TEST(AwsLcFinder, NoMarkerNoAesni) {
  auto b = build({kGcmEntry, kGcmEntry}, {0, 1}, /*marker=*/false);
  auto elf = ElfFile::from_bytes(b.file);
  ASSERT_TRUE(elf);
  EXPECT_FALSE(looks_like_awslc(**elf));
  auto r = find_awslc_gcm(**elf);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->has_aesni_gcm);
}

TEST(AwsLcFinder, EntryOffFunctionStartIsIgnored) {
  auto b = build({kGcmEntry, kGcmEntry}, {0});
  auto r = run(b);
  ASSERT_FALSE(r);  // one shape left: cannot pair
}

TEST(AwsLcFinder, OpenSslCopyWithIvHelperIsSkipped) {
  // OpenSSL's module (helper + pair) before aws-lc's pair: only aws-lc's is reported.
  auto b = build({kHelper, kGcmEntry, kGcmEntry, kAesni}, {0, 1, 2, 3});
  auto r = run(b);
  ASSERT_FALSE(r);  // the only pair is OpenSSL-flavoured
  EXPECT_NE(r.error().message.find("0 candidate"), std::string::npos) << r.error().message;
}

TEST(AwsLcFinder, TwoUnmarkedPairsAreAmbiguous) {
  auto b = build({kGcmEntry, kGcmEntry, kGcmEntry, kGcmEntry}, {0, 1, 2, 3});
  auto r = run(b);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("2 candidate"), std::string::npos) << r.error().message;
}

TEST(AwsLcFinder, WrongShapesAreNotMatched) {
  Bytes five_pushes = cat({kEndbr, Bytes(kPushes.begin(), kPushes.end() - 2), kFrame, kSwitch});
  Bytes no_align = cat({kEndbr, kPushes, Bytes(kFrame.begin(), kFrame.end() - 4), kSwitch});
  auto b = build({five_pushes, no_align}, {0, 1});
  auto r = run(b);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no AVX-512 GCM entry shape"), std::string::npos) << r.error().message;
}

TEST(AwsLcFinder, NoEhFrameIsAnError) {
  auto b = build({kGcmEntry, kGcmEntry}, {});
  EXPECT_FALSE(run(b));
}

// From a file, the prefilter reads windows with pread through a 64 KiB buffer instead of the
// mapping: same result as from memory, including probes that straddle buffer refills, a probe
// too deep into its function, and one owned by the next function start.
TEST(AwsLcFinder, FileAndMemoryAgree) {
  std::vector<Bytes> slots(5000, Bytes{0x55, 0xc3});  // push rbp; ret
  std::vector<size_t> starts;
  for (size_t i = 0; i < slots.size(); ++i) starts.push_back(i);
  // a 64-byte slot with the probe 60 bytes in: anchored but not a shape (still counted)
  Bytes deep(60, 0x90);
  deep.insert(deep.end(), kSwitch.begin(), kSwitch.begin() + 4);  // slot holds 64 bytes only
  for (size_t i : {1000u, 1023u, 2047u, 3071u}) slots[i] = deep;
  slots[3000] = kHelper;  // OpenSSL-style helper before the first pair
  slots[3100] = kGcmEntry;
  slots[3200] = kGcmEntry;
  slots[4090] = kGcmEntry;  // aws-lc pair, far from the helper
  slots[4095] = kGcmEntry;
  slots[4097] = kAesni;
  auto b = build(slots, starts);
  // the deep probes run into the next slot: complete them there (filler follows)
  for (size_t i : {1000u, 1023u, 2047u, 3071u}) {
    uint8_t* next = b.file.data() + b.text_off + (i + 1) * 64;
    std::copy(kSwitch.begin() + 4, kSwitch.end(), next);
  }
  auto mem = ElfFile::from_bytes(b.file);
  ASSERT_TRUE(mem) << mem.error().message;
  auto rm = find_awslc_gcm(**mem);
  ASSERT_TRUE(rm) << rm.error().message;
  EXPECT_EQ(rm->encrypt_offset, b.text_off + 4090 * 64);
  EXPECT_EQ(rm->decrypt_offset, b.text_off + 4095 * 64);
  EXPECT_TRUE(rm->has_aesni_gcm);
  // 4 GCM entries + 1 helper + the 4 deep probes (60 bytes into their function: checked, no shape)
  EXPECT_NE(rm->evidence.find("9 round-count switches"), std::string::npos) << rm->evidence;

  const std::string path =
      (std::filesystem::temp_directory_path() / ("awslc_finder_test_" + std::to_string(getpid()))).string();
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.file.data()), std::streamsize(b.file.size()));
  }
  auto file = ElfFile::open(path);
  ASSERT_TRUE(file) << file.error().message;
  auto rf = find_awslc_gcm(**file);  // pread path
  std::filesystem::remove(path);     // the mapping keeps the file alive; the path is gone
  auto rg = find_awslc_gcm(**file);  // so this one reads the mapping
  for (const auto* r : {&rf, &rg}) {
    ASSERT_TRUE(*r) << (*r).error().message;
    EXPECT_EQ((*r)->encrypt_offset, rm->encrypt_offset);
    EXPECT_EQ((*r)->decrypt_offset, rm->decrypt_offset);
    EXPECT_EQ((*r)->has_aesni_gcm, rm->has_aesni_gcm);
    EXPECT_EQ((*r)->evidence, rm->evidence);
  }
}

// The Codex release the offsets were checked against by hand (see the brief in the report).
TEST(AwsLcFinder, RealCodex) {
  const char* env = std::getenv("REIN_CODEX_BIN");
  const std::string path = env ? env
                               : "/var/cache/rein-agents/node_modules/@openai/codex-linux-x64/vendor/"
                                 "x86_64-unknown-linux-musl/bin/codex";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no Codex binary at " << path;
  auto elf = ElfFile::open(path);
  ASSERT_TRUE(elf) << elf.error().message;
  EXPECT_TRUE(looks_like_awslc(**elf));
  auto r = find_awslc_gcm(**elf);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->has_aesni_gcm);
  if (!env) {
    // the default path holds Codex 0.171.0 (rustls 0.23.46, aws-lc-rs 1.18.1), checked by hand
    EXPECT_EQ(r->encrypt_offset, 0x126ba480u) << r->evidence;
    EXPECT_EQ(r->decrypt_offset, 0x1270d460u) << r->evidence;
    // the AES-NI GCM entries, whose calls were counted with AVX-512 masked (OPENSSL_ia32cap)
    EXPECT_EQ(r->aesni_encrypt_offset, 0x12760ca0u) << r->evidence;
    EXPECT_EQ(r->aesni_decrypt_offset, 0x127609e0u) << r->evidence;
    // the ChaCha20-Poly1305 entries, whose calls were counted against a ChaCha-only server
    EXPECT_EQ(r->chacha_open_offset, 0x126abcc0u) << r->evidence;
    EXPECT_EQ(r->chacha_seal_offset, 0x126ade80u) << r->evidence;
  }
  EXPECT_TRUE(r->has_chacha20_poly1305) << r->evidence;
  EXPECT_NE(r->aesni_encrypt_offset, 0u) << r->evidence;
  EXPECT_NE(r->aesni_decrypt_offset, 0u) << r->evidence;
}

}  // namespace
}  // namespace rein::binary
