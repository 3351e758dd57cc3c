// Provider logic through the vCenter seam, against the in-memory FakeVcenter (no simulator):
// parent choice, clone specs, set-up steps and rollback, tag transitions, crash recovery,
// terminate's refusals, the custom-field registry, the datacenter choice, waiting on the cache.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "common/clock.h"
#include "provider/clone_spec.h"
#include "provider/field_registry.h"
#include "provider/inventory.h"
#include "provider/node_provider.h"
#include "provider/node_state.h"
#include "provider/parent_scheduler.h"
#include "provider/tags.h"
#include "support/fake_vcenter.h"
#include "support/status_matchers.h"

namespace vsray::provider {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::vsray::testing::FakeVcenter;
using ::vsray::testing::FakeVm;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

const TagMap kWorkerTags = {{"ray-node-type", "worker"},
                            {"ray-user-node-type", "cpu_worker"},
                            {"ray-node-status", "uninitialized"},
                            {"ray-launch-config", "abc123"}};

constexpr std::int64_t kNow = 1'700'000'000;

Status InvalidState() {
  return FailedPreconditionError("InvalidState: the task failed").set_fault("InvalidState");
}

FrozenVm Parent(const std::string& name, const std::string& host) {
  FrozenVm parent;
  parent.vm = {"VirtualMachine", "vm-" + name};
  parent.name = name;
  parent.host = {"HostSystem", host};
  parent.folder = {"Folder", "group-v1"};
  parent.pool = {"ResourcePool", "resgroup-1"};
  return parent;
}

// ---- Pure parts ----

TEST(ParentSchedulerTest, LeastLoadedHostFirstCountingNodesInFlight) {
  ParentScheduler scheduler;
  const std::vector<FrozenVm> parents = {Parent("a", "h1"), Parent("b", "h2"), Parent("c", "h3")};
  const NodesPerHost known = {{"h1", {"n1", "n2"}}, {"h2", {"n3"}}};
  auto first = scheduler.Pick(parents, "set", "new-1", [&] { return known; });
  EXPECT_EQ(first.parent().host.value, "h3");  // no node yet
  // h3 now has one in flight, as many as h2 has known: h2 comes first in the rotation.
  auto second = scheduler.Pick(parents, "set", "new-2", [&] { return known; });
  EXPECT_EQ(second.parent().host.value, "h2");
  EXPECT_EQ(scheduler.InFlight(), (NodesPerHost{{"h2", {"new-2"}}, {"h3", {"new-1"}}}));
  { auto released = std::move(first); }
  EXPECT_EQ(scheduler.InFlight(), (NodesPerHost{{"h2", {"new-2"}}}));
}

TEST(ParentSchedulerTest, RoundRobinAmongEquallyLoadedHostsPerParentSet) {
  ParentScheduler scheduler;
  const std::vector<FrozenVm> parents = {Parent("a", "h1"), Parent("b", "h2"), Parent("c", "h3")};
  std::vector<std::string> hosts;
  for (int i = 0; i < 4; ++i) {
    hosts.push_back(
        scheduler.Pick(parents, "set", "n", [] { return NodesPerHost{}; }).parent().host.value);
  }
  EXPECT_EQ(hosts, (std::vector<std::string>{"h1", "h2", "h3", "h1"}));
  // Another parent set rotates on its own.
  EXPECT_EQ(
      scheduler.Pick(parents, "other", "n", [] { return NodesPerHost{}; }).parent().host.value,
      "h1");
}

CloneRequest Request() {
  CloneRequest request;
  request.name = "ray-c1-worker-0000abcd";
  request.cluster = "c1";
  request.parent = Parent("frozen", "host-7");
  request.parent.nics.push_back(vsphere::Any{});
  request.parent.nics.back().Add("macAddress", "00:50:56:00:00:01");
  request.parent.nics.back().Add("addressType", "generated");
  request.folder = {"Folder", "group-v9"};
  request.tags = LaunchTags(kWorkerTags, "c1");
  request.created_at = kNow;
  request.extra_config = {{"guestinfo.userdata", "abc"}};
  return request;
}

std::map<std::string, std::string> AsMap(const std::vector<vsphere::OptionValue>& options) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : options) out[key] = value;
  return out;
}

TEST(CloneSpecTest, InstantCloneCarriesIdentityBirthTagsAndConnectedNics) {
  const vsphere::InstantCloneSpec spec = InstantCloneSpecFor(Request());
  EXPECT_EQ(spec.name, "ray-c1-worker-0000abcd");
  EXPECT_EQ(spec.location.folder, (MoRef{"Folder", "group-v9"}));
  EXPECT_TRUE(spec.location.pool.empty());  // the parent's
  ASSERT_THAT(spec.location.edit_devices, SizeIs(1));
  EXPECT_EQ(spec.location.edit_devices[0].TextAt("connectable.connected"), "true");
  const auto config = AsMap(spec.config);
  EXPECT_EQ(config.at("guestinfo.vsray.cluster"), "c1");
  EXPECT_EQ(config.at("guestinfo.vsray.node-type"), "cpu_worker");
  EXPECT_EQ(config.at("guestinfo.vsray.created-at"), std::to_string(kNow));
  EXPECT_EQ(config.at("guestinfo.vsray.tag.ray-node-type"), "worker");
  EXPECT_EQ(config.at("guestinfo.vsray.tag.ray-cluster-name"), "c1");
  EXPECT_EQ(config.at("guestinfo.vsray.tag.vsray-node-status"), "creating");
  EXPECT_EQ(config.at("guestinfo.userdata"), "abc");
  // The node type's own config comes last, after vsray's keys.
  EXPECT_EQ(spec.config.back().key, "guestinfo.userdata");
}

TEST(CloneSpecTest, LinkedCloneStartsFromTheSnapshotOnTheParentsHost) {
  CloneRequest request = Request();
  const vsphere::CloneSpec linked = CloneSpecFor(request, CloneMode::kLinked, {"Snapshot", "s-1"});
  EXPECT_EQ(linked.snapshot, (MoRef{"Snapshot", "s-1"}));
  EXPECT_EQ(linked.location.disk_move_type, "createNewChildDiskBacking");
  EXPECT_EQ(linked.location.host, (MoRef{"HostSystem", "host-7"}));
  EXPECT_EQ(linked.location.pool, (MoRef{"ResourcePool", "resgroup-1"}));
  EXPECT_EQ(AsMap(linked.extra_config), AsMap(InstantCloneSpecFor(request).config));
  const vsphere::CloneSpec full = CloneSpecFor(request, CloneMode::kFull, {});
  EXPECT_TRUE(full.snapshot.empty());
  EXPECT_TRUE(full.location.disk_move_type.empty());
}

TEST(CloneSpecTest, NamesAndLaunchTags) {
  EXPECT_EQ(NodeName(kWorkerTags, "c1", "x"), "ray-c1-worker-x");
  EXPECT_EQ(NodeName({{"ray-node-name", "ray-c1-head"}}, "c1", "x"), "ray-c1-head-x");
  EXPECT_EQ(NodeName({}, "c1", "x"), "ray-c1-node-x");
  EXPECT_THAT(RandomSuffix(), SizeIs(8));
  TagMap launch = LaunchTags({{"vsray-node-status", "created"}, {"a", "b"}}, "c1");
  EXPECT_EQ(launch, (TagMap{{"a", "b"}, {"ray-cluster-name", "c1"}}));
}

TEST(SetupPlanTest, StepsFollowTheCloneModeTheSizeAndTheMirror) {
  NodeSpec instant;
  // Ray's tags are born with the node: no step writes them.
  EXPECT_THAT(PlanSetup(instant, false), ElementsAre(SetupStep::kMarkCreated));
  NodeSpec linked;
  linked.clone_mode = CloneMode::kLinked;
  linked.cpus = 2;
  EXPECT_THAT(PlanSetup(linked, true),
              ElementsAre(SetupStep::kPowerOn, SetupStep::kResize, SetupStep::kMarkCreated,
                          SetupStep::kMirrorTags));
}

Node OurNode(const std::string& id, std::int64_t created_at) {
  Node node;
  node.id = id;
  node.name = id;
  node.power_state = "poweredOn";
  node.identity["guestinfo.vsray.cluster"] = "c1";
  node.identity["guestinfo.vsray.created-at"] = std::to_string(created_at);
  node.identity["guestinfo.vsray.tag.vsray-node-status"] = "creating";
  return node;
}

TEST(NodeStateTest, CrashRecoveryRemovesOnlyOurStaleCreatingNodes) {
  const NodeReader reader{"c1", 11, 12};
  const auto decide = [&](const Node& node, bool parent = false) {
    return DecideAtStart(reader, node, parent, kNow, std::chrono::seconds(1800));
  };
  EXPECT_EQ(decide(OurNode("stale", kNow - 7200)), StartAction::kRemove);
  EXPECT_EQ(decide(OurNode("young", kNow - 60)), StartAction::kKeep);
  Node finished = OurNode("finished", kNow - 7200);
  finished.custom[12] = "created";  // the attribute overrides the birth tag
  EXPECT_EQ(decide(finished), StartAction::kKeep);
  Node undated = OurNode("undated", 0);
  EXPECT_EQ(decide(undated), StartAction::kKeep);
  Node stranger = OurNode("stranger", kNow - 7200);
  stranger.identity.clear();
  EXPECT_EQ(decide(stranger), StartAction::kIgnore);
  Node other = OurNode("other", kNow - 7200);
  other.identity["guestinfo.vsray.cluster"] = "c2";
  EXPECT_EQ(decide(other), StartAction::kIgnore);
  Node frozen = OurNode("frozen", kNow - 7200);
  frozen.frozen = true;
  EXPECT_EQ(decide(frozen), StartAction::kIgnore);
  EXPECT_EQ(decide(OurNode("parent", kNow - 7200), /*parent=*/true), StartAction::kIgnore);
}

TEST(NodeStateTest, RaysRunningAndTerminatedViews) {
  const NodeReader reader{"c1", 11, 12};
  Node node = OurNode("n", kNow);
  EXPECT_TRUE(reader.IsNonTerminated(node));
  node.power_state = "poweredOff";  // off while creating: still Ray's
  EXPECT_TRUE(reader.IsNonTerminated(node));
  EXPECT_FALSE(reader.IsTerminated(node));
  node.custom[12] = "created";  // off once created: terminated
  EXPECT_FALSE(reader.IsNonTerminated(node));
  EXPECT_TRUE(reader.IsTerminated(node));
  // Identity not reported yet: the ray-cluster-name attribute decides.
  Node unreported;
  unreported.power_state = "poweredOn";
  EXPECT_FALSE(reader.IsOurs(unreported));
  unreported.custom[11] = "c1";
  EXPECT_TRUE(reader.IsOurs(unreported));
}

TEST(InventoryTest, ChoosesTheDatacenterOrSaysWhichExist) {
  const std::vector<DatacenterInfo> one = {{{"Datacenter", "d1"}, "DC0", {}}};
  const std::vector<DatacenterInfo> two = {{{"Datacenter", "d1"}, "DC0", {}},
                                           {{"Datacenter", "d2"}, "DC1", {}}};
  EXPECT_EQ(ChooseDatacenter(one, "")->value().name, "DC0");
  EXPECT_EQ(ChooseDatacenter(two, "DC1")->value().ref.value, "d2");
  EXPECT_EQ(*ChooseDatacenter(two, "DC9"), std::nullopt);
  EXPECT_THAT(ChooseDatacenter(two, ""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("2 datacenters (DC0, DC1)")));
  FakeVcenter fake;
  EXPECT_THAT(Inventory::Open(fake, "DC9"),
              StatusIs(StatusCode::kNotFound, HasSubstr("'DC9' not found; did you mean 'DC0'?")));
  EXPECT_THAT(Inventory::Open(fake, "Paris"),
              StatusIs(StatusCode::kNotFound, HasSubstr("'Paris' not found (have: DC0)")));
}

TEST(InventoryTest, AMistypedPlacementGetsTheClosestNameThatExists) {
  FakeVcenter fake;
  const MoRef host = fake.AddHost("esx-1");
  fake.AddPool("gpu-pool", {host});
  fake.AddPool("cpu-pool", {host});
  auto inventory = Inventory::Open(fake, "");
  ASSERT_THAT(inventory, IsOk());
  EXPECT_THAT((*inventory)->FindPlacement("ResourcePool", "gpu-pol"),
              StatusIs(StatusCode::kNotFound, HasSubstr("ResourcePool 'gpu-pol' not found in "
                                                        "datacenter 'DC0'; did you mean "
                                                        "'gpu-pool'?")));
  EXPECT_THAT((*inventory)->FindPlacement("ResourcePool", "elsewhere"),
              StatusIs(StatusCode::kNotFound, HasSubstr("(have: cpu-pool, gpu-pool)")));
  EXPECT_THAT((*inventory)->FindPlacement("Datastore", "LocalDS_O"),
              StatusIs(StatusCode::kNotFound, HasSubstr("did you mean 'LocalDS_0'?")));
}

TEST(FieldRegistryTest, DefinesOnceAndReadsBackOneDefinedMeanwhile) {
  FakeVcenter fake;
  FakeClock clock;
  FieldRegistry fields(fake, clock);
  auto key = fields.KeyFor("ray-node-type");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(*fields.KeyFor("ray-node-type"), *key);
  EXPECT_EQ(fake.calls("Define"), 1);
  // Another provider defined it after this one loaded the definitions.
  auto other = fake.Define("ray-node-status");
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ(*fields.KeyFor("ray-node-status"), *other);
}

TEST(FieldRegistryTest, UnknownKeysAreReReadAtMostOncePerSecond) {
  FakeVcenter fake;
  FakeClock clock;
  FieldRegistry fields(fake, clock);
  ASSERT_THAT(fields.Load(), IsOk());
  ASSERT_THAT(fake.Define("a"), IsOk());
  const TagMap a = {{"a", "1"}};
  fields.RefreshIfUnknown(nullptr, &a);
  EXPECT_GE(fields.KeyIfKnown("a"), 0);
  ASSERT_THAT(fake.Define("b"), IsOk());
  const TagMap b = {{"b", "1"}};
  const int reads = fake.calls("Definitions");
  fields.RefreshIfUnknown(nullptr, &b);  // too soon after the last re-read
  EXPECT_EQ(fake.calls("Definitions"), reads);
  EXPECT_EQ(fields.KeyIfKnown("b"), -1);
  clock.Advance(FieldRegistry::kRefreshEvery);
  fields.RefreshIfUnknown(nullptr, &b);
  EXPECT_GE(fields.KeyIfKnown("b"), 0);
}

// ---- The provider over the fake ----

class ProviderUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeVcenter>();
    hosts_ = {fake_->AddHost("esx-1"), fake_->AddHost("esx-2"), fake_->AddHost("esx-3")};
    pool_ = fake_->AddPool("Resources", hosts_);
    frozen_ = fake_->AddFrozenVm("frozen", hosts_[0], pool_);
  }

  ProviderOptions Options() {
    ProviderOptions options;
    options.vcenter = fake_->Factory();
    options.frozen_vm.name = "frozen";
    options.max_concurrency = 4;
    options.watch = false;
    options.clock = &clock_;
    options.now_seconds = [] { return kNow; };
    return options;
  }

  std::unique_ptr<NodeProvider> Make(ProviderOptions options, const std::string& cluster = "c1") {
    auto provider = NodeProvider::Create(std::move(options), cluster);
    EXPECT_THAT(provider, IsOk());
    return provider.ok() ? std::move(provider).value() : nullptr;
  }

  MoRef Folder(const std::string& name = "ray-c1") {
    auto folder = fake_->FindChild(fake_->vm_folder(), name);
    return folder.ok() && *folder ? **folder : MoRef{};
  }

  // Tag `name` as vCenter records it: its custom attribute, else its birth tag.
  std::string FieldValue(const FakeVm& vm, const std::string& name) {
    auto defs = fake_->Definitions();
    for (const auto& [field, key] : *defs) {
      if (field == name && vm.custom.contains(key)) return vm.custom.at(key);
    }
    const auto birth = vm.extra_config.find(std::string(kGuestinfoTagPrefix) + name);
    return birth == vm.extra_config.end() ? "" : birth->second;
  }

  std::shared_ptr<FakeVcenter> fake_;
  std::vector<MoRef> hosts_;
  MoRef pool_;
  MoRef frozen_;
  FakeClock clock_;
};

TEST_F(ProviderUnitTest, CreatesNodesInTheFolderWithIdentitySizeAndTags) {
  auto provider = Make(Options());
  ASSERT_NE(provider, nullptr);
  NodeSpec spec;
  spec.cpus = 2;
  spec.memory_mb = 2048;
  auto result = provider->CreateNode(spec, kWorkerTags, 3);
  ASSERT_THAT(result, IsOk());
  ASSERT_THAT(result->created, SizeIs(3));
  EXPECT_THAT(result->failures, IsEmpty());
  const auto vms = fake_->VmsIn(Folder());
  ASSERT_THAT(vms, SizeIs(3));
  for (const auto& vm : vms) {
    EXPECT_EQ(vm.host, hosts_[0]);  // the frozen VM's host: instant clones stay there
    EXPECT_EQ(vm.cpus, 2);
    EXPECT_EQ(vm.memory_mb, 2048);
    EXPECT_EQ(vm.extra_config.at("guestinfo.vsray.cluster"), "c1");
    EXPECT_EQ(FieldValue(vm, "ray-node-type"), "worker");
    EXPECT_EQ(FieldValue(vm, "ray-cluster-name"), "c1");
    EXPECT_EQ(FieldValue(vm, "vsray-node-status"), "created");
  }
  auto ids = provider->NonTerminatedNodes({{"ray-node-type", "worker"}});
  ASSERT_THAT(ids, IsOk());
  EXPECT_THAT(*ids, SizeIs(3));
}

TEST_F(ProviderUnitTest, ListNodesReadsWhatTheOneByOneQuestionsAnswerAndItsVersion) {
  auto provider = Make(Options());
  ASSERT_NE(provider, nullptr);
  ASSERT_THAT(provider->CreateNode(NodeSpec{}, kWorkerTags, 3), IsOk());
  const TagMap filters = {{"ray-node-type", "worker"}};
  std::uint64_t version = 0;
  auto listed = provider->ListNodes(filters, &version);
  ASSERT_THAT(listed, IsOk());
  auto ids = provider->NonTerminatedNodes(filters);
  ASSERT_THAT(ids, IsOk());
  ASSERT_EQ(listed->size(), ids->size());
  ASSERT_THAT(*ids, SizeIs(3));
  for (std::size_t i = 0; i < ids->size(); ++i) {
    const ListedNode& node = (*listed)[i];
    EXPECT_EQ(node.id, (*ids)[i]);  // the same order: by id
    EXPECT_EQ(node.tags, provider->NodeTags(node.id));
    EXPECT_EQ(node.internal_ip, provider->InternalIp(node.id));
    EXPECT_EQ(node.external_ip, provider->ExternalIp(node.id));
  }
  EXPECT_THAT(*provider->ListNodes({{"ray-node-type", "head"}}), IsEmpty());
  // The version is the cache's as that pass read it, and moves with any change the answers
  // could show. (Without a watcher each listing re-reads the folder, a change too.)
  ASSERT_THAT(provider->ListNodes(filters, &version), IsOk());
  EXPECT_EQ(provider->CacheVersion(), version);
  ASSERT_THAT(provider->SetNodeTags(ids->front(), {{"ray-node-status", "up-to-date"}}), IsOk());
  EXPECT_NE(provider->CacheVersion(), version);
  std::uint64_t later = 0;
  auto relisted = provider->ListNodes(filters, &later);
  ASSERT_THAT(relisted, IsOk());
  EXPECT_EQ(later, provider->CacheVersion());
  EXPECT_EQ(relisted->front().tags.at("ray-node-status"), "up-to-date");
}

TEST_F(ProviderUnitTest, ParentChoiceSpreadsAndSkipsMaintenanceAndUnfrozenParents) {
  const MoRef second = fake_->AddFrozenVm("frozen-2", hosts_[1], pool_);
  fake_->AddFrozenVm("frozen-3", hosts_[2], pool_);
  FakeVm plain;  // a plain VM of the pool: not a parent
  plain.name = "app";
  plain.host = hosts_[2];
  plain.pool = pool_;
  fake_->AddVm(plain);
  auto options = Options();
  options.frozen_vm = {};
  options.frozen_vm.mode = FrozenVmMode::kExistingPool;
  options.frozen_vm.resource_pool = "Resources";
  auto provider = Make(options);
  ASSERT_NE(provider, nullptr);
  EXPECT_THAT(provider->frozen_vms(), SizeIs(3));
  auto spread = provider->CreateNode({}, kWorkerTags, 6);
  ASSERT_THAT(spread, IsOk());
  std::map<std::string, int> per_host;
  for (const auto& node : spread->created) ++per_host[node.host];
  EXPECT_EQ(per_host, (std::map<std::string, int>{
                          {hosts_[0].value, 2}, {hosts_[1].value, 2}, {hosts_[2].value, 2}}));

  fake_->SetHostState(hosts_[2], "maintenance");
  fake_->SetFrozen(second, false);
  auto more = provider->CreateNode({}, kWorkerTags, 2);
  ASSERT_THAT(more, IsOk());
  for (const auto& node : more->created) EXPECT_EQ(node.host, hosts_[0].value);
}

TEST_F(ProviderUnitTest, AFailedCloneLeavesNothingBehindAndKeepsItsSiblings) {
  auto provider = Make(Options());
  ASSERT_NE(provider, nullptr);
  fake_->Fail("InstantClone", InvalidState(), 2);
  auto result = provider->CreateNode({}, kWorkerTags, 3);
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(result->created, SizeIs(2));
  ASSERT_THAT(result->failures, SizeIs(1));
  EXPECT_EQ(result->failures[0].fault(), "InvalidState");
  EXPECT_THAT(result->failures[0].message(), HasSubstr("instant clone of 'frozen' as 'ray-c1-"));
  EXPECT_THAT(fake_->VmsIn(Folder()), SizeIs(2));
  EXPECT_THAT(*provider->NonTerminatedNodes({}), SizeIs(2));
  EXPECT_EQ(fake_->calls("Destroy"), 0);  // nothing was made, nothing to undo
}

TEST_F(ProviderUnitTest, AFailedSetupStepDestroysThatNodeOnly) {
  auto provider = Make(Options());
  ASSERT_NE(provider, nullptr);
  fake_->Fail("Reconfigure", InvalidState(), 2);
  NodeSpec spec;
  spec.cpus = 4;
  auto result = provider->CreateNode(spec, kWorkerTags, 3);
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(result->created, SizeIs(2));
  ASSERT_THAT(result->failures, SizeIs(1));
  EXPECT_EQ(result->failures[0].fault(), "InvalidState");
  EXPECT_THAT(result->failures[0].message(), HasSubstr("setting up node"));
  EXPECT_THAT(result->failures[0].message(), HasSubstr("resize"));
  // The failed node's VM was destroyed and forgotten; its siblings stay.
  ASSERT_EQ(fake_->calls("Destroy"), 1);
  std::string destroyed;
  for (const auto& entry : fake_->journal()) {
    if (entry.starts_with("Destroy ")) destroyed = entry.substr(8);
  }
  EXPECT_FALSE(fake_->Find({"VirtualMachine", destroyed}).has_value());
  EXPECT_FALSE(provider->GetNode(destroyed).has_value());
  EXPECT_TRUE(provider->IsTerminated(destroyed));
  EXPECT_THAT(fake_->VmsIn(Folder()), SizeIs(2));
  auto ids = provider->NonTerminatedNodes({});
  ASSERT_THAT(ids, IsOk());
  EXPECT_THAT(*ids, SizeIs(2));
  EXPECT_THAT(*ids, Not(Contains(destroyed)));
}

TEST_F(ProviderUnitTest, AFailedTagWriteIsRolledBackAndAllFailingSaysWhy) {
  auto provider = Make(Options());
  ASSERT_NE(provider, nullptr);
  fake_->Fail("Set", InvalidState(), 1, /*and_after=*/true);
  auto result = provider->CreateNode({}, kWorkerTags, 2);
  EXPECT_THAT(result, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("all 2 node(s) failed")));
  EXPECT_EQ(result.status().fault(), "InvalidState");
  EXPECT_EQ(fake_->calls("Destroy"), 2);
  EXPECT_THAT(fake_->VmsIn(Folder()), IsEmpty());
  EXPECT_THAT(*provider->NonTerminatedNodes({}), IsEmpty());
}

TEST_F(ProviderUnitTest, TagsAreBornWithTheNodeAndItsOneWriteIsCreated) {
  auto options = Options();
  options.watch = true;  // the fake's watch reports the clone as soon as it exists
  auto provider = Make(options);
  ASSERT_NE(provider, nullptr);
  // Seen as the one custom attribute is about to be written: the node is listed, with its
  // birth tags, as creating.
  std::atomic<bool> seen{false};
  TagMap at_birth;
  std::vector<std::string> listed;
  fake_->BeforeCall([&](const std::string& op) {
    if (op != "Set" || seen.exchange(true)) return;
    listed = *provider->NonTerminatedNodes({{"ray-node-type", "worker"}});
    if (!listed.empty()) at_birth = provider->NodeTags(listed.front());
  });
  auto result = provider->CreateNode({}, kWorkerTags, 1);
  fake_->BeforeCall(nullptr);
  ASSERT_THAT(result, IsOk());
  const std::string id = result->created[0].id;
  EXPECT_EQ(listed, std::vector<std::string>{id});
  EXPECT_EQ(at_birth.at("ray-user-node-type"), "cpu_worker");
  EXPECT_EQ(at_birth.at("ray-cluster-name"), "c1");
  EXPECT_EQ(at_birth.at("vsray-node-status"), "creating");
  // Then one attribute: `created`. Ray's tags stay where they were born (no call per tag).
  std::vector<std::string> writes;
  for (const auto& entry : fake_->journal()) {
    if (entry.starts_with("Set " + id)) writes.push_back(entry);
  }
  EXPECT_EQ(writes, std::vector<std::string>{"Set " + id + " vsray-node-status=created"});
  EXPECT_EQ(provider->NodeTags(id).at("vsray-node-status"), "created");
  EXPECT_EQ(FieldValue(*fake_->Find({"VirtualMachine", id}), "ray-launch-config"), "abc123");
}

TEST_F(ProviderUnitTest, StartRemovesOnlyThisClustersStaleCreatingNodes) {
  const MoRef folder = fake_->AddFolder("ray-c1", fake_->vm_folder());
  const auto add = [&](const std::string& name, const std::string& cluster, std::int64_t created_at,
                       bool frozen = false) {
    FakeVm vm;
    vm.name = name;
    vm.host = hosts_[0];
    vm.folder = folder;
    vm.frozen = frozen;
    if (!cluster.empty()) {
      vm.extra_config["guestinfo.vsray.cluster"] = cluster;
      vm.extra_config["guestinfo.vsray.created-at"] = std::to_string(created_at);
      vm.extra_config["guestinfo.vsray.tag.vsray-node-status"] = "creating";
    }
    return fake_->AddVm(vm);
  };
  const MoRef stale = add("stale", "c1", kNow - 7200);
  const MoRef young = add("young", "c1", kNow - 60);
  const MoRef stranger = add("stranger", "", 0);
  const MoRef other = add("other", "c2", kNow - 7200);
  const MoRef frozen = add("frozen-in-folder", "c1", kNow - 7200, /*frozen=*/true);
  auto options = Options();
  options.creating_timeout = std::chrono::seconds(1800);
  auto provider = Make(options);
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(provider->recovered(), std::vector<std::string>{stale.value});
  EXPECT_FALSE(fake_->Find(stale).has_value());
  for (const MoRef& kept : {young, stranger, other, frozen}) {
    EXPECT_TRUE(fake_->Find(kept).has_value()) << kept.value;
  }
}

TEST_F(ProviderUnitTest, StrangersAndFrozenVmsAreNeverTerminatedAndGoneIsDone) {
  auto provider = Make(Options());
  ASSERT_NE(provider, nullptr);
  FakeVm stranger;
  stranger.name = "someone-elses";
  stranger.host = hosts_[0];
  stranger.folder = Folder();
  const MoRef id = fake_->AddVm(stranger);
  EXPECT_THAT(provider->TerminateNode(id.value),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("does not belong to cluster")));
  EXPECT_THAT(provider->TerminateNode(frozen_.value), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(provider->TerminateNode("vm-gone"), IsOk());
  EXPECT_TRUE(fake_->Find(id).has_value());
  EXPECT_TRUE(fake_->Find(frozen_).has_value());
  EXPECT_EQ(fake_->calls("Destroy"), 0);
}

TEST_F(ProviderUnitTest, ReadOnlyStartTouchesNothingAndTheFirstCreatePrepares) {
  fake_->SetPower(frozen_, "poweredOff");
  fake_->SetFrozen(frozen_, false);
  FakeVm image = *fake_->Find(frozen_);
  image.frozen_image = true;  // freezes once powered on
  fake_->AddVm(image);
  auto options = Options();
  options.prepare_frozen_vms = false;
  auto provider = Make(options);
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(fake_->calls("PowerOn"), 0);
  auto created = provider->CreateNode({}, kWorkerTags, 1);
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(fake_->calls("PowerOn"), 1);
  EXPECT_TRUE(fake_->Find(frozen_)->frozen);
}

TEST_F(ProviderUnitTest, FrozenVmStatusAndPrepareNeedNoProvider) {
  {
    auto provider = Make(Options());
    ASSERT_NE(provider, nullptr);
    ASSERT_THAT(provider->CreateNode({}, kWorkerTags, 2), IsOk());
  }
  auto statuses = NodeProvider::FrozenVmStatusOf(Options(), "c1");
  ASSERT_THAT(statuses, IsOk());
  ASSERT_THAT(*statuses, SizeIs(1));
  EXPECT_TRUE((*statuses)[0].usable);
  EXPECT_EQ((*statuses)[0].clones_on_host, 2);
  EXPECT_THAT(*NodeProvider::FrozenVmStatusOf(Options(), "c2"), SizeIs(1));

  fake_->AddLibraryItem("image", /*frozen_image=*/true);
  auto options = Options();
  options.frozen_vm = {};
  options.frozen_vm.mode = FrozenVmMode::kDeployPerHost;
  options.frozen_vm.name = "fz";
  options.frozen_vm.library_item = "image";
  options.frozen_vm.resource_pool = "Resources";
  options.frozen_vm.datastore = "LocalDS_0";
  fake_->SetHostState(hosts_[2], "maintenance");
  auto prepared = NodeProvider::PrepareFrozenVms(options);
  ASSERT_THAT(prepared, IsOk());
  ASSERT_THAT(*prepared, SizeIs(1));
  EXPECT_THAT((*prepared)[0], SizeIs(2));  // none on the host in maintenance
  EXPECT_TRUE(fake_->FindNamed("fz-esx-1")->frozen);
  EXPECT_FALSE(fake_->FindNamed("fz-esx-3").has_value());
  ASSERT_THAT(NodeProvider::PrepareFrozenVms(options), IsOk());
  EXPECT_EQ(fake_->calls("DeployOvf"), 2);  // again: nothing new
}

TEST_F(ProviderUnitTest, WaitUntilWakesOnCacheChangesAndEndsAtItsDeadline) {
  auto options = Options();
  options.watch = true;
  auto provider = Make(options);
  ASSERT_NE(provider, nullptr);
  auto created = provider->CreateNode({}, kWorkerTags, 1);
  ASSERT_THAT(created, IsOk());
  const std::string id = created->created[0].id;
  std::thread power_off([&] { fake_->SetPower({"VirtualMachine", id}, "poweredOff"); });
  EXPECT_THAT(provider->WaitUntil([&] { return !provider->IsRunning(id); }, std::chrono::hours(1)),
              IsOk());
  power_off.join();
  // Nothing ever changes; the (fake) clock passes the deadline while it waits.
  EXPECT_THAT(provider->WaitUntil(
                  [&] {
                    clock_.Advance(std::chrono::minutes(31));
                    return false;
                  },
                  std::chrono::minutes(30)),
              StatusIs(StatusCode::kDeadlineExceeded));
}

}  // namespace
}  // namespace vsray::provider
