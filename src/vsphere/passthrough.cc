#include "vsphere/passthrough.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

namespace vsray::vsphere {
namespace {

using Backing = PciPassthroughSpec::Backing;

const std::vector<std::string>& VmPaths() {
  static const std::vector<std::string> kPaths = {"name", "runtime.powerState", "runtime.host",
                                                  "parent", "config.hardware.device"};
  return kPaths;
}

std::vector<std::string> HostPaths(bool assignable_hardware) {
  std::vector<std::string> paths = {"name", "hardware.pciDevice", "config.pciPassthruInfo",
                                    "config.graphicsInfo", "config.sharedPassthruGpuTypes"};
  if (assignable_hardware) {
    paths.emplace_back("config.assignableHardwareConfig");
    paths.emplace_back("config.assignableHardwareBinding");
  }
  return paths;
}

std::int64_t ParseInt64(std::string_view text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// A PCI id sent as a signed short (HostPciDevice) or an int (allowed devices).
std::uint16_t PciId(std::string_view text) {
  return static_cast<std::uint16_t>(ParseInt64(text) & 0xFFFF);
}

// A backing's deviceId: "converted as is to a string" by the documentation, in hex in most
// client code (and vsray's): read as hex when it is at most 4 hex digits, else as decimal.
std::uint16_t BackingDeviceId(std::string_view text) {
  std::uint32_t hex = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), hex, 16);
  if (error == std::errc() && end == text.data() + text.size() && text.size() <= 4) {
    return static_cast<std::uint16_t>(hex);
  }
  return PciId(text);
}

HostPciDeviceInfo DecodePciDevice(const Any& device) {
  HostPciDeviceInfo info;
  info.id = NormalizePciId(device.TextAt("id"));
  info.class_id = PciId(device.TextAt("classId"));
  info.vendor_id = PciId(device.TextAt("vendorId"));
  info.device_id = PciId(device.TextAt("deviceId"));
  info.vendor_name = device.TextAt("vendorName");
  info.device_name = device.TextAt("deviceName");
  return info;
}

HostPciDeviceInfo* DeviceById(HostGpuInfo& host, std::string_view id) {
  const std::string wanted = NormalizePciId(id);
  for (auto& device : host.devices) {
    if (device.id == wanted) return &device;
  }
  return nullptr;
}

void ApplyPassthruInfo(HostGpuInfo& host, const Any* info) {
  if (info == nullptr) return;
  for (const auto& [element, entry] : info->fields) {
    if (HostPciDeviceInfo* device = DeviceById(host, entry.TextAt("id"))) {
      device->passthrough_enabled =
          entry.TextAt("passthruEnabled") == "true" && entry.TextAt("passthruActive") == "true";
    }
  }
}

void ApplyGraphicsInfo(HostGpuInfo& host, const Any* info) {
  if (info == nullptr) return;
  for (const auto& [element, entry] : info->fields) {
    if (HostPciDeviceInfo* device = DeviceById(host, entry.TextAt("pciId"))) {
      device->graphics_type = entry.TextAt("graphicsType");
      device->memory_kb = ParseInt64(entry.TextAt("memorySizeInKB"));
      for (const Any* vm : entry.All("vm")) device->graphics_vms.push_back(vm->text);
    }
  }
}

void ApplyAssignableHardware(HostGpuInfo& host, const Any* config, const Any* bindings) {
  if (config != nullptr) {
    for (const Any* override : config->All("attributeOverride")) {
      if (override->TextAt("name") != "customLabel") continue;
      if (HostPciDeviceInfo* device = DeviceById(host, override->TextAt("instanceId"))) {
        device->custom_label = override->TextAt("value");
      }
    }
  }
  if (bindings != nullptr) {
    for (const auto& [element, binding] : bindings->fields) {
      host.bindings[NormalizePciId(binding.TextAt("instanceId"))] = binding.TextAt("vm");
    }
  }
}

std::vector<std::string> Texts(const Any* array) {
  std::vector<std::string> out;
  if (array == nullptr) return out;
  for (const auto& [element, value] : array->fields) out.push_back(value.text);
  return out;
}

VmPassthroughInfo DecodeVm(const ObjectContent& content) {
  VmPassthroughInfo vm;
  vm.vm = content.obj;
  vm.name = TextOf(content, "name");
  vm.power_state = TextOf(content, "runtime.powerState");
  vm.host = RefOf(content, "runtime.host");
  vm.folder = RefOf(content, "parent");
  if (const Any* devices = content.Get("config.hardware.device")) {
    vm.devices = DecodePassthroughDevices(*devices);
  }
  return vm;
}

}  // namespace

std::string NormalizePciId(std::string_view id) {
  std::string out;
  for (const char c : id) {
    if (c != ' ') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (std::count(out.begin(), out.end(), ':') == 1) out = "0000:" + out;
  return out;
}

std::vector<VmPassthroughDevice> DecodePassthroughDevices(const Any& devices) {
  std::vector<VmPassthroughDevice> out;
  for (const auto& [element, device] : devices.fields) {
    if (device.xsi_type != "VirtualPCIPassthrough") continue;
    const Any* backing = device.Get("backing");
    if (backing == nullptr) continue;
    VmPassthroughDevice passthrough;
    if (backing->xsi_type == "VirtualPCIPassthroughDeviceBackingInfo") {
      passthrough.backing = Backing::kFixed;
      passthrough.id = NormalizePciId(backing->TextAt("id"));
      passthrough.vendor_id = PciId(backing->TextAt("vendorId"));
      passthrough.device_id = BackingDeviceId(backing->TextAt("deviceId"));
    } else if (backing->xsi_type == "VirtualPCIPassthroughDynamicBackingInfo") {
      passthrough.backing = Backing::kDynamic;
      if (const std::string_view assigned = backing->TextAt("assignedId"); !assigned.empty()) {
        passthrough.id = NormalizePciId(assigned);
      }
      passthrough.vendor_id = PciId(backing->TextAt("allowedDevice.vendorId"));
      passthrough.device_id = PciId(backing->TextAt("allowedDevice.deviceId"));
      passthrough.custom_label = backing->TextAt("customLabel");
    } else if (backing->xsi_type == "VirtualPCIPassthroughVmiopBackingInfo") {
      passthrough.backing = Backing::kVgpu;
      passthrough.vgpu = backing->TextAt("vgpu");
    } else {
      continue;  // another plugin backing: not a GPU vsray knows
    }
    out.push_back(std::move(passthrough));
  }
  return out;
}

HostGpuInfo DecodeHostGpus(const ObjectContent& host) {
  HostGpuInfo info;
  info.host = host.obj;
  info.name = TextOf(host, "name");
  if (const Any* devices = host.Get("hardware.pciDevice")) {
    for (const auto& [element, device] : devices->fields) {
      info.devices.push_back(DecodePciDevice(device));
    }
  }
  ApplyPassthruInfo(info, host.Get("config.pciPassthruInfo"));
  ApplyGraphicsInfo(info, host.Get("config.graphicsInfo"));
  ApplyAssignableHardware(info, host.Get("config.assignableHardwareConfig"),
                          host.Get("config.assignableHardwareBinding"));
  info.vgpu_profiles = Texts(host.Get("config.sharedPassthruGpuTypes"));
  return info;
}

StatusOr<std::vector<HostGpuInfo>> ReadHostGpus(Vim& vim, const std::vector<MoRef>& hosts,
                                                bool assignable_hardware) {
  std::vector<HostGpuInfo> out;
  if (hosts.empty()) return out;
  FilterSpec spec;
  spec.props.push_back({"HostSystem", HostPaths(assignable_hardware)});
  spec.props.push_back({"VirtualMachine", VmPaths()});
  for (const auto& host : hosts) {
    spec.objects.push_back({host, false, {{"hostVms", "HostSystem", "vm", false, {}}}});
  }
  VSRAY_ASSIGN_OR_RETURN(auto contents, vim.RetrieveProperties(spec));
  std::map<std::string, std::size_t> index;  // host id -> position in out
  for (const auto& content : contents) {
    if (content.obj.type != "HostSystem") continue;
    index[content.obj.value] = out.size();
    out.push_back(DecodeHostGpus(content));
  }
  for (const auto& content : contents) {
    if (content.obj.type != "VirtualMachine") continue;
    VmPassthroughInfo vm = DecodeVm(content);
    const auto at = index.find(vm.host.value);
    if (vm.devices.empty() || at == index.end()) continue;
    out[at->second].vms.push_back(std::move(vm));
  }
  return out;
}

StatusOr<std::vector<VmPassthroughInfo>> ReadVmPassthrough(Vim& vim,
                                                           const std::vector<MoRef>& vms) {
  std::vector<VmPassthroughInfo> out;
  for (const auto& vm : vms) {
    // One at a time: a VM deleted meanwhile fails only its own read.
    auto content = vim.RetrieveOne(vm, VmPaths());
    if (!content.ok()) {
      if (content.status().code() == StatusCode::kNotFound) continue;
      return content.status();
    }
    out.push_back(DecodeVm(*content));
  }
  return out;
}

StatusOr<std::map<std::string, std::string>> PassthroughSystemIds(Vim& vim, const MoRef& host) {
  VSRAY_ASSIGN_OR_RETURN(auto host_content, vim.RetrieveOne(host, {"parent"}));
  const MoRef compute = RefOf(host_content, "parent");
  if (compute.empty()) return NotFoundError("host " + host.value + " has no compute resource");
  VSRAY_ASSIGN_OR_RETURN(auto compute_content, vim.RetrieveOne(compute, {"environmentBrowser"}));
  const MoRef browser = RefOf(compute_content, "environmentBrowser");
  if (browser.empty()) {
    return NotFoundError(compute.type + " " + compute.value + " has no environment browser");
  }
  XmlWriter w;
  w.Ref("host", host);
  VSRAY_ASSIGN_OR_RETURN(auto reply,
                         vim.caller().Call("QueryConfigTarget", browser, w.str(), true));
  std::map<std::string, std::string> ids;
  if (const Any* target = reply.Get("returnval")) {
    for (const Any* entry : target->All("pciPassthrough")) {
      ids[NormalizePciId(entry->TextAt("pciDevice.id"))] = entry->TextAt("systemId");
    }
  }
  return ids;
}

}  // namespace vsray::vsphere
