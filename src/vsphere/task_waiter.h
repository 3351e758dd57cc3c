// Waits for vCenter tasks: one property-collector long poll serves every task in flight (a
// filter over TaskManager.recentTask), instead of a polling loop per task.
#ifndef VSRAY_VSPHERE_TASK_WAITER_H_
#define VSRAY_VSPHERE_TASK_WAITER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "vsphere/session.h"
#include "vsphere/update_poller.h"
#include "vsphere/vim.h"

namespace vsray::vsphere {

class TaskWaiter {
 public:
  // Deadlines are measured on the session's clock (ConnectOptions::clock).
  explicit TaskWaiter(std::shared_ptr<Session> session);
  ~TaskWaiter();
  TaskWaiter(const TaskWaiter&) = delete;
  TaskWaiter& operator=(const TaskWaiter&) = delete;

  // Blocks until `task` ends. Returns its info.result (an empty Any when the task has none),
  // the task's fault as a Status (fault() set), DEADLINE_EXCEEDED after `timeout`, or
  // CANCELLED when `cancel` becomes true or the waiter shuts down. Thread-safe.
  StatusOr<Any> Wait(const MoRef& task, std::chrono::milliseconds timeout,
                     const std::atomic<bool>* cancel = nullptr);

  // Number of WaitForUpdatesEx rounds so far (for tests and benchmarks).
  std::int64_t rounds() const;
  // Tasks remembered as waited on: those of the Waits in progress (for tests).
  std::size_t waited() const;

 private:
  struct TaskState {
    std::string state;  // queued | running | success | error
    Any result;
    Any error;
    bool waited = false;
  };

  void Apply(const UpdateSet& updates);
  // Reads a task's info directly (for a task the collector did not report finished in time).
  void Poll(const MoRef& task);
  void EnsureStarted();

  std::shared_ptr<Session> session_;
  Vim vim_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, TaskState> tasks_;  // by task id
  std::deque<std::string> finished_order_;  // to bound memory of unwaited finished tasks
  bool stopping_ = false;
  // Created on the first Wait; stopped (and destroyed) first by the destructor.
  std::unique_ptr<UpdatePoller> poller_;
};

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_TASK_WAITER_H_
