// Which GPUs of a host a node can have: pure functions of what vCenter reports about the host
// (vsphere::HostGpuInfo) and of what this provider holds there (GpuHold), shared by the
// allocator and `vsray check`.
//
// A device is taken when a powered-on VM holds it (its fixed backing names it, its dynamic
// backing was assigned it, or the host's Dynamic DirectPath bindings list it) or a hold has
// it; a vGPU GPU runs one profile at a time, as many vGPUs of it as its memory holds (the size
// of a profile is the number ending its name, NVIDIA's naming: grid_a100-4c is 4 GB).
#ifndef VSRAY_PROVIDER_GPU_PLACEMENT_H_
#define VSRAY_PROVIDER_GPU_PLACEMENT_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "provider/gpu_need.h"
#include "vsphere/passthrough.h"

namespace vsray::provider {

// What this provider holds on a host besides vCenter's record: a node being made (its devices
// are not bound before it powers on), or a powered-off node that will want them back.
struct GpuHold {
  std::string host;                  // host id
  std::string vm;                    // the node's VM, once cloned ("" before)
  std::vector<std::string> devices;  // PCI ids (passthrough; dynamic: the ones counted)
  // Dynamic devices not tied to an id yet (another provider's node, powered off): each takes
  // a free device it allows.
  std::vector<vsphere::VmPassthroughDevice> unplaced;
  std::vector<std::string> vgpus;  // vGPU profiles, one per vGPU
};

// A node's view of one host.
struct HostOffer {
  std::string host;  // host id
  std::string host_name;
  int total = 0;  // matching devices (vGPU: slots of the profile on the idle host)
  int free = 0;   // how many the node can have now
  std::vector<vsphere::HostPciDeviceInfo> free_devices;  // passthrough, dynamic: in PCI order
};

// Whether `device` counts as a GPU under `classes`.
bool IsGpu(const vsphere::HostPciDeviceInfo& device, const std::vector<PciClass>& classes);
// A GPU enabled for passthrough that `need` accepts (ids and label).
bool Accepts(const GpuNeed& need, const vsphere::HostPciDeviceInfo& device);
// The vGPU memory of a profile, from its name ("grid_t4-8c": 8 GB); nullopt if it has none.
std::optional<int> VgpuProfileGb(std::string_view profile);

// What `host` offers a node of `need`, given `holds` (those of other hosts are ignored).
HostOffer Offer(const vsphere::HostGpuInfo& host, const GpuNeed& need,
                const std::vector<GpuHold>& holds);

// "2 GPUs (passthrough, 10de:20f1, label 'big')", "1 vGPU of profile grid_t4-4c".
std::string DescribeNeed(const GpuNeed& need);
// "esx-1 1 of 4, esx-2 0 of 4": what each host offers; "(no host)" when none.
std::string DescribeFree(const std::vector<HostOffer>& offers);
// Who uses each GPU of `host` now, by PCI id: VM ids (powered on), for `vsray check`.
std::map<std::string, std::vector<std::string>> GpuUsers(const vsphere::HostGpuInfo& host);

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_GPU_PLACEMENT_H_
