#include "vsphere/task_waiter.h"

#include <algorithm>

#include "common/log.h"
#include "vsphere/soap.h"

namespace vsray::vsphere {
namespace {

constexpr int kMaxWaitSeconds = 5;
// Finished tasks nobody waits for yet are kept for a Wait that starts after the task's end
// was reported (a few milliseconds after the call returns, at most). The collector's first
// round after each reconnect reports every recent task, other clients' included: 512 of
// them (about 150 kB) is plenty, and a Wait that misses its task reads it directly.
constexpr std::size_t kMaxFinishedKept = 512;
// A waited task the collector hasn't reported finished is read directly this often: it may
// have dropped out of recentTask (which keeps only the latest tasks), or its end may have come
// while the collector's filter was being set up (the simulator's collector starts listening
// for changes only after its first round).
constexpr auto kDirectReadEvery = std::chrono::seconds(10);
// The longest a waiter sleeps before looking at its clock again (a fake clock in tests
// moves without notifying anyone).
constexpr auto kWakeAtLeastEvery = std::chrono::milliseconds(500);

bool Finished(const std::string& state) { return state == "success" || state == "error"; }

}  // namespace

TaskWaiter::TaskWaiter(std::shared_ptr<Session> session)
    : session_(std::move(session)),
      vim_(*session_, session_->content()),
      clock_(*session_->options().clock) {}

TaskWaiter::~TaskWaiter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  std::unique_ptr<UpdatePoller> poller;
  {
    std::lock_guard lock(mu_);
    poller = std::move(poller_);
  }
  poller.reset();  // cancels the long poll, joins its thread
}

std::int64_t TaskWaiter::rounds() const {
  std::lock_guard lock(mu_);
  return poller_ ? poller_->rounds() : 0;
}

std::size_t TaskWaiter::waited() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(
      tasks_.begin(), tasks_.end(), [](const auto& entry) { return entry.second.waited; }));
}

void TaskWaiter::EnsureStarted() {
  // Caller holds mu_.
  if (poller_ || stopping_) return;
  FilterSpec spec;
  spec.props.push_back({"Task", {"info.state", "info.result", "info.error"}});
  ObjectSpec object;
  object.obj = session_->content().task_manager;
  object.skip = true;
  object.traversals.push_back({"recentTask", "TaskManager", "recentTask", false, {}});
  spec.objects.push_back(std::move(object));
  UpdatePollerHandlers handlers;
  // The first round of a new filter reports every recent task's current state: applied like
  // any other round.
  handlers.on_updates = [this](const UpdateSet& updates) { Apply(updates); };
  UpdatePollerOptions options;
  options.name = "task watcher";
  options.max_wait_seconds = kMaxWaitSeconds;
  poller_ = std::make_unique<UpdatePoller>(session_, std::move(spec), std::move(handlers),
                                           std::move(options));
  poller_->Start();
}

void TaskWaiter::Apply(const UpdateSet& updates) {
  std::lock_guard lock(mu_);
  for (const auto& object : updates.objects) {
    if (object.obj.type != "Task" || object.kind == "leave") continue;
    TaskState& state = tasks_[object.obj.value];
    const bool was_finished = Finished(state.state);
    for (const auto& change : object.changes) {
      if (change.name == "info.state") state.state = change.val.text;
      if (change.name == "info.result") state.result = change.val;
      if (change.name == "info.error") state.error = change.val;
    }
    if (!was_finished && Finished(state.state) && !state.waited) {
      finished_order_.push_back(object.obj.value);
    }
  }
  // Forget the oldest finished tasks nobody waits for (other clients' tasks, mostly).
  while (finished_order_.size() > kMaxFinishedKept) {
    auto it = tasks_.find(finished_order_.front());
    if (it != tasks_.end() && !it->second.waited) tasks_.erase(it);
    finished_order_.pop_front();
  }
  cv_.notify_all();
}

void TaskWaiter::Poll(const MoRef& task) {
  auto content = vim_.RetrieveOne(task, {"info.state", "info.result", "info.error"});
  UpdateSet set;
  ObjectUpdate update;
  update.obj = task;
  update.kind = "modify";
  if (!content.ok()) {
    if (content.status().code() != StatusCode::kNotFound) return;
    // The task object is gone: report it as an error rather than wait forever.
    Any error;
    Any& fault = error.Add("fault");
    fault.xsi_type = "ManagedObjectNotFound";
    error.Add("localizedMessage", "task " + task.value + " no longer exists");
    update.changes.push_back({"info.state", "assign", Any{"", "", "error", {}}});
    update.changes.push_back({"info.error", "assign", error});
  } else {
    for (auto& [name, value] : content->props) update.changes.push_back({name, "assign", value});
  }
  set.objects.push_back(std::move(update));
  Apply(set);
}

StatusOr<Any> TaskWaiter::Wait(const MoRef& task, std::chrono::milliseconds timeout,
                               const std::atomic<bool>* cancel) {
  const auto deadline = clock_.Now() + timeout;
  auto next_read = clock_.Now() + kDirectReadEvery;
  std::unique_lock lock(mu_);
  EnsureStarted();
  tasks_[task.value].waited = true;
  for (;;) {
    TaskState& state = tasks_[task.value];
    if (Finished(state.state)) {
      TaskState done = std::move(state);
      tasks_.erase(task.value);
      if (done.state == "success") return std::move(done.result);
      return StatusFromMethodFault(done.error).WithContext("task " + task.value);
    }
    const auto now = clock_.Now();
    Status given_up = OkStatus();
    if (stopping_) {
      given_up = CancelledError("task " + task.value + ": shutting down");
    } else if (cancel != nullptr && cancel->load()) {
      given_up = CancelledError("task " + task.value + ": wait cancelled");
    } else if (now >= deadline) {
      given_up = DeadlineExceededError("task " + task.value + " did not finish within " +
                                       std::to_string(timeout.count() / 1000) + " s");
    }
    if (!given_up.ok()) {
      // Forgotten: its end, if reported later, joins the bounded set of unwaited tasks.
      tasks_.erase(task.value);
      return given_up;
    }
    if (now >= next_read) {
      next_read = now + kDirectReadEvery;
      lock.unlock();
      Poll(task);
      lock.lock();
      continue;
    }
    cv_.wait_for(lock, std::min<Clock::Duration>(deadline - now, kWakeAtLeastEvery));
  }
}

}  // namespace vsray::vsphere
