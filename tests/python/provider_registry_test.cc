// The process-wide provider registry behind vsray._vsray.Provider, with a fake factory (no
// vCenter): one provider per (provider config, cluster), rebuilt once released.
#include "python/provider_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace vsray::python {
namespace {

using nlohmann::json;

const json kProviderConfig = json::parse(R"({
  "type": "external",
  "module": "vsray.ray_provider.VsphereNodeProvider",
  "vsphere_config": {
    "credentials": {"server": "vc.example.com", "user": "ray", "password": "secret-pw"},
    "frozen_vm": {"name": "frozen"},
    "max_concurrency": 4
  }
})");

class RegistryTest : public ::testing::Test {
 protected:
  // Counts builds; returns a null provider (the registry never looks inside), or `error_`.
  ProviderRegistry registry_{
      [this](const config::VsphereConfig& vsphere,
             const std::string& cluster) -> StatusOr<std::unique_ptr<provider::NodeProvider>> {
        ++builds_;
        last_frozen_ = vsphere.frozen_vm ? vsphere.frozen_vm->name : "";
        last_cluster_ = cluster;
        if (!error_.ok()) return error_;
        return std::unique_ptr<provider::NodeProvider>();
      }};
  std::atomic<int> builds_{0};
  std::string last_frozen_;
  std::string last_cluster_;
  Status error_;
};

TEST_F(RegistryTest, EqualConfigsAndClusterShareOneProvider) {
  auto first = registry_.Get(kProviderConfig, "c1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(last_frozen_, "frozen");
  EXPECT_EQ(last_cluster_, "c1");
  EXPECT_EQ((*first)->vsphere.max_concurrency, 4);
  // Another object with the same content, keys in another order.
  const json reordered = json::parse(R"({
    "vsphere_config": {"max_concurrency": 4, "frozen_vm": {"name": "frozen"},
      "credentials": {"password": "secret-pw", "user": "ray", "server": "vc.example.com"}},
    "module": "vsray.ray_provider.VsphereNodeProvider", "type": "external"})");
  auto second = registry_.Get(reordered, "c1");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(builds_, 1);
  EXPECT_EQ(registry_.size(), 1U);
}

TEST_F(RegistryTest, AnotherClusterOrConfigIsAnotherProvider) {
  auto base = registry_.Get(kProviderConfig, "c1");
  auto other_cluster = registry_.Get(kProviderConfig, "c2");
  json changed = kProviderConfig;
  changed["vsphere_config"]["max_concurrency"] = 5;
  auto other_config = registry_.Get(changed, "c1");
  ASSERT_TRUE(base.ok() && other_cluster.ok() && other_config.ok());
  EXPECT_NE(base->get(), other_cluster->get());
  EXPECT_NE(base->get(), other_config->get());
  EXPECT_EQ(builds_, 3);
  EXPECT_EQ(registry_.size(), 3U);
}

TEST_F(RegistryTest, ReleasedProviderIsBuiltAgain) {
  {
    auto first = registry_.Get(kProviderConfig, "c1");
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(registry_.size(), 1U);
  }
  EXPECT_EQ(registry_.size(), 0U);
  auto again = registry_.Get(kProviderConfig, "c1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(builds_, 2);
}

TEST_F(RegistryTest, BadConfigNamesThePathAndBuildsNothing) {
  json bad = kProviderConfig;
  bad["vsphere_config"]["max_concurrency"] = 0;
  auto result = registry_.Get(bad, "c1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("provider.vsphere_config.max_concurrency"),
            std::string::npos)
      << result.status();
  EXPECT_EQ(result.status().message().find("secret-pw"), std::string::npos);
  EXPECT_EQ(builds_, 0);
}

TEST_F(RegistryTest, FailedBuildIsNotRemembered) {
  error_ = NotFoundError("frozen VM 'frozen' not found");
  error_.set_fault("ManagedObjectNotFound");
  auto failed = registry_.Get(kProviderConfig, "c1");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status(), error_);
  EXPECT_EQ(registry_.size(), 0U);
  error_ = OkStatus();
  EXPECT_TRUE(registry_.Get(kProviderConfig, "c1").ok());
  EXPECT_EQ(builds_, 2);
}

TEST_F(RegistryTest, ConcurrentUsersGetOneProvider) {
  std::vector<std::shared_ptr<SharedProvider>> got(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      auto result = registry_.Get(kProviderConfig, "c1");
      if (result.ok()) got[i] = *result;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(builds_, 1);
  for (const auto& shared : got) {
    ASSERT_NE(shared, nullptr);
    EXPECT_EQ(shared.get(), got.front().get());
  }
}

}  // namespace
}  // namespace vsray::python
