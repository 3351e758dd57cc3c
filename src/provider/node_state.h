// How one cluster reads the VMs of its folder: whose they are, their tags, whether Ray counts
// them as running or terminated, and what a provider starting up does with each (crash
// recovery). Pure functions of a Node and the keys of a few custom attributes, so that the
// rules are unit-tested alone; the provider feeds them from its cache.
#ifndef VSRAY_PROVIDER_NODE_STATE_H_
#define VSRAY_PROVIDER_NODE_STATE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "provider/node.h"

namespace vsray::provider {

struct NodeReader {
  std::string cluster;   // this cluster's name
  int cluster_key = -1;  // the key of attribute ray-cluster-name; -1 while undefined
  int status_key = -1;   // the key of attribute vsray-node-status; -1 while undefined

  // Tag `name` of `node`: its custom attribute (key `key`), else its birth tag; null if
  // neither.
  static const std::string* Tag(const Node& node, int key, std::string_view name);
  // vsray's own status of the node (creating | created); null if unknown.
  const std::string* Status(const Node& node) const;
  // This cluster's: its guestinfo identity names the cluster, or (identity not reported yet)
  // its ray-cluster-name attribute does. Nothing else is ever ours, even in our folder.
  bool IsOurs(const Node& node) const;
  // Ray's non-terminated: ours, not a frozen VM, and powered on (or off while `creating`).
  bool IsNonTerminated(const Node& node) const;
  // Ray's terminated: not ours, or neither powered on nor off-while-`creating`.
  bool IsTerminated(const Node& node) const;
};

// What a provider starting up does with a VM it finds in its folder. (More decisions about
// half-made nodes, e.g. finishing one from its birth tags, belong here, as pure functions of
// the node's state.)
enum class StartAction {
  kKeep,    // a finished node, a young one (maybe another provider's creation in progress)
  kIgnore,  // not ours, or a frozen VM: never touched
  kRemove,  // ours, left `creating` longer than the timeout: a crash's leftover
};
// `frozen_parent`: the VM is a known frozen VM (a parent). `now`: seconds since the epoch.
StartAction DecideAtStart(const NodeReader& reader, const Node& node, bool frozen_parent,
                          std::int64_t now, std::chrono::seconds creating_timeout);

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_NODE_STATE_H_
