// Desired-state VM operations: each starts its vCenter task, waits for it through the shared
// TaskWaiter, and decides what counts as done when the VM already is in the state asked for
// or already gone (InvalidPowerState on a power-on of a VM that is on, ManagedObjectNotFound
// on a destroy...). The one place above the SOAP codec that knows those faults. Thread-safe
// (as Vim and TaskWaiter are).
#ifndef VSRAY_VSPHERE_VM_OPS_H_
#define VSRAY_VSPHERE_VM_OPS_H_

#include <chrono>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "vsphere/task_waiter.h"
#include "vsphere/vim.h"

namespace vsray::vsphere {

class VmOps {
 public:
  using Timeout = std::chrono::milliseconds;

  // `vim` and `waiter` must outlive this. Deadlines of WaitForProperty are on `clock`.
  VmOps(Vim& vim, TaskWaiter& waiter, Clock& clock) : vim_(vim), waiter_(waiter), clock_(clock) {}

  // InstantClone_Task of `parent` (powered on; the clone runs on its host). Returns the new
  // VM. Errors: the task's fault (fault() set, e.g. InvalidState), DEADLINE_EXCEEDED after
  // `timeout`, the call's errors. When the outcome is unknown (UNAVAILABLE or
  // DEADLINE_EXCEEDED), a VM named spec.name in spec.location.folder is looked for first: if
  // the call itself got no answer, that VM is the clone and is returned; if the task outlived
  // the wait, that VM is destroyed (given up on) and the error returned.
  StatusOr<MoRef> InstantClone(const MoRef& parent, const InstantCloneSpec& spec, Timeout timeout);
  // CloneVM_Task of `vm` into `folder` as `name`; errors and the unknown-outcome rule as
  // InstantClone's.
  StatusOr<MoRef> Clone(const MoRef& vm, const MoRef& folder, const std::string& name,
                        const CloneSpec& spec, Timeout timeout);
  // Powered on when it returns; already on counts as done.
  Status PowerOn(const MoRef& vm, Timeout timeout);
  // Powered off when it returns; already off counts as done. NOT_FOUND if the VM is gone.
  Status PowerOff(const MoRef& vm, Timeout timeout);
  // Gone when it returns: powered off first, then destroyed; already gone counts as done.
  // `known_off`: try the destroy first (one task instead of two), and power off only if the
  // VM turns out to be on after all.
  Status Destroy(const MoRef& vm, bool known_off, Timeout timeout);
  Status Reconfigure(const MoRef& vm, const ConfigSpec& spec, Timeout timeout);
  // A snapshot of `vm` (no memory, no quiescing); returns it.
  StatusOr<MoRef> CreateSnapshot(const MoRef& vm, const std::string& name, Timeout timeout);
  // Waits through a property collector (its first answer is the current state; no polling)
  // until property `path` of `obj` reads `value`. DEADLINE_EXCEEDED after `timeout`.
  Status WaitForProperty(const MoRef& obj, const std::string& path, const std::string& value,
                         Timeout timeout);

 private:
  // Waits for a clone task (or takes the error of starting it) and applies the
  // unknown-outcome rule above.
  StatusOr<MoRef> FinishClone(const StatusOr<MoRef>& task, const MoRef& folder,
                              const std::string& name, Timeout timeout);
  Status WaitTask(const StatusOr<MoRef>& task, Timeout timeout);
  // One collector round loop of WaitForProperty, on an existing collector.
  Status WaitOnCollector(const MoRef& collector, const MoRef& obj, const std::string& path,
                         const std::string& value, Timeout timeout);

  Vim& vim_;
  TaskWaiter& waiter_;
  Clock& clock_;
};

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_VM_OPS_H_
