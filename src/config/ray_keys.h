// The keys of Ray's cluster config that vsray's loader knows, from Ray's schema
// (ray/autoscaler/ray-schema.json): Ray rejects any other key in these mappings, and so does
// vsray, with a "did you mean". `provider` is open (each provider has its own keys) except for
// provider.vsphere_config, which vsray checks itself.
#ifndef VSRAY_CONFIG_RAY_KEYS_H_
#define VSRAY_CONFIG_RAY_KEYS_H_

#include <string>
#include <string_view>
#include <vector>

namespace vsray::config {

// The top level of a cluster config.
const std::vector<std::string>& RayTopLevelKeys();
// One entry of available_node_types.
const std::vector<std::string>& RayNodeTypeKeys();
// auth.
const std::vector<std::string>& RayAuthKeys();
// docker, at the top level and inside a node type.
const std::vector<std::string>& RayDockerKeys();
const std::vector<std::string>& RayNodeTypeDockerKeys();

// The command lists (each a list of strings).
const std::vector<std::string>& RayCommandKeys();
// The value of a command list that is not given: Ray's vSphere defaults for the two start
// lists (start Ray, the head with the autoscaler on ~/ray_bootstrap_config.yaml), else empty.
std::vector<std::string> RayDefaultCommands(std::string_view key);

}  // namespace vsray::config

#endif  // VSRAY_CONFIG_RAY_KEYS_H_
