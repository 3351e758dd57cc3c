#include "vsphere/update_poller.h"

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace vsray::vsphere {

UpdatePoller::UpdatePoller(std::shared_ptr<Session> session, FilterSpec spec,
                           UpdatePollerHandlers handlers, UpdatePollerOptions options)
    : session_(std::move(session)),
      vim_(*session_, session_->content()),
      spec_(std::move(spec)),
      handlers_(std::move(handlers)),
      options_(std::move(options)) {}

UpdatePoller::~UpdatePoller() { Stop(); }

void UpdatePoller::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void UpdatePoller::Stop() {
  MoRef collector;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    collector = collector_;
  }
  cv_.notify_all();
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    thread = std::move(thread_);
  }
  if (!thread.joinable()) return;
  // Ends a long poll in progress at once (it fails with RequestCanceled, which the loop takes
  // as the end since stopping_ is set). A cancel that comes just before the poll starts does
  // nothing, so cancel again until the loop is done.
  for (;;) {
    if (!collector.empty()) (void)vim_.CancelWaitForUpdates(collector);
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return loop_done_; })) break;
    collector = collector_;
  }
  thread.join();
}

bool UpdatePoller::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

bool UpdatePoller::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

Status UpdatePoller::SetUp() {
  VSRAY_ASSIGN_OR_RETURN(auto collector, vim_.CreatePropertyCollector());
  auto filter = vim_.CreateFilter(collector, spec_, false);
  if (!filter.ok()) {
    (void)vim_.DestroyPropertyCollector(collector);
    return filter.status();
  }
  {
    std::lock_guard lock(mu_);
    collector_ = collector;
    if (!stopping_) {
      ++setups_;
      return OkStatus();
    }
  }
  // Stop() ran while the collector was being created and could not cancel it.
  return CancelledError(options_.name + ": stopping");
}

void UpdatePoller::TearDown() {
  MoRef collector;
  {
    std::lock_guard lock(mu_);
    collector = std::exchange(collector_, {});
  }
  // Destroying the collector destroys its filter too.
  if (!collector.empty()) (void)vim_.DestroyPropertyCollector(collector);
}

// Where the loop is: the version of the last round, whether a filter is set up, and how
// long to wait after the next failure.
struct UpdatePoller::LoopState {
  std::string version;
  bool ready = false;
  std::chrono::milliseconds backoff;
};

bool UpdatePoller::Fail(LoopState& state, const Status& status) {
  if (handlers_.on_error) handlers_.on_error(status);
  TearDown();
  state.ready = false;
  const bool go_on = Sleep(state.backoff);
  state.backoff = std::min(state.backoff * 2, options_.max_backoff);
  return go_on;
}

bool UpdatePoller::Round(LoopState& state) {
  if (!state.ready) {
    if (Status status = SetUp(); !status.ok()) {
      if (stopping()) return false;
      Log()->warn("{}: cannot set up a property collector: {}", options_.name, status.message());
      return Fail(state, status);
    }
    state.ready = true;
    state.version.clear();
  }
  MoRef collector;
  {
    std::lock_guard lock(mu_);
    collector = collector_;
  }
  auto updates = vim_.WaitForUpdatesEx(collector, state.version, options_.max_wait_seconds);
  ++rounds_;
  if (!updates.ok()) {
    if (stopping()) return false;
    // The collector lives in the session: after a re-login it is gone. Start over; the
    // first round of the new filter reports the full state again.
    Log()->info("{}: {}; watching again", options_.name, updates.status().message());
    return Fail(state, updates.status());
  }
  state.backoff = options_.min_backoff;
  if (updates->has_value()) {
    const UpdateSet& set = **updates;
    if (state.version.empty() && handlers_.on_established) {
      handlers_.on_established(set);
    } else if (handlers_.on_updates) {
      handlers_.on_updates(set);
    }
    state.version = set.version;
  }
  if (handlers_.on_round) handlers_.on_round();
  return true;
}

void UpdatePoller::Loop() {
  LoopState state{"", false, options_.min_backoff};
  while (!stopping() && Round(state)) {
  }
  TearDown();
  {
    std::lock_guard lock(mu_);
    loop_done_ = true;
  }
  cv_.notify_all();
}

}  // namespace vsray::vsphere
