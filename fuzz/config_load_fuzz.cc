// libFuzzer target: the cluster config loader (YAML, Ray's keys, vsray's keys, defaults) must
// never crash or hang on any text, and every refusal says something.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/cluster_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vsray::config::LoadOptions options;
  options.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  options.home_dir = "/nonexistent-home";
  options.check_local_files = false;
  auto config = vsray::config::LoadClusterConfigText(text, options);
  if (!config.ok()) {
    const std::string message = config.status().message();
    if (message.empty()) __builtin_trap();
  } else {
    (void)config->ToJson();
  }
  return 0;
}
