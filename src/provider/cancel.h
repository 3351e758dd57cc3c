// A cancellation token: set once (e.g. by the first Ctrl-C of a `vsray up`), read by the
// provider's workers before they start new work. Work in flight is not interrupted: a clone
// whose call went out finishes its set-up (or is rolled back), so that nothing is left half
// made by the interruption itself. Thread-safe, lock-free.
#ifndef VSRAY_PROVIDER_CANCEL_H_
#define VSRAY_PROVIDER_CANCEL_H_

#include <atomic>

namespace vsray::provider {

class Cancellation {
 public:
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_CANCEL_H_
