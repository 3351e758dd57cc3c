#include "provider/node.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "provider/node_cache.h"
#include "support/status_matchers.h"

namespace vsray::provider {
namespace {

using ::vsray::testing::IsOk;

using vsphere::Any;

Any GuestNic(const std::string& network, const std::vector<std::string>& addresses) {
  Any nic;
  nic.xsi_type = "GuestNicInfo";
  nic.Add("network", network);
  nic.Add("connected", "true");
  Any& config = nic.Add("ipConfig");
  for (const auto& address : addresses) config.Add("ipAddress").Add("ipAddress", address);
  return nic;
}

Node WithNics(const std::vector<Any>& nics) {
  Any net;
  for (const auto& nic : nics) net.fields.push_back({"GuestNicInfo", nic});
  Node node;
  node.id = "vm-1";
  ApplyProperty(node, "guest.net", net);
  return node;
}

TEST(AddressTest, SkipsIpv6AndLinkLocalAndIgnoredNetworks) {
  const Node node = WithNics(
      {GuestNic("VM Network", {"fd00::5", "fe80::1", "169.254.3.4", "10.0.0.7", "127.1.0.9"})});
  AddressPolicy policy;
  EXPECT_EQ(InternalIp(node, policy), "10.0.0.7");
  EXPECT_EQ(ExternalIp(node, policy), "10.0.0.7");
  policy.ignore.push_back(*ParseIpv4Cidr("10.0.0.0/8"));
  EXPECT_EQ(InternalIp(node, policy), "127.1.0.9");
  policy.ignore.push_back(*ParseIpv4Cidr("127.0.0.0/8"));
  EXPECT_EQ(InternalIp(node, policy), std::nullopt);
}

TEST(AddressTest, NoAddressYetIsNulloptNotError) {
  EXPECT_EQ(InternalIp(Node{}, AddressPolicy{}), std::nullopt);
  EXPECT_EQ(InternalIp(WithNics({GuestNic("n", {})}), AddressPolicy{}), std::nullopt);
}

TEST(AddressTest, InternalAndExternalOnDifferentNetworks) {
  const Node node =
      WithNics({GuestNic("public", {"127.2.0.1"}), GuestNic("cluster", {"127.3.0.1"})});
  AddressPolicy policy;
  policy.internal_network = "cluster";
  EXPECT_EQ(InternalIp(node, policy), "127.3.0.1");
  EXPECT_EQ(ExternalIp(node, policy), "127.2.0.1");
  // With only the internal network up, external falls back to it.
  const Node internal_only = WithNics({GuestNic("cluster", {"127.3.0.2"})});
  EXPECT_EQ(ExternalIp(internal_only, policy), "127.3.0.2");
}

TEST(AddressTest, FlatIpAddressListWhenNoIpConfig) {
  Any nic;
  nic.Add("network", "n");
  nic.Add("ipAddress", "fe80::2");
  nic.Add("ipAddress", "127.4.0.1");
  EXPECT_EQ(InternalIp(WithNics({nic}), AddressPolicy{}), "127.4.0.1");
}

TEST(NodeTest, AppliesWatchedProperties) {
  Node node;
  ApplyProperty(node, "name", Any{"", "", "ray-c-head-1", {}});
  ApplyProperty(node, "runtime.powerState", Any{"VirtualMachinePowerState", "", "poweredOn", {}});
  Any host{"ManagedObjectReference", "HostSystem", "host-3", {}};
  ApplyProperty(node, "runtime.host", host);
  Any custom;
  Any& v = custom.Add("CustomFieldValue");
  v.Add("key", "101");
  v.Add("value", "head");
  ApplyProperty(node, "customValue", custom);
  Any extra;
  Any& o1 = extra.Add("OptionValue");
  o1.Add("key", "guestinfo.vsray.cluster");
  o1.Add("value", "c1");
  Any& o2 = extra.Add("OptionValue");
  o2.Add("key", "guestinfo.vsray.created-at");
  o2.Add("value", "1700000000");
  Any& o3 = extra.Add("OptionValue");
  o3.Add("key", "svga.present");
  o3.Add("value", "TRUE");
  ApplyProperty(node, "config.extraConfig", extra);
  EXPECT_EQ(node.name, "ray-c-head-1");
  EXPECT_EQ(node.power_state, "poweredOn");
  EXPECT_EQ(node.host, "host-3");
  EXPECT_EQ(node.custom.at(101), "head");
  EXPECT_EQ(node.Identity(kGuestinfoCluster), "c1");
  EXPECT_EQ(node.created_at(), 1700000000);
  EXPECT_EQ(node.identity.size(), 2U);  // only guestinfo.vsray.* keys are kept
}

vsphere::UpdateSet Update(const std::string& id, const std::string& kind, int key,
                          const std::string& value) {
  vsphere::UpdateSet set;
  vsphere::ObjectUpdate update;
  update.obj = {"VirtualMachine", id};
  update.kind = kind;
  if (kind != "leave") {
    Any custom;
    Any& v = custom.Add("CustomFieldValue");
    v.Add("key", std::to_string(key));
    v.Add("value", value);
    update.changes.push_back({"customValue", "assign", custom});
  }
  set.objects.push_back(update);
  return set;
}

TEST(NodeCacheTest, OwnWritesShadowOlderReportsUntilConfirmed) {
  NodeCache cache;
  Node node;
  node.id = "vm-7";
  node.custom[1] = "up-to-date";
  cache.Put(node);
  // The watcher reports an older state: our write still wins.
  cache.Apply(Update("vm-7", "enter", 1, "setting-up"));
  EXPECT_EQ(cache.Get("vm-7")->custom.at(1), "up-to-date");
  // vCenter confirms; after that, its reports are taken as they come.
  cache.Apply(Update("vm-7", "modify", 1, "up-to-date"));
  cache.Apply(Update("vm-7", "modify", 1, "update-failed"));
  EXPECT_EQ(cache.Get("vm-7")->custom.at(1), "update-failed");
}

TEST(NodeCacheTest, RemovedNodesStayHiddenUntilVcenterSaysTheyLeft) {
  NodeCache cache;
  cache.Apply(Update("vm-8", "enter", 1, "x"));
  ASSERT_TRUE(cache.Get("vm-8").has_value());
  cache.Remove("vm-8");
  EXPECT_FALSE(cache.Get("vm-8").has_value());
  cache.Apply(Update("vm-8", "modify", 1, "y"));  // a late update of a dying VM
  EXPECT_FALSE(cache.Get("vm-8").has_value());
  EXPECT_TRUE(cache.WasRemoved("vm-8"));
  cache.Apply(Update("vm-8", "leave", 0, ""));
  EXPECT_FALSE(cache.WasRemoved("vm-8"));
  EXPECT_EQ(cache.size(), 0U);
}

Node Listed(const std::string& id, std::map<int, std::string> custom = {}) {
  Node node;
  node.id = id;
  node.custom = std::move(custom);
  return node;
}

TEST(NodeCacheTest, ReconcileAddsUnseenDropsGoneAndKeepsJustCreated) {
  FakeClock clock;
  NodeCache cache(clock);
  cache.Apply(Update("vm-1", "enter", 1, "a"));
  cache.Put(Listed("vm-2", {{1, "b"}}));  // created by us after the listing was taken
  const auto stats = cache.Reconcile({Listed("vm-3")});
  EXPECT_EQ(stats.added, 1);
  EXPECT_EQ(stats.removed, 1);
  EXPECT_FALSE(cache.Get("vm-1").has_value());
  EXPECT_TRUE(cache.Get("vm-2").has_value());
  EXPECT_TRUE(cache.Get("vm-3").has_value());
  EXPECT_EQ(cache.size(), 2U);
  // Still unlisted long after we wrote to it: gone for good.
  clock.Advance(NodeCache::kPendingTtl + std::chrono::seconds(1));
  const auto later = cache.Reconcile({Listed("vm-3")});
  EXPECT_EQ(later.added, 0);
  EXPECT_EQ(later.removed, 1);
  EXPECT_FALSE(cache.Get("vm-2").has_value());
}

TEST(NodeCacheTest, ReconcileKeepsUnconfirmedWritesAndConfirmsTheOthers) {
  FakeClock clock;
  NodeCache cache(clock);
  cache.Apply(Update("vm-5", "enter", 1, "old"));
  cache.SetPending("vm-5", {{1, "new"}, {2, "x"}});
  // The listing predates the write of key 1 but shows key 2.
  const auto stats = cache.Reconcile({Listed("vm-5", {{1, "old"}, {2, "x"}})});
  EXPECT_EQ(stats.added, 0);
  EXPECT_EQ(stats.removed, 0);
  EXPECT_EQ(cache.Get("vm-5")->custom.at(1), "new");
  // Key 2 was confirmed: later reports of it are taken as they come; key 1 is still ours.
  cache.Apply(Update("vm-5", "modify", 2, "y"));
  EXPECT_EQ(cache.Get("vm-5")->custom.at(2), "y");
  EXPECT_EQ(cache.Get("vm-5")->custom.at(1), "new");
}

TEST(NodeCacheTest, AnUnrelatedUpdateDoesNotConfirmAPendingValue) {
  NodeCache cache;
  cache.Apply(Update("vm-9", "enter", 1, "old"));
  cache.SetPending("vm-9", {{2, "mine"}});
  // The guest reports an address: nothing about key 2.
  vsphere::UpdateSet guest;
  guest.objects.push_back({{"VirtualMachine", "vm-9"}, "modify", {{"guest.net", "assign", {}}}});
  cache.Apply(guest);
  // A listing taken before vCenter applied the write must not hide it.
  cache.Reconcile({Listed("vm-9", {{1, "old"}})});
  EXPECT_EQ(cache.Get("vm-9")->custom.at(2), "mine");
}

TEST(NodeCacheTest, ReconcileKeepsTerminatedNodesHiddenUntilUnlisted) {
  NodeCache cache;
  cache.Apply(Update("vm-6", "enter", 1, "a"));
  cache.Remove("vm-6");
  // A listing taken while the VM was being destroyed still shows it.
  EXPECT_EQ(cache.Reconcile({Listed("vm-6")}).added, 0);
  EXPECT_FALSE(cache.Get("vm-6").has_value());
  EXPECT_TRUE(cache.WasRemoved("vm-6"));
  cache.Reconcile({});
  EXPECT_FALSE(cache.WasRemoved("vm-6"));
  EXPECT_EQ(cache.size(), 0U);
}

TEST(NodeCacheTest, SetPendingIsVisibleAtOnce) {
  NodeCache cache;
  cache.Apply(Update("vm-4", "enter", 1, "a"));
  cache.SetPending("vm-4", {{2, "b"}});
  auto node = cache.Get("vm-4");
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->custom.at(1), "a");
  EXPECT_EQ(node->custom.at(2), "b");
  int seen = 0;
  cache.ForEach([&](const Node& n) { seen += n.custom.count(2) > 0 ? 1 : 0; });
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace vsray::provider
