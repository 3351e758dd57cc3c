#include "provider/node_state.h"

namespace vsray::provider {

const std::string* NodeReader::Tag(const Node& node, int key, std::string_view name) {
  if (const auto it = node.custom.find(key); it != node.custom.end()) return &it->second;
  const auto birth = node.identity.find(std::string(kGuestinfoTagPrefix) + std::string(name));
  return birth == node.identity.end() ? nullptr : &birth->second;
}

const std::string* NodeReader::Status(const Node& node) const {
  return Tag(node, status_key, kTagVsrayNodeStatus);
}

bool NodeReader::IsOurs(const Node& node) const {
  const std::string_view identity = node.Identity(kGuestinfoCluster);
  if (!identity.empty()) return identity == cluster;
  // No guestinfo identity reported (yet): the ray-cluster-name attribute, which only this
  // provider writes, identifies the node too.
  const auto value = node.custom.find(cluster_key);
  return value != node.custom.end() && value->second == cluster;
}

bool NodeReader::IsNonTerminated(const Node& node) const {
  if (!IsOurs(node) || node.frozen) return false;
  if (node.power_state == "poweredOn") return true;
  const std::string* status = Status(node);
  return node.power_state == "poweredOff" && status != nullptr && *status == kVsrayStatusCreating;
}

bool NodeReader::IsTerminated(const Node& node) const {
  if (!IsOurs(node)) return true;
  if (node.power_state == "poweredOn") return false;
  const std::string* status = Status(node);
  return status == nullptr || *status != kVsrayStatusCreating;
}

StartAction DecideAtStart(const NodeReader& reader, const Node& node, bool frozen_parent,
                          std::int64_t now, std::chrono::seconds creating_timeout) {
  if (!reader.IsOurs(node) || node.frozen || frozen_parent) return StartAction::kIgnore;
  if (node.created_at() == 0) return StartAction::kKeep;  // no birth date: not ours to judge
  const std::string* status = reader.Status(node);
  if (status != nullptr && *status == kVsrayStatusCreated) return StartAction::kKeep;
  return now - node.created_at() > creating_timeout.count() ? StartAction::kRemove
                                                            : StartAction::kKeep;
}

}  // namespace vsray::provider
