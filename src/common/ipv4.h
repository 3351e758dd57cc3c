// IPv4 addresses and CIDR blocks, as the cluster config names networks and the provider picks
// node addresses. The one parser of both.
#ifndef VSRAY_COMMON_IPV4_H_
#define VSRAY_COMMON_IPV4_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vsray {

struct Ipv4Cidr {
  std::uint32_t network = 0;  // host byte order, host bits zero
  int prefix_length = 32;

  bool Contains(std::uint32_t address) const;
  std::string ToString() const;  // "10.0.0.0/8"
  friend bool operator==(const Ipv4Cidr&, const Ipv4Cidr&) = default;
};

// "a.b.c.d" (decimal, no leading zeros) -> address in host byte order.
std::optional<std::uint32_t> ParseIpv4(std::string_view text);
// "a.b.c.d/n" or "a.b.c.d" (= /32). INVALID_ARGUMENT (plain message, no location) if malformed
// or if host bits are set.
StatusOr<Ipv4Cidr> ParseIpv4Cidr(std::string_view text);

}  // namespace vsray

#endif  // VSRAY_COMMON_IPV4_H_
