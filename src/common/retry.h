// Retry of idempotent operations with jittered exponential backoff. The policy decides which
// statuses are worth another attempt; the caller decides whether the operation is idempotent.
#ifndef VSRAY_COMMON_RETRY_H_
#define VSRAY_COMMON_RETRY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>

#include "common/clock.h"
#include "common/status.h"

namespace vsray {

struct BackoffOptions {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds maximum{5000};
  double multiplier = 2.0;
  // Each delay is drawn uniformly from [delay * (1 - jitter), delay].
  double jitter = 0.5;
};

struct RetryOptions {
  int max_attempts = 4;
  // Total time budget across attempts and sleeps; zero means no limit.
  std::chrono::milliseconds deadline{0};
  BackoffOptions backoff;
};

// Statuses that another attempt may fix: lost connections, timeouts, overloaded servers.
bool IsTransient(const Status& status);

class ExponentialBackoff {
 public:
  explicit ExponentialBackoff(BackoffOptions options, std::uint64_t seed = std::random_device{}());
  // The delay before retry number `retry` (1-based).
  std::chrono::milliseconds Delay(int retry);

 private:
  BackoffOptions options_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

// Runs `op` until it succeeds, fails permanently, or attempts/deadline run out. `op` must be
// idempotent. Returns the last status.
Status RetryCall(const RetryOptions& options, Clock& clock, ExponentialBackoff& backoff,
                 const std::function<Status()>& op);

}  // namespace vsray

#endif  // VSRAY_COMMON_RETRY_H_
