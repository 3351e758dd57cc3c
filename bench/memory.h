// Memory figures the benchmarks print: a process's resident set and glibc's heap in use.
#ifndef VSRAY_BENCH_MEMORY_H_
#define VSRAY_BENCH_MEMORY_H_

#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

namespace vsray::bench {

// VmRSS of a process ("self" or a pid), in kB; -1 when it cannot be read.
inline std::int64_t RssKb(const std::string& pid = "self") {
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// Bytes of heap this process has allocated and not freed (glibc's mallinfo2).
inline std::int64_t HeapInUse() { return static_cast<std::int64_t>(mallinfo2().uordblks); }

}  // namespace vsray::bench

#endif  // VSRAY_BENCH_MEMORY_H_
