// GPU nodes through the vCenter seam, against the in-memory FakeVcenter (its hosts have GPUs
// and its power-ons bind them as vCenter does): which devices are free, the allocator's ledger
// under concurrent creates, fail-fast placement, release on terminate and on failure, the
// set-up sequence of a GPU node, and nodes without GPUs left as they were.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "common/clock.h"
#include "provider/gpu_allocator.h"
#include "provider/gpu_placement.h"
#include "provider/node_factory.h"
#include "provider/node_provider.h"
#include "provider/repair.h"
#include "support/fake_vcenter.h"
#include "support/status_matchers.h"

namespace vsray::provider {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using vsphere::HostGpuInfo;
using vsphere::HostPciDeviceInfo;
using vsphere::VmPassthroughDevice;
using vsphere::VmPassthroughInfo;
using ::vsray::testing::FakeGpu;
using ::vsray::testing::FakeVcenter;
using ::vsray::testing::FakeVm;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;
using Backing = vsphere::PciPassthroughSpec::Backing;

const TagMap kGpuTags = {{"ray-node-type", "worker"},
                         {"ray-user-node-type", "gpu_worker"},
                         {"ray-node-status", "uninitialized"}};

constexpr std::int64_t kNow = 1'700'000'000;

HostPciDeviceInfo Gpu(const std::string& id, std::uint16_t device_id = 0x20f1) {
  HostPciDeviceInfo gpu;
  gpu.id = id;
  gpu.class_id = 0x0302;
  gpu.vendor_id = 0x10de;
  gpu.device_id = device_id;
  gpu.device_name = "GA100";
  gpu.passthrough_enabled = true;
  gpu.graphics_type = "direct";
  return gpu;
}

VmPassthroughInfo RunningVm(const std::string& id, std::vector<VmPassthroughDevice> devices) {
  return {{"VirtualMachine", id}, id, "poweredOn", {"HostSystem", "h1"}, {}, std::move(devices)};
}

VmPassthroughDevice Fixed(const std::string& id) {
  VmPassthroughDevice device;
  device.backing = Backing::kFixed;
  device.id = id;
  return device;
}

GpuNeed Need(int count, GpuMode mode = GpuMode::kPassthrough) {
  GpuNeed need;
  need.count = count;
  need.mode = mode;
  return need;
}

std::vector<std::string> Ids(const HostOffer& offer) {
  std::vector<std::string> ids;
  for (const auto& device : offer.free_devices) ids.push_back(device.id);
  return ids;
}

// ---- Which devices are free (pure) ----

TEST(GpuPlacementTest, BoundHeldAndNonGpuDevicesAreNotFree) {
  HostGpuInfo host{{"HostSystem", "h1"}, "esx-1", {}, {}, {}, {}};
  HostPciDeviceInfo nic = Gpu("0000:02:00.0");
  nic.class_id = 0x0200;  // an Ethernet controller, passthrough-enabled: not a GPU
  host.devices = {nic,
                  Gpu("0000:3b:00.0"),
                  Gpu("0000:3c:00.0"),
                  Gpu("0000:3d:00.0"),
                  Gpu("0000:3e:00.0"),
                  Gpu("0000:3f:00.0")};
  host.devices[5].passthrough_enabled = false;              // not enabled for passthrough
  host.vms = {RunningVm("vm-1", {Fixed("0000:3b:00.0")})};  // a running VM holds it
  host.bindings["0000:3c:00.0"] = "vm-2";                   // bound dynamically
  host.vms.push_back(RunningVm("vm-3", {Fixed("0000:3d:00.0")}));
  host.vms.back().power_state = "poweredOff";  // off: holds nothing
  const std::vector<GpuHold> holds = {{"h1", "", {"0000:3e:00.0"}, {}, {}},
                                      {"h2", "", {"0000:3d:00.0"}, {}, {}}};  // another host
  const HostOffer offer = Offer(host, Need(1), holds);
  EXPECT_EQ(offer.total, 4);
  EXPECT_THAT(Ids(offer), ElementsAre("0000:3d:00.0"));
  EXPECT_EQ(offer.free, 1);
}

TEST(GpuPlacementTest, NeedsNarrowByIdsLabelAndClass) {
  HostGpuInfo host{{"HostSystem", "h1"}, "esx-1", {}, {}, {}, {}};
  host.devices = {Gpu("0000:3b:00.0"), Gpu("0000:3c:00.0", 0x20b5), Gpu("0000:3d:00.0", 0x20b5)};
  host.devices[2].custom_label = "big";
  host.devices[0].class_id = 0x0300;  // a VGA controller
  GpuNeed need = Need(1);
  need.device_id = 0x20b5;
  EXPECT_THAT(Ids(Offer(host, need, {})), ElementsAre("0000:3c:00.0", "0000:3d:00.0"));
  need.custom_label = "big";
  EXPECT_THAT(Ids(Offer(host, need, {})), ElementsAre("0000:3d:00.0"));
  GpuNeed three_d = Need(1);
  three_d.classes = {PciClass{0x0302, 0xFFFF}};
  EXPECT_EQ(Offer(host, three_d, {}).total, 2);
  EXPECT_EQ(Offer(host, Need(1), {}).total, 3);  // display controllers, by default
  GpuNeed amd = Need(1);
  amd.vendor_id = 0x1002;
  EXPECT_EQ(Offer(host, amd, {}).total, 0);
}

TEST(GpuPlacementTest, UnplacedDynamicDevicesTakeAMatchingFreeOne) {
  HostGpuInfo host{{"HostSystem", "h1"}, "esx-1", {}, {}, {}, {}};
  host.devices = {Gpu("0000:3b:00.0"), Gpu("0000:3c:00.0", 0x20b5), Gpu("0000:3d:00.0")};
  VmPassthroughDevice wanted;
  wanted.backing = Backing::kDynamic;
  wanted.vendor_id = 0x10de;
  wanted.device_id = 0x20b5;
  const HostOffer offer =
      Offer(host, Need(1, GpuMode::kDynamic), {{"h1", "vm-9", {}, {wanted}, {}}});
  EXPECT_THAT(Ids(offer), ElementsAre("0000:3b:00.0", "0000:3d:00.0"));
}

TEST(GpuPlacementTest, VgpusFillOneProfilePerGpuAsMemoryAllows) {
  EXPECT_EQ(VgpuProfileGb("grid_t4-4c"), 4);
  EXPECT_EQ(VgpuProfileGb("grid_a100-3-20c"), 20);
  EXPECT_EQ(VgpuProfileGb("nvidia_a40-48q"), 48);
  EXPECT_EQ(VgpuProfileGb("custom"), std::nullopt);
  HostGpuInfo host{{"HostSystem", "h1"}, "esx-1", {}, {"grid_t4-4c", "grid_t4-8c"}, {}, {}};
  for (const char* id : {"0000:3b:00.0", "0000:3c:00.0"}) {
    HostPciDeviceInfo t4 = Gpu(id, 0x1eb8);
    t4.passthrough_enabled = false;
    t4.graphics_type = "sharedDirect";
    t4.memory_kb = 16LL * 1024 * 1024;
    host.devices.push_back(t4);
  }
  GpuNeed need = Need(1, GpuMode::kVgpu);
  need.vgpu_profile = "grid_t4-4c";
  EXPECT_EQ(Offer(host, need, {}).total, 8);  // 2 GPUs x 16 GB / 4 GB
  // A running VM with an 8 GB vGPU on the first GPU: it runs that profile only.
  VmPassthroughDevice vgpu;
  vgpu.backing = Backing::kVgpu;
  vgpu.vgpu = "grid_t4-8c";
  host.vms = {RunningVm("vm-1", {vgpu})};
  host.devices[0].graphics_vms = {"vm-1"};
  EXPECT_EQ(Offer(host, need, {}).free, 4);
  // Two 4 GB vGPUs held by nodes being made.
  EXPECT_EQ(Offer(host, need, {{"h1", "", {}, {}, {"grid_t4-4c", "grid_t4-4c"}}}).free, 2);
  need.vgpu_profile = "grid_a100-4c";  // not offered by this host
  EXPECT_EQ(Offer(host, need, {}).total, 0);
}

TEST(GpuPlacementTest, NeedsDescribeThemselves) {
  GpuNeed need = Need(2);
  need.vendor_id = 0x10de;
  need.custom_label = "big";
  EXPECT_EQ(DescribeNeed(need), "2 GPUs (passthrough, vendor 10de, label 'big')");
  EXPECT_EQ(DescribeNeed(Need(1, GpuMode::kDynamic)), "1 GPU (dynamic)");
  GpuNeed vgpu = Need(1, GpuMode::kVgpu);
  vgpu.vgpu_profile = "grid_t4-4c";
  EXPECT_EQ(DescribeNeed(vgpu), "1 vGPU of profile grid_t4-4c");
}

TEST(GpuPlanTest, AGpuNodeIsAttachedWhileOffInOneReconfigure) {
  NodeSpec spec;
  spec.cpus = 8;
  spec.memory_mb = 65536;
  spec.gpu = Need(2);
  EXPECT_THAT(PlanSetup(spec, false),
              ElementsAre(SetupStep::kWaitGuest, SetupStep::kPowerOff, SetupStep::kAttachGpus,
                          SetupStep::kPowerOn, SetupStep::kMarkCreated));
  spec.clone_mode = CloneMode::kLinked;  // born powered off
  EXPECT_THAT(PlanSetup(spec, false),
              ElementsAre(SetupStep::kAttachGpus, SetupStep::kPowerOn, SetupStep::kMarkCreated));
  spec.gpu->use_64bit_mmio = true;
  spec.gpu->mmio_size_gb = 128;
  vsphere::PciPassthroughSpec device;
  device.id = "0000:3b:00.0";
  const vsphere::ConfigSpec config = GpuConfigSpec(spec, {device, device});
  EXPECT_EQ(config.num_cpus, 8);
  EXPECT_EQ(config.memory_mb, 65536);
  EXPECT_TRUE(config.memory_reservation_locked_to_max);
  EXPECT_THAT(config.add_passthrough, SizeIs(2));
  ASSERT_THAT(config.extra_config, SizeIs(2));
  EXPECT_EQ(config.extra_config[0].key, "pciPassthru.use64bitMMIO");
  EXPECT_EQ(config.extra_config[1].key, "pciPassthru.64bitMMIOSizeGB");
  EXPECT_EQ(config.extra_config[1].value, "128");
  spec.gpu->use_64bit_mmio = false;
  EXPECT_THAT(GpuConfigSpec(spec, {device}).extra_config, IsEmpty());
}

// ---- GPU nodes made by a provider ----

class GpuProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeVcenter>();
    hosts_ = {fake_->AddHost("esx-1"), fake_->AddHost("esx-2")};
    pool_ = fake_->AddPool("Resources", hosts_);
    for (const auto& host : hosts_) {
      fake_->AddFrozenVm("frozen-" + host.value, host, pool_);
      for (int i = 0; i < 4; ++i) fake_->AddGpu(host);
    }
  }

  ProviderOptions Options() {
    ProviderOptions options;
    options.vcenter = fake_->Factory();
    options.frozen_vm.mode = FrozenVmMode::kExistingPool;
    options.frozen_vm.resource_pool = "Resources";
    options.max_concurrency = 8;
    options.watch = false;
    options.clock = &clock_;
    options.now_seconds = [] { return kNow; };
    return options;
  }

  std::unique_ptr<NodeProvider> Make() {
    auto provider = NodeProvider::Create(Options(), "c1");
    EXPECT_THAT(provider, IsOk());
    return provider.ok() ? std::move(provider).value() : nullptr;
  }

  static NodeSpec GpuSpec(int count, GpuMode mode = GpuMode::kPassthrough) {
    NodeSpec spec;
    spec.cpus = 4;
    spec.gpu = Need(count, mode);
    return spec;
  }

  // (host, PCI id) of every device the VMs of the cluster folder name.
  std::vector<std::pair<std::string, std::string>> Devices() {
    std::vector<std::pair<std::string, std::string>> out;
    auto folder = fake_->FindChild(fake_->vm_folder(), "ray-c1");
    if (!folder.ok() || !*folder) return out;
    for (const auto& vm : fake_->VmsIn(**folder)) {
      for (std::size_t i = 0; i < vm.gpus.size(); ++i) {
        out.emplace_back(vm.host.value,
                         vm.gpus[i].backing == Backing::kFixed ? vm.gpus[i].id : vm.assigned[i]);
      }
    }
    return out;
  }

  std::shared_ptr<FakeVcenter> fake_;
  std::vector<MoRef> hosts_;
  MoRef pool_;
  FakeClock clock_;
};

TEST_F(GpuProviderTest, AnInstantCloneIsPoweredOffGivenItsDevicesAndPoweredOn) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  auto result = provider->CreateNode(GpuSpec(2), kGpuTags, 1);
  ASSERT_THAT(result, IsOk());
  ASSERT_THAT(result->created, SizeIs(1));
  const std::string id = result->created[0].id;
  auto vm = fake_->Find({"VirtualMachine", id});
  ASSERT_TRUE(vm.has_value());
  EXPECT_EQ(vm->power_state, "poweredOn");
  ASSERT_THAT(vm->gpus, SizeIs(2));
  for (const auto& gpu : vm->gpus) {
    EXPECT_EQ(gpu.backing, Backing::kFixed);
    EXPECT_EQ(gpu.system_id, "system-" + vm->host.value);
    EXPECT_EQ(gpu.vendor_id, 0x10de);
  }
  EXPECT_NE(vm->gpus[0].id, vm->gpus[1].id);
  EXPECT_TRUE(vm->memory_locked);
  EXPECT_EQ(vm->cpus, 4);
  EXPECT_EQ(vm->extra_config.at("guestinfo.vsray.gpus"), "2");
  // The sequence: clone, wait for the guest, power off, ONE reconfigure, power on, tags.
  std::vector<std::string> ops;
  for (const auto& entry : fake_->journal()) {
    if (entry.find(id) != std::string::npos || entry.starts_with("InstantClone")) {
      ops.push_back(entry.substr(0, entry.find(' ')));
    }
  }
  ASSERT_GE(ops.size(), 6U);
  EXPECT_THAT(std::vector<std::string>(ops.begin(), ops.begin() + 5),
              ElementsAre("InstantClone", "WaitGuest", "PowerOff", "Reconfigure", "PowerOn"));
  EXPECT_EQ(fake_->calls("Reconfigure"), 1);
  ASSERT_THAT(provider->NonTerminatedNodes({}), IsOk());  // no watch: read its address
  EXPECT_TRUE(provider->IsRunning(id));
  EXPECT_TRUE(provider->InternalIp(id).has_value());  // created: its address is given out
  // vsray nodes reads the devices back.
  auto gpus = provider->NodeGpus({id});
  ASSERT_THAT(gpus, IsOk());
  EXPECT_THAT(gpus->at(id), SizeIs(2));
}

TEST_F(GpuProviderTest, ConcurrentCreatesGetDistinctDevicesAndTheNinthFailsBeforeCloning) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  std::vector<std::thread> threads;
  std::vector<StatusOr<CreateResult>> results(8, CreateResult{});
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = provider->CreateNode(GpuSpec(1), kGpuTags, 1); });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) {
    ASSERT_THAT(result, IsOk());
    EXPECT_THAT(result->created, SizeIs(1));
  }
  const auto devices = Devices();
  EXPECT_THAT(devices, SizeIs(8));
  EXPECT_EQ(std::set(devices.begin(), devices.end()).size(), 8U);
  // Both hosts are full: the ninth fails fast, naming the node type, the need and each host.
  const int clones = fake_->calls("InstantClone");
  auto ninth = provider->CreateNode(GpuSpec(1), kGpuTags, 1);
  EXPECT_THAT(ninth,
              StatusIs(StatusCode::kResourceExhausted,
                       HasSubstr("node type 'gpu_worker' needs 1 GPU (passthrough); free "
                                 "on the hosts of its parents: esx-1 0 of 4, esx-2 0 of 4")));
  EXPECT_EQ(ninth.status().message().find('\n'), std::string::npos);
  EXPECT_EQ(fake_->calls("InstantClone"), clones);
  EXPECT_THAT(provider->frozen_vms(), SizeIs(2));
}

TEST_F(GpuProviderTest, APartialBatchKeepsTheNodesThatGotGpus) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  auto result = provider->CreateNode(GpuSpec(3), kGpuTags, 3);
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(result->created, SizeIs(2));  // one per host: 3 of 4 GPUs each
  ASSERT_THAT(result->failures, SizeIs(1));
  EXPECT_EQ(result->failures[0].code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(result->failures[0].message(), HasSubstr("esx-1 1 of 4, esx-2 1 of 4"));
  EXPECT_EQ(fake_->calls("InstantClone"), 2);
}

TEST_F(GpuProviderTest, TerminatingANodeFreesItsDevicesForTheNextCreate) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  auto full = provider->CreateNode(GpuSpec(4), kGpuTags, 2);
  ASSERT_THAT(full, IsOk());
  ASSERT_THAT(full->created, SizeIs(2));
  EXPECT_THAT(provider->CreateNode(GpuSpec(1), kGpuTags, 1),
              StatusIs(StatusCode::kResourceExhausted));
  ASSERT_THAT(provider->TerminateNode(full->created[0].id), IsOk());
  auto again = provider->CreateNode(GpuSpec(4), kGpuTags, 1);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->created[0].host, full->created[0].host);
}

TEST_F(GpuProviderTest, ACreateThatFailsAfterAllocationReleasesItsDevices) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  fake_->Fail("PowerOn", FailedPreconditionError("InvalidState").set_fault("InvalidState"), 1);
  auto failed = provider->CreateNode(GpuSpec(4), kGpuTags, 2);
  ASSERT_THAT(failed, IsOk());
  EXPECT_THAT(failed->created, SizeIs(1));
  ASSERT_THAT(failed->failures, SizeIs(1));
  EXPECT_THAT(failed->failures[0].message(), HasSubstr("power on"));
  EXPECT_EQ(fake_->calls("Destroy"), 1);
  // The failed node's four GPUs are free again: a node takes them.
  auto again = provider->CreateNode(GpuSpec(4), kGpuTags, 1);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(again->created, SizeIs(1));
  EXPECT_THAT(Devices(), SizeIs(8));
}

TEST_F(GpuProviderTest, DynamicDevicesAreBoundAtPowerOnToDistinctGpus) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  auto result = provider->CreateNode(GpuSpec(2, GpuMode::kDynamic), kGpuTags, 4);
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(result->created, SizeIs(4));
  for (const auto& node : result->created) {
    auto vm = fake_->Find({"VirtualMachine", node.id});
    ASSERT_TRUE(vm.has_value());
    for (const auto& gpu : vm->gpus) {
      EXPECT_EQ(gpu.backing, Backing::kDynamic);
      EXPECT_EQ(gpu.device_id, 0x20f1);
      EXPECT_TRUE(gpu.system_id.empty());
    }
  }
  const auto devices = Devices();
  EXPECT_EQ(std::set(devices.begin(), devices.end()).size(), 8U);
}

TEST_F(GpuProviderTest, PoweredOffNodesOfTheFolderKeepTheirDevices) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  // Another provider's node of this cluster, off while it is being made, with a fixed device.
  auto folder = fake_->FindChild(fake_->vm_folder(), "ray-c1");
  ASSERT_TRUE(folder.ok() && *folder);
  FakeVm other;
  other.name = "ray-c1-worker-other";
  other.host = hosts_[0];
  other.folder = **folder;
  other.power_state = "poweredOff";
  vsphere::PciPassthroughSpec taken;
  taken.id = "0000:3b:00.0";
  other.gpus = {taken};
  fake_->AddVm(other);
  auto result = provider->CreateNode(GpuSpec(3), kGpuTags, 1);
  ASSERT_THAT(result, IsOk());
  ASSERT_THAT(result->created, SizeIs(1));
  auto vm = fake_->Find({"VirtualMachine", result->created[0].id});
  ASSERT_TRUE(vm.has_value());
  if (vm->host == hosts_[0]) {
    for (const auto& gpu : vm->gpus) EXPECT_NE(gpu.id, "0000:3b:00.0");
  }
  // Four on one host cannot be had there any more: only the other host serves them.
  auto four = provider->CreateNode(GpuSpec(4), kGpuTags, 1);
  if (vm->host == hosts_[0]) {
    ASSERT_THAT(four, IsOk());
    EXPECT_EQ(four->created[0].host, hosts_[1].value);
  } else {
    EXPECT_THAT(four, StatusIs(StatusCode::kResourceExhausted));
  }
}

TEST_F(GpuProviderTest, ANodeDeletedOutsideGivesBackItsDevices) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  auto full = provider->CreateNode(GpuSpec(4), kGpuTags, 2);
  ASSERT_THAT(full, IsOk());
  ASSERT_THAT(full->created, SizeIs(2));
  ASSERT_THAT(fake_->Destroy({"VirtualMachine", full->created[1].id}, false, {}), IsOk());
  clock_.Advance(NodeCache::kPendingTtl + std::chrono::seconds(1));  // not a listing's lag
  ASSERT_THAT(provider->NonTerminatedNodes({}), IsOk());             // the provider sees it gone
  auto again = provider->CreateNode(GpuSpec(4), kGpuTags, 1);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->created[0].host, full->created[1].host);
}

TEST_F(GpuProviderTest, ALinkedCloneGetsItsDevicesBeforeItsFirstPowerOn) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  NodeSpec spec = GpuSpec(1);
  spec.clone_mode = CloneMode::kLinked;
  auto result = provider->CreateNode(spec, kGpuTags, 1);
  ASSERT_THAT(result, IsOk());
  ASSERT_THAT(result->created, SizeIs(1));
  EXPECT_EQ(fake_->calls("WaitGuest"), 0);
  EXPECT_EQ(fake_->calls("PowerOff"), 0);
  EXPECT_EQ(fake_->calls("Reconfigure"), 1);
  EXPECT_EQ(fake_->calls("PowerOn"), 1);
  EXPECT_THAT(fake_->Find({"VirtualMachine", result->created[0].id})->gpus, SizeIs(1));
}

TEST_F(GpuProviderTest, ANodeWithoutGpusIsMadeAsBefore) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  NodeSpec spec;
  spec.cpus = 2;
  auto result = provider->CreateNode(spec, kGpuTags, 2);
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(result->created, SizeIs(2));
  for (const char* op : {"HostGpus", "SystemIds", "WaitGuest", "PowerOff", "PowerOn"}) {
    EXPECT_EQ(fake_->calls(op), 0) << op;
  }
  EXPECT_EQ(fake_->calls("Reconfigure"), 2);  // the resize, as before
  for (const auto& node : result->created) {
    auto vm = fake_->Find({"VirtualMachine", node.id});
    EXPECT_THAT(vm->gpus, IsEmpty());
    EXPECT_FALSE(vm->extra_config.contains("guestinfo.vsray.gpus"));
  }
}

TEST_F(GpuProviderTest, AGpuNodeHasNoAddressUntilItIsCreated) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  auto folder = fake_->FindChild(fake_->vm_folder(), "ray-c1");
  ASSERT_TRUE(folder.ok() && *folder);
  FakeVm half;  // a GPU node being set up (its instant clone runs, with an address)
  half.name = "ray-c1-worker-half";
  half.host = hosts_[0];
  half.folder = **folder;
  half.address = "127.0.1.77";
  half.extra_config = {{"guestinfo.vsray.cluster", "c1"},
                       {"guestinfo.vsray.gpus", "1"},
                       {"guestinfo.vsray.tag.vsray-node-status", "creating"}};
  const MoRef vm = fake_->AddVm(half);
  ASSERT_THAT(provider->NonTerminatedNodes({}), IsOk());
  EXPECT_TRUE(provider->IsRunning(vm.value));
  EXPECT_EQ(provider->InternalIp(vm.value), std::nullopt);
  EXPECT_EQ(provider->GetNodeId("127.0.1.77", true), std::nullopt);
  ASSERT_THAT(provider->SetNodeTags(vm.value, {{"vsray-node-status", "created"}}), IsOk());
  EXPECT_EQ(provider->InternalIp(vm.value), "127.0.1.77");
}

// ---- GPU nodes on hosts without a usable frozen VM ----

// esx-1 has the only frozen VM, esx-2 none, esx-3 is in maintenance; two GPUs each.
class GpuFallbackTest : public GpuProviderTest {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeVcenter>();
    hosts_ = {fake_->AddHost("esx-1"), fake_->AddHost("esx-2"),
              fake_->AddHost("esx-3", "maintenance")};
    pool_ = fake_->AddPool("Resources", hosts_);
    fake_->AddFrozenVm("frozen", hosts_[0], pool_);
    for (const auto& host : hosts_) {
      for (int i = 0; i < 2; ++i) fake_->AddGpu(host);
    }
  }

  std::optional<FakeVm> Vm(const CreatedNode& node) {
    return fake_->Find({"VirtualMachine", node.id});
  }
};

TEST_F(GpuFallbackTest, InstantCloneFirstThenALinkedCloneToAHostWithoutAFrozenVm) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  auto first = provider->CreateNode(GpuSpec(2), kGpuTags, 1);  // esx-1 can serve: instant
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(first->created, SizeIs(1));
  EXPECT_EQ(first->created[0].host, hosts_[0].value);
  EXPECT_EQ(fake_->calls("InstantClone"), 1);
  EXPECT_EQ(fake_->calls("Clone"), 0);
  EXPECT_EQ(Vm(first->created[0])->extra_config.at("guestinfo.vsray.intent"),
            FormatIntent({4, std::nullopt, CloneMode::kInstant}));

  auto second = provider->CreateNode(GpuSpec(1), kGpuTags, 1);  // esx-1 is full
  ASSERT_THAT(second, IsOk());
  ASSERT_THAT(second->created, SizeIs(1));
  EXPECT_EQ(second->created[0].host, hosts_[1].value);
  EXPECT_EQ(fake_->calls("InstantClone"), 1);
  EXPECT_EQ(fake_->calls("Clone"), 1);
  EXPECT_EQ(fake_->calls("CreateSnapshot"), 1);  // 'vsray-base' for the linked clone
  EXPECT_EQ(fake_->calls("WaitGuest"), 1);       // the instant clone's only
  EXPECT_EQ(fake_->calls("PowerOff"), 1);
  const auto vm = Vm(second->created[0]);
  ASSERT_TRUE(vm.has_value());
  EXPECT_EQ(vm->host, hosts_[1]);
  EXPECT_EQ(vm->power_state, "poweredOn");
  ASSERT_THAT(vm->gpus, SizeIs(1));
  EXPECT_EQ(vm->gpus[0].system_id, "system-" + hosts_[1].value);  // esx-2's device
  // A later run finishing this node must not wait for a guest that never ran.
  EXPECT_EQ(vm->extra_config.at("guestinfo.vsray.intent"),
            FormatIntent({4, std::nullopt, CloneMode::kLinked}));
  EXPECT_EQ(provider->NodeTags(second->created[0].id).at("vsray-node-status"), "created");

  auto third = provider->CreateNode(GpuSpec(1), kGpuTags, 1);
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(third->created[0].host, hosts_[1].value);
  EXPECT_EQ(fake_->calls("CreateSnapshot"), 1);  // reused
  // Nothing left: the message names the hosts without a parent too (not esx-3: maintenance).
  const int clones = fake_->calls("Clone");
  auto fourth = provider->CreateNode(GpuSpec(1), kGpuTags, 1);
  EXPECT_THAT(fourth, StatusIs(StatusCode::kResourceExhausted,
                               HasSubstr("free on the hosts of its parents: esx-1 0 of 2; on "
                                         "hosts without a usable parent: esx-2 0 of 2")));
  EXPECT_THAT(fourth.status().message(), ::testing::Not(HasSubstr("esx-3")));
  EXPECT_EQ(fake_->calls("Clone"), clones);
  const auto devices = Devices();
  EXPECT_EQ(std::set(devices.begin(), devices.end()).size(), 4U);
}

TEST_F(GpuFallbackTest, AFullCloneTypeFallsBackToAFullClone) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  NodeSpec spec = GpuSpec(2);
  spec.clone_mode = CloneMode::kFull;
  auto result = provider->CreateNode(spec, kGpuTags, 2);
  ASSERT_THAT(result, IsOk());
  ASSERT_THAT(result->created, SizeIs(2));
  std::set<std::string> hosts;
  for (const auto& node : result->created) {
    hosts.insert(node.host);
    EXPECT_EQ(Vm(node)->extra_config.at("guestinfo.vsray.intent"),
              FormatIntent({4, std::nullopt, CloneMode::kFull}));
  }
  EXPECT_EQ(hosts, (std::set<std::string>{hosts_[0].value, hosts_[1].value}));
  EXPECT_EQ(fake_->calls("Clone"), 2);
  EXPECT_EQ(fake_->calls("CreateSnapshot"), 0);
}

TEST_F(GpuFallbackTest, AFailedFallbackCloneReleasesItsGpus) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  ASSERT_THAT(provider->CreateNode(GpuSpec(2), kGpuTags, 1), IsOk());  // fills esx-1
  fake_->Fail("PowerOn", FailedPreconditionError("InvalidState").set_fault("InvalidState"), 1);
  auto failed = provider->CreateNode(GpuSpec(2), kGpuTags, 1);
  EXPECT_THAT(failed, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("power on")));
  EXPECT_EQ(fake_->calls("Destroy"), 1);
  EXPECT_EQ(fake_->calls("Clone"), 1);
  auto again = provider->CreateNode(GpuSpec(2), kGpuTags, 1);  // esx-2's two are free again
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->created[0].host, hosts_[1].value);
}

TEST_F(GpuFallbackTest, NodesWithoutGpusStayInstantClonesOfTheFrozenVm) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  ASSERT_THAT(provider->CreateNode(GpuSpec(2), kGpuTags, 1), IsOk());  // fills esx-1
  NodeSpec plain;
  plain.cpus = 2;
  auto result = provider->CreateNode(plain, kGpuTags, 2);
  ASSERT_THAT(result, IsOk());
  for (const auto& node : result->created) EXPECT_EQ(node.host, hosts_[0].value);
  EXPECT_EQ(fake_->calls("InstantClone"), 3);
  EXPECT_EQ(fake_->calls("Clone"), 0);
}

}  // namespace
}  // namespace vsray::provider
