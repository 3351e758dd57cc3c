// The vocabulary of frozen VMs (the parents of instant clones): which ones a cluster uses, one
// found, and what `vsray frozen-vm status` says about each.
#ifndef VSRAY_PROVIDER_FROZEN_VM_H_
#define VSRAY_PROVIDER_FROZEN_VM_H_

#include <functional>
#include <string>
#include <vector>

#include "provider/vocabulary.h"
#include "vsphere/xml.h"

namespace vsray::provider {

// Which frozen VMs a cluster (or one node type) clones from. Names may be inventory paths.
struct FrozenVmSpec {
  std::string name;          // VM name, or the prefix of `<name>-<host>` in kDeployPerHost
  std::string library_item;  // content-library item: "item" (any library) or "library/item"
  std::string resource_pool;
  std::string cluster;
  std::string datastore;
  FrozenVmMode mode = FrozenVmMode::kExisting;

  // Identifies the spec in caches and messages.
  std::string Key() const {
    return std::string(FrozenVmModeName(mode)) + "|" + name + "|" + library_item + "|" +
           resource_pool + "|" + cluster + "|" + datastore;
  }
  friend bool operator==(const FrozenVmSpec&, const FrozenVmSpec&) = default;
};

struct FrozenVm {
  vsphere::MoRef vm;
  std::string name;
  vsphere::MoRef host;
  vsphere::MoRef folder;
  vsphere::MoRef pool;
  vsphere::MoRef datastore;
  std::vector<vsphere::Any> nics;  // config.hardware.device NICs, as retrieved
};

// What `vsray frozen-vm status` shows, one entry per frozen VM (or per host lacking one).
struct FrozenVmStatus {
  std::string name;         // "" for a host of a kDeployPerHost pool that has no frozen VM yet
  std::string id;           // "vm-42"; "" when missing
  std::string host;         // host name
  std::string host_id;      // "host-21"
  std::string host_state;   // connected | disconnected | notResponding | maintenance
  std::string power_state;  // poweredOn | poweredOff | suspended | "" when missing
  bool frozen = false;      // runtime.instantCloneFrozen
  bool usable = false;      // frozen, powered on, on a connected host out of maintenance
  int clones_on_host = 0;   // this cluster's nodes on the host (filled in by the provider)
  std::string problem;      // why it is not usable ("" when usable)
};

// Progress of deploys and freezes: (VM name, state). States: "found", "deploying",
// "deployed", "configuring", "powering-on", "waiting-for-freeze", "frozen", "skipped".
using FrozenVmProgress = std::function<void(const std::string& vm, const std::string& state)>;

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_FROZEN_VM_H_
