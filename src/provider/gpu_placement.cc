#include "provider/gpu_placement.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>

namespace vsray::provider {
namespace {

using vsphere::HostGpuInfo;
using vsphere::HostPciDeviceInfo;
using vsphere::PciIdHex;
using vsphere::VmPassthroughDevice;
using Backing = vsphere::PciPassthroughSpec::Backing;

constexpr std::int64_t kKbPerGb = 1024LL * 1024;
// vGPUs one placement looks at, at most (a bound, far above any GPU's count).
constexpr int kMaxVgpus = 4096;

bool IsOn(const vsphere::VmPassthroughInfo& vm) { return vm.power_state == "poweredOn"; }

// PCI ids that powered-on VMs hold (fixed backings, assigned dynamic ones) and bindings list.
std::set<std::string> BoundDevices(const HostGpuInfo& host) {
  std::set<std::string> bound;
  for (const auto& vm : host.vms) {
    if (!IsOn(vm)) continue;
    for (const auto& device : vm.devices) {
      if (device.backing != Backing::kVgpu && !device.id.empty()) bound.insert(device.id);
    }
  }
  for (const auto& [id, vm] : host.bindings) bound.insert(id);
  return bound;
}

// Whether dynamic device `wanted` (another node's, not bound yet) can take `device`.
bool Allows(const VmPassthroughDevice& wanted, const HostPciDeviceInfo& device) {
  return device.passthrough_enabled && wanted.vendor_id == device.vendor_id &&
         wanted.device_id == device.device_id &&
         (wanted.custom_label.empty() || wanted.custom_label == device.custom_label);
}

// The PCI ids taken on `host`: bound ones, then the holds' (placing their unplaced ones).
std::set<std::string> TakenDevices(const HostGpuInfo& host, const std::vector<GpuHold>& holds) {
  std::set<std::string> taken = BoundDevices(host);
  for (const auto& hold : holds) {
    if (hold.host == host.host.value) taken.insert(hold.devices.begin(), hold.devices.end());
  }
  for (const auto& hold : holds) {
    if (hold.host != host.host.value) continue;
    for (const auto& wanted : hold.unplaced) {
      for (const auto& device : host.devices) {
        if (!taken.contains(device.id) && Allows(wanted, device)) {
          taken.insert(device.id);
          break;
        }
      }
    }
  }
  return taken;
}

// A GPU in vGPU (shared direct) mode, and the vGPUs it runs.
struct SharedGpu {
  const HostPciDeviceInfo* device;
  std::string profile;  // "" while idle
  int used = 0;
};

int Capacity(const SharedGpu& gpu, const std::string& profile) {
  const auto size = VgpuProfileGb(profile);
  if (!size || *size <= 0 || gpu.device->memory_kb <= 0) return 1;
  return static_cast<int>(gpu.device->memory_kb / (static_cast<std::int64_t>(*size) * kKbPerGb));
}

// First fit, as hosts place vGPUs: the first GPU running `profile` (or idle) with room.
bool PlaceVgpu(std::vector<SharedGpu>& gpus, const std::string& profile) {
  for (auto& gpu : gpus) {
    if ((gpu.profile.empty() || gpu.profile == profile) && gpu.used < Capacity(gpu, profile)) {
      gpu.profile = profile;
      ++gpu.used;
      return true;
    }
  }
  return false;
}

std::vector<SharedGpu> SharedGpus(const HostGpuInfo& host) {
  std::vector<SharedGpu> gpus;
  for (const auto& device : host.devices) {
    if (device.graphics_type == "sharedDirect") gpus.push_back({&device, "", 0});
  }
  return gpus;
}

// Counts the vGPUs that running VM `vm` has on `gpus` (on the GPUs graphicsInfo lists it on,
// else placed first fit).
void LoadVm(std::vector<SharedGpu>& gpus, const vsphere::VmPassthroughInfo& vm) {
  std::vector<std::string> profiles;
  for (const auto& device : vm.devices) {
    if (device.backing == Backing::kVgpu) profiles.push_back(device.vgpu);
  }
  if (profiles.empty()) return;
  std::vector<SharedGpu*> listed;  // the GPUs graphicsInfo says the VM runs on
  for (auto& gpu : gpus) {
    const auto& vms = gpu.device->graphics_vms;
    if (std::find(vms.begin(), vms.end(), vm.vm.value) != vms.end()) listed.push_back(&gpu);
  }
  if (listed.empty()) {
    for (const auto& profile : profiles) PlaceVgpu(gpus, profile);
    return;
  }
  for (SharedGpu* gpu : listed) {
    gpu->profile = profiles.front();
    gpu->used += listed.size() == 1 ? static_cast<int>(profiles.size()) : 1;
  }
}

// The shared GPUs of `host` with the vGPUs running (powered-on VMs) and held on them.
std::vector<SharedGpu> LoadedGpus(const HostGpuInfo& host, const std::vector<GpuHold>& holds) {
  std::vector<SharedGpu> gpus = SharedGpus(host);
  for (const auto& vm : host.vms) {
    if (IsOn(vm)) LoadVm(gpus, vm);
  }
  for (const auto& hold : holds) {
    if (hold.host != host.host.value) continue;
    for (const auto& profile : hold.vgpus) PlaceVgpu(gpus, profile);
  }
  return gpus;
}

int CountPlaceable(std::vector<SharedGpu> gpus, const std::string& profile) {
  int placed = 0;
  while (placed < kMaxVgpus && PlaceVgpu(gpus, profile)) ++placed;
  return placed;
}

HostOffer VgpuOffer(const HostGpuInfo& host, const GpuNeed& need,
                    const std::vector<GpuHold>& holds) {
  HostOffer offer{host.host.value, host.name, 0, 0, {}};
  const auto& profiles = host.vgpu_profiles;
  if (std::find(profiles.begin(), profiles.end(), need.vgpu_profile) == profiles.end()) {
    return offer;
  }
  offer.total = CountPlaceable(SharedGpus(host), need.vgpu_profile);
  offer.free = CountPlaceable(LoadedGpus(host, holds), need.vgpu_profile);
  return offer;
}

}  // namespace

bool IsGpu(const HostPciDeviceInfo& device, const std::vector<PciClass>& classes) {
  return std::any_of(classes.begin(), classes.end(),
                     [&](const PciClass& c) { return c.Matches(device.class_id); });
}

bool Accepts(const GpuNeed& need, const HostPciDeviceInfo& device) {
  return device.passthrough_enabled && IsGpu(device, need.classes) &&
         (!need.vendor_id || *need.vendor_id == device.vendor_id) &&
         (!need.device_id || *need.device_id == device.device_id) &&
         (need.custom_label.empty() || need.custom_label == device.custom_label);
}

std::optional<int> VgpuProfileGb(std::string_view profile) {
  // The last run of digits, followed only by letters: "grid_a100-3-20c" -> 20.
  std::size_t end = profile.size();
  while (end > 0 && std::isalpha(static_cast<unsigned char>(profile[end - 1])) != 0) --end;
  std::size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(profile[begin - 1])) != 0) --begin;
  if (begin == end) return std::nullopt;
  int gb = 0;
  std::from_chars(profile.data() + begin, profile.data() + end, gb);
  return gb;
}

HostOffer Offer(const HostGpuInfo& host, const GpuNeed& need, const std::vector<GpuHold>& holds) {
  if (need.mode == GpuMode::kVgpu) return VgpuOffer(host, need, holds);
  HostOffer offer{host.host.value, host.name, 0, 0, {}};
  const std::set<std::string> taken = TakenDevices(host, holds);
  for (const auto& device : host.devices) {
    if (!Accepts(need, device)) continue;
    ++offer.total;
    if (!taken.contains(device.id)) offer.free_devices.push_back(device);
  }
  std::sort(offer.free_devices.begin(), offer.free_devices.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  offer.free = static_cast<int>(offer.free_devices.size());
  return offer;
}

std::string DescribeNeed(const GpuNeed& need) {
  const std::string count = std::to_string(need.count);
  if (need.mode == GpuMode::kVgpu) {
    return count + (need.count == 1 ? " vGPU" : " vGPUs") + " of profile " + need.vgpu_profile;
  }
  std::string text = count + (need.count == 1 ? " GPU (" : " GPUs (");
  text += GpuModeName(need.mode);
  if (need.vendor_id) text += ", vendor " + PciIdHex(*need.vendor_id);
  if (need.device_id) text += ", device " + PciIdHex(*need.device_id);
  if (!need.custom_label.empty()) text += ", label '" + need.custom_label + "'";
  return text + ")";
}

std::string DescribeFree(const std::vector<HostOffer>& offers) {
  if (offers.empty()) return "(no host)";
  std::string text;
  for (const auto& offer : offers) {
    text += (text.empty() ? "" : ", ") + offer.host_name + " " + std::to_string(offer.free) +
            " of " + std::to_string(offer.total);
  }
  return text;
}

std::map<std::string, std::vector<std::string>> GpuUsers(const HostGpuInfo& host) {
  std::map<std::string, std::vector<std::string>> users;
  for (const auto& vm : host.vms) {
    if (!IsOn(vm)) continue;
    for (const auto& device : vm.devices) {
      if (device.backing != Backing::kVgpu && !device.id.empty()) {
        users[device.id].push_back(vm.vm.value);
      }
    }
  }
  for (const auto& [id, vm] : host.bindings) {
    auto& list = users[id];
    if (std::find(list.begin(), list.end(), vm) == list.end()) list.push_back(vm);
  }
  for (const auto& device : host.devices) {
    if (device.graphics_type != "sharedDirect") continue;
    for (const auto& vm : device.graphics_vms) users[device.id].push_back(vm);
  }
  return users;
}

}  // namespace vsray::provider
