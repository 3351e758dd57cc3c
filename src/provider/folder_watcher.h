// Keeps a NodeCache in step with one VM folder: a property-collector filter over the folder's
// children and a WaitForUpdatesEx long poll (vsphere::UpdatePoller). Survives session expiry
// (re-creates its collector; the new filter's first round is a full listing that the cache is
// reconciled with). Also re-lists the folder at an interval and reconciles the cache with it,
// in case the update stream ever missed a change.
#ifndef VSRAY_PROVIDER_FOLDER_WATCHER_H_
#define VSRAY_PROVIDER_FOLDER_WATCHER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "common/clock.h"
#include "common/status.h"
#include "provider/node_cache.h"
#include "provider/vcenter.h"
#include "vsphere/session.h"
#include "vsphere/update_poller.h"
#include "vsphere/vim.h"

namespace vsray::provider {

// The filter over a folder's VM children with the properties the cache follows.
vsphere::FilterSpec FolderFilter(const vsphere::MoRef& folder);

// One RetrievePropertiesEx listing of the folder (the one-shot path).
StatusOr<std::vector<Node>> ListFolder(vsphere::Vim& vim, const vsphere::MoRef& folder);

struct FolderWatcherOptions {
  // Re-list the folder (one RetrievePropertiesEx) this often and reconcile the cache with the
  // listing; zero: never (the update stream alone).
  std::chrono::seconds resync_interval{300};
};

// Re-list timing is on the session's clock (ConnectOptions::clock).
class FolderWatcher final : public NodeWatch {
 public:
  FolderWatcher(std::shared_ptr<vsphere::Session> session, vsphere::MoRef folder, NodeCache& cache,
                FolderWatcherOptions options = {});
  ~FolderWatcher() override;
  FolderWatcher(const FolderWatcher&) = delete;
  FolderWatcher& operator=(const FolderWatcher&) = delete;

  void Start();
  // Blocks until the first full listing is in the cache. DEADLINE_EXCEEDED after `timeout`
  // (with the last error seen, if any).
  Status WaitSynced(std::chrono::milliseconds timeout);
  // Completed long-poll rounds, and how many times the watch was (re)established.
  std::int64_t rounds() const { return poller_.rounds(); }
  std::int64_t setups() const { return poller_.setups(); }
  // Periodic re-listings done so far.
  std::int64_t resyncs() const { return resyncs_.load(); }

 private:
  void OnEstablished(const vsphere::UpdateSet& set);
  void OnRound();
  void Resync();
  // Reads VMs whose identity the update stream has not shown (yet) directly, a few times
  // each: an update stream can report a VM before all of its properties are visible.
  void VerifyUnidentified();

  std::shared_ptr<vsphere::Session> session_;
  vsphere::Vim vim_;
  Clock& clock_;
  vsphere::MoRef folder_;
  NodeCache& cache_;
  const FolderWatcherOptions options_;
  // Watcher thread only:
  std::unordered_map<std::string, int> verify_attempts_;
  Clock::TimePoint next_resync_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool synced_ = false;
  Status last_error_;
  std::atomic<std::int64_t> resyncs_{0};
  // Last member: its thread stops before the members above go away.
  vsphere::UpdatePoller poller_;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_FOLDER_WATCHER_H_
