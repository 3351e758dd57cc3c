// Clock and sleeper seams: code that waits or measures time takes these, so tests can use a
// fake clock instead of the wall clock.
#ifndef VSRAY_COMMON_CLOCK_H_
#define VSRAY_COMMON_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace vsray {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Blocks the calling thread for `d` (a fake clock advances instead).
  virtual void SleepFor(Duration d) = 0;
};

// The process-wide steady clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  void SleepFor(Duration d) override;

  static SystemClock& Instance();
};

// A manual clock for tests: SleepFor advances time without blocking and records the total.
class FakeClock final : public Clock {
 public:
  TimePoint Now() const override;
  void SleepFor(Duration d) override;
  void Advance(Duration d);
  Duration total_slept() const;

 private:
  mutable std::mutex mu_;
  TimePoint now_{};
  Duration slept_{};
};

}  // namespace vsray

#endif  // VSRAY_COMMON_CLOCK_H_
