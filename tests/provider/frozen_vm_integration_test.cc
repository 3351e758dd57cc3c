// Frozen VMs against vsray-sim: the four frozen_vm combinations, deploys from a content-library
// OVF (idempotent, a host added later), hosts in maintenance mode, unfrozen parents, the spread
// of clones over hosts, linked and full clones, and the status/prepare API.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "common/log.h"
#include "provider/node_provider.h"
#include "support/content_library.h"
#include "support/sim_process.h"
#include "support/status_matchers.h"
#include "vsphere/rest.h"

namespace vsray::provider {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

using testing::SimProcess;
using vsphere::MoRef;

const TagMap& WorkerTags() {
  static const TagMap kTags = {{"ray-node-type", "worker"},
                               {"ray-user-node-type", "cpu_worker"},
                               {"ray-node-status", "uninitialized"},
                               {"ray-launch-config", "abc123"}};
  return kTags;
}

class FrozenVmTest : public ::testing::Test {
 protected:
  void StartSim(std::vector<std::string> extra = {}) {
    if (const char* level = std::getenv("VSRAY_TEST_LOG")) SetLogLevel(level);  // NOLINT
    std::vector<std::string> args = {"--hosts", "3", "--vms", "3", "--freeze-delay", "200ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto sim = SimProcess::Start(args);
    ASSERT_THAT(sim, IsOk());
    sim_ = std::move(sim).value();
    auto session = vsphere::Session::Connect(sim_->Connect());
    ASSERT_THAT(session, IsOk());
    session_ = *session;
    vim_ = std::make_unique<vsphere::Vim>(*session_, session_->content());
  }

  // A library "images" on LocalDS_0 with the item `item` (a frozen-VM image unless told).
  void UploadImage(const std::string& item = "frozen-image", bool frozen_image = true) {
    auto rest = vsphere::RestClient::Connect(sim_->Connect(), session_->options().transport);
    ASSERT_THAT(rest, IsOk());
    auto library = (*rest)->FindLibraryByName("images");
    if (!library.ok())
      library = (*rest)->CreateLocalLibrary("images", Id("Datastore", "LocalDS_0"));
    ASSERT_THAT(library, IsOk());
    auto uploaded = testing::UploadOvfItem(**rest, *session_->options().transport, *library, item,
                                           testing::MinimalOvf(frozen_image));
    ASSERT_THAT(uploaded, IsOk());
  }

  std::string Id(const std::string& type, const std::string& name) const {
    auto found = vim_->FindByName(type, name);
    EXPECT_THAT(found, IsOk()) << type << " " << name;
    EXPECT_TRUE(found.ok() && found->size() == 1) << type << " " << name;
    return found.ok() && found->size() == 1 ? found->front().value : std::string();
  }

  std::vector<std::string> VmNamesStartingWith(const std::string& prefix) const {
    auto vms = vim_->ListByType("VirtualMachine", {"name"});
    EXPECT_THAT(vms, IsOk());
    std::vector<std::string> names;
    for (const auto& vm : *vms) {
      if (vm.Get("name")->text.starts_with(prefix)) names.push_back(vm.Get("name")->text);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string Prop(const MoRef& obj, const std::string& path) const {
    auto content = vim_->RetrieveOne(obj, {path});
    EXPECT_THAT(content, IsOk());
    const vsphere::Any* value = content.ok() ? content->Get(path) : nullptr;
    return value == nullptr ? std::string() : value->text;
  }

  std::string HostName(const MoRef& host) const { return Prop(host, "name"); }

  std::string ExtraConfig(const MoRef& vm, const std::string& key) const {
    auto content = vim_->RetrieveOne(vm, {"config.extraConfig"});
    EXPECT_THAT(content, IsOk());
    std::string value;
    if (const vsphere::Any* extra = content->Get("config.extraConfig")) {
      for (const auto& option : extra->fields) {
        if (option.value.TextAt("key") == key) value = option.value.TextAt("value");
      }
    }
    return value;
  }

  // Powers a VM off and waits (bounded) until vCenter reports it off.
  void PowerOff(const MoRef& vm) {
    auto task = vim_->PowerOffVmTask(vm);
    ASSERT_THAT(task, IsOk());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (Prop(vm, "runtime.powerState") != "poweredOff" &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(Prop(vm, "runtime.powerState"), "poweredOff");
  }

  ProviderOptions Options(FrozenVmSpec spec) const {
    ProviderOptions options;
    options.connect = sim_->Connect();
    options.frozen_vm = std::move(spec);
    options.max_concurrency = 4;
    options.frozen_vm_ready_timeout = std::chrono::seconds(30);
    return options;
  }

  static FrozenVmSpec PerHostSpec() {
    FrozenVmSpec spec;
    spec.mode = FrozenVmMode::kDeployPerHost;
    spec.name = "fz";
    spec.library_item = "images/frozen-image";
    spec.resource_pool = "Resources";
    spec.datastore = "LocalDS_0";
    return spec;
  }

  static FrozenVmSpec PoolSpec() {
    FrozenVmSpec spec;
    spec.mode = FrozenVmMode::kExistingPool;
    spec.resource_pool = "Resources";
    return spec;
  }

  static FrozenVmSpec Named(const std::string& name) {
    FrozenVmSpec spec;
    spec.name = name;
    return spec;
  }

  std::unique_ptr<NodeProvider> MakeProvider(ProviderOptions options) {
    auto provider = NodeProvider::Create(std::move(options), "c1");
    EXPECT_THAT(provider, IsOk());
    return provider.ok() ? std::move(provider).value() : nullptr;
  }

  std::unique_ptr<SimProcess> sim_;
  std::shared_ptr<vsphere::Session> session_;
  std::unique_ptr<vsphere::Vim> vim_;
};

// (1) name + library_item + cluster + datastore: one frozen VM deployed, configured, frozen;
// prepared twice = the same VM; clones of it run and are not frozen themselves.
TEST_F(FrozenVmTest, DeploysOneFrozenVmFromTheLibraryOnceAndClonesIt) {
  StartSim();
  UploadImage();
  FrozenVmSpec spec;
  spec.mode = FrozenVmMode::kDeployOne;
  spec.name = "frozen-one";
  spec.library_item = "frozen-image";  // by name, over every library
  spec.cluster = "DC0_C0";
  spec.datastore = "LocalDS_0";
  auto options = Options(spec);
  options.frozen_vm_extra_config = {{"guestinfo.userdata", "I2Nsb3VkLWNvbmZpZw=="},
                                    {"guestinfo.userdata.encoding", "base64"}};
  std::vector<std::string> states;
  std::mutex states_mu;
  options.frozen_vm_progress = [&](const std::string& vm, const std::string& state) {
    std::lock_guard lock(states_mu);
    states.push_back(vm + ":" + state);
  };

  const auto began = std::chrono::steady_clock::now();
  auto prepared = NodeProvider::PrepareFrozenVms(options);
  const auto took = std::chrono::steady_clock::now() - began;
  ASSERT_THAT(prepared, IsOk());
  std::cout << "[ figures  ] deploy one + power on + freeze: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  ASSERT_EQ(prepared->size(), 1U);
  ASSERT_EQ(prepared->at(0).size(), 1U);
  const FrozenVm frozen = prepared->at(0).at(0);
  EXPECT_EQ(frozen.name, "frozen-one");
  EXPECT_EQ(Prop(frozen.vm, "runtime.powerState"), "poweredOn");
  EXPECT_EQ(Prop(frozen.vm, "runtime.instantCloneFrozen"), "true");
  EXPECT_EQ(ExtraConfig(frozen.vm, "guestinfo.userdata"), "I2Nsb3VkLWNvbmZpZw==");
  EXPECT_EQ(ExtraConfig(frozen.vm, "vsray.frozen_image"), "TRUE");  // from the OVF
  // On a host of the cluster that sees the datastore, in the cluster's root pool.
  EXPECT_TRUE(HostName(frozen.host).starts_with("DC0_C0_H")) << HostName(frozen.host);
  EXPECT_EQ(Prop(frozen.vm, "resourcePool"), Id("ResourcePool", "Resources"));
  EXPECT_EQ(states,
            (std::vector<std::string>{"frozen-one:deploying", "frozen-one:deployed",
                                      "frozen-one:configuring", "frozen-one:powering-on",
                                      "frozen-one:waiting-for-freeze", "frozen-one:frozen"}));

  // Idempotent: the second prepare finds it and deploys nothing.
  states.clear();
  auto again = NodeProvider::PrepareFrozenVms(options);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->at(0).at(0).vm, frozen.vm);
  EXPECT_TRUE(states.empty());
  EXPECT_EQ(VmNamesStartingWith("frozen-one"), std::vector<std::string>{"frozen-one"});

  auto provider = MakeProvider(options);
  ASSERT_NE(provider, nullptr);
  auto nodes = provider->CreateNode({}, WorkerTags(), 2);
  ASSERT_THAT(nodes, IsOk());
  ASSERT_EQ(nodes->created.size(), 2U);
  for (const auto& node : nodes->created) {
    EXPECT_EQ(node.host, frozen.host.value);
    const MoRef vm{"VirtualMachine", node.id};
    EXPECT_EQ(Prop(vm, "runtime.instantCloneFrozen"), "false");
    EXPECT_EQ(ExtraConfig(vm, "vsray.frozen_image"), "");  // clones resume, they don't freeze
  }
  EXPECT_EQ(VmNamesStartingWith("frozen-one"), std::vector<std::string>{"frozen-one"});
}

// vCenters before 7.0U2 have no /api: the item is found and deployed over /rest.
TEST_F(FrozenVmTest, DeploysThroughTheRestFallback) {
  StartSim();
  UploadImage();
  ASSERT_THAT(sim_->InjectFault("POST /api/session:*:http404"), IsOk());
  FrozenVmSpec spec;
  spec.mode = FrozenVmMode::kDeployOne;
  spec.name = "old-vc";
  spec.library_item = "frozen-image";
  spec.cluster = "DC0_C0";
  spec.datastore = "LocalDS_0";
  auto prepared = NodeProvider::PrepareFrozenVms(Options(spec));
  ASSERT_THAT(prepared, IsOk());
  EXPECT_EQ(Prop(prepared->at(0).at(0).vm, "runtime.instantCloneFrozen"), "true");
  auto stats = sim_->Control("GET", "/stats");
  ASSERT_THAT(stats, IsOk());
  const auto rest = nlohmann::json::parse(*stats)["rest"];
  EXPECT_EQ(rest.value("POST /rest/com/vmware/content/library/item?~action=find", 0), 1) << rest;
  EXPECT_EQ(rest.value("POST /rest/com/vmware/vcenter/ovf/library-item/id:{id}?~action=deploy", 0),
            1)
      << rest;
  EXPECT_EQ(rest.value("POST /api/vcenter/ovf/library-item/{id}?action=deploy", 0), 0) << rest;
}

// (2) name: an existing frozen VM that is powered off is powered on and awaited.
TEST_F(FrozenVmTest, PowersOnANamedFrozenImageAndWaitsForItToFreeze) {
  StartSim();
  UploadImage();
  FrozenVmSpec deploy;
  deploy.mode = FrozenVmMode::kDeployOne;
  deploy.name = "golden";
  deploy.library_item = "images/frozen-image";
  deploy.cluster = "DC0_C0";
  deploy.datastore = "LocalDS_0";
  auto prepared = NodeProvider::PrepareFrozenVms(Options(deploy));
  ASSERT_THAT(prepared, IsOk());
  const MoRef golden = prepared->at(0).at(0).vm;
  PowerOff(golden);
  EXPECT_EQ(Prop(golden, "runtime.instantCloneFrozen"), "false");

  auto provider = MakeProvider(Options(Named("golden")));
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(Prop(golden, "runtime.powerState"), "poweredOn");
  EXPECT_EQ(Prop(golden, "runtime.instantCloneFrozen"), "true");
  auto nodes = provider->CreateNode({}, WorkerTags(), 1);
  ASSERT_THAT(nodes, IsOk());
}

// (3) one per host, pinned; prepare twice = no new VM; a host added later gets one on the next
// prepare; a host in maintenance mode gets none.
TEST_F(FrozenVmTest, DeploysOnePerHostIdempotentlyAndForHostsAddedLater) {
  StartSim();
  UploadImage();
  ASSERT_THAT(sim_->Control("POST", "/hosts/maintenance", R"({"host":"DC0_C0_H2","enabled":true})"),
              IsOk());
  auto options = Options(PerHostSpec());
  const auto began = std::chrono::steady_clock::now();
  auto first = NodeProvider::PrepareFrozenVms(options);
  const auto took = std::chrono::steady_clock::now() - began;
  ASSERT_THAT(first, IsOk());
  std::cout << "[ figures  ] deploy per host (2 hosts, parallel): "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  EXPECT_EQ(VmNamesStartingWith("fz-"), (std::vector<std::string>{"fz-DC0_C0_H0", "fz-DC0_C0_H1"}));
  for (const auto& vm : first->at(0)) {
    EXPECT_EQ("fz-" + HostName(vm.host), vm.name);  // pinned to its host
  }

  // The status names the host in maintenance and why it has no frozen VM.
  auto status = NodeProvider::FrozenVmStatusOf(options, "c1");
  ASSERT_THAT(status, IsOk());
  ASSERT_EQ(status->size(), 3U);
  EXPECT_EQ(status->at(2).host, "DC0_C0_H2");
  EXPECT_EQ(status->at(2).host_state, "maintenance");
  EXPECT_TRUE(status->at(2).id.empty());
  EXPECT_FALSE(status->at(2).usable);
  EXPECT_TRUE(status->at(0).usable && status->at(1).usable);

  // Out of maintenance, plus a new host: the next prepare deploys exactly those two.
  ASSERT_THAT(
      sim_->Control("POST", "/hosts/maintenance", R"({"host":"DC0_C0_H2","enabled":false})"),
      IsOk());
  auto added = sim_->Control("POST", "/hosts/add", R"({"cluster":"DC0_C0"})");
  ASSERT_THAT(added, IsOk());
  EXPECT_EQ(nlohmann::json::parse(*added)["name"], "DC0_C0_H3");
  auto second = NodeProvider::PrepareFrozenVms(options);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->at(0).size(), 4U);
  EXPECT_EQ(VmNamesStartingWith("fz-"), (std::vector<std::string>{"fz-DC0_C0_H0", "fz-DC0_C0_H1",
                                                                  "fz-DC0_C0_H2", "fz-DC0_C0_H3"}));
  auto third = NodeProvider::PrepareFrozenVms(options);
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(VmNamesStartingWith("fz-").size(), 4U);
  std::set<std::string> hosts;
  for (const auto& vm : third->at(0)) hosts.insert(HostName(vm.host));
  EXPECT_EQ(hosts.size(), 4U);

  // A provider over them: one node per host; later creates only re-read the 4 parents and the
  // hosts (no lookups by name, no deploys), besides taking the cluster lease.
  auto provider = MakeProvider(options);
  ASSERT_NE(provider, nullptr);
  auto nodes = provider->CreateNode({}, WorkerTags(), 4);
  ASSERT_THAT(nodes, IsOk());
  std::set<std::string> node_hosts;
  for (const auto& node : nodes->created) node_hosts.insert(node.host);
  EXPECT_EQ(node_hosts.size(), 4U);
  ASSERT_THAT(sim_->ResetStats(), IsOk());
  auto one = provider->CreateNode({}, WorkerTags(), 1);
  ASSERT_THAT(one, IsOk());
  auto stats = sim_->SoapStats();
  ASSERT_THAT(stats, IsOk());
  std::cout << "[ figures  ] SOAP calls of CreateNode(1), per-host parents:";
  for (const auto& [method, count] : *stats) std::cout << " " << method << "=" << count;
  std::cout << "\n";
  // The 4 parents, the hosts; the cluster lease: its generations, then the older ones removed.
  EXPECT_EQ((*stats)["RetrievePropertiesEx"], 4);
  EXPECT_EQ((*stats)["CreateContainerView"], 1);  // the hosts
  EXPECT_EQ((*stats)["ImportVApp"], 0);
  EXPECT_EQ(VmNamesStartingWith("fz-").size(), 4U);
}

// (4) resource_pool alone: the frozen VMs in it, never powering on the others.
TEST_F(FrozenVmTest, UsesTheFrozenVmsOfAPoolAndLeavesOtherVmsAlone) {
  StartSim({"--frozen-per-host", "frozen"});
  const std::string plain = VmNamesStartingWith("DC0_").front();
  const MoRef plain_vm{"VirtualMachine", Id("VirtualMachine", plain)};
  PowerOff(plain_vm);
  auto provider = MakeProvider(Options(PoolSpec()));
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(provider->frozen_vms().size(), 3U);
  EXPECT_EQ(Prop(plain_vm, "runtime.powerState"), "poweredOff");
  auto nodes = provider->CreateNode({}, WorkerTags(), 3);
  ASSERT_THAT(nodes, IsOk());
  std::set<std::string> hosts;
  for (const auto& node : nodes->created) hosts.insert(node.host);
  EXPECT_EQ(hosts.size(), 3U);
  EXPECT_EQ(Prop(plain_vm, "runtime.powerState"), "poweredOff");
}

TEST_F(FrozenVmTest, SkipsHostsInMaintenanceAndUnfrozenParents) {
  StartSim({"--frozen-per-host", "frozen"});
  auto provider = MakeProvider(Options(PoolSpec()));
  ASSERT_NE(provider, nullptr);
  ASSERT_EQ(provider->frozen_vms().size(), 3U);
  const std::string h0 = Id("HostSystem", "DC0_C0_H0");
  const std::string h1 = Id("HostSystem", "DC0_C0_H1");
  const std::string h2 = Id("HostSystem", "DC0_C0_H2");

  // H1 goes into maintenance mode after the provider started.
  ASSERT_THAT(sim_->Control("POST", "/hosts/maintenance", R"({"host":"DC0_C0_H1","enabled":true})"),
              IsOk());
  auto nodes = provider->CreateNode({}, WorkerTags(), 4);
  ASSERT_THAT(nodes, IsOk());
  std::map<std::string, int> per_host;
  for (const auto& node : nodes->created) ++per_host[node.host];
  EXPECT_EQ(per_host, (std::map<std::string, int>{{h0, 2}, {h2, 2}}));

  auto status = provider->FrozenVmStatuses();
  ASSERT_THAT(status, IsOk());
  int in_maintenance = 0;
  for (const auto& s : *status) {
    if (s.host == "DC0_C0_H1") {
      ++in_maintenance;
      EXPECT_EQ(s.host_state, "maintenance");
      EXPECT_FALSE(s.usable);
      EXPECT_EQ(s.clones_on_host, 0);
    } else if (s.name.starts_with("frozen-")) {
      EXPECT_EQ(s.clones_on_host, 2) << s.name;
    }
  }
  EXPECT_EQ(in_maintenance, 1);

  // A disconnected host is skipped too.
  ASSERT_THAT(
      sim_->Control("POST", "/hosts/connection", R"({"host":"DC0_C0_H2","state":"disconnected"})"),
      IsOk());
  auto cut = provider->CreateNode({}, WorkerTags(), 2);
  ASSERT_THAT(cut, IsOk());
  for (const auto& node : cut->created) EXPECT_EQ(node.host, h0);
  ASSERT_THAT(
      sim_->Control("POST", "/hosts/connection", R"({"host":"DC0_C0_H2","state":"connected"})"),
      IsOk());

  // The frozen VM on H2 stops being frozen (powered off): skipped with a warning; H0 only.
  PowerOff({"VirtualMachine", Id("VirtualMachine", "frozen-DC0_C0_H2")});
  auto more = provider->CreateNode({}, WorkerTags(), 2);
  ASSERT_THAT(more, IsOk());
  for (const auto& node : more->created) EXPECT_EQ(node.host, h0);

  // Nothing usable left: a clear refusal.
  PowerOff({"VirtualMachine", Id("VirtualMachine", "frozen-DC0_C0_H0")});
  auto none = provider->CreateNode({}, WorkerTags(), 1);
  ASSERT_THAT(none, Not(IsOk()));
  EXPECT_THAT(none, StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(FrozenVmTest, SpreadsThirtyNodesOverThreeHostsTenEach) {
  StartSim({"--frozen-per-host", "frozen"});
  auto options = Options(PoolSpec());
  options.max_concurrency = 6;
  auto provider = MakeProvider(options);
  ASSERT_NE(provider, nullptr);
  auto nodes = provider->CreateNode({}, WorkerTags(), 30);
  ASSERT_THAT(nodes, IsOk());
  ASSERT_EQ(nodes->created.size(), 30U);
  std::map<std::string, int> per_host;
  for (const auto& node : nodes->created) {
    // Where vCenter says it runs, not where the provider thinks.
    ++per_host[HostName({"HostSystem", Prop({"VirtualMachine", node.id}, "runtime.host")})];
  }
  std::cout << "[ figures  ] spread of 30 nodes:";
  for (const auto& [host, count] : per_host) std::cout << " " << host << "=" << count;
  std::cout << "\n";
  EXPECT_EQ(per_host,
            (std::map<std::string, int>{{"DC0_C0_H0", 10}, {"DC0_C0_H1", 10}, {"DC0_C0_H2", 10}}));
}

TEST_F(FrozenVmTest, NodeTypesCanHaveTheirOwnFrozenVms) {
  StartSim({"--frozen-vm", "frozen@DC0_C0_H0", "--frozen-vm", "gpu-frozen@DC0_C0_H2"});
  auto provider = MakeProvider(Options(Named("frozen")));
  ASSERT_NE(provider, nullptr);
  NodeSpec gpu;
  gpu.frozen_vm = Named("gpu-frozen");
  auto nodes = provider->CreateNode(gpu, WorkerTags(), 2);
  ASSERT_THAT(nodes, IsOk());
  for (const auto& node : nodes->created) {
    EXPECT_EQ(node.host, Id("HostSystem", "DC0_C0_H2"));
  }
  auto plain = provider->CreateNode({}, WorkerTags(), 1);
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->created[0].host, Id("HostSystem", "DC0_C0_H0"));
  // Both parents are protected.
  EXPECT_THAT(provider->TerminateNode(Id("VirtualMachine", "gpu-frozen")),
              StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(FrozenVmTest, LinkedAndFullClonesArePoweredOnWithTheirIdentity) {
  StartSim({"--frozen-vm", "frozen@DC0_C0_H1"});
  auto provider = MakeProvider(Options(Named("frozen")));
  ASSERT_NE(provider, nullptr);
  const MoRef parent{"VirtualMachine", Id("VirtualMachine", "frozen")};
  NodeSpec linked;
  linked.clone_mode = CloneMode::kLinked;
  auto linked_nodes = provider->CreateNode(linked, WorkerTags(), 2);
  ASSERT_THAT(linked_nodes, IsOk());
  ASSERT_EQ(linked_nodes->created.size(), 2U);
  // One base snapshot, made once for both.
  auto snapshot = vim_->RetrieveOne(parent, {"snapshot"});
  ASSERT_THAT(snapshot, IsOk());
  const vsphere::Any* tree = snapshot->Get("snapshot");
  ASSERT_NE(tree, nullptr);
  ASSERT_EQ(tree->All("rootSnapshotList").size(), 1U);
  EXPECT_EQ(tree->All("rootSnapshotList")[0]->TextAt("name"), "vsray-base");

  NodeSpec full;
  full.clone_mode = CloneMode::kFull;
  auto full_nodes = provider->CreateNode(full, WorkerTags(), 1);
  ASSERT_THAT(full_nodes, IsOk());

  std::vector<CreatedNode> all = linked_nodes->created;
  all.push_back(full_nodes->created[0]);
  for (const auto& node : all) {
    const MoRef vm{"VirtualMachine", node.id};
    EXPECT_EQ(Prop(vm, "runtime.powerState"), "poweredOn") << node.name;
    EXPECT_EQ(ExtraConfig(vm, "guestinfo.vsray.cluster"), "c1");
    EXPECT_EQ(Prop(vm, "parent"), provider->folder().value);
    EXPECT_EQ(Prop(vm, "runtime.host"), Id("HostSystem", "DC0_C0_H1"));
    EXPECT_EQ(provider->NodeTags(node.id).at("vsray-node-status"), "created");
  }
  auto ids = provider->NonTerminatedNodes({});
  ASSERT_THAT(ids, IsOk());
  EXPECT_EQ(ids->size(), 3U);
  ASSERT_THAT(provider->TerminateNodes(*ids), IsOk());
}

TEST_F(FrozenVmTest, RefusesANamedParentThatIsOnButNotFrozen) {
  StartSim();
  auto provider = NodeProvider::Create(Options(Named(VmNamesStartingWith("DC0_").front())), "c1");
  ASSERT_THAT(provider, Not(IsOk()));
  EXPECT_THAT(provider, StatusIs(StatusCode::kFailedPrecondition));
  // A deploy spec with an item that doesn't exist names it.
  FrozenVmSpec spec = PerHostSpec();
  spec.library_item = "no-such-item";
  auto missing = NodeProvider::PrepareFrozenVms(Options(spec));
  ASSERT_THAT(missing, Not(IsOk()));
  EXPECT_NE(missing.status().message().find("no-such-item"), std::string::npos) << missing.status();
}

}  // namespace
}  // namespace vsray::provider
