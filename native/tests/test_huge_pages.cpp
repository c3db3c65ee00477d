// rn_alloc's huge-page advice (context.cpp): a block of 2 MiB or more has its 2 MiB-aligned
// part in a mapping the kernel marks "hg" (MADV_HUGEPAGE) in /proc/self/smaps; a small block
// and, with RESNORM_HUGE_PAGES=0 (argument "off", set by ctest), a large one are not. Only the
// advice is checked: whether the kernel then backs the range with huge pages depends on its
// free memory. Skipped (77) where transparent huge pages are off or smaps is unreadable.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "test_util.h"

namespace {

// The VmFlags of the mapping of /proc/self/smaps holding address `at`; "" if none is found.
std::string vm_flags_at(const void* at) {
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t a = reinterpret_cast<uintptr_t>(at);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    // a mapping's first line: "lo-hi perms offset dev inode [path]" (no field line starts so)
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {
      inside = a >= lo && a < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line.substr(8) + " ";
  }
  return "";
}

bool advised(const void* at) { return vm_flags_at(at).find(" hg ") != std::string::npos; }

bool thp_available() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  if (!std::getline(f, mode)) return false;
  return mode.find("[never]") == std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  const bool off = argc > 1 && std::strcmp(argv[1], "off") == 0;
  if (!thp_available() || vm_flags_at(&argc).empty()) {
    std::printf("skipped: transparent huge pages off or /proc/self/smaps without VmFlags\n");
    return 77;
  }
  // A small block first, before any large block's advice could cover heap it is carved from.
  char* small = static_cast<char*>(rn_alloc(64 << 10));
  RN_EXPECT(small != nullptr, "rn_alloc(64 KiB) failed");
  std::memset(small, 1, 64 << 10);
  RN_EXPECT(!advised(small), "a 64 KiB block was advised for huge pages");

  const size_t big_bytes = size_t(16) << 20;
  char* big = static_cast<char*>(rn_alloc(big_bytes));
  RN_EXPECT(big != nullptr, "rn_alloc(16 MiB) failed");
  std::memset(big, 1, big_bytes);
  // 8 MiB in lies inside the 2 MiB-aligned interior whatever the block's start
  const char* middle = big + big_bytes / 2;
  if (off)
    RN_EXPECT(!advised(middle), "RESNORM_HUGE_PAGES=0, yet a 16 MiB block was advised for huge pages");
  else
    RN_EXPECT(advised(middle), "a 16 MiB block was not advised for huge pages (VmFlags:%s)", vm_flags_at(middle).c_str());
  rn_free(big);
  rn_free(small);
  RN_EXPECT(rn_live_blocks() == 0, "%lld blocks still live", static_cast<long long>(rn_live_blocks()));
  return rntest::finish("test_huge_pages");
}
