// Cloud-init for nodes: a `#cloud-config` userdata that creates the SSH user with the
// authorized keys (no password, password login off), instance metadata, and the guestinfo
// keys that carry both to the guest (cloud-init's VMware datasource reads them).
#ifndef VSRAY_CONFIG_USERDATA_H_
#define VSRAY_CONFIG_USERDATA_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "config/cluster_config.h"

namespace vsray::config {

// (key, value) pairs for a VM's extraConfig; the provider turns them into OptionValues.
using GuestinfoPairs = std::vector<std::pair<std::string, std::string>>;

// "#cloud-config" + YAML: user `ssh_user` (sudo without password, groups sudo and docker,
// password locked) with `ssh_authorized_keys`; ssh_pwauth false. No password anywhere.
std::string MakeCloudConfig(std::string_view ssh_user,
                            const std::vector<std::string>& ssh_authorized_keys);

// JSON: {"instance-id": ..., "local-hostname": ...}. A new instance-id makes cloud-init treat
// the guest as a new instance.
std::string MakeMetadata(std::string_view instance_id, std::string_view local_hostname);

// guestinfo.userdata, guestinfo.userdata.encoding = base64, guestinfo.metadata,
// guestinfo.metadata.encoding = base64.
GuestinfoPairs MakeGuestinfo(std::string_view userdata, std::string_view metadata);

// All of the above from the config: the four guestinfo pairs for a node (or frozen VM) named
// `vm_name`, or none when cloud_init.enabled is false. The hostname is HostnameFor(vm_name).
GuestinfoPairs CloudInitGuestinfo(const CloudInitConfig& cloud_init, std::string_view vm_name,
                                  std::string_view instance_id);

// A valid host name (RFC 1123 label) from a VM name: lower case, [a-z0-9-], at most 63
// characters, no leading or trailing '-'; "ray-node" if nothing is left.
std::string HostnameFor(std::string_view vm_name);

std::string Base64Encode(std::string_view data);
// Standard alphabet, padding required; INVALID_ARGUMENT on anything else.
StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace vsray::config

#endif  // VSRAY_CONFIG_USERDATA_H_
