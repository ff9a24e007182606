// A live uprobe writes its breakpoint into every private mapping of the file it probes; the
// finders read the file through ElfFile's mapping, which must show the file's own bytes
// while rein's hooks sit in another process of the same binary. Needs root (perf uprobe);
// elsewhere it skips, unless REIN_REQUIRE_BPF=1 asks for the kernel.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "binary/elf_file.h"

namespace {

using rein::binary::ElfFile;

// A perf uprobe (no tracefs, no BPF) at `offset` of `path`, live while the fd is open.
int perf_uprobe(const std::string& path, uint64_t offset, std::string& why) {
  std::ifstream t("/sys/bus/event_source/devices/uprobe/type");
  int type = -1;
  if (!(t >> type)) {
    why = "no uprobe PMU in /sys/bus/event_source";
    return -1;
  }
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = uint32_t(type);
  attr.config1 = reinterpret_cast<uint64_t>(path.c_str());
  attr.config2 = offset;
  const long fd = syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) why = std::string("perf_event_open: ") + std::strerror(errno);
  return int(fd);
}

TEST(BinaryElfUprobe, MappingShowsTheFileNotALiveBreakpoint) {
  const std::string path = std::filesystem::canonical("/usr/lib/x86_64-linux-gnu/libz.so.1").string();
  auto before = ElfFile::open(path);  // mapped before the probe goes in
  ASSERT_TRUE(before) << before.error().message;
  const auto vaddr = (*before)->symbol("zlibVersion");
  ASSERT_TRUE(vaddr);
  const auto off = (*before)->vaddr_to_offset(*vaddr);
  ASSERT_TRUE(off);
  const uint8_t original = (*before)->bytes_at(*off, 1)[0];
  ASSERT_NE(original, 0xcc);

  std::string why;
  const int fd = perf_uprobe(path, *off, why);
  if (fd < 0) {
    const char* req = std::getenv("REIN_REQUIRE_BPF");
    if (req && std::string(req) == "1") FAIL() << "cannot attach a uprobe: " << why;
    GTEST_SKIP() << "cannot attach a uprobe here (needs root): " << why;
  }
  auto after = ElfFile::open(path);  // mapped while it is live
  ASSERT_TRUE(after) << after.error().message;
  // the test can fail: a private mapping of the same file shows the breakpoint
  const int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(f, 0);
  const size_t len = size_t(std::filesystem::file_size(path));
  void* priv = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, f, 0);
  ::close(f);
  ASSERT_NE(priv, MAP_FAILED);
  EXPECT_EQ(static_cast<const uint8_t*>(priv)[*off], 0xcc) << "the uprobe is not live";
  munmap(priv, len);
  EXPECT_EQ((*before)->bytes_at(*off, 1)[0], original);
  EXPECT_EQ((*after)->bytes_at(*off, 1)[0], original);
  ::close(fd);
}

}  // namespace
