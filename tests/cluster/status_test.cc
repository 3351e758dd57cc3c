// `vsray status`'s facts (cluster/status.h), gathered from a provider over the fake vCenter.
#include "cluster/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "provider/node_provider.h"
#include "support/fake_vcenter.h"
#include "support/status_matchers.h"

namespace vsray::cluster {
namespace {

using provider::NodeProvider;
using provider::NodeSpec;
using provider::ProviderOptions;
using provider::TagMap;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using vsphere::MoRef;
using ::vsray::testing::FakeVcenter;
using ::vsray::testing::FakeVm;
using ::vsray::testing::IsOk;

constexpr std::int64_t kNow = 1'700'000'000;

TagMap Tags(const std::string& kind, const std::string& type) {
  return {{"ray-node-type", kind},
          {"ray-user-node-type", type},
          {"ray-node-status", "uninitialized"},
          {"ray-cluster-name", "c1"}};
}

config::ClusterConfig Config() {
  config::ClusterConfig config;
  config.cluster_name = "c1";
  config.head_node_type = "head.t";
  config::NodeType head;
  head.name = "head.t";
  config.node_types["head.t"] = head;
  config::NodeType worker;
  worker.name = "w.t";
  worker.min_workers = 1;
  worker.max_workers = 3;
  config.node_types["w.t"] = worker;
  config.auth.ssh_user = "ray";
  config.auth.ssh_private_key = "/keys/k.pem";
  config.vsphere.credentials.server = "vc.example:443";
  return config;
}

class ClusterStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeVcenter>();
    hosts_ = {fake_->AddHost("esx-1"), fake_->AddHost("esx-2")};
    pool_ = fake_->AddPool("Resources", hosts_);
    fake_->AddFrozenVm("frozen", hosts_[0], pool_);
  }

  ProviderOptions Options() {
    ProviderOptions options;
    options.vcenter = fake_->Factory();
    options.frozen_vm.name = "frozen";
    options.watch = false;
    options.clock = &clock_;
    options.now_seconds = [] { return kNow; };
    return options;
  }

  std::shared_ptr<FakeVcenter> fake_;
  std::vector<MoRef> hosts_;
  MoRef pool_;
  FakeClock clock_;
};

TEST(NodeStateTest, TableWordsNotVsphereWords) {
  EXPECT_EQ(NodeState("poweredOn", {}), "running");
  EXPECT_EQ(NodeState("poweredOff", {}), "stopped");
  EXPECT_EQ(NodeState("suspended", {}), "suspended");
  EXPECT_EQ(NodeState("", {}), "unknown");
  EXPECT_EQ(NodeState("poweredOff", {{"vsray-node-status", "creating"}}), "creating");
  EXPECT_EQ(NodeState("poweredOn", {{"ray-node-status", "update-failed"}}), "failed");
  EXPECT_EQ(NodeState("poweredOn", {{"ray-node-status", "up-to-date"}}), "running");
}

TEST(TlsModeTest, SaysHowTheCertificateIsChecked) {
  vsphere::TlsOptions tls;
  EXPECT_EQ(TlsMode(tls), "verified");
  tls.ca_file = "ca.pem";
  EXPECT_EQ(TlsMode(tls), "ca_file");
  tls.thumbprint = "ab";
  EXPECT_EQ(TlsMode(tls), "thumbprint");
  tls.insecure = true;
  EXPECT_EQ(TlsMode(tls), "insecure");
  EXPECT_EQ(SshCommand("/k.pem", "ray", "10.0.0.1"), "ssh -i /k.pem ray@10.0.0.1");
  EXPECT_EQ(SshCommand("", "ray", "10.0.0.1"), "ssh ray@10.0.0.1");
}

TEST_F(ClusterStatusTest, CountsNodesPerTypeFindsTheHeadStraysAndFrozenVms) {
  auto provider = NodeProvider::Create(Options(), "c1");
  ASSERT_THAT(provider, IsOk());
  NodeProvider& p = **provider;
  auto head = p.CreateNode(NodeSpec{}, Tags("head", "head.t"), 1);
  ASSERT_THAT(head, IsOk());
  auto workers = p.CreateNode(NodeSpec{}, Tags("worker", "w.t"), 2);
  ASSERT_THAT(workers, IsOk());
  ASSERT_EQ(workers->created.size(), 2U);
  ASSERT_THAT(p.SetNodeTags(workers->created[1].id, {{"ray-node-status", "update-failed"}}),
              IsOk());
  // In the cluster's folder: one VM without any identity, one of another cluster.
  const MoRef folder = p.folder();
  FakeVm stray;
  stray.name = "stray";
  stray.host = hosts_[1];
  stray.folder = folder;
  stray.pool = pool_;
  fake_->AddVm(stray);
  FakeVm theirs = stray;
  theirs.name = "theirs";
  theirs.extra_config = {{"guestinfo.vsray.cluster", "c2"}};
  fake_->AddVm(theirs);

  const ClusterStatus status = GatherStatus(StatusInputsOf(Config()), p);
  EXPECT_TRUE(status.reachable);
  EXPECT_THAT(status.error, IsOk());
  EXPECT_EQ(status.tls_mode, "verified");
  EXPECT_EQ(status.server, "vc.example:443");
  ASSERT_TRUE(status.head.has_value());
  EXPECT_EQ(status.head->id, head->created[0].id);
  EXPECT_EQ(status.head->state, "running");
  ASSERT_FALSE(status.head->ip.empty());
  EXPECT_EQ(status.head->ssh_command, "ssh -i /keys/k.pem ray@" + status.head->ip);

  ASSERT_EQ(status.node_types.size(), 2U);
  EXPECT_EQ(status.node_types[0].name, "head.t");
  EXPECT_TRUE(status.node_types[0].head);
  EXPECT_EQ(status.node_types[0].workers, 0);
  const NodeTypeFacts& worker = status.node_types[1];
  EXPECT_EQ(worker.name, "w.t");
  EXPECT_EQ(worker.workers, 2);
  EXPECT_EQ(worker.min_workers, 1);
  EXPECT_EQ(worker.max_workers, 3);
  EXPECT_THAT(worker.states, ElementsAre(Pair("failed", 1), Pair("running", 1)));

  ASSERT_EQ(status.foreign_vms.size(), 2U);
  EXPECT_EQ(status.foreign_vms[0].name, "stray");
  EXPECT_EQ(status.foreign_vms[0].cluster, "");
  EXPECT_EQ(status.foreign_vms[1].name, "theirs");
  EXPECT_EQ(status.foreign_vms[1].cluster, "c2");

  ASSERT_EQ(status.frozen_vms.size(), 1U);
  EXPECT_EQ(status.frozen_vms[0].name, "frozen");
  EXPECT_TRUE(status.frozen_vms[0].usable);
  EXPECT_EQ(status.frozen_vms[0].clones_on_host, 3);
  EXPECT_FALSE(status.gpu_cluster);
  EXPECT_TRUE(status.gpus.empty());
}

TEST_F(ClusterStatusTest, AnUnreachableVcenterIsAFactNotAnError) {
  ProviderOptions options = Options();
  options.vcenter =
      [](const vsphere::ConnectOptions&) -> StatusOr<std::shared_ptr<provider::VcenterConnection>> {
    return UnavailableError("cannot reach https://vc.example:443/sdk: Connection refused");
  };
  const ClusterStatus status = CollectStatus(Config(), std::move(options));
  EXPECT_FALSE(status.reachable);
  EXPECT_THAT(status.error.message(), HasSubstr("cannot reach"));
  EXPECT_FALSE(status.head.has_value());
  ASSERT_EQ(status.node_types.size(), 2U);  // the limits are still shown
  EXPECT_EQ(status.node_types[1].max_workers, 3);
}

TEST_F(ClusterStatusTest, AMissingFrozenVmIsReportedWithTheClosestName) {
  config::ClusterConfig config = Config();
  ProviderOptions options = Options();
  options.frozen_vm.name = "frozne";
  const ClusterStatus status = CollectStatus(config, std::move(options));
  EXPECT_TRUE(status.reachable);
  EXPECT_THAT(status.error, IsOk());  // the cluster is read; only the frozen VMs are missing
  EXPECT_THAT(status.frozen_vm_error.message(), HasSubstr("did you mean 'frozen'?"));
  // Looking deploys and creates nothing.
  EXPECT_EQ(fake_->calls("InstantClone"), 0);
  EXPECT_EQ(fake_->calls("PowerOn"), 0);
}

}  // namespace
}  // namespace vsray::cluster
