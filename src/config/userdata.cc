#include "config/userdata.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "config/yaml_tree.h"

namespace vsray::config {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int DecodeChar(char c) {
  const std::size_t at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

std::string MakeCloudConfig(std::string_view ssh_user,
                            const std::vector<std::string>& ssh_authorized_keys) {
  nlohmann::json user = {
      {"name", std::string(ssh_user)},
      {"gecos", "Ray"},
      {"groups", nlohmann::json::array({"sudo", "docker"})},
      {"sudo", "ALL=(ALL) NOPASSWD:ALL"},
      {"shell", "/bin/bash"},
      {"lock_passwd", true},
      {"ssh_authorized_keys", ssh_authorized_keys},
  };
  const nlohmann::json config = {
      {"users", nlohmann::json::array({"default", user})},
      {"ssh_pwauth", false},
      {"disable_root", true},
  };
  return "#cloud-config\n" + ToYaml(config);
}

std::string MakeMetadata(std::string_view instance_id, std::string_view local_hostname) {
  const nlohmann::json metadata = {{"instance-id", std::string(instance_id)},
                                   {"local-hostname", std::string(local_hostname)}};
  return metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

GuestinfoPairs MakeGuestinfo(std::string_view userdata, std::string_view metadata) {
  return {{"guestinfo.userdata", Base64Encode(userdata)},
          {"guestinfo.userdata.encoding", "base64"},
          {"guestinfo.metadata", Base64Encode(metadata)},
          {"guestinfo.metadata.encoding", "base64"}};
}

GuestinfoPairs CloudInitGuestinfo(const CloudInitConfig& cloud_init, std::string_view vm_name,
                                  std::string_view instance_id) {
  if (!cloud_init.enabled) return {};
  const std::string user = cloud_init.ssh_user.empty() ? "ray" : cloud_init.ssh_user;
  return MakeGuestinfo(MakeCloudConfig(user, cloud_init.ssh_authorized_keys),
                       MakeMetadata(instance_id, HostnameFor(vm_name)));
}

std::string HostnameFor(std::string_view vm_name) {
  std::string out;
  for (const char c : vm_name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "ray-node" : out;
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t n =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16U) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8U) |
        static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += kAlphabet[n & 63U];
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16U;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8U;
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += rest == 2 ? kAlphabet[(n >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return InvalidArgumentError("base64: length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::array<int, 4> values{};
    int padding = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        values[k] = 0;
        ++padding;
        continue;
      }
      if (padding > 0) return InvalidArgumentError("base64: data after padding");
      values[k] = DecodeChar(c);
      if (values[k] < 0) return InvalidArgumentError("base64: invalid character");
    }
    const std::uint32_t n = (static_cast<std::uint32_t>(values[0]) << 18U) |
                            (static_cast<std::uint32_t>(values[1]) << 12U) |
                            (static_cast<std::uint32_t>(values[2]) << 6U) |
                            static_cast<std::uint32_t>(values[3]);
    out += static_cast<char>((n >> 16U) & 0xffU);
    if (padding < 2) out += static_cast<char>((n >> 8U) & 0xffU);
    if (padding < 1) out += static_cast<char>(n & 0xffU);
  }
  return out;
}

}  // namespace vsray::config
