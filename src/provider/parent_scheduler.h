// Chooses the parent (frozen VM) of each new node: the one on the host with the fewest of this
// cluster's nodes, known or being made, round-robin among equals, so that clones spread over
// hosts. Holds the nodes in flight per host until their lease ends. Thread-safe.
//
// Later capabilities plug in here: a device allocator (GPU passthrough) consulted once a
// parent is chosen, and per-host limits on clones in flight.
#ifndef VSRAY_PROVIDER_PARENT_SCHEDULER_H_
#define VSRAY_PROVIDER_PARENT_SCHEDULER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "provider/frozen_vm.h"

namespace vsray::provider {

// Host id -> names of this cluster's nodes on it.
using NodesPerHost = std::map<std::string, std::set<std::string>>;

class ParentScheduler {
 public:
  class Lease;

  // Picks the parent of node `node_name` among `parents` (not empty) of parent set `set` (a
  // frozen-VM spec's key: each set has its own round robin), counting the nodes `known()`
  // returns (the cache's, per host) and the nodes in flight. The node counts as in flight on
  // the chosen host until the lease is destroyed. `known` runs under the scheduler's lock, so
  // that a node leaving flight for the cache meanwhile is counted once, not zero times.
  Lease Pick(const std::vector<FrozenVm>& parents, const std::string& set,
             const std::string& node_name, const std::function<NodesPerHost()>& known);

  // Nodes in flight per host (for tests and logs).
  NodesPerHost InFlight() const;

 private:
  void Release(const std::string& host, const std::string& node_name);

  mutable std::mutex mu_;
  NodesPerHost inflight_;                    // host -> node names
  std::map<std::string, std::size_t> next_;  // set -> round-robin position
};

// The choice of a parent, and the node's place in flight on its host while it lives.
class ParentScheduler::Lease {
 public:
  Lease(ParentScheduler* scheduler, FrozenVm parent, std::string node_name)
      : scheduler_(scheduler), parent_(std::move(parent)), node_name_(std::move(node_name)) {}
  ~Lease() {
    if (scheduler_ != nullptr) scheduler_->Release(parent_.host.value, node_name_);
  }
  Lease(Lease&& other) noexcept
      : scheduler_(std::exchange(other.scheduler_, nullptr)),
        parent_(std::move(other.parent_)),
        node_name_(std::move(other.node_name_)) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Lease& operator=(Lease&&) = delete;

  const FrozenVm& parent() const { return parent_; }

 private:
  ParentScheduler* scheduler_;
  FrozenVm parent_;
  std::string node_name_;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_PARENT_SCHEDULER_H_
