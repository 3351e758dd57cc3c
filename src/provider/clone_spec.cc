#include "provider/clone_spec.h"

#include <random>

namespace vsray::provider {

TagMap LaunchTags(const TagMap& tags, const std::string& cluster) {
  TagMap all = tags;
  all[std::string(kTagRayClusterName)] = cluster;
  all.erase(std::string(kTagVsrayNodeStatus));
  return all;
}

std::string NodeName(const TagMap& tags, const std::string& cluster, const std::string& suffix) {
  if (auto it = tags.find(std::string(kTagRayNodeName)); it != tags.end() && !it->second.empty()) {
    return it->second + "-" + suffix;
  }
  std::string kind = "node";
  if (auto it = tags.find(std::string(kTagRayNodeKind)); it != tags.end() && !it->second.empty()) {
    kind = it->second;
  }
  return "ray-" + cluster + "-" + kind + "-" + suffix;
}

std::string RandomSuffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (auto& c : out) c = kHex[rng() & 0xFU];
  return out;
}

std::vector<vsphere::OptionValue> BirthTags(const TagMap& tags) {
  std::vector<vsphere::OptionValue> options;
  options.reserve(tags.size() + 1);
  for (const auto& [key, value] : tags) {
    options.push_back({std::string(kGuestinfoTagPrefix) + key, value});
  }
  options.push_back({std::string(kGuestinfoTagPrefix) + std::string(kTagVsrayNodeStatus),
                     std::string(kVsrayStatusCreating)});
  return options;
}

std::vector<vsphere::OptionValue> BirthConfig(const CloneRequest& request) {
  const auto user_type = request.tags.find(std::string(kTagRayUserNodeType));
  std::vector<vsphere::OptionValue> config = {
      {std::string(kGuestinfoCluster), request.cluster},
      {std::string(kGuestinfoNodeType),
       user_type == request.tags.end() ? std::string() : user_type->second},
      {std::string(kGuestinfoCreatedAt), std::to_string(request.created_at)}};
  if (!request.intent.empty()) config.push_back({std::string(kGuestinfoIntent), request.intent});
  // Birth tags: the node is listed with its tags (and as `creating`) from the moment it
  // exists, before any custom attribute is written, by this process or by any other.
  const auto birth_tags = BirthTags(request.tags);
  config.insert(config.end(), birth_tags.begin(), birth_tags.end());
  config.insert(config.end(), request.extra_config.begin(), request.extra_config.end());
  return config;
}

vsphere::InstantCloneSpec InstantCloneSpecFor(const CloneRequest& request) {
  vsphere::InstantCloneSpec clone;
  clone.name = request.name;
  clone.location.folder = request.folder;
  clone.location.pool = request.pool;
  clone.location.datastore = request.datastore;
  for (const auto& nic : request.parent.nics) {
    vsphere::Any connected = nic;
    vsphere::SetNicConnected(connected, true);
    clone.location.edit_devices.push_back(std::move(connected));
  }
  clone.config = BirthConfig(request);
  return clone;
}

vsphere::CloneSpec CloneSpecFor(const CloneRequest& request, CloneMode mode,
                                const vsphere::MoRef& snapshot) {
  vsphere::CloneSpec clone;
  clone.location.folder = request.folder;
  clone.location.pool = request.pool.empty() ? request.parent.pool : request.pool;
  clone.location.datastore = request.datastore;
  // Spread like instant clones: on the parent's host, unless the node must run elsewhere.
  clone.location.host = request.host.empty() ? request.parent.host : request.host;
  clone.extra_config = BirthConfig(request);
  if (mode == CloneMode::kLinked) {
    clone.snapshot = snapshot;
    clone.location.disk_move_type = "createNewChildDiskBacking";
  }
  return clone;
}

}  // namespace vsray::provider
