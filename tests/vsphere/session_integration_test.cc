// The vim25 client against vsray-sim over verified HTTPS.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "support/sim_process.h"
#include "support/status_matchers.h"
#include "vsphere/session.h"
#include "vsphere/soap.h"
#include "vsphere/task_waiter.h"
#include "vsphere/update_poller.h"
#include "vsphere/vim.h"

namespace vsray::vsphere {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

using testing::SimProcess;

std::unique_ptr<SimProcess> StartSim(const std::vector<std::string>& args) {
  auto sim = SimProcess::Start(args);
  EXPECT_THAT(sim, IsOk());
  return sim.ok() ? std::move(sim).value() : nullptr;
}

std::string CertificateThumbprint(const std::string& pem_file) {
  FILE* f = std::fopen(pem_file.c_str(), "r");
  if (f == nullptr) return "";
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) return "";
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  X509_digest(cert, EVP_sha256(), digest.data(), &length);
  X509_free(cert);
  return FormatThumbprint(std::string(reinterpret_cast<const char*>(digest.data()), length));
}

std::string FrozenVmId(const SimProcess& sim) {
  return sim.ready()["inventory"]["frozen_vms"][0]["id"].get<std::string>();
}

class VimTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim_ = StartSim(
               {"--hosts", "2", "--vms", "3", "--frozen-vm", "frozen-0", "--guest-ip-delay", "0s"})
               .release();
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }
  void SetUp() override {
    if (const char* level = std::getenv("VSRAY_TEST_LOG")) SetLogLevel(level);  // NOLINT
    ASSERT_NE(sim_, nullptr);
    auto session = Session::Connect(sim_->Connect());
    ASSERT_THAT(session, IsOk());
    session_ = *session;
    vim_ = std::make_unique<Vim>(*session_, session_->content());
    waiter_ = std::make_unique<TaskWaiter>(session_);
  }

  StatusOr<MoRef> Folder() {
    VSRAY_ASSIGN_OR_RETURN(auto folder, vim_->FindByInventoryPath("DC0/vm"));
    if (!folder) return NotFoundError("DC0/vm");
    return *folder;
  }

  StatusOr<MoRef> InstantClone(const std::string& name, std::vector<OptionValue> config = {}) {
    InstantCloneSpec spec;
    spec.name = name;
    spec.config = std::move(config);
    VSRAY_ASSIGN_OR_RETURN(auto task,
                           vim_->InstantCloneTask({"VirtualMachine", FrozenVmId(*sim_)}, spec));
    VSRAY_ASSIGN_OR_RETURN(auto result, waiter_->Wait(task, std::chrono::seconds(60)));
    return result.AsMoRef();
  }

  Status Destroy(const MoRef& vm) {
    auto off = vim_->PowerOffVmTask(vm);
    if (off.ok()) (void)waiter_->Wait(*off, std::chrono::seconds(60));
    VSRAY_ASSIGN_OR_RETURN(auto task, vim_->DestroyTask(vm));
    return waiter_->Wait(task, std::chrono::seconds(60)).status();
  }

  static SimProcess* sim_;
  std::shared_ptr<Session> session_;
  std::unique_ptr<Vim> vim_;
  std::unique_ptr<TaskWaiter> waiter_;
};

SimProcess* VimTest::sim_ = nullptr;

TEST_F(VimTest, ConnectsOverVerifiedHttpsAndReadsServiceContent) {
  EXPECT_EQ(session_->content().api_type, "VirtualCenter");
  EXPECT_FALSE(session_->content().root_folder.empty());
  EXPECT_FALSE(session_->content().property_collector.empty());
  EXPECT_EQ(session_->login_count(), 1);
  auto now = vim_->CurrentTime();
  ASSERT_THAT(now, IsOk());
  EXPECT_FALSE(now->empty());
}

TEST_F(VimTest, WrongPasswordIsRefusedWithoutEchoingIt) {
  auto session = Session::Connect(sim_->Connect("user", "not-the-password"));
  ASSERT_THAT(session, Not(IsOk()));
  EXPECT_THAT(session, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(session.status().fault(), "InvalidLogin");
  EXPECT_EQ(session.status().message().find("not-the-password"), std::string::npos);
}

TEST_F(VimTest, WrongCaIsRefusedWithAClearError) {
  auto options = sim_->Connect();
  options.tls.ca_file = "/etc/ssl/certs/ca-certificates.crt";  // real CAs, not the sim's
  auto session = Session::Connect(options);
  ASSERT_THAT(session, Not(IsOk()));
  EXPECT_THAT(session, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(session.status().fault(), "TlsVerification");
  EXPECT_NE(session.status().message().find("not trusted by tls.ca_file"), std::string::npos)
      << session.status();
}

TEST_F(VimTest, SystemCasDoNotTrustTheSimulator) {
  auto options = sim_->Connect();
  options.tls.ca_file.clear();
  auto session = Session::Connect(options);
  ASSERT_THAT(session, Not(IsOk()));
  EXPECT_EQ(session.status().fault(), "TlsVerification");
  EXPECT_NE(session.status().message().find("tls.thumbprint"), std::string::npos);
}

TEST_F(VimTest, ThumbprintPinAcceptsTheRightCertificateOnly) {
  auto options = sim_->Connect();
  options.tls.ca_file.clear();
  const std::string cert = sim_->ready()["cert_dir"].get<std::string>() + "/cert.pem";
  options.tls.thumbprint = CertificateThumbprint(cert);
  ASSERT_FALSE(options.tls.thumbprint.empty());
  EXPECT_EQ(options.tls.thumbprint, sim_->ready()["thumbprint"].get<std::string>());
  auto good = Session::Connect(options);
  EXPECT_THAT(good, IsOk());

  options.tls.thumbprint = std::string(64, 'a');
  auto bad = Session::Connect(options);
  ASSERT_THAT(bad, Not(IsOk()));
  EXPECT_EQ(bad.status().fault(), "TlsVerification");
  EXPECT_NE(bad.status().message().find("does not match tls.thumbprint"), std::string::npos);
  EXPECT_NE(bad.status().message().find(CertificateThumbprint(cert)), std::string::npos);
}

TEST_F(VimTest, InsecureConnectsWithoutVerification) {
  auto options = sim_->Connect();
  options.tls.ca_file.clear();
  options.tls.insecure = true;
  auto session = Session::Connect(options);
  EXPECT_THAT(session, IsOk());
}

TEST_F(VimTest, UnreachableServerIsUnavailable) {
  auto options = sim_->Connect();
  options.server = "https://127.0.0.1:1";
  options.retry.max_attempts = 1;
  auto session = Session::Connect(options);
  ASSERT_THAT(session, Not(IsOk()));
  EXPECT_THAT(session, StatusIs(StatusCode::kUnavailable));
  EXPECT_NE(session.status().message().find("cannot reach"), std::string::npos);
}

TEST_F(VimTest, InventoryLookups) {
  auto dc = vim_->FindByInventoryPath("DC0");
  ASSERT_THAT(dc, IsOk());
  ASSERT_TRUE(dc->has_value());
  EXPECT_EQ((*dc)->type, "Datacenter");
  auto missing = vim_->FindByInventoryPath("DC0/vm/no-such-vm");
  ASSERT_THAT(missing, IsOk());
  EXPECT_FALSE(missing->has_value());

  auto frozen = vim_->FindByName("VirtualMachine", "frozen-0");
  ASSERT_THAT(frozen, IsOk());
  ASSERT_EQ(frozen->size(), 1U);
  EXPECT_EQ(frozen->front().value, FrozenVmId(*sim_));

  for (const char* type : {"HostSystem", "Datastore", "ResourcePool", "ClusterComputeResource"}) {
    auto objects = vim_->ListByType(type, {"name"});
    ASSERT_THAT(objects, IsOk());
    EXPECT_FALSE(objects->empty()) << type;
  }
}

TEST_F(VimTest, RetrievePropertiesFollowsPages) {
  auto root = session_->content().root_folder;
  auto view = vim_->CreateContainerView(root, {"VirtualMachine"}, true);
  ASSERT_THAT(view, IsOk());
  auto all = vim_->RetrieveProperties(
      ContainerViewFilter(*view, {{"VirtualMachine", {"name", "runtime.powerState"}}}));
  ASSERT_THAT(all, IsOk());
  auto paged = vim_->RetrieveProperties(
      ContainerViewFilter(*view, {{"VirtualMachine", {"name", "runtime.powerState"}}}), 1);
  ASSERT_THAT(paged, IsOk());
  EXPECT_GE(all->size(), 4U);  // 3 + the frozen VM (+ clones of other tests)
  EXPECT_EQ(paged->size(), all->size());
  for (const auto& vm : *all) {
    ASSERT_NE(vm.Get("runtime.powerState"), nullptr);
    EXPECT_EQ(vm.Get("runtime.powerState")->xsi_type, "VirtualMachinePowerState");
  }
  EXPECT_THAT(vim_->DestroyView(*view), IsOk());
}

TEST_F(VimTest, RetrieveOneOfAMissingObjectIsNotFound) {
  auto content = vim_->RetrieveOne({"VirtualMachine", "vm-does-not-exist"}, {"name"});
  ASSERT_THAT(content, Not(IsOk()));
  EXPECT_THAT(content, StatusIs(StatusCode::kNotFound));
}

TEST_F(VimTest, InstantCloneLandsOnTheParentHostWithConfigAndIdentity) {
  const MoRef parent{"VirtualMachine", FrozenVmId(*sim_)};
  auto clone = InstantClone(
      "ic-identity", {{"guestinfo.vsray.cluster", "c1"}, {"guestinfo.vsray.node-type", "head"}});
  ASSERT_THAT(clone, IsOk());
  EXPECT_EQ(clone->type, "VirtualMachine");
  auto parent_info = vim_->RetrieveOne(parent, {"runtime.host"});
  auto info = vim_->RetrieveOne(
      *clone, {"name", "runtime.host", "runtime.powerState", "config.extraConfig"});
  ASSERT_THAT(info, IsOk());
  ASSERT_THAT(parent_info, IsOk());
  EXPECT_EQ(info->Get("name")->text, "ic-identity");
  EXPECT_EQ(info->Get("runtime.powerState")->text, "poweredOn");
  EXPECT_EQ(info->Get("runtime.host")->AsMoRef(), parent_info->Get("runtime.host")->AsMoRef());
  std::map<std::string, std::string> extra;
  for (const auto& [name, option] : info->Get("config.extraConfig")->fields) {
    extra[std::string(option.TextAt("key"))] = option.TextAt("value");
  }
  EXPECT_EQ(extra["guestinfo.vsray.cluster"], "c1");
  EXPECT_EQ(extra["guestinfo.vsray.node-type"], "head");
  EXPECT_THAT(Destroy(*clone), IsOk());
}

TEST_F(VimTest, DuplicateCloneNameIsAlreadyExists) {
  auto first = InstantClone("ic-dup");
  ASSERT_THAT(first, IsOk());
  auto second = InstantClone("ic-dup");
  ASSERT_THAT(second, Not(IsOk()));
  EXPECT_THAT(second, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(Destroy(*first), IsOk());
}

TEST_F(VimTest, ReconfigureConnectsNicsAndSizesTheVm) {
  auto clone = InstantClone("ic-reconfig");
  ASSERT_THAT(clone, IsOk());
  auto devices = vim_->RetrieveOne(*clone, {"config.hardware.device"});
  ASSERT_THAT(devices, IsOk());
  ConfigSpec spec;
  spec.num_cpus = 4;
  spec.memory_mb = 8192;
  for (const auto& [name, device] : devices->Get("config.hardware.device")->fields) {
    if (!IsVirtualNic(device)) continue;
    Any nic = device;
    SetNicConnected(nic, true);
    spec.edit_devices.push_back(nic);
  }
  ASSERT_FALSE(spec.edit_devices.empty());
  auto task = vim_->ReconfigVmTask(*clone, spec);
  ASSERT_THAT(task, IsOk());
  ASSERT_THAT(waiter_->Wait(*task, std::chrono::seconds(60)), IsOk());
  auto after = vim_->RetrieveOne(
      *clone, {"config.hardware.numCPU", "config.hardware.memoryMB", "config.hardware.device"});
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->Get("config.hardware.numCPU")->text, "4");
  EXPECT_EQ(after->Get("config.hardware.memoryMB")->text, "8192");
  int connected = 0;
  for (const auto& [name, device] : after->Get("config.hardware.device")->fields) {
    if (IsVirtualNic(device) && device.TextAt("connectable.connected") == "true") ++connected;
  }
  EXPECT_EQ(connected, static_cast<int>(spec.edit_devices.size()));
  EXPECT_THAT(Destroy(*clone), IsOk());
}

TEST_F(VimTest, PowerOnOfARunningVmIsInvalidPowerStateAndDestroyedVmIsGone) {
  auto clone = InstantClone("ic-power");
  ASSERT_THAT(clone, IsOk());
  auto on = vim_->PowerOnVmTask(*clone);
  Status on_status = on.ok() ? waiter_->Wait(*on, std::chrono::seconds(60)).status() : on.status();
  EXPECT_EQ(on_status.fault(), "InvalidPowerState") << on_status;
  // Destroy needs the VM off.
  auto destroy_on = vim_->DestroyTask(*clone);
  Status destroy_status = destroy_on.ok()
                              ? waiter_->Wait(*destroy_on, std::chrono::seconds(60)).status()
                              : destroy_on.status();
  EXPECT_THAT(destroy_status, Not(IsOk()));
  ASSERT_THAT(Destroy(*clone), IsOk());
  auto gone = vim_->RetrieveOne(*clone, {"name"});
  EXPECT_THAT(gone, StatusIs(StatusCode::kNotFound));
  auto again = vim_->DestroyTask(*clone);
  Status again_status =
      again.ok() ? waiter_->Wait(*again, std::chrono::seconds(60)).status() : again.status();
  EXPECT_THAT(again_status, StatusIs(StatusCode::kNotFound));
}

TEST_F(VimTest, InstantCloneOfAPoweredOffVmFails) {
  auto all = vim_->ListByType("VirtualMachine", {"name"});
  ASSERT_THAT(all, IsOk());
  std::vector<MoRef> vms;
  for (const auto& vm : *all) {
    if (vm.Get("name")->text.starts_with("DC0_")) vms.push_back(vm.obj);
  }
  ASSERT_FALSE(vms.empty());
  auto off = vim_->PowerOffVmTask(vms.front());
  ASSERT_THAT(off, IsOk());
  (void)waiter_->Wait(*off, std::chrono::seconds(60));
  InstantCloneSpec spec;
  spec.name = "ic-from-off";
  auto task = vim_->InstantCloneTask(vms.front(), spec);
  Status status =
      task.ok() ? waiter_->Wait(*task, std::chrono::seconds(60)).status() : task.status();
  EXPECT_THAT(status, Not(IsOk()));
  EXPECT_EQ(status.fault(), "InvalidPowerState") << status;
}

TEST_F(VimTest, FullCloneFolderAndCustomFields) {
  auto folder_parent = Folder();
  ASSERT_THAT(folder_parent, IsOk());
  auto folder = vim_->CreateFolder(*folder_parent, "ray-test-folder");
  ASSERT_THAT(folder, IsOk());
  auto duplicate = vim_->CreateFolder(*folder_parent, "ray-test-folder");
  EXPECT_THAT(duplicate, StatusIs(StatusCode::kAlreadyExists));

  CloneSpec clone_spec;
  auto task =
      vim_->CloneVmTask({"VirtualMachine", FrozenVmId(*sim_)}, *folder, "full-clone", clone_spec);
  ASSERT_THAT(task, IsOk());
  auto result = waiter_->Wait(*task, std::chrono::seconds(60));
  ASSERT_THAT(result, IsOk());
  const MoRef vm = result->AsMoRef();

  auto key = vim_->AddCustomFieldDef("ray-node-status", "VirtualMachine");
  ASSERT_THAT(key, IsOk());
  EXPECT_THAT(vim_->AddCustomFieldDef("ray-node-status", "VirtualMachine"),
              StatusIs(StatusCode::kAlreadyExists));
  auto defs = vim_->CustomFieldDefs("VirtualMachine");
  ASSERT_THAT(defs, IsOk());
  bool found = false;
  for (const auto& [name, k] : *defs) found |= name == "ray-node-status" && k == *key;
  EXPECT_TRUE(found);
  ASSERT_THAT(vim_->SetField(vm, *key, "up-to-date"), IsOk());
  auto values = vim_->RetrieveOne(vm, {"customValue", "parent"});
  ASSERT_THAT(values, IsOk());
  EXPECT_EQ(values->Get("parent")->AsMoRef(), *folder);
  const Any* custom = values->Get("customValue");
  ASSERT_NE(custom, nullptr);
  ASSERT_EQ(custom->fields.size(), 1U);
  EXPECT_EQ(custom->fields[0].value.TextAt("key"), std::to_string(*key));
  EXPECT_EQ(custom->fields[0].value.TextAt("value"), "up-to-date");
  EXPECT_THAT(Destroy(vm), IsOk());
}

TEST_F(VimTest, WaitForUpdatesReportsEnterAndModify) {
  auto collector = vim_->CreatePropertyCollector();
  ASSERT_THAT(collector, IsOk());
  auto folder = Folder();
  ASSERT_THAT(folder, IsOk());
  auto view = vim_->CreateContainerView(*folder, {"VirtualMachine"}, true);
  ASSERT_THAT(view, IsOk());
  auto filter = vim_->CreateFilter(
      *collector, ContainerViewFilter(*view, {{"VirtualMachine", {"name", "runtime.powerState"}}}),
      false);
  ASSERT_THAT(filter, IsOk());
  auto first = vim_->WaitForUpdatesEx(*collector, "", 5);
  ASSERT_THAT(first, IsOk());
  ASSERT_TRUE(first->has_value());
  EXPECT_GE((*first)->objects.size(), 3U);
  for (const auto& object : (*first)->objects) EXPECT_EQ(object.kind, "enter");

  auto clone = InstantClone("ic-watched");
  ASSERT_THAT(clone, IsOk());
  bool entered = false;
  std::string version = (*first)->version;
  for (int round = 0; round < 10 && !entered; ++round) {
    auto next = vim_->WaitForUpdatesEx(*collector, version, 5);
    ASSERT_THAT(next, IsOk());
    if (!next->has_value()) continue;
    version = (*next)->version;
    for (const auto& object : (*next)->objects) entered |= object.obj == *clone;
  }
  EXPECT_TRUE(entered);
  EXPECT_THAT(Destroy(*clone), IsOk());
  EXPECT_THAT(vim_->DestroyPropertyCollector(*collector), IsOk());
}

TEST_F(VimTest, ManyTasksInParallelShareOneWaiter) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto clone = InstantClone("ic-par-" + std::to_string(i));
      if (clone.ok() && Destroy(*clone).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
}

// Fault injection and session expiry need their own simulator.
class VimFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = StartSim(
        {"--vms", "1", "--frozen-vm", "frozen-0", "--task-duration", "InstantClone_Task=1500ms"});
    ASSERT_NE(sim_, nullptr);
    auto options = sim_->Connect();
    options.retry.backoff.initial = std::chrono::milliseconds(10);
    auto session = Session::Connect(options);
    ASSERT_THAT(session, IsOk());
    session_ = *session;
    vim_ = std::make_unique<Vim>(*session_, session_->content());
    waiter_ = std::make_unique<TaskWaiter>(session_);
  }

  StatusOr<MoRef> StartClone(const std::string& name) {
    InstantCloneSpec spec;
    spec.name = name;
    return vim_->InstantCloneTask({"VirtualMachine", FrozenVmId(*sim_)}, spec);
  }

  std::unique_ptr<SimProcess> sim_;
  std::shared_ptr<Session> session_;
  std::unique_ptr<Vim> vim_;
  std::unique_ptr<TaskWaiter> waiter_;
};

TEST_F(VimFaultTest, TaskStaysRunningThenSucceeds) {
  auto task = StartClone("slow-clone");
  ASSERT_THAT(task, IsOk());
  auto state = vim_->RetrieveOne(*task, {"info.state"});
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->Get("info.state")->text, "running");
  auto short_wait = waiter_->Wait(*task, std::chrono::milliseconds(200));
  EXPECT_THAT(short_wait, StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_EQ(waiter_->waited(), 0U);  // a wait given up on forgets its task
  auto result = waiter_->Wait(*task, std::chrono::seconds(30));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->AsMoRef().type, "VirtualMachine");
}

TEST_F(VimFaultTest, WaitCanBeCancelled) {
  auto task = StartClone("cancelled-wait");
  ASSERT_THAT(task, IsOk());
  std::atomic<bool> cancel{true};
  auto result = waiter_->Wait(*task, std::chrono::seconds(30), &cancel);
  EXPECT_THAT(result, StatusIs(StatusCode::kCancelled));
  EXPECT_EQ(waiter_->waited(), 0U);
}

TEST_F(VimFaultTest, TaskErrorBecomesStatusWithFault) {
  ASSERT_THAT(sim_->InjectFault("InstantClone_Task:1:task:InvalidState"), IsOk());
  auto task = StartClone("failing-clone");
  ASSERT_THAT(task, IsOk());
  auto result = waiter_->Wait(*task, std::chrono::seconds(30));
  ASSERT_THAT(result, Not(IsOk()));
  EXPECT_EQ(result.status().fault(), "InvalidState");
  EXPECT_THAT(result, StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(VimFaultTest, Injected503IsRetriedForIdempotentCalls) {
  ASSERT_THAT(sim_->InjectFault("RetrievePropertiesEx:1:http503"), IsOk());
  auto dc = vim_->ListByType("Datacenter", {"name"});
  ASSERT_THAT(dc, IsOk());
  EXPECT_EQ(dc->size(), 1U);
}

TEST_F(VimFaultTest, Injected503IsReportedForNonIdempotentCalls) {
  ASSERT_THAT(sim_->InjectFault("InstantClone_Task:1:http503"), IsOk());
  auto task = StartClone("never-made");
  ASSERT_THAT(task, Not(IsOk()));
  EXPECT_THAT(task, StatusIs(StatusCode::kUnavailable));
  auto vms = vim_->FindByName("VirtualMachine", "never-made");
  ASSERT_THAT(vms, IsOk());
  EXPECT_TRUE(vms->empty());
}

TEST_F(VimFaultTest, DroppedConnectionOnIdempotentCallIsRetried) {
  ASSERT_THAT(sim_->InjectFault("RetrievePropertiesEx:1:drop"), IsOk());
  auto dc = vim_->ListByType("Datacenter", {"name"});
  ASSERT_THAT(dc, IsOk());
}

TEST_F(VimFaultTest, SessionExpiryInTheMiddleOfWorkIsSurvived) {
  auto task = StartClone("before-expiry");
  ASSERT_THAT(task, IsOk());
  ASSERT_THAT(sim_->ExpireSessions(), IsOk());
  // The waiter's collector died with the session; it must come back and see the task end.
  auto result = waiter_->Wait(*task, std::chrono::seconds(30));
  ASSERT_THAT(result, IsOk());
  auto vms = vim_->FindByName("VirtualMachine", "before-expiry");
  ASSERT_THAT(vms, IsOk());
  EXPECT_EQ(vms->size(), 1U);
  EXPECT_GE(session_->login_count(), 2);
  auto second = StartClone("after-expiry");
  ASSERT_THAT(second, IsOk());
  EXPECT_THAT(waiter_->Wait(*second, std::chrono::seconds(30)), IsOk());
}

TEST_F(VimFaultTest, UpdatePollerStartsOverAfterSessionExpiryAndStops) {
  const MoRef frozen{"VirtualMachine", FrozenVmId(*sim_)};
  FilterSpec spec;
  spec.props.push_back({"VirtualMachine", {"name", "runtime.powerState"}});
  spec.objects.push_back({frozen, false, {}});
  std::mutex mu;
  std::vector<std::string> established;  // the frozen VM's name, per full state
  int errors = 0;
  UpdatePollerHandlers handlers;
  handlers.on_established = [&](const UpdateSet& set) {
    std::lock_guard lock(mu);
    for (const auto& object : set.objects) {
      for (const auto& change : object.changes) {
        if (object.obj == frozen && change.name == "name") established.push_back(change.val.text);
      }
    }
  };
  handlers.on_error = [&](const Status&) {
    std::lock_guard lock(mu);
    ++errors;
  };
  UpdatePollerOptions options;
  options.name = "test poller";
  options.max_wait_seconds = 1;
  options.min_backoff = std::chrono::milliseconds(10);
  UpdatePoller poller(session_, spec, handlers, options);
  auto count = [&] {
    std::lock_guard lock(mu);
    return established.size();
  };
  auto eventually = [](const std::function<bool()>& condition) {
    for (int i = 0; i < 600 && !condition(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return condition();
  };
  poller.Start();
  ASSERT_TRUE(eventually([&] { return count() == 1; }));
  EXPECT_EQ(poller.setups(), 1);
  // The collector dies with the session: the poller makes a new one, whose first round is
  // the full state again.
  ASSERT_THAT(sim_->ExpireSessions(), IsOk());
  ASSERT_TRUE(eventually([&] { return count() == 2; }));
  EXPECT_EQ(poller.setups(), 2);
  {
    std::lock_guard lock(mu);
    EXPECT_GE(errors, 1);
    EXPECT_EQ(established, (std::vector<std::string>{"frozen-0", "frozen-0"}));
  }
  poller.Stop();
  const auto rounds = poller.rounds();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(poller.rounds(), rounds);  // no round after Stop
  poller.Stop();                       // idempotent
}

TEST(SharedSessionTest, OneSessionPerServerAndUser) {
  auto sim = StartSim({"--vms", "1"});
  ASSERT_NE(sim, nullptr);
  auto a = Session::Shared(sim->Connect());
  auto b = Session::Shared(sim->Connect());
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->get(), b->get());
  auto stats = sim->SoapStats();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ((*stats)["Login"], 1);
}

TEST(PlainHttpTest, HttpsClientAgainstPlainServerFailsClearly) {
  auto sim = StartSim({"--http", "--vms", "1"});
  ASSERT_NE(sim, nullptr);
  auto options = sim->Connect();
  options.server = "https://" + sim->server();
  options.tls.insecure = false;
  options.retry.max_attempts = 1;
  auto session = Session::Connect(options);
  ASSERT_THAT(session, Not(IsOk()));
  EXPECT_NE(session.status().message().find("is it an HTTPS endpoint"), std::string::npos)
      << session.status();
}

}  // namespace
}  // namespace vsray::vsphere
