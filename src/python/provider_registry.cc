#include "python/provider_registry.h"

#include <utility>

#include "cluster/cluster.h"

namespace vsray::python {

namespace {

StatusOr<std::unique_ptr<provider::NodeProvider>> ConnectProvider(
    const config::VsphereConfig& vsphere, const std::string& cluster_name) {
  VSRAY_ASSIGN_OR_RETURN(provider::ProviderOptions options,
                         cluster::MakeProviderOptions(vsphere, nullptr, /*watch=*/true));
  // Ray's launcher and autoscaler: finish or remove abandoned half-made nodes at start when
  // no other run holds the cluster lease (provider/repair.h).
  options.repair_at_start = provider::StartRepair::kIfLeaseFree;
  return provider::NodeProvider::Create(std::move(options), cluster_name);
}

}  // namespace

ProviderRegistry::ProviderRegistry(Factory factory)
    : factory_(factory ? std::move(factory) : Factory(ConnectProvider)) {}

ProviderRegistry& ProviderRegistry::Global() {
  // Leaked on purpose: providers outlive no registry, and no destructor runs at exit while
  // Python may still hold providers.
  static auto* registry = new ProviderRegistry();
  return *registry;
}

StatusOr<std::shared_ptr<SharedProvider>> ProviderRegistry::Get(
    const nlohmann::json& provider_config, const std::string& cluster_name) {
  // nlohmann::json objects are ordered maps: equal dicts dump to the same text.
  std::string key = provider_config.dump();
  key.push_back('\0');
  key += cluster_name;

  std::lock_guard lock(mu_);
  if (auto it = providers_.find(key); it != providers_.end()) {
    if (std::shared_ptr<SharedProvider> shared = it->second.lock()) return shared;
  }
  config::LoadOptions load;
  load.source_name = "provider_config";
  VSRAY_ASSIGN_OR_RETURN(config::VsphereConfig vsphere,
                         config::ParseProviderConfig(provider_config, cluster_name, load));
  VSRAY_ASSIGN_OR_RETURN(std::unique_ptr<provider::NodeProvider> node_provider,
                         factory_(vsphere, cluster_name));
  auto shared = std::make_shared<SharedProvider>();
  shared->vsphere = std::move(vsphere);
  shared->provider = std::move(node_provider);
  // Drop entries whose providers are gone, then remember this one.
  std::erase_if(providers_, [](const auto& entry) { return entry.second.expired(); });
  providers_[key] = shared;
  return shared;
}

std::size_t ProviderRegistry::size() {
  std::lock_guard lock(mu_);
  std::size_t alive = 0;
  for (const auto& [key, weak] : providers_) {
    if (!weak.expired()) ++alive;
  }
  return alive;
}

}  // namespace vsray::python
