#include "provider/provider_base.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "provider/vcenter_vsphere.h"

namespace vsray::provider {
namespace {

std::int64_t WallSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ProviderOptions WithDefaults(ProviderOptions options, const std::string& cluster_name) {
  if (options.folder.empty()) options.folder = DefaultFolderName(cluster_name);
  if (!options.now_seconds) options.now_seconds = WallSeconds;
  if (options.clock == nullptr) options.clock = &SystemClock::Instance();
  options.max_concurrency = std::max(1, options.max_concurrency);
  return options;
}

StatusOr<ProviderBase> OpenProviderBase(const ProviderOptions& options) {
  ProviderBase base;
  const VcenterFactory& connect =
      options.vcenter ? options.vcenter : VcenterFactory(ConnectVcenter);
  VSRAY_ASSIGN_OR_RETURN(base.vcenter, connect(options.connect));
  auto inventory = Inventory::Open(base.vcenter->inventory(), options.datacenter);
  if (!inventory.ok()) {
    Status status = inventory.status();
    return status.code() == StatusCode::kNotFound ? status.WithContext("datacenter") : status;
  }
  base.inventory = *std::move(inventory);
  base.pool = std::make_unique<ThreadPool>(static_cast<std::size_t>(options.max_concurrency));
  base.light_pool = std::make_unique<ThreadPool>(static_cast<std::size_t>(options.max_concurrency));
  FrozenVmEnv env;
  env.vcenter = base.vcenter.get();
  env.inventory = base.inventory.get();
  env.pool = base.pool.get();
  env.extra_config = options.frozen_vm_extra_config;
  env.ready_timeout = options.frozen_vm_ready_timeout;
  env.deploy_timeout = options.frozen_vm_deploy_timeout;
  env.progress = options.frozen_vm_progress;
  env.clock = options.clock;
  base.catalog =
      std::make_unique<ParentCatalog>(FrozenVmResolver(std::move(env)), options.frozen_vm);
  return base;
}

}  // namespace vsray::provider
