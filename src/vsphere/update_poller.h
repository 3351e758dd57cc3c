// One property-collector long poll on a thread of its own: owns a PropertyCollector and one
// filter, runs WaitForUpdatesEx rounds and hands each batch of updates to its owner. After a
// failed round (the session expired and the collector with it, the server went away...) it
// destroys what is left, waits (exponential backoff) and creates a new collector and filter;
// the first round of a new filter is the full current state, which the owner gets through
// `on_established` so that it can re-sync. Stop() (or the destructor) cancels the long poll and
// destroys the collector.
#ifndef VSRAY_VSPHERE_UPDATE_POLLER_H_
#define VSRAY_VSPHERE_UPDATE_POLLER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "vsphere/session.h"
#include "vsphere/vim.h"

namespace vsray::vsphere {

struct UpdatePollerOptions {
  // For log lines ("node watcher", "task watcher").
  std::string name = "update poller";
  // Longest a WaitForUpdatesEx round waits on the server (then `on_idle` runs).
  int max_wait_seconds = 10;
  // Wait before re-creating the collector after a failure: doubles up to the maximum, back to
  // the minimum after a good round.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

// Every handler runs on the poller's thread, one at a time, and may call vCenter. None may
// call Stop() or destroy the poller.
struct UpdatePollerHandlers {
  // The first round of a (re-created) filter: the full current state of what it covers.
  // Default: `on_updates`.
  std::function<void(const UpdateSet&)> on_established;
  // Every later round that reported changes.
  std::function<void(const UpdateSet&)> on_updates;
  // After every round, with changes or not (a place for periodic work).
  std::function<void()> on_round;
  // Setting up the collector or a round failed; the poller backs off and starts over.
  std::function<void(const Status&)> on_error;
};

class UpdatePoller {
 public:
  UpdatePoller(std::shared_ptr<Session> session, FilterSpec spec, UpdatePollerHandlers handlers,
               UpdatePollerOptions options = {});
  ~UpdatePoller();  // Stop()
  UpdatePoller(const UpdatePoller&) = delete;
  UpdatePoller& operator=(const UpdatePoller&) = delete;

  // Starts the thread (once; later calls do nothing).
  void Start();
  // Cancels the long poll, joins the thread and destroys the collector. Idempotent.
  void Stop();

  // Completed WaitForUpdatesEx rounds, and how many times the filter was (re)established.
  std::int64_t rounds() const { return rounds_.load(); }
  std::int64_t setups() const { return setups_.load(); }

 private:
  struct LoopState;
  void Loop();
  // One round of the loop: set up (if need be), one long poll, the handlers. False when the
  // loop must end.
  bool Round(LoopState& state);
  // After a failed set-up or round: tells on_error, tears down, backs off. False when
  // stopping.
  bool Fail(LoopState& state, const Status& status);
  Status SetUp();
  void TearDown();
  bool stopping() const;
  // Waits `d` unless stopping; returns false when stopping.
  bool Sleep(std::chrono::milliseconds d);

  std::shared_ptr<Session> session_;
  Vim vim_;
  const FilterSpec spec_;
  const UpdatePollerHandlers handlers_;
  const UpdatePollerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  MoRef collector_;  // guarded by mu_
  bool stopping_ = false;
  bool loop_done_ = false;
  std::thread thread_;
  std::atomic<std::int64_t> rounds_{0};
  std::atomic<std::int64_t> setups_{0};
};

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_UPDATE_POLLER_H_
