// The live cache of a cluster's VMs. Fed by the folder watcher (or a one-shot listing) and by
// the provider's own writes, so that a node is visible right after create_node returns and gone
// right after terminate_node returns, even before vCenter's update stream says so.
#ifndef VSRAY_PROVIDER_NODE_CACHE_H_
#define VSRAY_PROVIDER_NODE_CACHE_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "provider/node.h"
#include "vsphere/vim.h"

namespace vsray::provider {

class NodeCache {
 public:
  using SteadyClock = std::chrono::steady_clock;

  // How long a value we wrote shadows what vCenter reports, if vCenter never confirms it
  // (someone else changed it meanwhile).
  static constexpr std::chrono::seconds kPendingTtl{60};

  // Replaces the whole content with a full listing.
  void Reset(std::vector<Node> nodes);
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

 private:
  struct Pending {
    std::string value;
    SteadyClock::time_point written;
  };
  Node Merged(const Node& node) const;
  void ConfirmPending(const Node& node);

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Node> nodes_;
  std::unordered_map<std::string, std::map<int, Pending>> pending_;
  std::unordered_set<std::string> removed_;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_NODE_CACHE_H_
