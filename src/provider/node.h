// The provider's view of one VM: what the live cache keeps and what the autoscaler asks for.
#ifndef VSRAY_PROVIDER_NODE_H_
#define VSRAY_PROVIDER_NODE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ipv4.h"
#include "common/status.h"
#include "provider/tags.h"
#include "vsphere/vim.h"

namespace vsray::provider {

using TagMap = std::map<std::string, std::string>;

// The VM properties the cache follows.
const std::vector<std::string>& WatchedProperties();

struct NicInfo {
  std::string network;
  std::string mac;
  bool connected = false;
  std::vector<std::string> addresses;  // as reported, in order
};

struct Node {
  std::string id;  // managed object id, e.g. "vm-123"
  std::string name;
  std::string power_state;                                   // poweredOn | poweredOff | suspended
  std::string host;                                          // HostSystem id
  bool frozen = false;                                       // runtime.instantCloneFrozen
  std::map<int, std::string> custom;                         // customValue: field key -> value
  std::map<std::string, std::string, std::less<>> identity;  // guestinfo.vsray.* extraConfig
  std::vector<NicInfo> nics;

  std::string_view Identity(std::string_view key) const;
  // Seconds since the epoch, from guestinfo.vsray.created-at; 0 if unknown.
  std::int64_t created_at() const;
  // The tags the node was launched with (guestinfo.vsray.tag.*), by tag key.
  std::map<std::string, std::string> BirthTags() const;
};

// Applies one property (as named in WatchedProperties) to `node`.
void ApplyProperty(Node& node, std::string_view name, const vsphere::Any& value);
Node NodeFromContent(const vsphere::ObjectContent& content);

struct AddressPolicy {
  std::vector<Ipv4Cidr> ignore;
  // Port group of the internal network; empty: internal and external are the same address.
  std::string internal_network;
  // When set, replaces the rules above: gets every guest address of a node (all NICs, in NIC
  // order) and returns {internal, external} ("" = none). The cluster config's network CIDRs
  // are applied this way.
  std::function<std::pair<std::string, std::string>(const std::vector<std::string>& addresses)>
      choose;
};

// First usable IPv4 (not link-local, not loopback-unspecified, not ignored) over all NICs, in
// NIC order; with `internal_network` set, internal picks NICs on that network and external the
// others (falling back to any).
std::optional<std::string> InternalIp(const Node& node, const AddressPolicy& policy);
std::optional<std::string> ExternalIp(const Node& node, const AddressPolicy& policy);

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_NODE_H_
