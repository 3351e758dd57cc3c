// The clone spec of a new node, built by pure functions (no vCenter call), so that unit tests
// can inspect exactly what a clone is asked for: its name, where it goes, and the extraConfig
// that makes its identity and birth tags (guestinfo.vsray.*) part of the VM from its first
// moment.
#ifndef VSRAY_PROVIDER_CLONE_SPEC_H_
#define VSRAY_PROVIDER_CLONE_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "provider/frozen_vm.h"
#include "provider/node.h"
#include "provider/vocabulary.h"
#include "vsphere/vim.h"

namespace vsray::provider {

// Everything a new node's clone spec depends on.
struct CloneRequest {
  std::string name;     // the new VM's name
  std::string cluster;  // this cluster's name
  FrozenVm parent;
  vsphere::MoRef folder;        // the cluster's VM folder
  vsphere::MoRef pool;          // empty: the parent's
  vsphere::MoRef datastore;     // empty: the parent's
  vsphere::MoRef host;          // linked and full clones; empty: the parent's
  TagMap tags;                  // Ray's tags the node is launched with (LaunchTags)
  std::int64_t created_at = 0;  // seconds since the epoch
  std::string intent;           // FormatIntent (repair.h): what set-up still has to do
  std::vector<vsphere::OptionValue> extra_config;  // the node type's, then the node's own
};

// Ray's tags of a node launched with `tags`: those, plus ray-cluster-name, minus vsray's own
// status (which vsray sets).
TagMap LaunchTags(const TagMap& tags, const std::string& cluster);

// The name of a new node: "<ray-node-name>-<suffix>" when Ray names it, else
// "ray-<cluster>-<kind>-<suffix>" (kind from ray-node-type, "node" when unset).
std::string NodeName(const TagMap& tags, const std::string& cluster, const std::string& suffix);
// 8 random hex digits.
std::string RandomSuffix();

// The birth tags of a node launched with LaunchTags `tags`, as extraConfig options
// (guestinfo.vsray.tag.<key>): each tag, then vsray-node-status=creating.
std::vector<vsphere::OptionValue> BirthTags(const TagMap& tags);

// The extraConfig a node is born with: identity (cluster, user node type, birth time, create
// intent), birth tags (each launch tag and vsray-node-status=creating), then
// request.extra_config.
std::vector<vsphere::OptionValue> BirthConfig(const CloneRequest& request);

// An instant clone on the parent's host, in the cluster folder, its NICs connected (the
// frozen VM keeps its own disconnected, so that it holds no address; the clone renews its
// network as it resumes).
vsphere::InstantCloneSpec InstantCloneSpecFor(const CloneRequest& request);
// A linked (from `snapshot`) or full clone, placed like an instant clone: on the parent's
// host (or request.host: a GPU node's host without a usable parent), in its pool unless the
// request names one.
vsphere::CloneSpec CloneSpecFor(const CloneRequest& request, CloneMode mode,
                                const vsphere::MoRef& snapshot);

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_CLONE_SPEC_H_
