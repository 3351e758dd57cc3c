// Internal: what the config parsers in this directory share.
#ifndef VSRAY_CONFIG_PARSE_INTERNAL_H_
#define VSRAY_CONFIG_PARSE_INTERNAL_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "config/checker.h"
#include "config/cluster_config.h"
#include "config/diagnostics.h"

namespace vsray::config::internal {

// What parsing needs from outside: the environment, the home directory, file checks.
struct ParseContext {
  EnvLookup env;
  std::string home_dir;
  bool check_local_files = true;
};
ParseContext MakeParseContext(const LoadOptions& options);

// '~' and '~/...' against the home directory.
StatusOr<std::string> ExpandHome(const Checker& checker, const ConfigPath& at,
                                 const std::string& path, const ParseContext& context);
bool IsValidUserName(const std::string& name);

// One frozen_vm mapping: known keys, types, and the four valid combinations.
StatusOr<FrozenVmConfig> ParseFrozenVm(Checker& checker, const nlohmann::json& object,
                                       const ConfigPath& path);
// provider.vsphere_config of `provider` (at `provider_path`), strict; frozen_vm optional here.
StatusOr<VsphereConfig> ParseVsphere(Checker& checker, const nlohmann::json& provider,
                                     const ConfigPath& provider_path, std::string_view cluster_name,
                                     const ParseContext& context, bool check_files);

// Secrets that must not appear in an error: the password in the tree and in the environment.
std::vector<std::string> Secrets(const nlohmann::json* tree, const LoadOptions& options);

template <typename T>
StatusOr<T> Scrubbed(StatusOr<T> result, const std::vector<std::string>& secrets) {
  if (result.ok()) return result;
  std::string message = result.status().message();
  for (const std::string& secret : secrets) message = RedactSecret(std::move(message), secret);
  return Status(result.status().code(), std::move(message));
}

inline constexpr std::string_view kRedacted = "<redacted>";

}  // namespace vsray::config::internal

#endif  // VSRAY_CONFIG_PARSE_INTERNAL_H_
