// Keeps a NodeCache in step with one VM folder: a property-collector filter over the folder's
// children and a WaitForUpdatesEx long poll. Survives session expiry (re-creates its collector
// and re-lists).
#ifndef VSRAY_PROVIDER_FOLDER_WATCHER_H_
#define VSRAY_PROVIDER_FOLDER_WATCHER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/status.h"
#include "provider/node_cache.h"
#include "vsphere/session.h"
#include "vsphere/vim.h"

namespace vsray::provider {

// The filter over a folder's VM children with the properties the cache follows.
vsphere::FilterSpec FolderFilter(const vsphere::MoRef& folder);

// One RetrievePropertiesEx listing of the folder (the one-shot path).
StatusOr<std::vector<Node>> ListFolder(vsphere::Vim& vim, const vsphere::MoRef& folder);

class FolderWatcher {
 public:
  FolderWatcher(std::shared_ptr<vsphere::Session> session, vsphere::MoRef folder, NodeCache& cache);
  ~FolderWatcher();
  FolderWatcher(const FolderWatcher&) = delete;
  FolderWatcher& operator=(const FolderWatcher&) = delete;

  void Start();
  // Blocks until the first full listing is in the cache. DEADLINE_EXCEEDED after `timeout`
  // (with the last error seen, if any).
  Status WaitSynced(std::chrono::milliseconds timeout);
  // Completed long-poll rounds, and how many times the watch was (re)established.
  std::int64_t rounds() const { return rounds_.load(); }
  std::int64_t setups() const { return setups_.load(); }

 private:
  void Loop();
  Status SetUp();
  void TearDown();
  // Reads VMs whose identity the update stream has not shown (yet) directly, a few times
  // each: an update stream can report a VM before all of its properties are visible.
  void VerifyUnidentified();

  std::shared_ptr<vsphere::Session> session_;
  vsphere::Vim vim_;
  vsphere::MoRef folder_;
  NodeCache& cache_;
  vsphere::MoRef collector_;
  std::unordered_map<std::string, int> verify_attempts_;  // watcher thread only

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool synced_ = false;
  Status last_error_;
  std::thread thread_;
  std::atomic<std::int64_t> rounds_{0};
  std::atomic<std::int64_t> setups_{0};
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_FOLDER_WATCHER_H_
