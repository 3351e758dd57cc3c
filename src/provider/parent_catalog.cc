#include "provider/parent_catalog.h"

#include "common/log.h"

namespace vsray::provider {

void ParentCatalog::Remember(const FrozenVmSpec& spec, const std::vector<FrozenVm>& parents) {
  std::lock_guard lock(mu_);
  for (const auto& parent : parents) seen_.insert(parent.vm.value);
  if (spec == default_spec_) defaults_ = parents;
}

StatusOr<std::vector<FrozenVm>> ParentCatalog::ParentsFor(
    const std::optional<FrozenVmSpec>& spec_or_default) {
  const FrozenVmSpec& spec = spec_or_default ? *spec_or_default : default_spec_;
  std::lock_guard resolving(resolve_mu_);
  // Prepared (deployed, powered on, awaited) on first use; afterwards only re-read.
  const bool prepare = prepared_.insert(spec.Key()).second;
  auto parents = prepare ? resolver_.Resolve(spec, true) : resolver_.Refresh(spec);
  if (!parents.ok()) {
    if (prepare) prepared_.erase(spec.Key());
    return parents.status();
  }
  Remember(spec, *parents);
  return parents;
}

void ParentCatalog::Learn() {
  std::lock_guard resolving(resolve_mu_);
  auto parents = resolver_.Resolve(default_spec_, /*prepare=*/false);
  if (!parents.ok()) {
    Log()->debug("frozen VMs not resolved (not needed here): {}", parents.status().message());
    return;
  }
  Remember(default_spec_, *parents);
}

StatusOr<std::vector<FrozenVm>> ParentCatalog::Prepare(const FrozenVmSpec& spec) {
  std::lock_guard resolving(resolve_mu_);
  VSRAY_ASSIGN_OR_RETURN(auto parents, resolver_.Resolve(spec, /*prepare=*/true));
  prepared_.insert(spec.Key());
  Remember(spec, parents);
  return parents;
}

StatusOr<std::vector<FrozenVmStatus>> ParentCatalog::Statuses(
    const std::optional<FrozenVmSpec>& spec) {
  std::lock_guard resolving(resolve_mu_);
  return resolver_.Statuses(spec ? *spec : default_spec_);
}

bool ParentCatalog::IsFrozenParent(const std::string& id) const {
  std::lock_guard lock(mu_);
  return seen_.contains(id);
}

std::vector<FrozenVm> ParentCatalog::defaults() const {
  std::lock_guard lock(mu_);
  return defaults_;
}

}  // namespace vsray::provider
