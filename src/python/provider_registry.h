// One node provider per (provider_config, cluster_name) in a process: Ray builds a provider
// object from the same provider dict in several places (the launcher's commands, the head's
// autoscaler, its monitor); they all share one vCenter session and one live cache through
// this registry. Entries live as long as some user holds them (weak references here).
#ifndef VSRAY_PYTHON_PROVIDER_REGISTRY_H_
#define VSRAY_PYTHON_PROVIDER_REGISTRY_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "config/cluster_config.h"
#include "provider/node_provider.h"

namespace vsray::python {

// A provider and the parsed provider config it was built from (create_node needs the latter
// to parse node configs: their frozen VM defaults to the provider's).
struct SharedProvider {
  config::VsphereConfig vsphere;
  std::unique_ptr<provider::NodeProvider> provider;
};

class ProviderRegistry {
 public:
  // Builds the provider of a parsed config; the default connects to vCenter with a watcher.
  using Factory = std::function<StatusOr<std::unique_ptr<provider::NodeProvider>>(
      const config::VsphereConfig& vsphere, const std::string& cluster_name)>;

  explicit ProviderRegistry(Factory factory = nullptr);

  // The process-wide registry (never destroyed: providers are released by their holders).
  static ProviderRegistry& Global();

  // The provider for this provider dict (Ray's `provider` section, with `vsphere_config`) and
  // cluster, created on first use. Two equal dicts (key order aside) give the same provider.
  // Errors: INVALID_ARGUMENT "provider_config:1: provider.vsphere_config...: ..." for a bad
  // config (also when no frozen VM is configured), else those of NodeProvider::Create.
  StatusOr<std::shared_ptr<SharedProvider>> Get(const nlohmann::json& provider_config,
                                                const std::string& cluster_name);

  // Providers currently alive.
  std::size_t size();

 private:
  Factory factory_;
  std::mutex mu_;  // held while a provider is created: one creation at a time
  std::map<std::string, std::weak_ptr<SharedProvider>> providers_;
};

}  // namespace vsray::python

#endif  // VSRAY_PYTHON_PROVIDER_REGISTRY_H_
