#include "common/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace vsray {
namespace {

TEST(ThreadPoolTest, RunsEveryJobAndReturnsResults) {
  ThreadPool pool(4);
  std::vector<std::future<int>> futures;
  for (int i = 0; i < 100; ++i) futures.push_back(pool.Submit([i] { return i * i; }));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(futures[static_cast<std::size_t>(i)].get(), i * i);
}

TEST(ThreadPoolTest, NeverRunsMoreThanItsSizeAtOnce) {
  ThreadPool pool(3);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::vector<std::future<void>> futures;
  for (int i = 0; i < 30; ++i) {
    futures.push_back(pool.Submit([&] {
      const int now = ++running;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      --running;
    }));
  }
  for (auto& f : futures) f.get();
  EXPECT_LE(peak.load(), 3);
  EXPECT_GE(peak.load(), 1);
}

}  // namespace
}  // namespace vsray
