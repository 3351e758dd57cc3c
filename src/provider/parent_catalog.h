// The parents a provider clones from: the frozen VMs of each frozen-VM spec in use, resolved
// (deployed, powered on, awaited) the first time a spec is used and only re-read afterwards,
// so that hosts entering maintenance and parents that stopped being frozen are skipped.
// Remembers every frozen VM it has seen: those are never terminated. Thread-safe.
#ifndef VSRAY_PROVIDER_PARENT_CATALOG_H_
#define VSRAY_PROVIDER_PARENT_CATALOG_H_

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "provider/frozen_vms.h"

namespace vsray::provider {

class ParentCatalog {
 public:
  ParentCatalog(FrozenVmResolver resolver, FrozenVmSpec default_spec)
      : resolver_(std::move(resolver)), default_spec_(std::move(default_spec)) {}

  const FrozenVmSpec& default_spec() const { return default_spec_; }

  // The usable parents of `spec` (nullopt: the default spec), with the current state of
  // their hosts. Errors: FrozenVmResolver::Resolve's.
  StatusOr<std::vector<FrozenVm>> ParentsFor(const std::optional<FrozenVmSpec>& spec_or_default);
  // Learns the default spec's frozen VMs without deploying or powering on anything (for
  // commands that create nothing). A failure is only logged: the first ParentsFor retries.
  void Learn();
  // Deploys (missing ones), powers on and awaits the frozen VMs of `spec`; returns the
  // usable ones. Errors: Resolve's.
  StatusOr<std::vector<FrozenVm>> Prepare(const FrozenVmSpec& spec);
  // What the resolver says about each frozen VM of `spec` (nullopt: the default spec).
  StatusOr<std::vector<FrozenVmStatus>> Statuses(const std::optional<FrozenVmSpec>& spec);

  // Whether `id` is a frozen VM seen by this catalog (never to be terminated).
  bool IsFrozenParent(const std::string& id) const;
  // The usable frozen VMs of the default spec, as last resolved.
  std::vector<FrozenVm> defaults() const;

 private:
  // Caller holds resolve_mu_.
  void Remember(const FrozenVmSpec& spec, const std::vector<FrozenVm>& parents);

  std::mutex resolve_mu_;  // one resolution at a time; guards resolver_, prepared_
  FrozenVmResolver resolver_;
  std::set<std::string> prepared_;  // FrozenVmSpec::Key() already prepared
  const FrozenVmSpec default_spec_;

  mutable std::mutex mu_;       // guards the two below
  std::set<std::string> seen_;  // every frozen VM id seen
  std::vector<FrozenVm> defaults_;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_PARENT_CATALOG_H_
