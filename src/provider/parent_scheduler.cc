#include "provider/parent_scheduler.h"

#include <limits>

namespace vsray::provider {

ParentScheduler::Lease ParentScheduler::Pick(const std::vector<FrozenVm>& parents,
                                             const std::string& set, const std::string& node_name,
                                             const std::function<NodesPerHost()>& known) {
  std::lock_guard lock(mu_);
  // The load of a host: this cluster's nodes on it, known or in flight, each counted once.
  NodesPerHost load = known();
  for (const auto& [host, names] : inflight_) load[host].insert(names.begin(), names.end());
  const std::size_t n = parents.size();
  std::size_t& next = next_[set];
  std::size_t best = 0;
  std::size_t best_load = std::numeric_limits<std::size_t>::max();
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t i = (next + step) % n;
    const std::size_t l = load[parents[i].host.value].size();
    if (l < best_load) {
      best_load = l;
      best = i;
    }
  }
  next = best + 1;
  inflight_[parents[best].host.value].insert(node_name);
  return {this, parents[best], node_name};
}

NodesPerHost ParentScheduler::InFlight() const {
  std::lock_guard lock(mu_);
  NodesPerHost out;
  for (const auto& [host, names] : inflight_) {
    if (!names.empty()) out[host] = names;
  }
  return out;
}

void ParentScheduler::Release(const std::string& host, const std::string& node_name) {
  std::lock_guard lock(mu_);
  inflight_[host].erase(node_name);
}

}  // namespace vsray::provider
