// decode_record on records laid out with the ABI structs: every field comes back typed, and
// every record whose lengths do not add up is an error value (never a read past the end).
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <variant>

#include "abi_record_builder.h"
#include "decode/records.h"

namespace {

using namespace rein::testrec;
using rein::decode::decode_record;
using rein::decode::split_args;

template <typename T>
T decode_as(const Bytes& b) {
  auto r = decode_record(b);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*r));
  if (!std::holds_alternative<T>(*r)) return T{};
  return std::get<T>(*r);
}

void expect_error(const Bytes& b, std::string_view why) {
  auto r = decode_record(b);
  EXPECT_FALSE(r.ok()) << why;
  if (!r.ok()) EXPECT_FALSE(r.error().message.empty()) << why;
}

rein_hdr* hdr_of(Bytes& b) { return reinterpret_cast<rein_hdr*>(b.data()); }

TEST(DecodeRecords, ExecAllFieldsAndTails) {
  Exec x;
  x.h = Hdr{.ts = 123456789012ULL, .tgid = 4242, .agent = 4000, .uid = 1001, .pid = 4243};
  x.ppid = 4000;
  x.flags = REIN_F_NEW_AGENT | REIN_F_ARGS_TRUNCATED;
  x.selector = 3;
  x.gid = 1002;
  x.cgroup_id = 0xabcdef0123ULL;
  x.comm = "python3";
  x.exe = "/usr/bin/python3.11";
  x.args = {"python3", "-m", "agent", "--flag=a b"};
  x.cwd = "/home/user/project";
  auto r = decode_as<rein::decode::ExecRec>(exec_rec(x));
  EXPECT_EQ(r.h.kind, REIN_REC_EXEC);
  EXPECT_EQ(r.h.ts_ns, 123456789012ULL);
  EXPECT_EQ(r.h.pid, 4243u);
  EXPECT_EQ(r.h.tgid, 4242u);
  EXPECT_EQ(r.h.agent, 4000u);
  EXPECT_EQ(r.h.uid, 1001u);
  EXPECT_EQ(r.ppid, 4000u);
  EXPECT_EQ(r.flags, uint32_t(REIN_F_NEW_AGENT | REIN_F_ARGS_TRUNCATED));
  EXPECT_EQ(r.selector, 3u);
  EXPECT_EQ(r.gid, 1002u);
  EXPECT_EQ(r.cgroup_id, 0xabcdef0123ULL);
  EXPECT_EQ(r.comm, "python3");
  EXPECT_EQ(r.exe, "/usr/bin/python3.11");
  EXPECT_EQ(r.cwd, "/home/user/project");
  EXPECT_EQ(r.args, (std::vector<std::string>{"python3", "-m", "agent", "--flag=a b"}));
}

TEST(DecodeRecords, ExecCommWithoutNulIsCutAtSixteen) {
  Exec x;
  x.comm = "0123456789abcdefXYZ";  // set_comm keeps the first 16 bytes, no NUL
  auto r = decode_as<rein::decode::ExecRec>(exec_rec(x));
  EXPECT_EQ(r.comm, "0123456789abcdef");
}

TEST(DecodeRecords, ExecEmptyTails) {
  Exec x;
  x.exe = "";
  x.args = {};
  x.cwd = "";
  auto r = decode_as<rein::decode::ExecRec>(exec_rec(x));
  EXPECT_EQ(r.exe, "");
  EXPECT_TRUE(r.args.empty());
  EXPECT_EQ(r.cwd, "");
}

TEST(DecodeRecords, ExecTailBytesStayBinary) {
  Exec x;
  x.exe = std::string("/bin/\xff\x01x", 8);
  x.cwd = std::string("/a\nb", 4);
  auto r = decode_as<rein::decode::ExecRec>(exec_rec(x));
  EXPECT_EQ(r.exe, x.exe);
  EXPECT_EQ(r.cwd, x.cwd);
}

TEST(DecodeRecords, Fork) {
  auto b = fork_rec(Hdr{.ts = 77, .tgid = 501, .agent = 500, .uid = 0}, 500, "bash", 99);
  auto r = decode_as<rein::decode::ForkRec>(b);
  EXPECT_EQ(r.h.kind, REIN_REC_FORK);
  EXPECT_EQ(r.h.ts_ns, 77u);
  EXPECT_EQ(r.h.tgid, 501u);
  EXPECT_EQ(r.h.agent, 500u);
  EXPECT_EQ(r.h.uid, 0u);
  EXPECT_EQ(r.ppid, 500u);
  EXPECT_EQ(r.cgroup_id, 99u);
  EXPECT_EQ(r.comm, "bash");
}

TEST(DecodeRecords, Exit) {
  auto b = exit_rec(Hdr{.tgid = 600, .agent = 600}, (3u << 8) | 0x80u | 6u, 1);
  auto r = decode_as<rein::decode::ExitRec>(b);
  EXPECT_EQ(r.h.kind, REIN_REC_EXIT);
  EXPECT_EQ(r.h.tgid, 600u);
  EXPECT_EQ(r.status, (3u << 8) | 0x80u | 6u);
  EXPECT_EQ(r.ppid, 1u);
}

TEST(DecodeRecords, FileWithBothPaths) {
  File x;
  x.h = Hdr{.tgid = 700, .agent = 7};
  x.op = REIN_OP_RENAME;
  x.path = "/w/old name";
  x.path2 = "/w/new\xe2\x82\xac";
  x.result = -2;
  x.flags = REIN_F_PATH2_TRUNCATED;
  x.mode = 0755;
  x.owner = 0xffffffffu;
  x.group = 12;
  x.syscall = 316;
  auto r = decode_as<rein::decode::FileRec>(file_rec(x));
  EXPECT_EQ(r.h.kind, REIN_REC_FILE);
  EXPECT_EQ(r.h.tgid, 700u);
  EXPECT_EQ(r.op, REIN_OP_RENAME);
  EXPECT_EQ(r.path, "/w/old name");
  EXPECT_EQ(r.path2, "/w/new\xe2\x82\xac");
  EXPECT_EQ(r.result, -2);
  EXPECT_EQ(r.flags, uint32_t(REIN_F_PATH2_TRUNCATED));
  EXPECT_EQ(r.mode, 0755u);
  EXPECT_EQ(r.owner, 0xffffffffu);
  EXPECT_EQ(r.group, 12u);
  EXPECT_EQ(r.syscall, 316u);
}

TEST(DecodeRecords, FilePathWithEmbeddedNulIsKept) {
  File x;
  x.path = std::string("/a\0b", 4);
  auto r = decode_as<rein::decode::FileRec>(file_rec(x));
  EXPECT_EQ(r.path, std::string("/a\0b", 4));
  EXPECT_EQ(r.path2, "");
}

TEST(DecodeRecords, FileOpen) {
  FileOpen x;
  x.h = Hdr{.tgid = 800};
  x.file_id = 0xffff8881234567c0ULL;
  x.fd = 17;
  x.flags = REIN_F_CREATED | REIN_F_WRITABLE | REIN_F_PATH_FROM_FD;
  x.open_flags = 0101;
  x.mode = 0100600;
  x.path = "/srv/data/out.log";
  auto r = decode_as<rein::decode::FileOpenRec>(file_open_rec(x));
  EXPECT_EQ(r.h.kind, REIN_REC_FILE_OPEN);
  EXPECT_EQ(r.file_id, 0xffff8881234567c0ULL);
  EXPECT_EQ(r.fd, 17);
  EXPECT_EQ(r.flags, uint32_t(REIN_F_CREATED | REIN_F_WRITABLE | REIN_F_PATH_FROM_FD));
  EXPECT_EQ(r.open_flags, 0101u);
  EXPECT_EQ(r.mode, 0100600u);
  EXPECT_EQ(r.path, "/srv/data/out.log");
}

TEST(DecodeRecords, FileClose) {
  auto b = file_close_rec(Hdr{.tgid = 801}, 0xdeadbeefULL, -1, 9, 1ULL << 40);
  auto r = decode_as<rein::decode::FileCloseRec>(b);
  EXPECT_EQ(r.h.kind, REIN_REC_FILE_CLOSE);
  EXPECT_EQ(r.file_id, 0xdeadbeefULL);
  EXPECT_EQ(r.fd, -1);
  EXPECT_EQ(r.writes, 9u);
  EXPECT_EQ(r.bytes, 1ULL << 40);
}

TEST(DecodeRecords, ConnectIpv4) {
  auto b = connect_rec(Hdr{.tgid = 900}, sockaddr_v4("93.184.216.34", 443), -111, 7);
  auto r = decode_as<rein::decode::ConnectRec>(b);
  EXPECT_EQ(r.h.kind, REIN_REC_CONNECT);
  EXPECT_EQ(r.family, AF_INET);
  EXPECT_EQ(r.address, "93.184.216.34");
  EXPECT_EQ(r.port, 443);
  EXPECT_EQ(r.result, -111);
  EXPECT_EQ(r.fd, 7);
  EXPECT_EQ(r.unix_path, "");
}

TEST(DecodeRecords, ConnectIpv6) {
  auto b = connect_rec(Hdr{}, sockaddr_v6("2001:db8::1", 8443));
  auto r = decode_as<rein::decode::ConnectRec>(b);
  EXPECT_EQ(r.family, AF_INET6);
  EXPECT_EQ(r.address, "2001:db8::1");
  EXPECT_EQ(r.port, 8443);
}

TEST(DecodeRecords, ConnectIpv4MappedIpv6) {
  auto r = decode_as<rein::decode::ConnectRec>(connect_rec(Hdr{}, sockaddr_v6("::ffff:1.2.3.4", 80)));
  EXPECT_EQ(r.address, "::ffff:1.2.3.4");
  EXPECT_EQ(r.port, 80);
}

TEST(DecodeRecords, ConnectInetWithShortAddrlenHasNoAddress) {
  auto sa = sockaddr_v4("1.2.3.4", 80);
  sa.addrlen = 8;  // shorter than sockaddr_in: the kernel would reject it, we must not guess
  auto r = decode_as<rein::decode::ConnectRec>(connect_rec(Hdr{}, sa, -22));
  EXPECT_EQ(r.family, AF_INET);
  EXPECT_EQ(r.address, "");
  EXPECT_EQ(r.port, 0);
}

TEST(DecodeRecords, ConnectUnixPath) {
  auto r = decode_as<rein::decode::ConnectRec>(
      connect_rec(Hdr{}, sockaddr_unix("/run/docker.sock", true)));
  EXPECT_EQ(r.family, AF_UNIX);
  EXPECT_EQ(r.unix_path, "/run/docker.sock");
  EXPECT_EQ(r.address, "");
  EXPECT_EQ(r.port, 0);
}

TEST(DecodeRecords, ConnectUnixPathWithoutNulUsesAddrlen) {
  // Full 108-byte sun_path, no terminator: addrlen bounds it.
  std::string name(108, 'p');
  name[0] = '/';
  auto r = decode_as<rein::decode::ConnectRec>(connect_rec(Hdr{}, sockaddr_unix(name, false)));
  EXPECT_EQ(r.unix_path, name);
}

TEST(DecodeRecords, ConnectUnixAbstract) {
  auto r = decode_as<rein::decode::ConnectRec>(
      connect_rec(Hdr{}, sockaddr_unix(std::string("\0my-abstract", 12), false)));
  EXPECT_EQ(r.family, AF_UNIX);
  EXPECT_EQ(r.unix_path, "@my-abstract");
}

TEST(DecodeRecords, ConnectUnixAbstractStopsAtAddrlen) {
  // Bytes after addrlen belong to nothing; the name is exactly what addrlen covers.
  auto sa = sockaddr_unix(std::string("\0abcXYZ", 7), false);
  sa.addrlen = static_cast<uint32_t>(offsetof(sockaddr_un, sun_path) + 4);
  auto r = decode_as<rein::decode::ConnectRec>(connect_rec(Hdr{}, sa));
  EXPECT_EQ(r.unix_path, "@abc");
}

TEST(DecodeRecords, ConnectUnixUnnamed) {
  auto sa = sockaddr_unix("", false);  // addrlen == sizeof(sa_family_t)
  auto r = decode_as<rein::decode::ConnectRec>(connect_rec(Hdr{}, sa));
  EXPECT_EQ(r.family, AF_UNIX);
  EXPECT_EQ(r.unix_path, "");
}

TEST(DecodeRecords, ConnectHugeAddrlenIsBoundedBySockaddrBuffer) {
  auto sa = sockaddr_unix(std::string(108, 'x'), false);
  sa.addrlen = 0xffffffffu;
  auto r = decode_as<rein::decode::ConnectRec>(connect_rec(Hdr{}, sa));
  EXPECT_EQ(r.unix_path, std::string(108, 'x'));
}

TEST(DecodeRecords, ConnectUnknownFamily) {
  Sockaddr sa;
  sa.bytes = {0x10, 0x00, 1, 2, 3, 4};  // AF_NETLINK
  sa.addrlen = 12;
  auto r = decode_as<rein::decode::ConnectRec>(connect_rec(Hdr{}, sa));
  EXPECT_EQ(r.family, 16);
  EXPECT_EQ(r.address, "");
  EXPECT_EQ(r.unix_path, "");
}

TEST(DecodeRecords, DnsWithPayload) {
  auto msg = dns_message(0x5151, false, "api.openai.com", 1);
  Dns d;
  d.h = Hdr{.ts = 5, .tgid = 1000};
  d.cookie = 0x1122334455667788ULL;
  d.ingress = true;
  d.orig_len = 900;
  d.port = 53;
  d.server = "192.168.1.1";
  auto r = decode_as<rein::decode::DnsRec>(dns_rec(d, msg));
  EXPECT_EQ(r.h.kind, REIN_REC_DNS);
  EXPECT_EQ(r.cookie, 0x1122334455667788ULL);
  EXPECT_TRUE(r.ingress);
  EXPECT_EQ(r.orig_len, 900);
  EXPECT_EQ(r.family, AF_INET);
  EXPECT_EQ(r.port, 53);
  EXPECT_EQ(r.address, "192.168.1.1");
  EXPECT_EQ(r.payload, msg);
}

TEST(DecodeRecords, DnsIpv6Server) {
  Dns d;
  d.family = AF_INET6;
  d.server = "fd00::53";
  auto r = decode_as<rein::decode::DnsRec>(dns_rec(d, dns_message(1, false, "a.b", 28)));
  EXPECT_FALSE(r.ingress);
  EXPECT_EQ(r.family, AF_INET6);
  EXPECT_EQ(r.address, "fd00::53");
}

TEST(DecodeRecords, DnsEmptyPayload) {
  auto r = decode_as<rein::decode::DnsRec>(dns_rec(Dns{}, Bytes{}));
  EXPECT_TRUE(r.payload.empty());
}

// --- malformed records: each is an error value ---

TEST(DecodeRecords, EmptyAndShorterThanHeader) {
  expect_error(Bytes{}, "empty");
  auto b = exit_rec(Hdr{}, 0);
  for (size_t n = 1; n < sizeof(rein_hdr); n++) expect_error(Bytes(b.begin(), b.begin() + n), "short hdr");
}

TEST(DecodeRecords, SizeFieldMustMatch) {
  auto b = exec_rec(Exec{});
  hdr_of(b)->size += 1;
  expect_error(b, "size one too large");
  hdr_of(b)->size -= 2;
  expect_error(b, "size one too small");
  hdr_of(b)->size = 0xffffffffu;
  expect_error(b, "size huge");
  // Extra trailing bytes beyond a correct size field also do not add up.
  auto c = exit_rec(Hdr{}, 0);
  c.push_back(0);
  expect_error(c, "trailing byte");
}

TEST(DecodeRecords, WrongAbiVersion) {
  for (uint16_t abi : {uint16_t(0), uint16_t(REIN_ABI_VERSION - 1), uint16_t(REIN_ABI_VERSION + 1),
                       uint16_t(0xffff)}) {
    auto b = fork_rec(Hdr{}, 1, "x");
    hdr_of(b)->abi = abi;
    auto r = decode_record(b);
    ASSERT_FALSE(r.ok()) << abi;
    EXPECT_NE(r.error().message.find("ABI"), std::string::npos) << r.error().message;
  }
}

TEST(DecodeRecords, UnknownKinds) {
  for (uint16_t kind : {uint16_t(0), uint16_t(1000), uint16_t(0x8000), uint16_t(0xffff)}) {
    auto b = exit_rec(Hdr{}, 0);
    hdr_of(b)->kind = kind;
    auto r = decode_record(b);
    ASSERT_FALSE(r.ok()) << kind;
    EXPECT_NE(r.error().message.find("unknown"), std::string::npos) << r.error().message;
  }
}

// A record whose size field is honest but shorter than its kind's fixed part.
TEST(DecodeRecords, TruncatedFixedPart) {
  std::vector<Bytes> full = {exec_rec(Exec{}),        fork_rec(Hdr{}, 1, "x"),
                             exit_rec(Hdr{}, 0),      file_rec(File{}),
                             file_open_rec(FileOpen{}), file_close_rec(Hdr{}, 1, 1, 1, 1),
                             connect_rec(Hdr{}, sockaddr_v4("1.1.1.1", 1)),
                             dns_rec(Dns{}, dns_message(1, false, "x", 1))};
  const size_t fixed[] = {sizeof(rein_exec),      sizeof(rein_fork),  sizeof(rein_exit),
                          sizeof(rein_file),      sizeof(rein_file_open),
                          sizeof(rein_file_close), sizeof(rein_connect), sizeof(rein_dns)};
  for (size_t i = 0; i < full.size(); i++) {
    for (size_t n = sizeof(rein_hdr); n < fixed[i]; n++) {
      Bytes cut(full[i].begin(), full[i].begin() + n);
      hdr_of(cut)->size = static_cast<uint32_t>(n);
      auto r = decode_record(cut);
      EXPECT_FALSE(r.ok()) << "kind " << hdr_of(cut)->kind << " cut at " << n;
    }
  }
}

TEST(DecodeRecords, ExecTailsLongerThanRecord) {
  Exec x;
  auto base = exec_rec(x);
  auto* e = reinterpret_cast<rein_exec*>(base.data());
  {
    auto b = base;
    reinterpret_cast<rein_exec*>(b.data())->exe_len = uint16_t(e->exe_len + 1);
    expect_error(b, "exe one over");
  }
  {
    auto b = base;
    reinterpret_cast<rein_exec*>(b.data())->args_len = 0xffff;
    expect_error(b, "args huge");
  }
  {
    auto b = base;
    reinterpret_cast<rein_exec*>(b.data())->cwd_len = uint16_t(e->cwd_len + 1);
    expect_error(b, "cwd one over");
  }
  {
    auto b = base;
    reinterpret_cast<rein_exec*>(b.data())->name_len = 1;
    expect_error(b, "name past the end");
  }
  {
    // Each length alone fits, their sum does not.
    auto b = base;
    auto* p = reinterpret_cast<rein_exec*>(b.data());
    size_t tail = b.size() - sizeof(rein_exec);
    p->exe_len = uint16_t(tail);
    p->args_len = uint16_t(tail);
    p->cwd_len = 0;
    expect_error(b, "sum over");
  }
}

TEST(DecodeRecords, ExecNameFollowsTheWorkingDirectory) {
  Exec x;
  x.exe = "/usr/bin/true";
  x.cwd = "/tmp";
  x.exec_name = "/bin/true";
  auto r = decode_as<rein::decode::ExecRec>(exec_rec(x));
  EXPECT_EQ(r.exe, "/usr/bin/true");
  EXPECT_EQ(r.cwd, "/tmp");
  EXPECT_EQ(r.exec_name, "/bin/true");
  x.exec_name.clear();  // records from before the field: its bytes were zero padding
  EXPECT_EQ(decode_as<rein::decode::ExecRec>(exec_rec(x)).exec_name, "");
}

TEST(DecodeRecords, ExecMapCarriesThePath) {
  auto r = decode_as<rein::decode::MechanismRec>(
      exec_map_rec(Hdr{}, "/usr/bin/nc", 2, REIN_ACT_DENY, REIN_OUT_KILLED));
  EXPECT_EQ(r.mechanism, uint32_t(REIN_MECH_EXEC_MAP));
  EXPECT_EQ(r.path, "/usr/bin/nc");
  EXPECT_EQ(r.policy.rule, 2u);
  auto b = exec_map_rec(Hdr{}, "/usr/bin/nc");
  reinterpret_cast<rein_mechanism*>(b.data())->path_len = 12;
  expect_error(b, "path one over");
}

TEST(DecodeRecords, ExecTailsShorterThanRecordStillDecode) {
  // Lengths are authoritative; unused trailing bytes (alignment) are ignored.
  Exec x;
  x.exe = "/bin/true";
  x.args = {"true"};
  x.cwd = "/";
  auto b = exec_rec(x);
  reinterpret_cast<rein_exec*>(b.data())->cwd_len = 0;
  auto r = decode_as<rein::decode::ExecRec>(b);
  EXPECT_EQ(r.exe, "/bin/true");
  EXPECT_EQ(r.cwd, "");
}

TEST(DecodeRecords, FilePathsLongerThanRecord) {
  File x;
  x.path = "/a/b";
  x.path2 = "/c";
  {
    auto b = file_rec(x);
    reinterpret_cast<rein_file*>(b.data())->path_len = 5;
    reinterpret_cast<rein_file*>(b.data())->path2_len = 2;
    expect_error(b, "path sum over");
  }
  {
    auto b = file_rec(x);
    reinterpret_cast<rein_file*>(b.data())->path2_len = 0xffff;
    expect_error(b, "path2 huge");
  }
}

TEST(DecodeRecords, FileOpenPathLongerThanRecord) {
  auto b = file_open_rec(FileOpen{});
  reinterpret_cast<rein_file_open*>(b.data())->path_len += 1;
  expect_error(b, "open path over");
}

TEST(DecodeRecords, DnsLenLargerThanPayload) {
  auto b = dns_rec(Dns{}, dns_message(1, false, "example.com", 1));
  reinterpret_cast<rein_dns*>(b.data())->len += 1;
  expect_error(b, "dns len one over");
  reinterpret_cast<rein_dns*>(b.data())->len = 0xffff;
  expect_error(b, "dns len huge");
}

TEST(DecodeRecords, DnsLenAboveAbiMaximumRejected) {
  Bytes payload(REIN_DNS_MAX + 1, 0);
  auto b = dns_rec(Dns{}, payload);
  expect_error(b, "dns payload over REIN_DNS_MAX");
  Bytes ok(REIN_DNS_MAX, 0);
  EXPECT_TRUE(decode_record(dns_rec(Dns{}, ok)).ok());
}

TEST(DecodeRecords, UnalignedInputBuffer) {
  // The ring hands out 8-byte aligned records, but decode must not rely on it.
  auto rec = file_rec(File{});
  Bytes shifted(rec.size() + 1);
  std::memcpy(shifted.data() + 1, rec.data(), rec.size());
  auto r = decode_record(std::span<const uint8_t>(shifted.data() + 1, rec.size()));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<rein::decode::FileRec>(*r).path, "/tmp/f");
}

// --- split_args ---

TEST(DecodeSplitArgs, Basic) {
  EXPECT_EQ(split_args(std::string_view("a\0bc\0d\0", 7)),
            (std::vector<std::string>{"a", "bc", "d"}));
}

TEST(DecodeSplitArgs, Empty) {
  EXPECT_TRUE(split_args("").empty());
  EXPECT_TRUE(split_args(std::string_view("\0", 1)).empty());
  EXPECT_TRUE(split_args(std::string_view("\0\0\0\0", 4)).empty());
}

TEST(DecodeSplitArgs, TrailingNulsIgnored) {
  EXPECT_EQ(split_args(std::string_view("x\0y\0\0\0\0", 7)), (std::vector<std::string>{"x", "y"}));
}

TEST(DecodeSplitArgs, EmptyArgsInTheMiddleKept) {
  EXPECT_EQ(split_args(std::string_view("a\0\0b\0", 5)), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_args(std::string_view("a\0\0\0b", 5)),
            (std::vector<std::string>{"a", "", "", "b"}));
}

TEST(DecodeSplitArgs, LeadingEmptyArgKept) {
  EXPECT_EQ(split_args(std::string_view("\0a\0", 3)), (std::vector<std::string>{"", "a"}));
}

TEST(DecodeSplitArgs, NoTerminator) {
  EXPECT_EQ(split_args("single"), (std::vector<std::string>{"single"}));
  EXPECT_EQ(split_args(std::string_view("a\0b", 3)), (std::vector<std::string>{"a", "b"}));
}

TEST(DecodeSplitArgs, NonNulBytesAreData) {
  EXPECT_EQ(split_args(std::string_view("a b\n\xff\0c", 7)),
            (std::vector<std::string>{"a b\n\xff", "c"}));
}

TEST(DecodeSplitArgs, ManyTinyArgs) {
  std::string block;
  for (int i = 0; i < 2000; i++) block += std::string("z") + '\0';
  auto v = split_args(block);
  ASSERT_EQ(v.size(), 2000u);
  for (const auto& s : v) EXPECT_EQ(s, "z");
}

TEST(DecodeInetText, Families) {
  auto v4 = ipv4_bytes("10.1.2.3");
  EXPECT_EQ(rein::decode::inet_text(AF_INET, v4.data()), "10.1.2.3");
  auto v6 = ipv6_bytes("fe80::1");
  EXPECT_EQ(rein::decode::inet_text(AF_INET6, v6.data()), "fe80::1");
  EXPECT_EQ(rein::decode::inet_text(AF_UNIX, v6.data()), "");
  // The IPv4 fast path agrees with inet_ntop on every octet value and width.
  for (unsigned v = 0; v < 256; v++) {
    const std::array<uint8_t, 4> a{uint8_t(v), uint8_t(255 - v), 0, uint8_t(v * 7)};
    char want[INET_ADDRSTRLEN] = {};
    ASSERT_NE(inet_ntop(AF_INET, a.data(), want, sizeof want), nullptr);
    EXPECT_EQ(rein::decode::inet_text(AF_INET, a.data()), want);
  }
}

}  // namespace
