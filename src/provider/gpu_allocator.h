// The GPU ledger of one provider: which devices its nodes hold on which host. A node's GPUs
// are chosen under one lock, against vCenter's record read at that moment (what powered-on
// VMs hold, Dynamic DirectPath bindings, vGPUs running; GpuClient::HostGpus) and against the
// ledger (nodes being made, whose devices vCenter binds only at power-on), so that concurrent
// creates never pick the same device. A reservation lives as long as its node: it goes when
// the create fails (the Grant is dropped) or the node is terminated (Release), or when the
// node is found gone. Powered-off VMs of the cluster's folder with passthrough devices that
// the ledger does not know (nodes another provider of the cluster is making) count as taken
// too. Thread-safe.
#ifndef VSRAY_PROVIDER_GPU_ALLOCATOR_H_
#define VSRAY_PROVIDER_GPU_ALLOCATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "provider/frozen_vm.h"
#include "provider/gpu_need.h"
#include "provider/gpu_placement.h"
#include "provider/vcenter.h"

namespace vsray::provider {

class GpuAllocator {
 public:
  class Grant;
  // Chooses the parent of a node among `eligible` (not empty; parents whose host can serve
  // it) and returns it. Called under the allocator's lock.
  using PickParent = std::function<FrozenVm(const std::vector<FrozenVm>& eligible)>;
  // Whether a node (VM id) still exists, as far as the provider knows.
  using Alive = std::function<bool(const std::string& vm)>;

  // `client` must outlive the allocator. `folder`: the cluster's VM folder.
  GpuAllocator(GpuClient& client, MoRef folder, Alive alive);

  // Reserves GPUs for a node of `node_type` that needs `need`, on the host of one of
  // `parents` (chosen by `pick` among those that can serve it: an instant clone). When none
  // can, on the host of `spare_hosts` (hosts the node may be placed on that have no usable
  // parent) with the most free GPUs, for a clone of a parent (chosen by `pick` among all of
  // `parents`) relocated there; the Grant's host() says where. RESOURCE_EXHAUSTED when no
  // host can: "node type 'T' needs 2 GPUs (passthrough); free on the hosts of its parents: H0
  // 1 of 4, H1 0 of 4[; on hosts without a usable parent: H2 0 of 4]". Errors of GpuClient.
  StatusOr<Grant> Reserve(const GpuNeed& need, const std::string& node_type,
                          const std::vector<FrozenVm>& parents, const PickParent& pick,
                          const std::vector<MoRef>& spare_hosts = {});
  // Node `vm` is gone (terminated): its devices are free.
  void Release(const std::string& vm);
  // What the ledger holds (tests, logs).
  std::vector<GpuHold> Holds() const;

 private:
  // Drops reservation `ticket` (a create that failed).
  void Drop(std::uint64_t ticket);
  void Bind(std::uint64_t ticket, const std::string& vm);
  void Keep(std::uint64_t ticket);
  // The ledger's holds that still count, plus the other providers' nodes of the folder
  // (caller holds mu_; forgets kept nodes that are gone).
  std::vector<GpuHold> CountedHolds(const std::vector<vsphere::HostGpuInfo>& hosts);
  // The devices of a node, on `host` (fixed backings need the host's system ids).
  StatusOr<std::vector<vsphere::PciPassthroughSpec>> Devices(const GpuNeed& need,
                                                             const HostOffer& offer);

  struct Entry {
    GpuHold hold;
    bool kept = false;  // the node exists: held until terminated
  };

  GpuClient& client_;
  const MoRef folder_;
  const Alive alive_;
  mutable std::mutex mu_;
  std::uint64_t next_ticket_ = 1;
  std::map<std::uint64_t, Entry> ledger_;
};

// The GPUs reserved for one node being made. Dropped without Keep(): the reservation goes.
class GpuAllocator::Grant {
 public:
  Grant(GpuAllocator* allocator, std::uint64_t ticket, FrozenVm parent, MoRef host,
        std::string host_name, std::vector<vsphere::PciPassthroughSpec> devices)
      : allocator_(allocator),
        ticket_(ticket),
        parent_(std::move(parent)),
        host_(std::move(host)),
        host_name_(std::move(host_name)),
        devices_(std::move(devices)) {}
  ~Grant() {
    if (allocator_ != nullptr && !kept_) allocator_->Drop(ticket_);
  }
  Grant(Grant&& other) noexcept
      : allocator_(std::exchange(other.allocator_, nullptr)),
        ticket_(other.ticket_),
        parent_(std::move(other.parent_)),
        host_(std::move(other.host_)),
        host_name_(std::move(other.host_name_)),
        devices_(std::move(other.devices_)),
        kept_(other.kept_) {}
  Grant(const Grant&) = delete;
  Grant& operator=(const Grant&) = delete;
  Grant& operator=(Grant&&) = delete;

  // The parent chosen for the node (on the host the devices are on, unless fallback()).
  const FrozenVm& parent() const { return parent_; }
  // The host the devices are on: where the node must run.
  const MoRef& host() const { return host_; }
  const std::string& host_name() const { return host_name_; }
  // The node goes to a host without a usable parent: no instant clone can put it there.
  bool fallback() const { return host_ != parent_.host; }
  // The devices to add to the node's VM.
  const std::vector<vsphere::PciPassthroughSpec>& devices() const { return devices_; }
  // The node's VM exists: the reservation is its.
  void Bind(const std::string& vm) { allocator_->Bind(ticket_, vm); }
  // The node is made: its devices stay reserved until it is terminated.
  void Keep() {
    allocator_->Keep(ticket_);
    kept_ = true;
  }

 private:
  GpuAllocator* allocator_;
  std::uint64_t ticket_;
  FrozenVm parent_;
  MoRef host_;
  std::string host_name_;
  std::vector<vsphere::PciPassthroughSpec> devices_;
  bool kept_ = false;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_GPU_ALLOCATOR_H_
