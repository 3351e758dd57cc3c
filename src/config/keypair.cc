#include "config/keypair.h"

#include <fcntl.h>
#include <libssh/libssh.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "common/log.h"

namespace vsray::config {
namespace {

struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
using Key = std::unique_ptr<std::remove_pointer_t<ssh_key>, KeyDeleter>;

struct CharDeleter {
  void operator()(char* text) const { ssh_string_free_char(text); }
};
using SshChars = std::unique_ptr<char, CharDeleter>;

constexpr std::string_view kComment = "ray-bootstrap-key";

std::string ErrnoText(int error) { return std::strerror(error); }  // NOLINT(concurrency-mt-unsafe)

StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return PermissionDeniedError("cannot read '" + path + "'");
  std::ostringstream content;
  content << in.rdbuf();
  if (content.str().size() > std::size_t{64} * 1024) {
    return FailedPreconditionError("'" + path + "' is too large to be an SSH key");
  }
  return content.str();
}

StatusOr<Key> ImportPrivateKey(const std::string& text, const std::string& path) {
  ssh_key raw = nullptr;
  // No passphrase and no prompt: Ray cannot use a protected key either.
  if (ssh_pki_import_privkey_base64(text.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK ||
      raw == nullptr) {
    return FailedPreconditionError(
        "'" + path +
        "' is not a usable SSH private key (corrupt, not a key, or protected by a "
        "passphrase)");
  }
  return Key(raw);
}

// "TYPE BASE64" of a key's public half.
StatusOr<std::string> PublicLineOf(ssh_key key) {
  ssh_key raw_public = nullptr;
  if (ssh_pki_export_privkey_to_pubkey(key, &raw_public) != SSH_OK || raw_public == nullptr) {
    return InternalError("cannot derive the public key");
  }
  const Key public_key(raw_public);
  char* raw_base64 = nullptr;
  if (ssh_pki_export_pubkey_base64(public_key.get(), &raw_base64) != SSH_OK ||
      raw_base64 == nullptr) {
    return InternalError("cannot encode the public key");
  }
  const SshChars base64(raw_base64);
  const char* type = ssh_key_type_to_char(ssh_key_type(public_key.get()));
  if (type == nullptr) return InternalError("unknown key type");
  return std::string(type) + " " + base64.get();
}

struct ParsedPublicKey {
  Key key;
  std::string canonical;  // "TYPE BASE64"
};

StatusOr<ParsedPublicKey> ParsePublicLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  if (line.find('\n') != std::string_view::npos) {
    return InvalidArgumentError("not one SSH public key line (it spans several lines)");
  }
  std::istringstream fields{std::string(line)};
  std::string type;
  std::string base64;
  fields >> type >> base64;
  const enum ssh_keytypes_e key_type = ssh_key_type_from_name(type.c_str());
  if (type.empty() || base64.empty() || key_type == SSH_KEYTYPE_UNKNOWN) {
    return InvalidArgumentError(
        "not an SSH public key: expected 'TYPE BASE64 [COMMENT]' with TYPE such as ssh-ed25519 "
        "or ssh-rsa");
  }
  ssh_key raw = nullptr;
  if (ssh_pki_import_pubkey_base64(base64.c_str(), key_type, &raw) != SSH_OK || raw == nullptr) {
    return InvalidArgumentError("not an SSH public key: the " + type + " key data is corrupt");
  }
  return ParsedPublicKey{Key(raw), type + " " + base64};
}

// Writes `content` to a new file `path` with `mode`, atomically, never replacing an existing
// file: ALREADY_EXISTS if `path` exists (e.g. a concurrent caller was first).
Status WriteNewFile(const std::string& path, const std::string& content, mode_t mode) {
  std::string temp = path + ".tmp-XXXXXX";
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());  // created 0600
  if (fd < 0) {
    const int error = errno;
    return PermissionDeniedError("cannot create a file next to '" + path +
                                 "': " + ErrnoText(error));
  }
  temp = name.data();
  bool ok = fchmod(fd, mode) == 0;
  std::size_t written = 0;
  while (ok && written < content.size()) {
    const ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  ok = ok && fsync(fd) == 0;
  const int write_error = errno;
  close(fd);
  if (!ok) {
    unlink(temp.c_str());
    return InternalError("cannot write '" + path + "': " + ErrnoText(write_error));
  }
  // link() fails if the target exists, unlike rename(): a file someone else made is kept.
  const int linked = link(temp.c_str(), path.c_str());
  const int link_error = errno;
  unlink(temp.c_str());
  if (linked != 0) {
    if (link_error == EEXIST) return AlreadyExistsError("'" + path + "' exists");
    return PermissionDeniedError("cannot create '" + path + "': " + ErrnoText(link_error));
  }
  return OkStatus();
}

bool Exists(const std::string& path) {
  struct stat info {};
  return lstat(path.c_str(), &info) == 0;
}

// Reuses an existing pair: both files present.
StatusOr<KeyPair> ReuseKeyPair(const KeyPairPaths& paths) {
  KeyPair pair;
  pair.paths = paths;
  VSRAY_ASSIGN_OR_RETURN(const std::string private_text, ReadSmallFile(paths.private_key));
  auto private_key = ImportPrivateKey(private_text, paths.private_key);
  if (!private_key.ok()) {
    return FailedPreconditionError(
        private_key.status().message() + "; it is not replaced: fix it, or remove both '" +
        paths.private_key + "' and '" + paths.public_key + "' to make a new pair");
  }
  VSRAY_ASSIGN_OR_RETURN(const std::string public_text, ReadSmallFile(paths.public_key));
  auto public_key = ParsePublicLine(public_text);
  if (!public_key.ok()) {
    return FailedPreconditionError("'" + paths.public_key + "': " + public_key.status().message() +
                                   "; it is not replaced: fix it, or remove both '" +
                                   paths.private_key + "' and '" + paths.public_key +
                                   "' to make a new pair");
  }
  if (ssh_key_cmp(public_key->key.get(), private_key->get(), SSH_KEY_CMP_PUBLIC) != 0) {
    return FailedPreconditionError("'" + paths.public_key + "' is not the public key of '" +
                                   paths.private_key +
                                   "'; neither is replaced: restore the matching file, or "
                                   "remove both to make a new pair");
  }
  pair.type_name = public_key->canonical.substr(0, public_key->canonical.find(' '));
  std::string line(public_text);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  pair.public_key = line;
  struct stat info {};
  if (stat(paths.private_key.c_str(), &info) == 0 && (info.st_mode & 0077U) != 0) {
    if (chmod(paths.private_key.c_str(), 0600) != 0) {
      const int error = errno;
      return PermissionDeniedError(
          "'" + paths.private_key +
          "' is readable by others and cannot be made 0600: " + ErrnoText(error));
    }
    pair.permissions_fixed = true;
    Log()->warn("{} was readable by other users; it is now 0600", paths.private_key);
  }
  return pair;
}

}  // namespace

std::string_view SshKeyTypeName(SshKeyType type) {
  return type == SshKeyType::kRsa ? "rsa" : "ed25519";
}

KeyPairPaths DefaultKeyPairPaths(std::string_view home_dir) {
  std::string home(home_dir);
  while (home.size() > 1 && home.back() == '/') home.pop_back();
  return KeyPairPaths{home + "/" + std::string(kDefaultPrivateKeyName),
                      home + "/" + std::string(kDefaultPublicKeyName)};
}

StatusOr<KeyPair> EnsureKeyPair(const KeyPairPaths& paths, SshKeyType type) {
  const bool have_private = Exists(paths.private_key);
  const bool have_public = Exists(paths.public_key);
  if (have_private && have_public) return ReuseKeyPair(paths);
  if (!have_private && have_public) {
    return FailedPreconditionError("'" + paths.public_key + "' exists but its private key '" +
                                   paths.private_key +
                                   "' does not; restore the private key, or remove the public "
                                   "key to make a new pair");
  }
  if (have_private) {
    // A pair whose public half was never written (or was deleted): derive it, never replace.
    VSRAY_ASSIGN_OR_RETURN(const std::string private_text, ReadSmallFile(paths.private_key));
    auto private_key = ImportPrivateKey(private_text, paths.private_key);
    if (!private_key.ok()) {
      return FailedPreconditionError(private_key.status().message() +
                                     "; it is not replaced: fix it, or remove it to make a new "
                                     "pair");
    }
    VSRAY_ASSIGN_OR_RETURN(const std::string line, PublicLineOf(private_key->get()));
    const Status written =
        WriteNewFile(paths.public_key, line + " " + std::string(kComment) + "\n", 0644);
    if (!written.ok() && written.code() != StatusCode::kAlreadyExists) return written;
    Log()->info("wrote the missing public key {} from {}", paths.public_key, paths.private_key);
    return ReuseKeyPair(paths);
  }

  ssh_key raw = nullptr;
  const enum ssh_keytypes_e ssh_type =
      type == SshKeyType::kRsa ? SSH_KEYTYPE_RSA : SSH_KEYTYPE_ED25519;
  if (ssh_pki_generate(ssh_type, type == SshKeyType::kRsa ? kRsaBits : 0, &raw) != SSH_OK ||
      raw == nullptr) {
    return InternalError("libssh could not generate an " + std::string(SshKeyTypeName(type)) +
                         " key");
  }
  const Key key(raw);
  char* raw_private = nullptr;
  if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &raw_private) != SSH_OK ||
      raw_private == nullptr) {
    return InternalError("libssh could not export the private key");
  }
  const SshChars private_text(raw_private);
  VSRAY_ASSIGN_OR_RETURN(const std::string line, PublicLineOf(key.get()));
  std::string private_content = private_text.get();
  if (private_content.empty() || private_content.back() != '\n') private_content += '\n';

  // The private key first: a crash in between leaves a pair we can complete, not a lone
  // public key we would have to refuse.
  Status written = WriteNewFile(paths.private_key, private_content, 0600);
  if (written.code() == StatusCode::kAlreadyExists) return EnsureKeyPair(paths, type);
  VSRAY_RETURN_IF_ERROR(written);
  written = WriteNewFile(paths.public_key, line + " " + std::string(kComment) + "\n", 0644);
  if (!written.ok() && written.code() != StatusCode::kAlreadyExists) return written;
  VSRAY_ASSIGN_OR_RETURN(KeyPair pair, ReuseKeyPair(paths));
  pair.created = written.ok();
  if (pair.created) {
    Log()->info("created the {} key pair {} and {}", SshKeyTypeName(type), paths.private_key,
                paths.public_key);
  }
  return pair;
}

StatusOr<std::string> PublicKeyOfPrivateKeyFile(const std::string& private_key_path) {
  if (!Exists(private_key_path)) {
    return FailedPreconditionError("the SSH private key '" + private_key_path + "' does not exist");
  }
  VSRAY_ASSIGN_OR_RETURN(const std::string text, ReadSmallFile(private_key_path));
  VSRAY_ASSIGN_OR_RETURN(const Key key, ImportPrivateKey(text, private_key_path));
  return PublicLineOf(key.get());
}

StatusOr<std::string> CanonicalPublicKey(std::string_view line) {
  VSRAY_ASSIGN_OR_RETURN(ParsedPublicKey parsed, ParsePublicLine(line));
  return parsed.canonical;
}

}  // namespace vsray::config
