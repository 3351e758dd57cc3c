#include "provider/gpu_allocator.h"

#include <algorithm>
#include <set>

#include "common/log.h"

namespace vsray::provider {
namespace {

using vsphere::HostGpuInfo;
using vsphere::PciPassthroughSpec;
using vsphere::VmPassthroughInfo;
using Backing = PciPassthroughSpec::Backing;

const VmPassthroughInfo* FindVm(const std::vector<HostGpuInfo>& hosts, const std::string& vm) {
  for (const auto& host : hosts) {
    for (const auto& info : host.vms) {
      if (info.vm.value == vm) return &info;
    }
  }
  return nullptr;
}

// A hold for a powered-off VM's passthrough devices (it takes them back at power-on).
GpuHold HoldOf(const std::string& host, const VmPassthroughInfo& vm) {
  GpuHold hold;
  hold.host = host;
  hold.vm = vm.vm.value;
  for (const auto& device : vm.devices) {
    switch (device.backing) {
      case Backing::kFixed:
        hold.devices.push_back(device.id);
        break;
      case Backing::kDynamic:
        hold.unplaced.push_back(device);
        break;
      case Backing::kVgpu:
        hold.vgpus.push_back(device.vgpu);
        break;
    }
  }
  return hold;
}

std::string NoRoomMessage(const GpuNeed& need, const std::string& node_type,
                          const std::vector<HostOffer>& offers) {
  return "node type '" + node_type + "' needs " + DescribeNeed(need) +
         "; free on the hosts of its parents: " + DescribeFree(offers);
}

// The offer with the most free devices, at least `count` (the first of equals); null if none.
const HostOffer* Roomiest(const std::vector<HostOffer>& offers, int count) {
  const HostOffer* best = nullptr;
  for (const auto& offer : offers) {
    if (offer.free >= count && (best == nullptr || offer.free > best->free)) best = &offer;
  }
  return best;
}

std::string SpareMessage(const std::vector<HostOffer>& spare) {
  return spare.empty() ? std::string()
                       : "; on hosts without a usable parent: " + DescribeFree(spare);
}

}  // namespace

GpuAllocator::GpuAllocator(GpuClient& client, MoRef folder, Alive alive)
    : client_(client), folder_(std::move(folder)), alive_(std::move(alive)) {}

std::vector<GpuHold> GpuAllocator::CountedHolds(const std::vector<HostGpuInfo>& hosts) {
  std::vector<GpuHold> holds;
  std::set<std::string> known;  // VMs of the ledger
  for (auto it = ledger_.begin(); it != ledger_.end();) {
    const GpuHold& hold = it->second.hold;
    if (it->second.kept && alive_ && !alive_(hold.vm)) {
      Log()->debug("GPUs of node {} released: the node is gone", hold.vm);
      it = ledger_.erase(it);
      continue;
    }
    if (!hold.vm.empty()) known.insert(hold.vm);
    // A node running with its devices: vCenter's record has them already.
    const VmPassthroughInfo* vm = hold.vm.empty() ? nullptr : FindVm(hosts, hold.vm);
    if (vm == nullptr || vm->power_state != "poweredOn") holds.push_back(hold);
    ++it;
  }
  for (const auto& host : hosts) {
    for (const auto& vm : host.vms) {
      if (vm.power_state == "poweredOff" && vm.folder == folder_ && !known.contains(vm.vm.value)) {
        holds.push_back(HoldOf(host.host.value, vm));
      }
    }
  }
  return holds;
}

StatusOr<std::vector<PciPassthroughSpec>> GpuAllocator::Devices(const GpuNeed& need,
                                                                const HostOffer& offer) {
  std::vector<PciPassthroughSpec> devices;
  if (need.mode == GpuMode::kVgpu) {
    PciPassthroughSpec vgpu;
    vgpu.backing = Backing::kVgpu;
    vgpu.vgpu = need.vgpu_profile;
    devices.assign(static_cast<std::size_t>(need.count), vgpu);
    return devices;
  }
  std::map<std::string, std::string> system_ids;
  if (need.mode == GpuMode::kPassthrough) {
    VSRAY_ASSIGN_OR_RETURN(system_ids, client_.SystemIds({"HostSystem", offer.host}));
  }
  for (int i = 0; i < need.count; ++i) {
    const auto& device = offer.free_devices[static_cast<std::size_t>(i)];
    PciPassthroughSpec spec;
    spec.backing = need.mode == GpuMode::kPassthrough ? Backing::kFixed : Backing::kDynamic;
    spec.id = device.id;
    spec.vendor_id = device.vendor_id;
    spec.device_id = device.device_id;
    spec.device_name = device.device_name;
    spec.custom_label = need.custom_label;
    if (need.mode == GpuMode::kPassthrough) {
      const auto it = system_ids.find(device.id);
      if (it == system_ids.end()) {
        return FailedPreconditionError("host " + offer.host_name + " does not offer " + device.id +
                                       " for passthrough (QueryConfigTarget lists it not)");
      }
      spec.system_id = it->second;
    }
    devices.push_back(std::move(spec));
  }
  return devices;
}

StatusOr<GpuAllocator::Grant> GpuAllocator::Reserve(const GpuNeed& need,
                                                    const std::string& node_type,
                                                    const std::vector<FrozenVm>& parents,
                                                    const PickParent& pick,
                                                    const std::vector<MoRef>& spare_hosts) {
  std::vector<MoRef> hosts;
  std::set<std::string> parent_hosts;
  const auto add = [&hosts](const MoRef& host) {
    if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(host);
  };
  for (const auto& parent : parents) {
    add(parent.host);
    parent_hosts.insert(parent.host.value);
  }
  for (const auto& host : spare_hosts) add(host);
  std::lock_guard lock(mu_);
  const bool assignable = need.mode == GpuMode::kDynamic || !need.custom_label.empty();
  VSRAY_ASSIGN_OR_RETURN(auto truth, client_.HostGpus(hosts, assignable));
  const std::vector<GpuHold> holds = CountedHolds(truth);
  std::map<std::string, HostOffer> offers;  // host id -> offer
  std::vector<HostOffer> with_parent;
  std::vector<HostOffer> spare;  // hosts without a usable parent
  for (const auto& host : truth) {
    offers[host.host.value] = Offer(host, need, holds);
    (parent_hosts.contains(host.host.value) ? with_parent : spare)
        .push_back(offers[host.host.value]);
  }
  std::vector<FrozenVm> eligible;
  for (const auto& parent : parents) {
    const auto it = offers.find(parent.host.value);
    if (it != offers.end() && it->second.free >= need.count) eligible.push_back(parent);
  }
  // Instant clone first; else the spare host with the most free GPUs.
  FrozenVm parent;
  const HostOffer* chosen = nullptr;
  if (!eligible.empty()) {
    parent = pick(eligible);
    chosen = &offers[parent.host.value];
  } else if (const HostOffer* spare_host = Roomiest(spare, need.count); spare_host != nullptr) {
    parent = pick(parents);
    chosen = spare_host;
  } else {
    return Status(StatusCode::kResourceExhausted,
                  NoRoomMessage(need, node_type, with_parent) + SpareMessage(spare));
  }
  const HostOffer& offer = *chosen;
  VSRAY_ASSIGN_OR_RETURN(auto devices, Devices(need, offer));
  Entry entry;
  entry.hold.host = offer.host;
  for (const auto& device : devices) {
    if (device.backing == Backing::kVgpu) {
      entry.hold.vgpus.push_back(device.vgpu);
    } else {
      entry.hold.devices.push_back(device.id);
    }
  }
  const std::uint64_t ticket = next_ticket_++;
  ledger_[ticket] = std::move(entry);
  return Grant(this, ticket, std::move(parent), MoRef{"HostSystem", offer.host}, offer.host_name,
               std::move(devices));
}

void GpuAllocator::Release(const std::string& vm) {
  std::lock_guard lock(mu_);
  std::erase_if(ledger_, [&](const auto& entry) { return entry.second.hold.vm == vm; });
}

std::vector<GpuHold> GpuAllocator::Holds() const {
  std::lock_guard lock(mu_);
  std::vector<GpuHold> out;
  out.reserve(ledger_.size());
  for (const auto& [ticket, entry] : ledger_) out.push_back(entry.hold);
  return out;
}

void GpuAllocator::Drop(std::uint64_t ticket) {
  std::lock_guard lock(mu_);
  ledger_.erase(ticket);
}

void GpuAllocator::Bind(std::uint64_t ticket, const std::string& vm) {
  std::lock_guard lock(mu_);
  if (auto it = ledger_.find(ticket); it != ledger_.end()) it->second.hold.vm = vm;
}

void GpuAllocator::Keep(std::uint64_t ticket) {
  std::lock_guard lock(mu_);
  if (auto it = ledger_.find(ticket); it != ledger_.end()) it->second.kept = true;
}

}  // namespace vsray::provider
