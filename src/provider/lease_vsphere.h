// The real LeaseClient (vcenter.h): lease folders are vim25 folders, their records the custom
// attribute "vsray-lease" of type Folder.
#ifndef VSRAY_PROVIDER_LEASE_VSPHERE_H_
#define VSRAY_PROVIDER_LEASE_VSPHERE_H_

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "provider/vcenter.h"
#include "vsphere/task_waiter.h"
#include "vsphere/vim.h"

namespace vsray::provider {

// The custom attribute that holds lease records.
inline constexpr std::string_view kLeaseFieldName = "vsray-lease";

class VsphereLeases final : public LeaseClient {
 public:
  // Both must outlive this.
  VsphereLeases(vsphere::Vim& vim, vsphere::TaskWaiter& waiter) : vim_(vim), waiter_(waiter) {}

  StatusOr<std::vector<Entry>> List(const MoRef& parent, const std::string& prefix) override;
  StatusOr<MoRef> Create(const MoRef& parent, const std::string& name) override;
  Status Write(const MoRef& folder, const std::string& record) override;
  Status Remove(const MoRef& folder) override;

 private:
  // The key of the record attribute (defined if need be); -1 with define=false when not
  // defined yet.
  StatusOr<int> FieldKey(bool define);

  vsphere::Vim& vim_;
  vsphere::TaskWaiter& waiter_;
  std::mutex mu_;
  int key_ = -1;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_LEASE_VSPHERE_H_
