#include "common/retry.h"

#include <algorithm>
#include <cmath>

namespace vsray {

bool IsTransient(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:
    case StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

ExponentialBackoff::ExponentialBackoff(BackoffOptions options, std::uint64_t seed)
    : options_(options), rng_(seed) {}

std::chrono::milliseconds ExponentialBackoff::Delay(int retry) {
  const double base = static_cast<double>(options_.initial.count()) *
                      std::pow(options_.multiplier, std::max(0, retry - 1));
  const double capped = std::min(base, static_cast<double>(options_.maximum.count()));
  const double low = capped * (1.0 - std::clamp(options_.jitter, 0.0, 1.0));
  std::lock_guard lock(mu_);
  std::uniform_real_distribution<double> dist(low, capped);
  return std::chrono::milliseconds(static_cast<std::int64_t>(dist(rng_)));
}

Status RetryCall(const RetryOptions& options, Clock& clock, ExponentialBackoff& backoff,
                 const std::function<Status()>& op) {
  const auto start = clock.Now();
  Status last;
  for (int attempt = 1;; ++attempt) {
    last = op();
    if (last.ok() || !IsTransient(last) || attempt >= options.max_attempts) return last;
    const auto delay = backoff.Delay(attempt);
    if (options.deadline.count() > 0 && clock.Now() - start + delay > options.deadline) {
      return last;
    }
    clock.SleepFor(delay);
  }
}

}  // namespace vsray
