#include "provider/node_cache.h"

#include <algorithm>
#include <mutex>

namespace vsray::provider {

NodeCache::ReconcileStats NodeCache::Reconcile(std::vector<Node> nodes) {
  std::unique_lock lock(mu_);
  ReconcileStats stats;
  const auto now = clock_.Now();
  std::unordered_set<std::string> listed;
  std::unordered_map<std::string, Node> fresh;
  fresh.reserve(nodes.size());
  for (auto& node : nodes) {
    listed.insert(node.id);
    if (removed_.contains(node.id)) continue;
    if (!nodes_.contains(node.id)) ++stats.added;
    ConfirmPending(node);
    std::string id = node.id;
    fresh.emplace(std::move(id), std::move(node));
  }
  // Tombstones of VMs that are gone for good are no longer needed.
  for (auto it = removed_.begin(); it != removed_.end();) {
    it = listed.contains(*it) ? std::next(it) : removed_.erase(it);
  }
  for (auto& [id, node] : nodes_) {
    if (fresh.contains(id)) continue;
    // A node we created recently that the listing doesn't show yet stays (the listing may
    // predate it); one whose writes are all older than that is gone.
    auto pending = pending_.find(id);
    const bool recent =
        pending != pending_.end() &&
        std::any_of(pending->second.begin(), pending->second.end(),
                    [&](const auto& p) { return now - p.second.written <= kPendingTtl; });
    if (recent) {
      fresh.emplace(id, std::move(node));
    } else {
      ++stats.removed;
      if (pending != pending_.end()) pending_.erase(pending);
    }
  }
  nodes_ = std::move(fresh);
  Changed();
  return stats;
}

void NodeCache::Apply(const vsphere::UpdateSet& updates) {
  std::unique_lock lock(mu_);
  for (const auto& object : updates.objects) {
    if (object.obj.type != "VirtualMachine") continue;
    const std::string& id = object.obj.value;
    if (object.kind == "leave") {
      nodes_.erase(id);
      pending_.erase(id);
      removed_.erase(id);
      continue;
    }
    if (removed_.contains(id)) continue;
    Node& node = nodes_[id];
    node.id = id;
    for (const auto& change : object.changes) {
      if (change.op == "remove" || change.op == "indirectRemove") {
        ApplyProperty(node, change.name, vsphere::Any{});
      } else {
        ApplyProperty(node, change.name, change.val);
      }
    }
    ConfirmPending(node);
  }
  Changed();
}

void NodeCache::Put(Node node) {
  std::unique_lock lock(mu_);
  const auto now = clock_.Now();
  auto& pending = pending_[node.id];
  for (const auto& [key, value] : node.custom) pending[key] = {value, now};
  removed_.erase(node.id);
  std::string id = node.id;
  nodes_[id] = std::move(node);
  Changed();
}

void NodeCache::SetPending(const std::string& id, const std::map<int, std::string>& values) {
  std::unique_lock lock(mu_);
  const auto now = clock_.Now();
  auto& pending = pending_[id];
  // Only as pending values (merged into what readers get): written into the node as vCenter
  // reported it, the next unrelated update of the node would "confirm" them.
  for (const auto& [key, value] : values) pending[key] = {value, now};
  Changed();
}

void NodeCache::Remove(const std::string& id) {
  std::unique_lock lock(mu_);
  nodes_.erase(id);
  pending_.erase(id);
  removed_.insert(id);
  Changed();
}

// Caller holds mu_ exclusively.
void NodeCache::ConfirmPending(const Node& node) {
  auto it = pending_.find(node.id);
  if (it == pending_.end()) return;
  const auto now = clock_.Now();
  for (auto p = it->second.begin(); p != it->second.end();) {
    const auto reported = node.custom.find(p->first);
    const bool confirmed = reported != node.custom.end() && reported->second == p->second.value;
    p = (confirmed || now - p->second.written > kPendingTtl) ? it->second.erase(p) : std::next(p);
  }
  if (it->second.empty()) pending_.erase(it);
}

// Caller holds mu_ (shared is enough).
Node NodeCache::Merged(const Node& node) const {
  auto it = pending_.find(node.id);
  if (it == pending_.end()) return node;
  Node merged = node;
  for (const auto& [key, pending] : it->second) merged.custom[key] = pending.value;
  return merged;
}

std::optional<Node> NodeCache::Get(const std::string& id) const {
  std::shared_lock lock(mu_);
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return std::nullopt;
  return Merged(it->second);
}

bool NodeCache::WasRemoved(const std::string& id) const {
  std::shared_lock lock(mu_);
  return removed_.contains(id);
}

void NodeCache::ForEach(const std::function<void(const Node&)>& fn) const {
  std::shared_lock lock(mu_);
  for (const auto& [id, node] : nodes_) {
    if (pending_.contains(id)) {
      fn(Merged(node));
    } else {
      fn(node);
    }
  }
}

void NodeCache::Changed() {
  {
    std::lock_guard lock(change_mu_);
    version_.fetch_add(1, std::memory_order_release);
  }
  change_cv_.notify_all();
}

std::uint64_t NodeCache::WaitForChange(std::uint64_t seen, Clock::Duration max_wait) const {
  std::unique_lock lock(change_mu_);
  change_cv_.wait_for(lock, max_wait, [&] { return version() != seen; });
  return version();
}

std::size_t NodeCache::size() const {
  std::shared_lock lock(mu_);
  return nodes_.size();
}

}  // namespace vsray::provider
