// Desired-state VM operations against vsray-sim: "already so" counts as done, unknown clone
// outcomes are cleaned up, and property waits end on the state or on their deadline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/sim_process.h"
#include "support/status_matchers.h"
#include "vsphere/vm_ops.h"

namespace vsray::vsphere {
namespace {

using ::testing::HasSubstr;
using ::vsray::testing::IsOk;
using ::vsray::testing::SimProcess;
using ::vsray::testing::StatusIs;

constexpr auto kTimeout = std::chrono::seconds(30);

class VmOpsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--hosts", "1", "--vms", "1", "--frozen-vm", "frozen"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto sim = SimProcess::Start(args);
    ASSERT_THAT(sim, IsOk());
    sim_ = std::move(sim).value();
    auto session = Session::Connect(sim_->Connect());
    ASSERT_THAT(session, IsOk());
    session_ = *session;
    vim_ = std::make_unique<Vim>(*session_, session_->content());
    waiter_ = std::make_unique<TaskWaiter>(session_);
    ops_ = std::make_unique<VmOps>(*vim_, *waiter_, SystemClock::Instance());
  }

  MoRef Vm(const std::string& name) {
    auto found = vim_->FindByName("VirtualMachine", name);
    EXPECT_THAT(found, IsOk()) << name;
    EXPECT_TRUE(found.ok() && found->size() == 1) << name;
    return found.ok() && found->size() == 1 ? found->front() : MoRef{};
  }

  // A powered-on clone of the frozen VM, made by the operations under test.
  MoRef NewClone(const std::string& name) {
    InstantCloneSpec spec;
    spec.name = name;
    spec.location.folder = Folder();
    auto vm = ops_->InstantClone(Vm("frozen"), spec, kTimeout);
    EXPECT_THAT(vm, IsOk());
    return vm.ok() ? *vm : MoRef{};
  }

  MoRef Folder() {
    auto content = vim_->RetrieveOne(Vm("frozen"), {"parent"});
    EXPECT_THAT(content, IsOk());
    return content.ok() ? RefOf(*content, "parent") : MoRef{};
  }

  std::string PowerState(const MoRef& vm) {
    auto content = vim_->RetrieveOne(vm, {"runtime.powerState"});
    return content.ok() ? TextOf(*content, "runtime.powerState") : content.status().ToString();
  }

  std::unique_ptr<SimProcess> sim_;
  std::shared_ptr<Session> session_;
  std::unique_ptr<Vim> vim_;
  std::unique_ptr<TaskWaiter> waiter_;
  std::unique_ptr<VmOps> ops_;
};

TEST_F(VmOpsTest, PowerOperationsCountTheStateAlreadyReachedAsDone) {
  Start();
  const MoRef vm = NewClone("c1");
  ASSERT_FALSE(vm.empty());
  EXPECT_THAT(ops_->PowerOn(vm, kTimeout), IsOk());  // already on
  EXPECT_EQ(PowerState(vm), "poweredOn");
  EXPECT_THAT(ops_->PowerOff(vm, kTimeout), IsOk());
  EXPECT_EQ(PowerState(vm), "poweredOff");
  EXPECT_THAT(ops_->PowerOff(vm, kTimeout), IsOk());  // already off
  EXPECT_THAT(ops_->PowerOn(vm, kTimeout), IsOk());
  EXPECT_EQ(PowerState(vm), "poweredOn");
}

TEST_F(VmOpsTest, DestroyPowersOffFirstAndAGoneVmIsDone) {
  Start();
  const MoRef on = NewClone("on");
  ASSERT_FALSE(on.empty());
  // Said to be off but on after all: powered off, then destroyed.
  EXPECT_THAT(ops_->Destroy(on, /*known_off=*/true, kTimeout), IsOk());
  EXPECT_THAT(vim_->RetrieveOne(on, {"name"}), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(ops_->Destroy(on, /*known_off=*/false, kTimeout), IsOk());  // already gone
  EXPECT_THAT(ops_->Destroy(on, /*known_off=*/true, kTimeout), IsOk());
  EXPECT_THAT(ops_->PowerOff(on, kTimeout), StatusIs(StatusCode::kNotFound));
}

TEST_F(VmOpsTest, AFailedCloneTaskReturnsItsFault) {
  Start();
  ASSERT_THAT(sim_->InjectFault("InstantClone_Task:1:task:InvalidState"), IsOk());
  InstantCloneSpec spec;
  spec.name = "refused";
  spec.location.folder = Folder();
  auto vm = ops_->InstantClone(Vm("frozen"), spec, kTimeout);
  EXPECT_THAT(vm, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(vm.status().fault(), "InvalidState");
}

TEST_F(VmOpsTest, ACloneWhoseTaskOutlivesTheWaitIsDestroyed) {
  Start({"--task-duration", "InstantClone_Task=20s"});
  InstantCloneSpec spec;
  spec.name = "late";
  spec.location.folder = Folder();
  auto vm = ops_->InstantClone(Vm("frozen"), spec, std::chrono::seconds(1));
  EXPECT_THAT(vm, StatusIs(StatusCode::kDeadlineExceeded));
  auto left = vim_->FindByName("VirtualMachine", "late");
  ASSERT_THAT(left, IsOk());
  EXPECT_TRUE(left->empty()) << "the clone the wait gave up on was left behind";
}

TEST_F(VmOpsTest, WaitForPropertyEndsOnTheValueOrTheDeadline) {
  Start();
  const MoRef vm = NewClone("w");
  ASSERT_FALSE(vm.empty());
  EXPECT_THAT(ops_->WaitForProperty(vm, "runtime.powerState", "poweredOn", kTimeout), IsOk());
  EXPECT_THAT(ops_->WaitForProperty(vm, "runtime.powerState", "suspended", std::chrono::seconds(1)),
              StatusIs(StatusCode::kDeadlineExceeded, HasSubstr("runtime.powerState")));
  ConfigSpec two_cpus;
  two_cpus.num_cpus = 2;
  EXPECT_THAT(ops_->Reconfigure(vm, two_cpus, kTimeout), IsOk());
  auto cpus = vim_->RetrieveOne(vm, {"config.hardware.numCPU"});
  ASSERT_THAT(cpus, IsOk());
  EXPECT_EQ(TextOf(*cpus, "config.hardware.numCPU"), "2");
}

}  // namespace
}  // namespace vsray::vsphere
