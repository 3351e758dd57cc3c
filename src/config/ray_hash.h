// Ray's launch hash (the `ray-launch-config` tag), computed as Ray computes it, so that nodes
// vsray creates are up to date for Ray's launcher and autoscaler: `ray up` keeps a head made by
// `vsray up`, and Ray's autoscaler does not replace its workers as outdated.
//
// Ray: sha1(json.dumps([node_config, auth], sort_keys=True)).hexdigest(), where auth has the
// contents of the files named by ssh_private_key and ssh_public_key in place of their paths.
#ifndef VSRAY_CONFIG_RAY_HASH_H_
#define VSRAY_CONFIG_RAY_HASH_H_

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace vsray::config {

// `value` as Python's json.dumps(value, sort_keys=True) writes it (", " and ": " separators,
// non-ASCII and control characters escaped as \uXXXX, NaN and Infinity as Python spells them).
std::string PythonJsonDumps(const nlohmann::json& value);

// Lower-case hex SHA-1 of `data`.
std::string Sha1Hex(const std::string& data);

// The launch hash of a node type: its node_config (as bootstrap completed it) and the cluster's
// auth (key paths absolute). NOT_FOUND / PERMISSION_DENIED when a key file cannot be read.
StatusOr<std::string> RayLaunchHash(const nlohmann::json& node_config, const nlohmann::json& auth);

}  // namespace vsray::config

#endif  // VSRAY_CONFIG_RAY_HASH_H_
