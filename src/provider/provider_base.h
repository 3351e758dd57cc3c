// What every provider-level operation stands on, built from ProviderOptions alone: the
// vCenter connection (from options.vcenter, the seam), the datacenter, a pool for vCenter
// tasks and the catalog of frozen VMs. A NodeProvider holds one; `vsray frozen-vm
// prepare|status` use one without a NodeProvider.
#ifndef VSRAY_PROVIDER_PROVIDER_BASE_H_
#define VSRAY_PROVIDER_PROVIDER_BASE_H_

#include <memory>
#include <string>

#include "common/status.h"
#include "common/thread_pool.h"
#include "provider/inventory.h"
#include "provider/parent_catalog.h"
#include "provider/provider_options.h"
#include "provider/vcenter.h"

namespace vsray::provider {

// `options` with its defaults filled in for cluster `cluster_name`: the folder
// ("ray-<cluster>"), the wall clock, a concurrency of at least 1.
ProviderOptions WithDefaults(ProviderOptions options, const std::string& cluster_name);

struct ProviderBase {
  // Declared in dependency order: each member may use those above it.
  std::shared_ptr<VcenterConnection> vcenter;
  std::unique_ptr<Inventory> inventory;
  std::unique_ptr<ThreadPool> pool;        // creates: options.max_concurrency threads
  std::unique_ptr<ThreadPool> light_pool;  // terminates: as many, never behind creates
  std::unique_ptr<ParentCatalog> catalog;
};

// Connects (options.vcenter, else ConnectVcenter) and finds the datacenter; looks up nothing
// else. `options` should have WithDefaults applied; nothing refers to it afterwards. Errors:
// the connection's; INVALID_ARGUMENT / NOT_FOUND for the datacenter.
StatusOr<ProviderBase> OpenProviderBase(const ProviderOptions& options);

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_PROVIDER_BASE_H_
