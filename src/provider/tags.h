// The one vocabulary of node tags and identity: Ray's tag keys and values, exactly as Ray's
// `ray/autoscaler/tags.py` spells them, and vsray's own keys. The provider, the cluster bridge,
// the CLI and the Python module (which exports them to vsray.ray_provider) all use these.
#ifndef VSRAY_PROVIDER_TAGS_H_
#define VSRAY_PROVIDER_TAGS_H_

#include <string_view>

namespace vsray::provider {

// Ray's tag keys (TAG_RAY_*). Note Ray's legacy spelling: the node KIND (head/worker) lives
// under "ray-node-type"; the user's node type name under "ray-user-node-type".
inline constexpr std::string_view kTagRayNodeName = "ray-node-name";
inline constexpr std::string_view kTagRayNodeKind = "ray-node-type";
inline constexpr std::string_view kTagRayUserNodeType = "ray-user-node-type";
inline constexpr std::string_view kTagRayNodeStatus = "ray-node-status";
inline constexpr std::string_view kTagRayClusterName = "ray-cluster-name";
inline constexpr std::string_view kTagRayLaunchConfig = "ray-launch-config";
inline constexpr std::string_view kTagRayRuntimeConfig = "ray-runtime-config";
inline constexpr std::string_view kTagRayFileMountsContents = "ray-file-mounts-contents";
inline constexpr std::string_view kTagRayLaunchRequest = "ray-launch-request";
inline constexpr std::string_view kTagRayReplicaIndex = "ray-replica-index";

// Values of kTagRayNodeKind (NODE_KIND_*).
inline constexpr std::string_view kNodeKindHead = "head";
inline constexpr std::string_view kNodeKindWorker = "worker";
inline constexpr std::string_view kNodeKindUnmanaged = "unmanaged";

// Values of kTagRayUserNodeType that Ray gives the node types of legacy configs (head_node /
// worker_nodes instead of available_node_types). vsray never writes them.
inline constexpr std::string_view kNodeTypeLegacyHead = "ray-legacy-head-node-type";
inline constexpr std::string_view kNodeTypeLegacyWorker = "ray-legacy-worker-node-type";

// Values of kTagRayNodeStatus (STATUS_*).
inline constexpr std::string_view kRayStatusUninitialized = "uninitialized";
inline constexpr std::string_view kRayStatusWaitingForSsh = "waiting-for-ssh";
inline constexpr std::string_view kRayStatusSyncingFiles = "syncing-files";
inline constexpr std::string_view kRayStatusSettingUp = "setting-up";
inline constexpr std::string_view kRayStatusUpdateFailed = "update-failed";
inline constexpr std::string_view kRayStatusUpToDate = "up-to-date";

// vsray's own tag: where a node is in its creation (not one of Ray's; never mirrored).
inline constexpr std::string_view kTagVsrayNodeStatus = "vsray-node-status";
inline constexpr std::string_view kVsrayStatusCreating = "creating";
inline constexpr std::string_view kVsrayStatusCreated = "created";

// guestinfo keys set in the clone spec (extraConfig): a node's identity from birth, readable
// even if the process that made it died before any tag was written.
inline constexpr std::string_view kGuestinfoCluster = "guestinfo.vsray.cluster";
inline constexpr std::string_view kGuestinfoNodeType = "guestinfo.vsray.node-type";
inline constexpr std::string_view kGuestinfoCreatedAt = "guestinfo.vsray.created-at";
// What the creating run still meant to do once the VM existed (its create intent), so that a
// later run can finish a node whose creator died: "cpus=4;memory_mb=8192;clone=instant"
// (each part optional). See provider/repair.h.
inline constexpr std::string_view kGuestinfoIntent = "guestinfo.vsray.intent";

// The GPUs a node is made with (a count), set only on GPU nodes: their set-up powers the VM
// off and on again, so their addresses are not given out before they are `created`.
inline constexpr std::string_view kGuestinfoGpus = "guestinfo.vsray.gpus";
// Prefix of the birth tags: "guestinfo.vsray.tag.<ray tag key>" = the value the node was
// launched with. A node's tags are its birth tags overlaid with its custom attributes.
inline constexpr std::string_view kGuestinfoTagPrefix = "guestinfo.vsray.tag.";

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_TAGS_H_
