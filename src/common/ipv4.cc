#include "common/ipv4.h"

#include <algorithm>
#include <string>

namespace vsray {

bool Ipv4Cidr::Contains(std::uint32_t address) const {
  if (prefix_length == 0) return true;
  const std::uint32_t mask = ~std::uint32_t{0} << static_cast<unsigned>(32 - prefix_length);
  return (address & mask) == network;
}

std::string Ipv4Cidr::ToString() const {
  return std::to_string(network >> 24U) + "." + std::to_string((network >> 16U) & 0xffU) + "." +
         std::to_string((network >> 8U) & 0xffU) + "." + std::to_string(network & 0xffU) + "/" +
         std::to_string(prefix_length);
}

std::optional<std::uint32_t> ParseIpv4(std::string_view text) {
  std::uint32_t address = 0;
  int parts = 0;
  while (parts < 4) {
    std::size_t digits = 0;
    std::uint32_t part = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9' && digits < 3) {
      part = part * 10 + static_cast<std::uint32_t>(text[digits] - '0');
      ++digits;
    }
    if (digits == 0 || part > 255 || (digits > 1 && text[0] == '0')) return std::nullopt;
    address = (address << 8U) | part;
    text.remove_prefix(digits);
    ++parts;
    if (parts < 4) {
      if (text.empty() || text[0] != '.') return std::nullopt;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return std::nullopt;
  return address;
}

StatusOr<Ipv4Cidr> ParseIpv4Cidr(std::string_view text) {
  const auto bad = [&]() {
    return InvalidArgumentError("'" + std::string(text) +
                                "' is not an IPv4 CIDR; expected a.b.c.d/n (n from 0 to 32) or "
                                "a.b.c.d");
  };
  Ipv4Cidr cidr;
  const std::size_t slash = text.find('/');
  const auto address = ParseIpv4(text.substr(0, slash));
  if (!address) return bad();
  if (slash != std::string_view::npos) {
    const std::string_view length = text.substr(slash + 1);
    if (length.empty() || length.size() > 2 ||
        !std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return bad();
    }
    cidr.prefix_length = std::stoi(std::string(length));
    if (cidr.prefix_length > 32) return bad();
  }
  cidr.network = *address;
  const Ipv4Cidr masked{
      cidr.prefix_length == 0
          ? 0
          : *address & (~std::uint32_t{0} << static_cast<unsigned>(32 - cidr.prefix_length)),
      cidr.prefix_length};
  if (masked.network != cidr.network) {
    return InvalidArgumentError("'" + std::string(text) + "' has host bits set; did you mean '" +
                                masked.ToString() + "'?");
  }
  return cidr;
}

}  // namespace vsray
