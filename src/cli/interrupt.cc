#include "cli/interrupt.h"

#include <pthread.h>
#include <unistd.h>

#include <string_view>

namespace vsray::cli {
namespace {

// SIGUSR2 only wakes the watcher when it is told to stop.
sigset_t WatchedSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);
  return set;
}

// write(2) only: the second signal may come while another thread holds a stdio lock.
void Say(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(STDERR_FILENO, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

InterruptWatch::InterruptWatch() {
  const sigset_t set = WatchedSignals();
  pthread_sigmask(SIG_BLOCK, &set, &previous_);
  watcher_ = std::thread([this] { Watch(); });
}

InterruptWatch::~InterruptWatch() {
  stopping_ = true;
  pthread_kill(watcher_.native_handle(), SIGUSR2);
  watcher_.join();
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

void InterruptWatch::Watch() {
  const sigset_t set = WatchedSignals();
  for (;;) {
    int signal = 0;
    if (sigwait(&set, &signal) != 0) continue;
    if (stopping_) return;
    if (signal == SIGUSR2) continue;
    if (!token_->cancelled()) {
      token_->Cancel();
      Say(signal == SIGINT ? "\nvsray: interrupted: " : "\nvsray: terminated: ");
      Say("starting nothing new; the nodes in flight finish (their set-up or its rollback), "
          "then what exists is printed. Again to exit at once (the next run repairs).\n");
      continue;
    }
    Say("vsray: exiting at once; half-made nodes are finished or removed by the next run\n");
    _exit(kExitInterrupted);
  }
}

}  // namespace vsray::cli
