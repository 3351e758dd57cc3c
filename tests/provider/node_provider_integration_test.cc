// The node provider against vsray-sim: Ray's NodeProvider semantics end to end.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>

#include "common/log.h"
#include "provider/folder_watcher.h"
#include "provider/node_provider.h"
#include "support/sim_process.h"
#include "support/status_matchers.h"
#include "vsphere/rest.h"
#include "vsphere/task_waiter.h"

namespace vsray::provider {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

using testing::SimProcess;
using vsphere::MoRef;

// Waits (bounded) for a condition that depends on the simulator's asynchronous updates.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

const TagMap kHeadTags = {{"ray-node-type", "head"},
                          {"ray-user-node-type", "head_node"},
                          {"ray-node-status", "uninitialized"},
                          {"ray-launch-config", "abc123"}};
const TagMap kWorkerTags = {{"ray-node-type", "worker"},
                            {"ray-user-node-type", "cpu_worker"},
                            {"ray-node-status", "uninitialized"},
                            {"ray-launch-config", "abc123"}};

class ProviderTest : public ::testing::Test {
 protected:
  void StartSim(std::vector<std::string> extra = {}) {
    if (const char* level = std::getenv("VSRAY_TEST_LOG")) SetLogLevel(level);  // NOLINT
    std::vector<std::string> args = {
        "--hosts", "3", "--vms", "3", "--frozen-vm", "frozen", "--guest-ip-delay", "100ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto sim = SimProcess::Start(args);
    ASSERT_THAT(sim, IsOk());
    sim_ = std::move(sim).value();
  }

  ProviderOptions Options() const {
    ProviderOptions options;
    options.connect = sim_->Connect();
    options.frozen_vm.name = "frozen";
    options.max_concurrency = 4;
    return options;
  }

  std::unique_ptr<NodeProvider> MakeProvider(ProviderOptions options,
                                             const std::string& cluster = "c1") {
    auto provider = NodeProvider::Create(std::move(options), cluster);
    EXPECT_THAT(provider, IsOk());
    return provider.ok() ? std::move(provider).value() : nullptr;
  }

  // A separate vim25 view of vCenter, to check what the provider did.
  struct Inspector {
    std::shared_ptr<vsphere::Session> session;
    std::unique_ptr<vsphere::Vim> vim;
  };
  Inspector Inspect() const {
    auto session = vsphere::Session::Connect(sim_->Connect());
    EXPECT_THAT(session, IsOk());
    Inspector inspector{*session, nullptr};
    inspector.vim =
        std::make_unique<vsphere::Vim>(*inspector.session, inspector.session->content());
    return inspector;
  }

  std::string FrozenId() const {
    return sim_->ready()["inventory"]["frozen_vms"][0]["id"].get<std::string>();
  }

  std::unique_ptr<SimProcess> sim_;
};

TEST_F(ProviderTest, CreatesNodesWithPlacementIdentityTagsAndSize) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  NodeSpec spec;
  spec.cpus = 4;
  spec.memory_mb = 4096;
  auto result = provider->CreateNode(spec, kWorkerTags, 3);
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->created.size(), 3U);
  EXPECT_TRUE(result->failures.empty());

  // Visible at once (read-your-writes), with every tag plus the cluster name.
  auto ids = provider->NonTerminatedNodes({});
  ASSERT_THAT(ids, IsOk());
  EXPECT_EQ(ids->size(), 3U);
  for (const auto& node : result->created) {
    EXPECT_TRUE(node.name.starts_with("ray-c1-worker-")) << node.name;
    const TagMap tags = provider->NodeTags(node.id);
    EXPECT_EQ(tags.at("ray-node-type"), "worker");
    EXPECT_EQ(tags.at("ray-cluster-name"), "c1");
    EXPECT_EQ(tags.at("vsray-node-status"), "created");
    EXPECT_TRUE(provider->IsRunning(node.id));
    EXPECT_FALSE(provider->IsTerminated(node.id));
  }

  // What vCenter holds: folder, host of the parent, identity, CPU/memory, NICs connected.
  auto inspector = Inspect();
  auto parent = inspector.vim->RetrieveOne({"VirtualMachine", FrozenId()}, {"runtime.host"});
  ASSERT_THAT(parent, IsOk());
  auto folder = inspector.vim->RetrieveOne(provider->folder(), {"name"});
  ASSERT_THAT(folder, IsOk());
  EXPECT_EQ(folder->Get("name")->text, "ray-c1");
  for (const auto& node : result->created) {
    auto vm = inspector.vim->RetrieveOne(
        {"VirtualMachine", node.id},
        {"parent", "runtime.host", "config.hardware.numCPU", "config.hardware.memoryMB",
         "config.extraConfig", "config.hardware.device"});
    ASSERT_THAT(vm, IsOk());
    EXPECT_EQ(vm->Get("parent")->AsMoRef(), provider->folder());
    EXPECT_EQ(vm->Get("runtime.host")->text, parent->Get("runtime.host")->text);
    EXPECT_EQ(vm->Get("config.hardware.numCPU")->text, "4");
    EXPECT_EQ(vm->Get("config.hardware.memoryMB")->text, "4096");
    bool identity = false;
    for (const auto& option : vm->Get("config.extraConfig")->fields) {
      identity |= option.value.TextAt("key") == "guestinfo.vsray.cluster" &&
                  option.value.TextAt("value") == "c1";
    }
    EXPECT_TRUE(identity);
    for (const auto& device : vm->Get("config.hardware.device")->fields) {
      if (vsphere::IsVirtualNic(device.value)) {
        EXPECT_EQ(device.value.TextAt("connectable.connected"), "true");
      }
    }
  }
  // IPs arrive through the watcher: IPv4 from 127.0.0.0/8.
  for (const auto& node : result->created) {
    ASSERT_TRUE(Eventually([&] { return provider->ExternalIp(node.id).has_value(); }));
    const std::string ip = *provider->ExternalIp(node.id);
    EXPECT_TRUE(ip.starts_with("127.")) << ip;
    EXPECT_EQ(provider->InternalIp(node.id), ip);
    EXPECT_EQ(provider->GetNodeId(ip, true), node.id);
    EXPECT_EQ(provider->GetNodeId(ip, false), node.id);
  }
  EXPECT_EQ(provider->GetNodeId("127.254.254.254", true), std::nullopt);
}

TEST_F(ProviderTest, FiltersSetTagsAndTerminate) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  auto head = provider->CreateNode({}, kHeadTags, 1);
  ASSERT_THAT(head, IsOk());
  auto workers = provider->CreateNode({}, kWorkerTags, 2);
  ASSERT_THAT(workers, IsOk());
  const std::string head_id = head->created[0].id;

  auto only_workers = provider->NonTerminatedNodes({{"ray-node-type", "worker"}});
  ASSERT_THAT(only_workers, IsOk());
  EXPECT_EQ(only_workers->size(), 2U);
  auto only_head = provider->NonTerminatedNodes(
      {{"ray-node-type", "head"}, {"ray-user-node-type", "head_node"}});
  ASSERT_THAT(only_head, IsOk());
  EXPECT_EQ(*only_head, std::vector<std::string>{head_id});
  auto none = provider->NonTerminatedNodes({{"no-such-tag", "x"}});
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());

  // Ray's status transitions, each visible at once; other keys untouched.
  for (const char* status : {"waiting-for-ssh", "setting-up", "up-to-date"}) {
    ASSERT_THAT(provider->SetNodeTags(head_id, {{"ray-node-status", status}}), IsOk());
    EXPECT_EQ(provider->NodeTags(head_id).at("ray-node-status"), status);
    EXPECT_EQ(provider->NodeTags(head_id).at("ray-launch-config"), "abc123");
  }
  auto up = provider->NonTerminatedNodes({{"ray-node-status", "up-to-date"}});
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(*up, std::vector<std::string>{head_id});
  EXPECT_THAT(provider->SetNodeTags("vm-nope", {{"a", "b"}}), StatusIs(StatusCode::kNotFound));

  // Terminate: gone at once, gone in vCenter, and again is fine.
  const std::string victim = workers->created[0].id;
  ASSERT_THAT(provider->TerminateNode(victim), IsOk());
  EXPECT_TRUE(provider->IsTerminated(victim));
  auto after = provider->NonTerminatedNodes({});
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->size(), 2U);
  EXPECT_TRUE(std::find(after->begin(), after->end(), victim) == after->end());
  auto inspector = Inspect();
  EXPECT_THAT(inspector.vim->RetrieveOne({"VirtualMachine", victim}, {"name"}),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(provider->TerminateNode(victim), IsOk());
  ASSERT_THAT(provider->TerminateNodes(*after), IsOk());
  auto empty = provider->NonTerminatedNodes({});
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->empty());
}

TEST_F(ProviderTest, FrozenVmsAndStrangersAreNeverTerminated) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  // A VM in the cluster folder without our identity (someone put it there).
  auto inspector = Inspect();
  vsphere::TaskWaiter waiter(inspector.session);
  auto task = inspector.vim->CloneVmTask({"VirtualMachine", FrozenId()}, provider->folder(),
                                         "stranger", {});
  ASSERT_THAT(task, IsOk());
  auto stranger = waiter.Wait(*task, std::chrono::seconds(30));
  ASSERT_THAT(stranger, IsOk());
  const std::string stranger_id = stranger->AsMoRef().value;

  auto ids = provider->NonTerminatedNodes({});
  ASSERT_THAT(ids, IsOk());
  EXPECT_TRUE(std::find(ids->begin(), ids->end(), stranger_id) == ids->end());
  Status refused = provider->TerminateNode(stranger_id);
  EXPECT_THAT(refused, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_NE(refused.message().find("does not belong to cluster 'c1'"), std::string::npos);
  EXPECT_THAT(provider->TerminateNode(FrozenId()), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(inspector.vim->RetrieveOne({"VirtualMachine", stranger_id}, {"name"}), IsOk());
  EXPECT_THAT(inspector.vim->RetrieveOne({"VirtualMachine", FrozenId()}, {"name"}), IsOk());
  // Another cluster's provider sees none of c1's nodes, and may not terminate them.
  auto mine = provider->CreateNode({}, kWorkerTags, 1);
  ASSERT_THAT(mine, IsOk());
  auto other = MakeProvider(Options(), "c2");
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->NonTerminatedNodes({})->empty());
  EXPECT_THAT(other->TerminateNode(mine->created[0].id), StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(ProviderTest, PartialFailureKeepsTheGoodNodesAndCleansUpTheBadOne) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  // The second clone fails as a task; the third fails later, at the reconfigure.
  ASSERT_THAT(sim_->InjectFault("InstantClone_Task:2:task:InvalidState"), IsOk());
  ASSERT_THAT(sim_->InjectFault("ReconfigVM_Task:3:task:InvalidState"), IsOk());
  NodeSpec spec;
  spec.cpus = 2;
  auto result = provider->CreateNode(spec, kWorkerTags, 4);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->created.size(), 2U);
  ASSERT_EQ(result->failures.size(), 2U);
  for (const auto& failure : result->failures) EXPECT_EQ(failure.fault(), "InvalidState");
  // Nothing leaked: the folder holds exactly the nodes that were returned.
  auto inspector = Inspect();
  auto listed = ListFolder(*inspector.vim, provider->folder());
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(listed->size(), 2U);
  auto ids = provider->NonTerminatedNodes({});
  EXPECT_EQ(ids->size(), 2U);
}

TEST_F(ProviderTest, AllFailingIsAnErrorThatSaysWhy) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  ASSERT_THAT(sim_->InjectFault("InstantClone_Task:1+:NoPermission"), IsOk());
  auto result = provider->CreateNode({}, kWorkerTags, 2);
  ASSERT_THAT(result, Not(IsOk()));
  EXPECT_THAT(result, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_NE(result.status().message().find("all 2 node(s) failed"), std::string::npos);
  EXPECT_EQ(result.status().fault(), "NoPermission");
}

TEST_F(ProviderTest, CrashLeftoversInCreatingAreRemovedAtStart) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  // A clone with our identity, born an hour ago, that never reached `created`.
  auto inspector = Inspect();
  vsphere::TaskWaiter waiter(inspector.session);
  vsphere::InstantCloneSpec spec;
  spec.name = "ray-c1-worker-crashed";
  spec.location.folder = provider->folder();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  spec.config = {{"guestinfo.vsray.cluster", "c1"},
                 {"guestinfo.vsray.created-at", std::to_string(now - 7200)}};
  auto task = inspector.vim->InstantCloneTask({"VirtualMachine", FrozenId()}, spec);
  ASSERT_THAT(task, IsOk());
  auto crashed = waiter.Wait(*task, std::chrono::seconds(30));
  ASSERT_THAT(crashed, IsOk());
  // A young one is left alone (it may be another provider's creation in progress).
  spec.name = "ray-c1-worker-young";
  spec.config[1].value = std::to_string(now);
  auto young_task = inspector.vim->InstantCloneTask({"VirtualMachine", FrozenId()}, spec);
  ASSERT_THAT(young_task, IsOk());
  auto young = waiter.Wait(*young_task, std::chrono::seconds(30));
  ASSERT_THAT(young, IsOk());

  provider.reset();
  auto restarted = MakeProvider(Options());
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(restarted->recovered(), std::vector<std::string>{crashed->AsMoRef().value});
  EXPECT_THAT(inspector.vim->RetrieveOne(crashed->AsMoRef(), {"name"}),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(inspector.vim->RetrieveOne(young->AsMoRef(), {"name"}), IsOk());
}

TEST_F(ProviderTest, TwoProvidersSeeTheSameNodesAndTags) {
  StartSim();
  auto launcher = MakeProvider(Options());
  auto head = MakeProvider(Options());
  ASSERT_NE(launcher, nullptr);
  ASSERT_NE(head, nullptr);
  auto created = launcher->CreateNode({}, kWorkerTags, 2);
  ASSERT_THAT(created, IsOk());
  const std::string id = created->created[0].id;
  ASSERT_TRUE(Eventually([&] { return head->NonTerminatedNodes({})->size() == 2U; })) << [&] {
    std::string seen;
    head->cache().ForEach([&](const Node& n) {
      seen += n.id + " " + n.power_state +
              " cluster=" + std::string(n.Identity("guestinfo.vsray.cluster")) + "; ";
    });
    return seen;
  }();
  ASSERT_THAT(launcher->SetNodeTags(id, {{"ray-node-status", "up-to-date"}}), IsOk());
  EXPECT_TRUE(Eventually([&] {
    auto tags = head->NodeTags(id);
    return tags.contains("ray-node-status") && tags.at("ray-node-status") == "up-to-date";
  }));
  ASSERT_THAT(head->TerminateNode(id), IsOk());
  EXPECT_TRUE(Eventually([&] { return launcher->NonTerminatedNodes({})->size() == 1U; }));
}

// Ray lists nodes while NodeLauncher threads create them: a node is listed with Ray's tags
// from the moment its VM exists (its birth tags), by this provider and by any other.
TEST_F(ProviderTest, ANodeBeingCreatedIsListedWithItsRayTags) {
  StartSim({"--task-duration", "InstantClone_Task=3s"});
  auto launcher = MakeProvider(Options());
  auto observer = MakeProvider(Options());
  ASSERT_NE(launcher, nullptr);
  ASSERT_NE(observer, nullptr);
  auto creating =
      std::async(std::launch::async, [&] { return launcher->CreateNode({}, kWorkerTags, 1); });
  // The clone exists while its task still runs; tags are written only after it ends.
  for (NodeProvider* provider : {launcher.get(), observer.get()}) {
    std::vector<std::string> ids;
    ASSERT_TRUE(Eventually([&] {
      ids = *provider->NonTerminatedNodes({});
      return !ids.empty();
    }));
    ASSERT_EQ(ids.size(), 1U);
    const TagMap tags = provider->NodeTags(ids[0]);
    EXPECT_EQ(tags.at("ray-node-type"), "worker");
    EXPECT_EQ(tags.at("ray-user-node-type"), "cpu_worker");
    EXPECT_EQ(tags.at("ray-cluster-name"), "c1");
    EXPECT_EQ(tags.at("ray-launch-config"), "abc123");
    EXPECT_EQ(tags.at("vsray-node-status"), "creating");
    EXPECT_EQ(*provider->NonTerminatedNodes({{"ray-node-type", "worker"}}), ids);
  }
  EXPECT_EQ(creating.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the create ended before the node was seen: the test proved nothing";
  auto created = creating.get();
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(launcher->NodeTags(created->created[0].id).at("vsray-node-status"), "created");
}

TEST_F(ProviderTest, OneShotModeListsOnEveryCall) {
  StartSim();
  auto options = Options();
  options.watch = false;
  auto provider = MakeProvider(options);
  auto watching = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  auto created = watching->CreateNode({}, kWorkerTags, 1);
  ASSERT_THAT(created, IsOk());
  ASSERT_THAT(sim_->ResetStats(), IsOk());
  auto ids = provider->NonTerminatedNodes({});
  ASSERT_THAT(ids, IsOk());
  EXPECT_EQ(ids->size(), 1U);
  auto stats = sim_->SoapStats();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ((*stats)["RetrievePropertiesEx"], 1);
}

TEST_F(ProviderTest, SpreadsOverFrozenVmsOfAPoolLeastLoadedFirst) {
  StartSim({"--frozen-per-host", "frozen"});
  auto options = Options();
  options.frozen_vm = {};
  options.frozen_vm.mode = FrozenVmMode::kExistingPool;
  options.frozen_vm.resource_pool = "Resources";
  auto provider = MakeProvider(options);
  ASSERT_NE(provider, nullptr);
  // One per host plus "frozen" (on the first host); the plain VMs of the pool are skipped.
  EXPECT_EQ(provider->frozen_vms().size(), 4U);
  auto result = provider->CreateNode({}, kWorkerTags, 6);
  ASSERT_THAT(result, IsOk());
  std::map<std::string, int> per_host;
  for (const auto& node : result->created) ++per_host[node.host];
  ASSERT_EQ(per_host.size(), 3U);
  for (const auto& [host, count] : per_host) EXPECT_EQ(count, 2) << host;
  // The next node goes to a host that has the fewest of this cluster's nodes.
  ASSERT_THAT(provider->TerminateNode(result->created[0].id), IsOk());
  auto one_more = provider->CreateNode({}, kWorkerTags, 1);
  ASSERT_THAT(one_more, IsOk());
  EXPECT_EQ(one_more->created[0].host, result->created[0].host);
}

TEST_F(ProviderTest, UnfrozenOrMissingParentIsRefusedWithAdvice) {
  StartSim();
  auto inspector = Inspect();
  auto vms = inspector.vim->ListByType("VirtualMachine", {"name"});
  ASSERT_THAT(vms, IsOk());
  std::string plain;
  for (const auto& vm : *vms) {
    if (vm.Get("name")->text.starts_with("DC0_")) plain = vm.Get("name")->text;
  }
  ASSERT_FALSE(plain.empty());
  auto options = Options();
  options.frozen_vm.name = plain;
  auto provider = NodeProvider::Create(options, "c1");
  ASSERT_THAT(provider, Not(IsOk()));
  EXPECT_THAT(provider, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_NE(provider.status().message().find("instantclone.freeze"), std::string::npos)
      << provider.status();
  options.frozen_vm.name = "no-such-vm";
  auto missing = NodeProvider::Create(options, "c1");
  ASSERT_THAT(missing, Not(IsOk()));
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound));
  EXPECT_NE(missing.status().message().find("no-such-vm"), std::string::npos);
  options.frozen_vm.name = "frozen";
  options.datacenter = "DC9";
  auto no_dc = NodeProvider::Create(options, "c1");
  EXPECT_THAT(no_dc, StatusIs(StatusCode::kNotFound));
}

TEST_F(ProviderTest, Ipv6FirstAndLinkLocalGuestsYieldTheIpv4) {
  StartSim({"--guest-ipv6-first"});
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  auto result = provider->CreateNode({}, kHeadTags, 1);
  ASSERT_THAT(result, IsOk());
  const std::string id = result->created[0].id;
  ASSERT_TRUE(Eventually([&] { return provider->ExternalIp(id).has_value(); }));
  EXPECT_TRUE(provider->ExternalIp(id)->starts_with("127.")) << *provider->ExternalIp(id);
}

TEST_F(ProviderTest, SurvivesSessionExpiry) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  ASSERT_THAT(sim_->ExpireSessions(), IsOk());
  auto result = provider->CreateNode({}, kWorkerTags, 1);
  ASSERT_THAT(result, IsOk());
  const std::string id = result->created[0].id;
  // The watcher came back too: IPs reported after the expiry reach the cache.
  EXPECT_TRUE(Eventually([&] { return provider->ExternalIp(id).has_value(); }));
  EXPECT_THAT(provider->TerminateNode(id), IsOk());
}

TEST_F(ProviderTest, ManyThreadsAtOnce) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  std::atomic<int> created{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto result = provider->CreateNode({}, kWorkerTags, 2);
      if (result.ok()) created += static_cast<int>(result->created.size());
      for (const auto& node : result->created) {
        (void)provider->SetNodeTags(node.id, {{"ray-node-status", "setting-up"}});
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      auto ids = provider->NonTerminatedNodes({{"ray-node-type", "worker"}});
      if (ids.ok()) {
        for (const auto& id : *ids) {
          (void)provider->NodeTags(id);
          (void)provider->ExternalIp(id);
        }
      }
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(created.load(), 8);
  auto ids = provider->NonTerminatedNodes({{"ray-node-status", "setting-up"}});
  ASSERT_THAT(ids, IsOk());
  EXPECT_EQ(ids->size(), 8U);
  std::set<std::string> names;
  for (const auto& id : *ids) names.insert(provider->NodeTags(id).at("ray-cluster-name"));
  EXPECT_EQ(names, std::set<std::string>{"c1"});
  ASSERT_THAT(provider->TerminateNodes(*ids), IsOk());
  EXPECT_TRUE(provider->NonTerminatedNodes({})->empty());
}

TEST_F(ProviderTest, PeriodicResyncRepairsACacheTheStreamLeftWrong) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  auto created = provider->CreateNode({}, kWorkerTags, 2);
  ASSERT_THAT(created, IsOk());
  const std::string missed = created->created[0].id;
  const std::string pending = created->created[1].id;

  // A second watcher over the same folder, with its own cache that this test can spoil as a
  // lost update would.
  auto session = vsphere::Session::Connect(sim_->Connect());
  ASSERT_THAT(session, IsOk());
  NodeCache cache;
  FolderWatcherOptions options;
  options.resync_interval = std::chrono::seconds(1);
  FolderWatcher watcher(*session, provider->folder(), cache, options);
  watcher.Start();
  ASSERT_THAT(watcher.WaitSynced(std::chrono::seconds(30)), IsOk());
  ASSERT_TRUE(Eventually([&] { return cache.Get(missed) && cache.Get(pending); }));

  vsphere::UpdateSet spoiled;
  spoiled.objects.push_back({{"VirtualMachine", missed}, "leave", {}});
  spoiled.objects.push_back({{"VirtualMachine", "vm-999999"}, "enter", {}});
  cache.Apply(spoiled);
  cache.SetPending(pending, {{424242, "written-but-not-yet-reported"}});
  ASSERT_FALSE(cache.Get(missed).has_value());
  ASSERT_TRUE(cache.Get("vm-999999").has_value());

  // Two re-listings later, at least one was taken after the damage.
  const auto before = watcher.resyncs();
  ASSERT_TRUE(Eventually([&] { return watcher.resyncs() >= before + 2; }));
  EXPECT_TRUE(cache.Get(missed).has_value());
  EXPECT_FALSE(cache.Get("vm-999999").has_value());
  auto node = cache.Get(pending);
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->custom[424242], "written-but-not-yet-reported");
  EXPECT_EQ(watcher.setups(), 1);  // repaired without re-creating the collector
}

TEST_F(ProviderTest, TerminatingANodeThatIsOffSkipsThePowerOff) {
  StartSim();
  auto provider = MakeProvider(Options());
  ASSERT_NE(provider, nullptr);
  auto created = provider->CreateNode({}, kWorkerTags, 1);
  ASSERT_THAT(created, IsOk());
  const std::string id = created->created[0].id;
  auto inspector = Inspect();
  vsphere::TaskWaiter waiter(inspector.session);
  auto off = inspector.vim->PowerOffVmTask({"VirtualMachine", id});
  ASSERT_THAT(off, IsOk());
  ASSERT_THAT(waiter.Wait(*off, std::chrono::seconds(30)), IsOk());
  ASSERT_TRUE(Eventually([&] { return !provider->IsRunning(id); }));
  ASSERT_THAT(sim_->ResetStats(), IsOk());
  ASSERT_THAT(provider->TerminateNode(id), IsOk());
  auto stats = sim_->SoapStats();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ((*stats)["PowerOffVM_Task"], 0);
  EXPECT_EQ((*stats)["Destroy_Task"], 1);
  EXPECT_THAT(inspector.vim->RetrieveOne({"VirtualMachine", id}, {"name"}),
              StatusIs(StatusCode::kNotFound));
}

// The names of the vSphere tags attached to `vm`, and the category each is in.
std::map<std::string, std::string> AttachedTagNames(vsphere::RestClient& rest,
                                                    const std::string& vm) {
  std::map<std::string, std::string> names;
  auto ids = rest.ListAttachedTags({"VirtualMachine", vm});
  EXPECT_THAT(ids, IsOk());
  if (!ids.ok()) return names;
  for (const auto& id : *ids) {
    auto tag = rest.GetTag(id);
    EXPECT_THAT(tag, IsOk());
    if (tag.ok()) names[tag->name] = tag->category_id;
  }
  return names;
}

TEST_F(ProviderTest, MirrorsRayTagsAsVsphereTags) {
  StartSim();
  auto options = Options();
  options.mirror_vsphere_tags = true;
  auto provider = MakeProvider(options);
  ASSERT_NE(provider, nullptr);
  auto created = provider->CreateNode({}, kWorkerTags, 2);
  ASSERT_THAT(created, IsOk());
  ASSERT_EQ(created->created.size(), 2U);
  const std::string a = created->created[0].id;
  const std::string b = created->created[1].id;

  auto rest = vsphere::RestClient::Connect(sim_->Connect());
  ASSERT_THAT(rest, IsOk());
  auto category = (*rest)->FindCategoryByName("ray");
  ASSERT_THAT(category, IsOk());
  EXPECT_EQ(category->cardinality, vsphere::TagCardinality::kMultiple);
  EXPECT_EQ(category->associable_types, std::vector<std::string>{"VirtualMachine"});

  const std::map<std::string, std::string> expected = {
      {"ray-cluster-name:c1", category->id},
      {"ray-launch-config:abc123", category->id},
      {"ray-node-type:worker", category->id},
      {"ray-node-status:uninitialized", category->id},
      {"ray-user-node-type:cpu_worker", category->id}};
  EXPECT_EQ(AttachedTagNames(**rest, a), expected);
  EXPECT_EQ(AttachedTagNames(**rest, b), expected);

  // A changed key: the old key:value tag is replaced, the others stay.
  ASSERT_THAT(provider->SetNodeTags(a, {{"ray-node-status", "up-to-date"}}), IsOk());
  auto changed = expected;
  changed.erase("ray-node-status:uninitialized");
  changed["ray-node-status:up-to-date"] = category->id;
  EXPECT_EQ(AttachedTagNames(**rest, a), changed);
  EXPECT_EQ(AttachedTagNames(**rest, b), expected);
  ASSERT_THAT(provider->SetNodeTags(b, {{"ray-node-status", "up-to-date"}}), IsOk());
  EXPECT_EQ(AttachedTagNames(**rest, b), changed);

  // One tag object per distinct key:value, shared by the nodes.
  auto tags = (*rest)->ListTagsForCategory(category->id);
  ASSERT_THAT(tags, IsOk());
  EXPECT_EQ(tags->size(), 6U);
  // Custom attributes stay the source of truth.
  EXPECT_EQ(provider->NodeTags(a).at("ray-node-status"), "up-to-date");
  ASSERT_THAT(provider->TerminateNodes({a, b}), IsOk());
}

TEST_F(ProviderTest, MirrorFailuresDoNotFailNodeOperations) {
  StartSim();
  auto options = Options();
  options.mirror_vsphere_tags = true;
  auto provider = MakeProvider(options);
  ASSERT_NE(provider, nullptr);
  // Every tagging call of the mirror fails.
  ASSERT_THAT(sim_->InjectFault("/api/cis/tagging:*:http400"), IsOk());
  ASSERT_THAT(sim_->InjectFault("/rest/com/vmware/cis/tagging:*:http400"), IsOk());
  auto created = provider->CreateNode({}, kWorkerTags, 1);
  ASSERT_THAT(created, IsOk());
  const std::string id = created->created[0].id;
  EXPECT_THAT(provider->SetNodeTags(id, {{"ray-node-status", "up-to-date"}}), IsOk());
  EXPECT_EQ(provider->NodeTags(id).at("ray-node-status"), "up-to-date");
}

}  // namespace
}  // namespace vsray::provider
