#include "config/userdata.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <nlohmann/json.hpp>

#include "config/yaml_tree.h"

namespace vsray::config {
namespace {

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// OpenSSL takes int lengths: large inputs go in chunks of whole 3-byte (4-character) groups.
constexpr std::size_t kChunkGroups = std::size_t{1} << 20;

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
  out.reserve(4 * ((data.size() + 2) / 3));
  // + the NUL OpenSSL writes
  std::string chunk_out(4 * std::min(kChunkGroups, (data.size() + 2) / 3) + 1, '\0');
  for (std::size_t at = 0; at < data.size(); at += 3 * kChunkGroups) {
    const std::string_view chunk = data.substr(at, 3 * kChunkGroups);
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(chunk_out.data()),
                                        reinterpret_cast<const unsigned char*>(chunk.data()),
                                        static_cast<int>(chunk.size()));
    out.append(chunk_out.data(), static_cast<std::size_t>(written));
  }
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  // EVP_DecodeBlock skips blanks and keeps the padding's zero bytes: check strictly first.
  if (text.size() % 4 != 0) return InvalidArgumentError("base64: length is not a multiple of 4");
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  for (const char c : text.substr(0, text.size() - padding)) {
    if (c == '=') return InvalidArgumentError("base64: data after padding");
    if (!IsBase64Char(c)) return InvalidArgumentError("base64: invalid character");
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::string chunk_out(3 * std::min(kChunkGroups, text.size() / 4), '\0');
  for (std::size_t at = 0; at < text.size(); at += 4 * kChunkGroups) {
    const std::string_view chunk = text.substr(at, 4 * kChunkGroups);
    const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(chunk_out.data()),
                                        reinterpret_cast<const unsigned char*>(chunk.data()),
                                        static_cast<int>(chunk.size()));
    if (decoded < 0 || static_cast<std::size_t>(decoded) != chunk.size() / 4 * 3) {
      return InvalidArgumentError("base64: invalid data");
    }
    out.append(chunk_out.data(), static_cast<std::size_t>(decoded));
  }
  out.resize(out.size() - padding);
  return out;
}

}  // namespace vsray::config
