// PCI passthrough as vCenter reports it: the PCI devices of hosts (hardware.pciDevice) with
// their passthrough state (config.pciPassthruInfo), graphics use (config.graphicsInfo), vGPU
// profiles (config.sharedPassthruGpuTypes) and, on vSphere 7, custom labels and Dynamic
// DirectPath bindings (config.assignableHardware*); the passthrough devices of VMs; and the
// system ids of a host's passthrough devices (EnvironmentBrowser.QueryConfigTarget), which a
// fixed DirectPath backing names. What a VM is given is PciPassthroughSpec (vim.h).
#ifndef VSRAY_VSPHERE_PASSTHROUGH_H_
#define VSRAY_VSPHERE_PASSTHROUGH_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "vsphere/vim.h"

namespace vsray::vsphere {

// One PCI device of a host.
struct HostPciDeviceInfo {
  std::string id;               // "0000:3b:00.0"
  std::uint16_t class_id = 0;   // base class << 8 | subclass: 0x0302 is a 3D controller
  std::uint16_t vendor_id = 0;  // 0x10de
  std::uint16_t device_id = 0;
  std::string vendor_name;
  std::string device_name;
  bool passthrough_enabled = false;  // enabled and active for DirectPath I/O
  std::string custom_label;          // assignable hardware attribute customLabel (vSphere 7)
  // config.graphicsInfo: basic | shared | direct | sharedDirect (vGPU); "" if not listed.
  std::string graphics_type;
  std::int64_t memory_kb = 0;             // the graphics device's memory
  std::vector<std::string> graphics_vms;  // VMs using the graphics device (ids)
};

// A PCI passthrough device of a VM (VirtualPCIPassthrough in config.hardware.device).
struct VmPassthroughDevice {
  PciPassthroughSpec::Backing backing = PciPassthroughSpec::Backing::kFixed;
  // kFixed: the device's PCI id; kDynamic: the one bound at power-on (assignedId), "" while
  // the VM is off.
  std::string id;
  std::uint16_t vendor_id = 0;  // kFixed: the backing's; kDynamic: the first allowed device's
  std::uint16_t device_id = 0;
  std::string custom_label;  // kDynamic
  std::string vgpu;          // kVgpu: the profile
};

// A VM with PCI passthrough devices.
struct VmPassthroughInfo {
  MoRef vm;
  std::string name;
  std::string power_state;
  MoRef host;
  MoRef folder;
  std::vector<VmPassthroughDevice> devices;
};

// The GPU-relevant state of one host.
struct HostGpuInfo {
  MoRef host;
  std::string name;
  std::vector<HostPciDeviceInfo> devices;       // every PCI device; callers filter by class
  std::vector<std::string> vgpu_profiles;       // config.sharedPassthruGpuTypes
  std::map<std::string, std::string> bindings;  // Dynamic DirectPath: PCI id -> VM id
  std::vector<VmPassthroughInfo> vms;           // the VMs on the host with passthrough devices
};

// The state of `hosts` and of the VMs on them, in one property collector call.
// `assignable_hardware`: also the vSphere 7.0 properties (custom labels, Dynamic DirectPath
// bindings), which an older vCenter rejects (InvalidProperty). NOT_FOUND if a host is gone.
StatusOr<std::vector<HostGpuInfo>> ReadHostGpus(Vim& vim, const std::vector<MoRef>& hosts,
                                                bool assignable_hardware);
// The passthrough devices of `vms` (VMs without any are listed with none; VMs that are gone
// are left out).
StatusOr<std::vector<VmPassthroughInfo>> ReadVmPassthrough(Vim& vim, const std::vector<MoRef>& vms);
// The system id of each passthrough device of `host` by PCI id, from QueryConfigTarget on the
// environment browser of its compute resource. NOT_FOUND if the host is gone.
StatusOr<std::map<std::string, std::string>> PassthroughSystemIds(Vim& vim, const MoRef& host);

// Decoders, exposed for tests: the passthrough devices among config.hardware.device, and a
// host's properties as RetrievePropertiesEx returns them.
std::vector<VmPassthroughDevice> DecodePassthroughDevices(const Any& devices);
HostGpuInfo DecodeHostGpus(const ObjectContent& host);
// "0000:3b:00.0" for "3b:00.0" (and lower case).
std::string NormalizePciId(std::string_view id);

}  // namespace vsray::vsphere

#endif  // VSRAY_VSPHERE_PASSTHROUGH_H_
