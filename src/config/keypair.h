// The SSH key pair Ray uses to reach its nodes. Like Ray's vSphere provider, vsray keeps it at
// `~/ray-bootstrap-key.pem` (private) and `~/ray_bootstrap_public_key.key` (public, one
// OpenSSH line) unless the config names a key of its own. Keys are made and read with libssh;
// the private key file is always 0600.
#ifndef VSRAY_CONFIG_KEYPAIR_H_
#define VSRAY_CONFIG_KEYPAIR_H_

#include <string>
#include <string_view>

#include "common/status.h"

namespace vsray::config {

enum class SshKeyType { kEd25519, kRsa };

// "ed25519" / "rsa".
std::string_view SshKeyTypeName(SshKeyType type);

inline constexpr std::string_view kDefaultPrivateKeyName = "ray-bootstrap-key.pem";
inline constexpr std::string_view kDefaultPublicKeyName = "ray_bootstrap_public_key.key";
// Where Ray's nodes find the public key (a file_mounts target).
inline constexpr std::string_view kRemotePublicKeyPath = "~/ray_bootstrap_public_key.key";
inline constexpr int kRsaBits = 3072;

struct KeyPairPaths {
  std::string private_key;
  std::string public_key;
};

// `<home>/ray-bootstrap-key.pem` and `<home>/ray_bootstrap_public_key.key`.
KeyPairPaths DefaultKeyPairPaths(std::string_view home_dir);

struct KeyPair {
  KeyPairPaths paths;
  std::string type_name;  // "ssh-ed25519", "ssh-rsa", ...
  // "ssh-ed25519 AAAA... comment": the public key as one authorized_keys line.
  std::string public_key;
  bool created = false;            // false: an existing pair was reused
  bool permissions_fixed = false;  // an existing private key was group/world readable: now 0600
};

// Reuses the pair at `paths` if both files exist and belong together; creates a new `type`
// pair if neither exists (private key written 0600, public key 0644, each atomically: a
// concurrent caller that wins the race is reused, never overwritten). Errors:
//  - FAILED_PRECONDITION: only one of the two files exists; the private key is corrupt,
//    encrypted or not a key; the public key does not parse; the two are not a pair. Existing
//    files are never replaced: the message says which file to fix or remove.
//  - INTERNAL / PERMISSION_DENIED: a file cannot be written or read.
// An existing pair of another type than `type` is reused as it is.
StatusOr<KeyPair> EnsureKeyPair(const KeyPairPaths& paths, SshKeyType type);

// Reads a private key file (the user's own `auth.ssh_private_key`) and returns its public
// key as an authorized_keys line. FAILED_PRECONDITION if it is missing, corrupt or encrypted.
StatusOr<std::string> PublicKeyOfPrivateKeyFile(const std::string& private_key_path);

// Checks one authorized_keys line ("TYPE BASE64 [COMMENT]") and returns "TYPE BASE64"
// (comment dropped), for comparing keys. INVALID_ARGUMENT if it is not a public key.
StatusOr<std::string> CanonicalPublicKey(std::string_view line);

}  // namespace vsray::config

#endif  // VSRAY_CONFIG_KEYPAIR_H_
