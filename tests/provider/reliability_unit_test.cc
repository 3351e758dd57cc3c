// Interrupted, crashed and concurrent runs, through the vCenter seam (FakeVcenter): the rule
// for half-made nodes and its application (finish or remove), create intents, the cluster
// lease (records, verdicts, taking, waiting, breaking, sharing within a process) and
// cancellation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/clock.h"
#include "provider/clone_spec.h"
#include "provider/lease.h"
#include "provider/node_provider.h"
#include "provider/repair.h"
#include "provider/tags.h"
#include "support/fake_vcenter.h"
#include "support/status_matchers.h"

namespace vsray::provider {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::vsray::testing::FakeVcenter;
using ::vsray::testing::FakeVm;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

constexpr std::int64_t kNow = 1'700'000'000;

// A node as a clone spec makes it: identity, intent and birth tags, powered on, not finished.
Node HalfMade(const std::string& id, std::int64_t born = kNow - 60) {
  CloneRequest request;
  request.name = id;
  request.cluster = "c1";
  request.tags = LaunchTags({{"ray-node-type", "worker"}, {"ray-user-node-type", "cpu"}}, "c1");
  request.created_at = born;
  request.intent = FormatIntent({2, 2048, CloneMode::kInstant});
  Node node;
  node.id = id;
  node.name = id;
  node.power_state = "poweredOn";
  for (const auto& option : BirthConfig(request)) node.identity[option.key] = option.value;
  return node;
}

// ---- The rule ----

TEST(RepairRuleTest, CompleteNodesAreKeptAndStrangersIgnored) {
  const NodeReader reader{"c1", 11, 12};
  RepairContext exclusive{false, true, false, kNow, std::chrono::seconds(900)};
  Node complete = HalfMade("done");
  complete.custom[12] = "created";
  EXPECT_EQ(DecideRepair(reader, complete, exclusive).action, RepairAction::kKeep);
  Node stranger = HalfMade("stranger");
  stranger.identity["guestinfo.vsray.cluster"] = "c2";
  EXPECT_EQ(DecideRepair(reader, stranger, exclusive).action, RepairAction::kIgnore);
  Node frozen = HalfMade("frozen");
  frozen.frozen = true;
  EXPECT_EQ(DecideRepair(reader, frozen, exclusive).action, RepairAction::kIgnore);
  RepairContext parent = exclusive;
  parent.frozen_parent = true;
  EXPECT_EQ(DecideRepair(reader, HalfMade("p"), parent).action, RepairAction::kIgnore);
  // Ours by attribute only, with no creation status: not judged.
  Node attribute_only;
  attribute_only.id = "old";
  attribute_only.power_state = "poweredOff";
  attribute_only.custom[11] = "c1";
  EXPECT_EQ(DecideRepair(reader, attribute_only, exclusive).action, RepairAction::kKeep);
}

TEST(RepairRuleTest, AHalfMadeGpuNodeIsRemovedNotFinished) {
  const NodeReader reader{"c1", 11, 12};
  RepairContext exclusive{false, true, false, kNow, std::chrono::seconds(900)};
  Node gpu = HalfMade("gpu");
  gpu.identity[std::string(kGuestinfoGpus)] = "1";
  const auto decision = DecideRepair(reader, gpu, exclusive);
  EXPECT_EQ(decision.action, RepairAction::kRemove);
  EXPECT_THAT(decision.why, HasSubstr("GPU"));
}

TEST(RepairRuleTest, WithoutTheLeaseOnlyStaleNodesAreRemoved) {
  const NodeReader reader{"c1", 11, 12};
  RepairContext shared{false, false, false, kNow, std::chrono::seconds(900)};
  EXPECT_EQ(DecideRepair(reader, HalfMade("young"), shared).action, RepairAction::kLeave);
  Node off = HalfMade("off");
  off.power_state = "poweredOff";
  EXPECT_EQ(DecideRepair(reader, off, shared).action, RepairAction::kLeave);
  const auto stale = DecideRepair(reader, HalfMade("stale", kNow - 901), shared);
  EXPECT_EQ(stale.action, RepairAction::kRemove);
  EXPECT_THAT(stale.why, HasSubstr("timeouts.creating_s"));
}

TEST(RepairRuleTest, WithTheLeaseAbandonedNodesAreFinishedOrRemoved) {
  const NodeReader reader{"c1", 11, 12};
  RepairContext exclusive{false, true, false, kNow, std::chrono::seconds(900)};
  EXPECT_EQ(DecideRepair(reader, HalfMade("n"), exclusive).action, RepairAction::kFinish);
  // The status attribute may say `creating` too (set by nobody but a finisher); still half-made.
  Node tagged = HalfMade("tagged");
  tagged.custom[12] = "creating";
  EXPECT_EQ(DecideRepair(reader, tagged, exclusive).action, RepairAction::kFinish);
  Node off = HalfMade("off");
  off.power_state = "poweredOff";
  EXPECT_EQ(DecideRepair(reader, off, exclusive).action, RepairAction::kRemove);
  Node untyped = HalfMade("untyped");
  untyped.identity.erase("guestinfo.vsray.tag.ray-user-node-type");
  EXPECT_EQ(DecideRepair(reader, untyped, exclusive).action, RepairAction::kRemove);
  Node no_birth_tags = HalfMade("bare");
  std::erase_if(no_birth_tags.identity,
                [](const auto& entry) { return entry.first.starts_with("guestinfo.vsray.tag."); });
  EXPECT_EQ(DecideRepair(reader, no_birth_tags, exclusive).action, RepairAction::kRemove);
  EXPECT_EQ(DecideRepair(reader, HalfMade("stale", kNow - 901), exclusive).action,
            RepairAction::kRemove);
  RepairContext mine = exclusive;
  mine.in_flight_here = true;
  EXPECT_EQ(DecideRepair(reader, HalfMade("mine"), mine).action, RepairAction::kLeave);
}

TEST(RepairRuleTest, IntentsRoundTripAndBadOnesAreRefused) {
  const NodeIntent intent{4, 8192, CloneMode::kLinked};
  EXPECT_EQ(FormatIntent(intent), "cpus=4;memory_mb=8192;clone=linked");
  EXPECT_EQ(ParseIntent(FormatIntent(intent)), intent);
  EXPECT_EQ(ParseIntent("clone=instant"),
            (NodeIntent{std::nullopt, std::nullopt, CloneMode::kInstant}));
  for (const char* bad : {"", "cpus", "cpus=x", "cpus=0", "memory_mb=-1", "clone=magic"}) {
    EXPECT_EQ(ParseIntent(bad), std::nullopt) << bad;
  }
}

// ---- Lease records and verdicts ----

TEST(LeaseRecordTest, RoundTripsAndJudges) {
  const LeaseRecord record{"host/1/2/abc", "vsray up", kNow + 60};
  EXPECT_EQ(ParseLeaseRecord(FormatLeaseRecord(record)), record);
  EXPECT_EQ(ParseLeaseRecord("garbage"), std::nullopt);
  EXPECT_EQ(ParseLeaseRecord("owner=x"), std::nullopt);  // no expiry
  // ';' and '=' never reach the record's syntax.
  const LeaseRecord odd{"h/1/2/n", "a;b=c", 5};
  EXPECT_EQ(ParseLeaseRecord(FormatLeaseRecord(odd))->what, "a_b_c");

  const auto judge = [&](std::optional<LeaseRecord> r, bool gone, int recordless) {
    return JudgeLease(r, kNow, gone, std::chrono::seconds(recordless), std::chrono::seconds(60));
  };
  EXPECT_EQ(judge(record, false, 0), LeaseVerdict::kHeld);
  EXPECT_EQ(judge(record, true, 0), LeaseVerdict::kBreakable);
  EXPECT_EQ(judge(LeaseRecord{"o", "w", kNow}, false, 0), LeaseVerdict::kBreakable);
  EXPECT_EQ(judge(std::nullopt, false, 59), LeaseVerdict::kHeld);
  EXPECT_EQ(judge(std::nullopt, false, 60), LeaseVerdict::kBreakable);
}

TEST(LeaseRecordTest, ThisProcessIsAliveAndOtherMachinesAreNeverJudged) {
  const std::string me = NewLeaseOwner();
  EXPECT_FALSE(OwnerGoneOnThisMachine(me));
  EXPECT_NE(NewLeaseOwner(), me);  // a new nonce per owner
  const std::string host = me.substr(0, me.find('/'));
  EXPECT_TRUE(OwnerGoneOnThisMachine(host + "/999999999/1/x"));  // no such process
  EXPECT_FALSE(OwnerGoneOnThisMachine("another-machine/999999999/1/x"));
  EXPECT_FALSE(OwnerGoneOnThisMachine("not an owner"));
}

// ---- Taking leases ----

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeVcenter>();
    folder_ = fake_->AddFolder("ray-c1", fake_->vm_folder());
  }

  LeaseOptions Options(const std::string& owner, std::chrono::seconds wait = {}) {
    LeaseOptions options;
    options.parent = folder_;
    options.what = "test " + owner;
    options.owner = owner;
    options.wait = wait;
    options.now_seconds = [this] { return now_.load(); };
    options.clock = &clock_;
    options.owner_gone = [this](const std::string& candidate) { return candidate == gone_; };
    return options;
  }

  std::vector<LeaseClient::Entry> Leases() { return *fake_->List(folder_, "vsray-lease-"); }

  std::shared_ptr<FakeVcenter> fake_;
  MoRef folder_;
  FakeClock clock_;
  std::atomic<std::int64_t> now_{kNow};
  std::string gone_;
};

TEST_F(LeaseTest, TakenWhenFreeWithARecordAndReleasedAtTheEnd) {
  auto lease = Lease::Acquire(*fake_, Options("a"));
  ASSERT_THAT(lease, IsOk());
  ASSERT_THAT(Leases(), SizeIs(1));
  EXPECT_EQ(Leases()[0].name, "vsray-lease-1");
  const auto record = ParseLeaseRecord(*fake_->LeaseRecordOf((*lease)->folder()));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->owner, "a");
  EXPECT_EQ(record->what, "test a");
  EXPECT_EQ(record->expires, kNow + 60);
  lease->reset();
  EXPECT_THAT(Leases(), IsEmpty());
}

TEST_F(LeaseTest, AHeldLeaseIsWaitedForThenRefusedNamingItsHolder) {
  auto first = Lease::Acquire(*fake_, Options("a"));
  ASSERT_THAT(first, IsOk());
  std::vector<std::string> lines;
  auto options = Options("b", std::chrono::seconds(30));
  options.progress = [&](const std::string& line) { lines.push_back(line); };
  auto second = Lease::Acquire(*fake_, options);
  EXPECT_THAT(second, StatusIs(StatusCode::kDeadlineExceeded, HasSubstr("`test a` (a)")));
  EXPECT_EQ(second.status().fault(), "LeaseHeld");
  // It waited its 30 s on the clock, looking again each second, saying so every 15 s.
  EXPECT_GE(clock_.total_slept(), std::chrono::seconds(30));
  EXPECT_THAT(lines, SizeIs(2));
  EXPECT_THAT(lines.front(), HasSubstr("waiting for `test a` (a)"));
  EXPECT_THAT(Leases(), SizeIs(1));
}

TEST_F(LeaseTest, ExpiredOrOrphanedLeasesAreTakenOverAndTheOldOnesRemoved) {
  auto first = Lease::Acquire(*fake_, Options("a"));
  ASSERT_THAT(first, IsOk());
  now_ = kNow + 61;  // past its expiry (its renewer has not run: its period is 20 s)
  auto second = Lease::Acquire(*fake_, Options("b"));
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ((*second)->generation(), 2);
  ASSERT_THAT(Leases(), SizeIs(1));
  EXPECT_EQ(Leases()[0].name, "vsray-lease-2");
  gone_ = "b";  // its process died
  auto third = Lease::Acquire(*fake_, Options("c"));
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ((*third)->generation(), 3);
}

TEST_F(LeaseTest, ARecordlessLeaseIsBrokenAfterAWholeTtl) {
  ASSERT_THAT(fake_->Create(folder_, "vsray-lease-7"), IsOk());  // its creator died at once
  auto lease = Lease::Acquire(*fake_, Options("a", std::chrono::seconds(120)));
  ASSERT_THAT(lease, IsOk());
  EXPECT_EQ((*lease)->generation(), 8);
  EXPECT_GE(clock_.total_slept(), std::chrono::seconds(60));
}

TEST_F(LeaseTest, TwoRunsRacingForOneGenerationGetItOnceAndACancelledWaitEnds) {
  // The other run makes generation 1 between this one's look and its creation.
  bool raced = false;
  fake_->BeforeCall([&](const std::string& op) {
    if (op == "LeaseCreate" && !raced) {
      raced = true;
      ASSERT_THAT(fake_->Create(folder_, "vsray-lease-1"), IsOk());
      ASSERT_THAT(fake_->Write(*fake_->FindChild(folder_, "vsray-lease-1").value(),
                               FormatLeaseRecord({"other", "other run", kNow + 60})),
                  IsOk());
    }
  });
  auto cancel = std::make_shared<Cancellation>();
  auto options = Options("a", std::chrono::seconds(600));
  options.cancel = cancel.get();
  options.progress = [&](const std::string&) { cancel->Cancel(); };
  auto lease = Lease::Acquire(*fake_, options);
  EXPECT_THAT(lease, StatusIs(StatusCode::kCancelled));
  ASSERT_THAT(Leases(), SizeIs(1));
  EXPECT_EQ(ParseLeaseRecord(*Leases()[0].record)->owner, "other");
}

TEST_F(LeaseTest, AKeeperSharesOneLeaseAmongItsThreads) {
  LeaseKeeper keeper(*fake_, Options("a"));
  EXPECT_FALSE(keeper.held());
  {
    auto first = keeper.Acquire("one", std::chrono::seconds(0));
    ASSERT_THAT(first, IsOk());
    auto second = keeper.Acquire("two", std::chrono::seconds(0));
    ASSERT_THAT(second, IsOk());
    EXPECT_TRUE(keeper.held());
    EXPECT_EQ(fake_->calls("LeaseCreate"), 1);
  }
  EXPECT_FALSE(keeper.held());
  EXPECT_THAT(Leases(), IsEmpty());
  // Another process's keeper cannot take it while this one holds it.
  auto held = keeper.Acquire("three", std::chrono::seconds(0));
  ASSERT_THAT(held, IsOk());
  LeaseKeeper other(*fake_, Options("b"));
  EXPECT_THAT(other.Acquire("four", std::chrono::seconds(0)),
              StatusIs(StatusCode::kDeadlineExceeded));
}

TEST(LeaseThreadsTest, ConcurrentRunsHoldTheLeaseOneAtATime) {
  auto fake = std::make_shared<FakeVcenter>();
  const MoRef folder = fake->AddFolder("ray-c1", fake->vm_folder());
  std::atomic<int> holding{0};
  std::atomic<int> most{0};
  std::atomic<int> done{0};
  std::vector<std::thread> runs;
  for (int i = 0; i < 4; ++i) {
    runs.emplace_back([&, i] {
      LeaseOptions options;
      options.parent = folder;
      options.owner = "run-" + std::to_string(i);
      options.what = options.owner;
      options.wait = std::chrono::seconds(60);
      options.poll = std::chrono::milliseconds(5);
      auto lease = Lease::Acquire(*fake, options);
      ASSERT_THAT(lease, IsOk());
      const int now = ++holding;
      most = std::max(most.load(), now);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      --holding;
      ++done;
    });
  }
  for (auto& run : runs) run.join();
  EXPECT_EQ(done.load(), 4);
  EXPECT_EQ(most.load(), 1);
}

// ---- The provider: repair and cancellation ----

class RepairProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeVcenter>();
    host_ = fake_->AddHost("esx-1");
    pool_ = fake_->AddPool("Resources", {host_});
    fake_->AddFrozenVm("frozen", host_, pool_);
    folder_ = fake_->AddFolder("ray-c1", fake_->vm_folder());
  }

  ProviderOptions Options() {
    ProviderOptions options;
    options.vcenter = fake_->Factory();
    options.frozen_vm.name = "frozen";
    options.watch = false;
    options.clock = &clock_;
    options.now_seconds = [] { return kNow; };
    options.creating_timeout = std::chrono::seconds(900);
    return options;
  }

  // A half-made VM in the cluster folder, as a killed run leaves it.
  MoRef AddHalfMade(const std::string& name, const std::string& power = "poweredOn") {
    FakeVm vm;
    vm.name = name;
    vm.host = host_;
    vm.folder = folder_;
    vm.power_state = power;
    for (const auto& [key, value] : HalfMade(name).identity) vm.extra_config[key] = value;
    return fake_->AddVm(vm);
  }

  // Tag `name` as vCenter records it: its custom attribute, else its birth tag.
  std::string FieldValue(const MoRef& ref, const std::string& name) {
    const auto vm = fake_->Find(ref);
    const auto definitions = fake_->Definitions();
    if (!vm || !definitions.ok()) return "";
    for (const auto& [field, key] : *definitions) {
      if (field == name && vm->custom.contains(key)) return vm->custom.at(key);
    }
    const auto birth = vm->extra_config.find(std::string(kGuestinfoTagPrefix) + name);
    return birth == vm->extra_config.end() ? "" : birth->second;
  }

  std::shared_ptr<FakeVcenter> fake_;
  MoRef host_;
  MoRef pool_;
  MoRef folder_;
  FakeClock clock_;
};

TEST_F(RepairProviderTest, WithTheLeaseHalfMadeNodesAreFinishedFromTheirBirthOrRemoved) {
  const MoRef running = AddHalfMade("ray-c1-worker-1");
  const MoRef off = AddHalfMade("ray-c1-worker-2", "poweredOff");
  auto provider = NodeProvider::Create(Options(), "c1");
  ASSERT_THAT(provider, IsOk());
  // The start of a read-only command leaves young half-made nodes alone.
  EXPECT_THAT((*provider)->recovered(), IsEmpty());
  EXPECT_TRUE(fake_->Find(off).has_value());
  auto hold = (*provider)->HoldLease("vsray up", std::chrono::seconds(0));
  ASSERT_THAT(hold, IsOk());
  const RepairReport report = (*provider)->Repair();
  EXPECT_THAT(report.finished, ElementsAre(running.value));
  EXPECT_THAT(report.removed, ElementsAre(off.value));
  EXPECT_THAT(report.failures, IsEmpty());
  EXPECT_FALSE(fake_->Find(off).has_value());
  const auto finished = fake_->Find(running);
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ(finished->cpus, 2);  // from its intent
  EXPECT_EQ(finished->memory_mb, 2048);
  EXPECT_EQ(FieldValue(running, "ray-user-node-type"), "cpu");
  EXPECT_EQ(FieldValue(running, "ray-cluster-name"), "c1");
  EXPECT_EQ(FieldValue(running, "vsray-node-status"), "created");
  EXPECT_EQ((*provider)->NodeTags(running.value).at("vsray-node-status"), "created");
  // Nothing is left to repair.
  const RepairReport again = (*provider)->Repair();
  EXPECT_THAT(again.finished, IsEmpty());
  EXPECT_THAT(again.removed, IsEmpty());
}

TEST_F(RepairProviderTest, ALongLivedProviderRepairsAtStartOnlyWhenTheLeaseIsFree) {
  const MoRef running = AddHalfMade("ray-c1-worker-1");
  // Another run holds the lease: its nodes may be in flight.
  LeaseOptions other;
  other.parent = folder_;
  other.owner = "another-machine/1/1/x";
  other.now_seconds = [] { return kNow; };
  auto held = Lease::Acquire(*fake_, other);
  ASSERT_THAT(held, IsOk());
  auto options = Options();
  options.repair_at_start = StartRepair::kIfLeaseFree;
  auto waiting = NodeProvider::Create(options, "c1");
  ASSERT_THAT(waiting, IsOk());
  EXPECT_EQ(FieldValue(running, "vsray-node-status"), "creating");  // as born: not finished
  held->reset();
  auto repaired = NodeProvider::Create(options, "c1");
  ASSERT_THAT(repaired, IsOk());
  EXPECT_EQ(FieldValue(running, "vsray-node-status"), "created");
  EXPECT_THAT(fake_->List(folder_, "vsray-lease-").value(), IsEmpty());  // released
}

TEST_F(RepairProviderTest, AFinishThatFailsDestroysTheNodeAndSaysSo) {
  const MoRef running = AddHalfMade("ray-c1-worker-1");
  auto provider = NodeProvider::Create(Options(), "c1");
  ASSERT_THAT(provider, IsOk());
  auto hold = (*provider)->HoldLease("vsray up", std::chrono::seconds(0));
  ASSERT_THAT(hold, IsOk());
  fake_->Fail("Reconfigure", InternalError("no memory on the host"));
  const RepairReport report = (*provider)->Repair();
  EXPECT_THAT(report.finished, IsEmpty());
  ASSERT_THAT(report.failures, SizeIs(1));
  EXPECT_THAT(report.failures[0], HasSubstr("finishing half-made node 'ray-c1-worker-1'"));
  EXPECT_FALSE(fake_->Find(running).has_value());
}

TEST_F(RepairProviderTest, CreatesHoldTheLeaseAndACancelledCreateStartsNoClone) {
  auto cancel = std::make_shared<Cancellation>();
  auto options = Options();
  options.cancel = cancel;
  auto provider = NodeProvider::Create(options, "c1");
  ASSERT_THAT(provider, IsOk());
  const TagMap tags = {{"ray-node-type", "worker"}, {"ray-user-node-type", "cpu"}};
  auto created = (*provider)->CreateNode({}, tags, 1);
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(fake_->calls("LeaseCreate"), 1);
  EXPECT_EQ(fake_->calls("LeaseRemove"), 1);
  // The clone carries its intent.
  const auto vm = fake_->Find({"VirtualMachine", created->created[0].id});
  EXPECT_EQ(vm->extra_config.at("guestinfo.vsray.intent"), "clone=instant");
  cancel->Cancel();
  EXPECT_THAT((*provider)->CreateNode({}, tags, 3),
              StatusIs(StatusCode::kCancelled, HasSubstr("interrupted")));
  EXPECT_EQ(fake_->calls("InstantClone"), 1);
  EXPECT_THAT((*provider)->TerminateNodes({created->created[0].id}),
              StatusIs(StatusCode::kCancelled));
  EXPECT_TRUE(vm.has_value());
  EXPECT_TRUE(fake_->Find({"VirtualMachine", created->created[0].id}).has_value());
}

TEST_F(RepairProviderTest, ACreateWaitsForAnotherRunsLease) {
  LeaseOptions other;
  other.parent = folder_;
  other.owner = "another-machine/1/1/x";
  other.now_seconds = [] { return kNow; };
  auto held = Lease::Acquire(*fake_, other);
  ASSERT_THAT(held, IsOk());
  auto options = Options();
  options.lease_wait = std::chrono::seconds(5);
  auto provider = NodeProvider::Create(options, "c1");
  ASSERT_THAT(provider, IsOk());
  EXPECT_THAT((*provider)->CreateNode({}, {{"ray-node-type", "worker"}}, 1),
              StatusIs(StatusCode::kDeadlineExceeded, HasSubstr("cluster is busy")));
  EXPECT_EQ(fake_->calls("InstantClone"), 0);
}

}  // namespace
}  // namespace vsray::provider
