#include "vsphere/vm_ops.h"

#include <algorithm>

#include "common/log.h"

namespace vsray::vsphere {
namespace {

// The longest one WaitForUpdatesEx round of WaitForProperty waits on the server.
constexpr std::int64_t kMaxRoundSeconds = 10;

// A failure after which a clone may exist or not: the call or the wait got no answer.
bool IsUnknownOutcome(const Status& status) {
  return status.code() == StatusCode::kUnavailable ||
         status.code() == StatusCode::kDeadlineExceeded;
}

bool IsFault(const Status& status, std::string_view fault) { return status.fault() == fault; }

}  // namespace

Status VmOps::WaitTask(const StatusOr<MoRef>& task, Timeout timeout) {
  if (!task.ok()) return task.status();
  return waiter_.Wait(*task, timeout).status();
}

StatusOr<MoRef> VmOps::FinishClone(const StatusOr<MoRef>& task, const MoRef& folder,
                                   const std::string& name, Timeout timeout) {
  Status failed = task.status();
  if (task.ok()) {
    auto result = waiter_.Wait(*task, timeout);
    if (result.ok()) {
      MoRef vm = result->AsMoRef();
      if (!vm.empty()) return vm;
      return DataLossError("the clone task " + task->value + " ended without a VM");
    }
    failed = result.status();
  }
  if (IsFault(failed, "DuplicateName") && !folder.empty()) {
    // A resent call (its first answer lost after vCenter acted) finds the clone its first
    // sending made: the name is this create's own (it ends in a random suffix).
    auto found = vim_.FindChild(folder, name);
    if (found.ok() && found->has_value()) {
      Log()->info("clone '{}' was made by a call whose answer was lost: {}", name, (*found)->value);
      return **found;
    }
    return failed;
  }
  if (!IsUnknownOutcome(failed) || folder.empty()) return failed;
  // The clone may exist even though we didn't hear back: look before reporting a failure.
  auto found = vim_.FindChild(folder, name);
  if (!found.ok() || !found->has_value()) return failed;
  if (!task.ok()) return **found;  // the call got no answer, but the clone was made
  // Its task outlived our wait: give up on it rather than leave it behind.
  if (Status destroyed = Destroy(**found, /*known_off=*/false, timeout); !destroyed.ok()) {
    Log()->warn("could not destroy the late clone {} ('{}'): {}", (*found)->value, name,
                destroyed.message());
  }
  return failed;
}

StatusOr<MoRef> VmOps::InstantClone(const MoRef& parent, const InstantCloneSpec& spec,
                                    Timeout timeout) {
  return FinishClone(vim_.InstantCloneTask(parent, spec), spec.location.folder, spec.name, timeout);
}

StatusOr<MoRef> VmOps::Clone(const MoRef& vm, const MoRef& folder, const std::string& name,
                             const CloneSpec& spec, Timeout timeout) {
  return FinishClone(vim_.CloneVmTask(vm, folder, name, spec), folder, name, timeout);
}

Status VmOps::PowerOn(const MoRef& vm, Timeout timeout) {
  Status status = WaitTask(vim_.PowerOnVmTask(vm), timeout);
  return IsFault(status, "InvalidPowerState") ? OkStatus() : status;  // already on
}

Status VmOps::PowerOff(const MoRef& vm, Timeout timeout) {
  Status status = WaitTask(vim_.PowerOffVmTask(vm), timeout);
  return IsFault(status, "InvalidPowerState") ? OkStatus() : status;  // already off
}

Status VmOps::Destroy(const MoRef& vm, bool known_off, Timeout timeout) {
  const auto destroy = [&]() -> Status {
    Status status = WaitTask(vim_.DestroyTask(vm), timeout);
    return status.code() == StatusCode::kNotFound ? OkStatus() : status;  // already gone
  };
  if (known_off) {
    // One task instead of two; if the VM was powered on meanwhile, power it off after all.
    Status destroyed = destroy();
    if (!IsFault(destroyed, "InvalidPowerState")) return destroyed;
  }
  Status off = PowerOff(vm, timeout);
  if (off.code() == StatusCode::kNotFound) return OkStatus();  // already gone
  if (!off.ok()) return off;
  return destroy();
}

Status VmOps::Reconfigure(const MoRef& vm, const ConfigSpec& spec, Timeout timeout) {
  return WaitTask(vim_.ReconfigVmTask(vm, spec), timeout);
}

StatusOr<MoRef> VmOps::CreateSnapshot(const MoRef& vm, const std::string& name, Timeout timeout) {
  VSRAY_ASSIGN_OR_RETURN(auto task, vim_.CreateSnapshotTask(vm, name));
  VSRAY_ASSIGN_OR_RETURN(auto result, waiter_.Wait(task, timeout));
  MoRef snapshot = result.AsMoRef();
  if (snapshot.empty())
    return DataLossError("snapshot '" + name + "' of " + vm.value + " has no id");
  return snapshot;
}

Status VmOps::WaitForProperty(const MoRef& obj, const std::string& path, const std::string& value,
                              Timeout timeout) {
  VSRAY_ASSIGN_OR_RETURN(auto collector, vim_.CreatePropertyCollector());
  FilterSpec spec;
  spec.props.push_back({obj.type, {path}});
  spec.objects.push_back({obj, false, {}});
  Status result = vim_.CreateFilter(collector, spec, false).status();
  if (result.ok()) result = WaitOnCollector(collector, obj, path, value, timeout);
  (void)vim_.DestroyPropertyCollector(collector);  // best effort: it dies with the session
  return result;
}

Status VmOps::WaitOnCollector(const MoRef& collector, const MoRef& obj, const std::string& path,
                              const std::string& value, Timeout timeout) {
  const auto deadline = clock_.Now() + timeout;
  std::string version;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::seconds>(deadline - clock_.Now()).count();
    if (left <= 0) {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
      std::string message = path;
      message += " of " + obj.value + " did not become '" + value + "' within ";
      message += std::to_string(seconds) + " s";
      return DeadlineExceededError(std::move(message));
    }
    VSRAY_ASSIGN_OR_RETURN(
        auto updates, vim_.WaitForUpdatesEx(collector, version,
                                            static_cast<int>(std::min(left, kMaxRoundSeconds))));
    if (!updates) continue;
    version = updates->version;
    for (const auto& object : updates->objects) {
      for (const auto& change : object.changes) {
        if (change.name == path && change.val.text == value) return OkStatus();
      }
    }
  }
}

}  // namespace vsray::vsphere
