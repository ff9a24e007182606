// Any bytes as one ring-buffer record: decode_record never reads out of bounds, and whatever
// it accepts is consistent with the bytes it was given. Inputs are also retried with a valid
// header patched in (kind from the first byte, current ABI, honest size) so the per-kind
// length checks behind the header checks are reached.
#include <arpa/inet.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

#include "decode/records.h"
#include "rein/abi/events.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

size_t args_bytes(const std::vector<std::string>& args) {
  size_t n = 0;
  for (const auto& a : args) n += a.size() + 1;
  return n;
}

void check_decoded(std::span<const uint8_t> in) {
  auto r = rein::decode::decode_record(in);
  if (!r.ok()) {
    check(!r.error().message.empty());
    return;
  }
  // Accepted only with an honest header.
  rein_hdr h{};
  check(in.size() >= sizeof h);
  std::memcpy(&h, in.data(), sizeof h);
  check(h.abi == REIN_ABI_VERSION);
  check(h.size == in.size());
  const size_t size = in.size();
  std::visit(
      [&](const auto& rec) {
        using T = std::decay_t<decltype(rec)>;
        check(rec.h.kind == h.kind);
        check(rec.h.ts_ns == h.ts_ns && rec.h.tgid == h.tgid && rec.h.agent == h.agent);
        if constexpr (std::is_same_v<T, rein::decode::ExecRec>) {
          check(size >= sizeof(rein_exec));
          check(rec.comm.size() <= REIN_COMM_LEN);
          // argv splitting only removes NULs, so its text never exceeds the args tail
          check(rec.exe.size() + rec.cwd.size() + args_bytes(rec.args) <=
                size - sizeof(rein_exec) + rec.args.size());
        } else if constexpr (std::is_same_v<T, rein::decode::ForkRec>) {
          check(size >= sizeof(rein_fork) && rec.comm.size() <= REIN_COMM_LEN);
        } else if constexpr (std::is_same_v<T, rein::decode::FileRec>) {
          check(rec.path.size() + rec.path2.size() <= size - sizeof(rein_file));
        } else if constexpr (std::is_same_v<T, rein::decode::FileOpenRec>) {
          check(rec.path.size() <= size - sizeof(rein_file_open));
        } else if constexpr (std::is_same_v<T, rein::decode::ConnectRec>) {
          check(size >= sizeof(rein_connect));
          check(rec.address.size() < INET6_ADDRSTRLEN);
          check(rec.unix_path.size() <= sizeof(rein_connect{}.sockaddr));
          check(rec.address.empty() || rec.unix_path.empty());
        } else if constexpr (std::is_same_v<T, rein::decode::DnsRec>) {
          check(rec.payload.size() <= REIN_DNS_MAX);
          check(rec.payload.size() <= size - sizeof(rein_dns));
          check(rec.address.size() < INET6_ADDRSTRLEN);
        }
      },
      *r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_decoded(std::span<const uint8_t>(data, size));
  if (size < 1 + sizeof(rein_hdr)) return 0;
  // Kinds up to 15: every known kind and a few unknown ones.
  std::vector<uint8_t> rec(data + 1, data + size);
  rein_hdr h{};
  std::memcpy(&h, rec.data(), sizeof h);
  h.kind = data[0] & 0x0f;
  h.abi = REIN_ABI_VERSION;
  h.size = static_cast<uint32_t>(rec.size());
  std::memcpy(rec.data(), &h, sizeof h);
  check_decoded(rec);
  return 0;
}
