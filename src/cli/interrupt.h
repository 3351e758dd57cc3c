// Ctrl-C (SIGINT) and SIGTERM in the commands that make or remove nodes (`up`, `create`,
// `down`): the first one cancels (no new clone or termination starts; those in flight end,
// their set-up finished or rolled back), and the command then prints what exists and what was
// left and exits 130; a second one exits at once (130), and the next run repairs what it left
// (provider/repair.h).
#ifndef VSRAY_CLI_INTERRUPT_H_
#define VSRAY_CLI_INTERRUPT_H_

#include <atomic>
#include <csignal>
#include <memory>
#include <thread>

#include "provider/cancel.h"

namespace vsray::cli {

inline constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it

class InterruptWatch {
 public:
  // Blocks SIGINT and SIGTERM in the calling thread, so in every thread it starts from now
  // on, and waits for them on a thread of its own. Make it before anything starts threads.
  InterruptWatch();
  // Stops watching and restores the calling thread's signal mask.
  ~InterruptWatch();
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

  // Set by the first signal.
  std::shared_ptr<const provider::Cancellation> token() const { return token_; }
  bool interrupted() const { return token_->cancelled(); }

 private:
  void Watch();

  std::shared_ptr<provider::Cancellation> token_ = std::make_shared<provider::Cancellation>();
  sigset_t previous_{};
  std::atomic<bool> stopping_{false};
  std::thread watcher_;
};

}  // namespace vsray::cli

#endif  // VSRAY_CLI_INTERRUPT_H_
