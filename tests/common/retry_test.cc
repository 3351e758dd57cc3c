#include "common/retry.h"

#include <gtest/gtest.h>

#include "support/status_matchers.h"

namespace vsray {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

TEST(RetryTest, RetriesTransientUntilSuccess) {
  FakeClock clock;
  ExponentialBackoff backoff(
      {std::chrono::milliseconds(100), std::chrono::milliseconds(1000), 2.0, 0.0}, 1);
  int calls = 0;
  const Status status = RetryCall({5, std::chrono::milliseconds(0), {}}, clock, backoff, [&] {
    ++calls;
    return calls < 3 ? UnavailableError("reset") : OkStatus();
  });
  EXPECT_THAT(status, IsOk());
  EXPECT_EQ(calls, 3);
  // No jitter: 100 ms then 200 ms.
  EXPECT_EQ(clock.total_slept(), std::chrono::milliseconds(300));
}

TEST(RetryTest, PermanentErrorIsNotRetried) {
  FakeClock clock;
  ExponentialBackoff backoff({}, 1);
  int calls = 0;
  const Status status = RetryCall({5, std::chrono::milliseconds(0), {}}, clock, backoff, [&] {
    ++calls;
    return PermissionDeniedError("no");
  });
  EXPECT_THAT(status, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(clock.total_slept(), Clock::Duration::zero());
}

TEST(RetryTest, StopsAfterMaxAttempts) {
  FakeClock clock;
  ExponentialBackoff backoff({}, 1);
  int calls = 0;
  const Status status = RetryCall({3, std::chrono::milliseconds(0), {}}, clock, backoff, [&] {
    ++calls;
    return DeadlineExceededError("slow");
  });
  EXPECT_THAT(status, StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_EQ(calls, 3);
}

TEST(RetryTest, DeadlineStopsBeforeSleepingPastIt) {
  FakeClock clock;
  ExponentialBackoff backoff(
      {std::chrono::milliseconds(400), std::chrono::milliseconds(400), 1.0, 0.0}, 1);
  int calls = 0;
  const Status status = RetryCall({10, std::chrono::milliseconds(1000), {}}, clock, backoff, [&] {
    ++calls;
    return UnavailableError("down");
  });
  EXPECT_THAT(status, Not(IsOk()));
  EXPECT_EQ(calls, 3);  // sleeps 400 + 400; a third sleep would pass 1000 ms
  EXPECT_LE(clock.total_slept(), std::chrono::milliseconds(1000));
}

TEST(BackoffTest, GrowsExponentiallyWithinJitterAndCap) {
  ExponentialBackoff backoff(
      {std::chrono::milliseconds(100), std::chrono::milliseconds(1000), 2.0, 0.5}, 42);
  for (int i = 0; i < 50; ++i) {
    const auto d1 = backoff.Delay(1);
    EXPECT_GE(d1.count(), 50);
    EXPECT_LE(d1.count(), 100);
    const auto d3 = backoff.Delay(3);
    EXPECT_GE(d3.count(), 200);
    EXPECT_LE(d3.count(), 400);
    const auto d10 = backoff.Delay(10);
    EXPECT_GE(d10.count(), 500);
    EXPECT_LE(d10.count(), 1000);
  }
}

}  // namespace
}  // namespace vsray
