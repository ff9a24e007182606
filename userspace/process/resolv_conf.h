// Which DNS resolvers a process uses: the nameserver lines of resolv.conf, on the host and
// in the mount namespace of each tracked process (a container has its own). Only answers
// from these may teach addresses to host-name rules (bpf/dns_trust.bpf.h).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace rein::process {

using ResolverAddr = std::array<uint8_t, 16>;  // IPv4 as v4-mapped IPv6

// glibc reads three; more than this is not a resolv.conf a resolver library would use.
inline constexpr size_t kMaxResolvConfServers = 8;

// "1.2.3.4", "::1", "fe80::1%eth0" (the zone is dropped); nullopt when not an address.
std::optional<ResolverAddr> parse_resolver_address(std::string_view text);

// Addresses of the `nameserver` lines, in order, without duplicates, at most
// kMaxResolvConfServers. Comments (# ;) and other options are ignored.
std::vector<ResolverAddr> parse_resolv_conf(std::string_view text);

// Text form, for logs.
std::string resolver_text(const ResolverAddr& a);

// Resolvers of processes in mount namespaces other than ours, each namespace read once.
class NamespaceResolvers {
 public:
  // proc_root: "/proc" (tests use a fake tree). own_ns: the namespace the host's resolv.conf
  // was read in (its /proc/self/ns/mnt inode); processes in it are skipped.
  NamespaceResolvers(std::string proc_root, uint64_t own_ns)
      : proc_root_(std::move(proc_root)), own_ns_(own_ns) {}
  // New resolvers of pid's namespace, empty when the namespace was seen already, is ours,
  // or cannot be read (the process is gone).
  std::vector<ResolverAddr> for_process(uint32_t pid);
  size_t namespaces() const { return seen_.size(); }

 private:
  std::string proc_root_;
  uint64_t own_ns_;
  std::set<uint64_t> seen_;  // bounded by kMaxNamespaces
};

inline constexpr size_t kMaxNamespaces = 1024;

// Inode of a /proc/PID/ns/mnt link ("mnt:[4026531841]"), 0 when unreadable.
uint64_t mount_ns_of(const std::string& ns_link);

}  // namespace rein::process
