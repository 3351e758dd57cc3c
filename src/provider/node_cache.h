// The live cache of a cluster's VMs. Fed by the folder watcher (or a one-shot listing) and by
// the provider's own writes, so that a node is visible right after create_node returns and gone
// right after terminate_node returns, even before vCenter's update stream says so.
#ifndef VSRAY_PROVIDER_NODE_CACHE_H_
#define VSRAY_PROVIDER_NODE_CACHE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "provider/node.h"
#include "vsphere/vim.h"

namespace vsray::provider {

class NodeCache {
 public:
  using SteadyClock = std::chrono::steady_clock;

  // `clock` (not owned, must outlive the cache) times pending values; default: the system's.
  explicit NodeCache(const Clock& clock = SystemClock::Instance()) : clock_(clock) {}

  // How long a value we wrote shadows what vCenter reports, if vCenter never confirms it
  // (someone else changed it meanwhile).
  static constexpr std::chrono::seconds kPendingTtl{60};

  struct ReconcileStats {
    int added = 0;    // listed, not cached before
    int removed = 0;  // cached before, not listed (and not just created by us)
  };
  // Makes the cache match a full listing of the folder: listed nodes are added or replaced,
  // cached ones the listing lacks are dropped, except nodes we created within kPendingTtl
  // (the listing may predate them). Values we wrote and vCenter has not confirmed yet keep
  // shadowing the listing's; nodes we terminated stay hidden.
  ReconcileStats Reconcile(std::vector<Node> nodes);
  // Applies WaitForUpdatesEx results.
  void Apply(const vsphere::UpdateSet& updates);

  // Read-your-writes: a node we just created (its tags also become pending values).
  void Put(Node node);
  // Custom field values we just wrote to `id`.
  void SetPending(const std::string& id, const std::map<int, std::string>& values);
  // A node we just terminated: hidden from now on.
  void Remove(const std::string& id);

  std::optional<Node> Get(const std::string& id) const;
  bool WasRemoved(const std::string& id) const;
  // Calls `fn` for every node (pending values merged) under a shared lock: `fn` must not call
  // back into the cache.
  void ForEach(const std::function<void(const Node&)>& fn) const;
  std::size_t size() const;

  // A number that changes with every change of the cache (a listing, an update, a write).
  // Lock-free.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  // The word version() reads, for readers outside C++ that poll it (the Python module's
  // buffer): an aligned, lock-free 64-bit word, stored with release order.
  const std::atomic<std::uint64_t>& version_word() const { return version_; }
  // Blocks until version() differs from `seen` or `max_wait` has passed (whichever comes
  // first); returns version(). For waiting on a condition of the cache without polling.
  std::uint64_t WaitForChange(std::uint64_t seen, Clock::Duration max_wait) const;

 private:
  struct Pending {
    std::string value;
    SteadyClock::time_point written;
  };
  Node Merged(const Node& node) const;
  void ConfirmPending(const Node& node);
  // Wakes WaitForChange callers. Called by every writer (lock order: mu_, then change_mu_).
  void Changed();

  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Node> nodes_;
  std::unordered_map<std::string, std::map<int, Pending>> pending_;
  std::unordered_set<std::string> removed_;

  mutable std::mutex change_mu_;
  mutable std::condition_variable change_cv_;
  // Written under change_mu_ (for WaitForChange), read without it.
  std::atomic<std::uint64_t> version_{0};
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_NODE_CACHE_H_
