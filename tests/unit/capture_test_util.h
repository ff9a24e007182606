// Shared by the capture tests: a fixed key, a controllable clock, small writers.
#pragma once
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "capture/capture_reader.h"
#include "capture/capture_writer.h"

namespace rein::capture::testutil {

inline HostKey test_key(uint8_t fill = 0x42) {
  HostKey k;
  k.fill(fill);
  return k;
}

// A clock the test moves; it can also hold the writer thread still (stall) so a test
// controls exactly when the queue drains.
struct TestClock {
  std::atomic<int64_t> now{1'700'000'000'000'000'000};
  std::mutex mu;
  std::condition_variable cv;
  bool stalled = false;
  int64_t read() {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return !stalled; });
    return now.load();
  }
  void stall(bool on) {
    {
      std::lock_guard<std::mutex> lk(mu);
      stalled = on;
    }
    cv.notify_all();
  }
  std::function<int64_t()> fn() {
    return [this] { return read(); };
  }
};

inline Entry record_entry(const std::string& data) {
  Entry e;
  e.mutable_record()->set_data(data);
  return e;
}

// Bytes that do not compress, so segment sizes are predictable.
inline std::string noise(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

inline std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
inline void write_all_file(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

inline unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0xFFFF;
  return st.st_mode & 07777;
}

inline std::vector<Entry> read_entries(const std::string& dir, const HostKey& key,
                                       std::string* error = nullptr) {
  std::vector<Entry> out;
  auto r = CaptureReader::open(dir, key);
  if (!r) {
    if (error) *error = r.error().message;
    return out;
  }
  for (;;) {
    auto e = (*r)->next();
    if (!e) {
      if (error) *error = e.error().message;
      break;
    }
    if (!*e) break;
    out.push_back(std::move(**e));
  }
  return out;
}

// One line per finding, for assertion messages.
inline std::string describe(const VerifyReport& r) {
  std::string s;
  for (const auto& f : r.findings) s += (f.ok ? "OK  " : "BAD ") + f.name + ": " + f.message + "\n";
  for (const auto& n : r.notes) s += "note: " + n + "\n";
  return s;
}

inline const SegmentFinding* bad_finding_for(const VerifyReport& r, const std::string& name) {
  for (const auto& f : r.findings)
    if (!f.ok && (f.name == name || f.message.find(name) != std::string::npos)) return &f;
  return nullptr;
}

}  // namespace rein::capture::testutil
