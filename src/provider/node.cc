#include "provider/node.h"

#include <algorithm>
#include <charconv>

namespace vsray::provider {
namespace {

using vsphere::Any;

std::int64_t ParseInt64(std::string_view text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::vector<NicInfo> DecodeGuestNet(const Any& value) {
  std::vector<NicInfo> nics;
  for (const auto& [element, nic] : value.fields) {
    NicInfo info;
    info.network = nic.TextAt("network");
    info.mac = nic.TextAt("macAddress");
    info.connected = nic.TextAt("connected") == "true";
    // ipConfig carries every address; ipAddress is the older flat list. Prefer the former.
    if (const Any* config = nic.Get("ipConfig")) {
      for (const Any* address : config->All("ipAddress")) {
        info.addresses.emplace_back(address->TextAt("ipAddress"));
      }
    }
    if (info.addresses.empty()) {
      for (const Any* address : nic.All("ipAddress")) info.addresses.push_back(address->text);
    }
    nics.push_back(std::move(info));
  }
  return nics;
}

bool UsableIpv4(const std::string& text, const AddressPolicy& policy) {
  const auto address = ParseIpv4(text);
  if (!address) return false;
  if ((*address & 0xFFFF0000U) == 0xA9FE0000U) return false;  // 169.254/16 link-local
  if (*address == 0) return false;
  return std::ranges::none_of(policy.ignore,
                              [&](const Ipv4Cidr& cidr) { return cidr.Contains(*address); });
}

std::optional<std::string> FirstIpv4(const Node& node, const AddressPolicy& policy,
                                     int on_internal /* 1 yes, 0 no, -1 any */) {
  for (const auto& nic : node.nics) {
    if (on_internal == 1 && nic.network != policy.internal_network) continue;
    if (on_internal == 0 && nic.network == policy.internal_network) continue;
    for (const auto& address : nic.addresses) {
      if (UsableIpv4(address, policy)) return address;
    }
  }
  return std::nullopt;
}

}  // namespace

const std::vector<std::string>& WatchedProperties() {
  static const std::vector<std::string> kProperties = {
      "name",        "runtime.powerState", "runtime.host",      "runtime.instantCloneFrozen",
      "customValue", "guest.net",          "config.extraConfig"};
  return kProperties;
}

std::string_view Node::Identity(std::string_view key) const {
  const auto it = identity.find(key);
  if (it == identity.end()) return {};
  return it->second;
}

std::int64_t Node::created_at() const { return ParseInt64(Identity(kGuestinfoCreatedAt)); }

std::map<std::string, std::string> Node::BirthTags() const {
  std::map<std::string, std::string> tags;
  for (auto it = identity.lower_bound(kGuestinfoTagPrefix);
       it != identity.end() && it->first.starts_with(kGuestinfoTagPrefix); ++it) {
    tags[it->first.substr(kGuestinfoTagPrefix.size())] = it->second;
  }
  return tags;
}

void ApplyProperty(Node& node, std::string_view name, const Any& value) {
  if (name == "name") {
    node.name = value.text;
  } else if (name == "runtime.powerState") {
    node.power_state = value.text;
  } else if (name == "runtime.host") {
    node.host = value.text;
  } else if (name == "runtime.instantCloneFrozen") {
    node.frozen = value.text == "true";
  } else if (name == "customValue") {
    node.custom.clear();
    for (const auto& [element, field] : value.fields) {
      node.custom[static_cast<int>(ParseInt64(field.TextAt("key")))] = field.TextAt("value");
    }
  } else if (name == "guest.net") {
    node.nics = DecodeGuestNet(value);
  } else if (name == "config.extraConfig") {
    // Identity is set once, at birth: an update that lacks it (a partial report) never
    // erases what was seen.
    for (const auto& [element, option] : value.fields) {
      const std::string_view key = option.TextAt("key");
      // Only our own keys: the rest of extraConfig can be large and is of no use here.
      if (key.starts_with("guestinfo.vsray."))
        node.identity[std::string(key)] = option.TextAt("value");
    }
  }
}

Node NodeFromContent(const vsphere::ObjectContent& content) {
  Node node;
  node.id = content.obj.value;
  for (const auto& [name, value] : content.props) ApplyProperty(node, name, value);
  return node;
}

namespace {

std::optional<std::string> Chosen(const Node& node, const AddressPolicy& policy, bool internal) {
  std::vector<std::string> addresses;
  for (const auto& nic : node.nics) {
    addresses.insert(addresses.end(), nic.addresses.begin(), nic.addresses.end());
  }
  auto [internal_ip, external_ip] = policy.choose(addresses);
  std::string& chosen = internal ? internal_ip : external_ip;
  if (chosen.empty()) return std::nullopt;
  return std::move(chosen);
}

}  // namespace

std::optional<std::string> InternalIp(const Node& node, const AddressPolicy& policy) {
  if (policy.choose) return Chosen(node, policy, true);
  if (policy.internal_network.empty()) return FirstIpv4(node, policy, -1);
  return FirstIpv4(node, policy, 1);
}

std::optional<std::string> ExternalIp(const Node& node, const AddressPolicy& policy) {
  if (policy.choose) return Chosen(node, policy, false);
  if (policy.internal_network.empty()) return FirstIpv4(node, policy, -1);
  auto external = FirstIpv4(node, policy, 0);
  return external ? external : FirstIpv4(node, policy, 1);
}

}  // namespace vsray::provider
