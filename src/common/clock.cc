#include "common/clock.h"

#include <thread>

namespace vsray {

void SystemClock::SleepFor(Duration d) { std::this_thread::sleep_for(d); }

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

Clock::TimePoint FakeClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void FakeClock::SleepFor(Duration d) {
  std::lock_guard lock(mu_);
  now_ += d;
  slept_ += d;
}

void FakeClock::Advance(Duration d) {
  std::lock_guard lock(mu_);
  now_ += d;
}

Clock::Duration FakeClock::total_slept() const {
  std::lock_guard lock(mu_);
  return slept_;
}

}  // namespace vsray
