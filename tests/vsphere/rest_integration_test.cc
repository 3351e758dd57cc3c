// The vAPI REST client against vsray-sim over verified HTTPS: login, tagging on /api and through
// the /rest fallback, session expiry, injected 503s, content library and OVF deploy.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "support/content_library.h"
#include "support/sim_process.h"
#include "support/status_matchers.h"
#include "vsphere/rest.h"
#include "vsphere/session.h"
#include "vsphere/vim.h"

namespace vsray::vsphere {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

using nlohmann::json;
using testing::SimProcess;

class RestIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto sim = SimProcess::Start({"--vms", "2", "--hosts", "1"});
    EXPECT_THAT(sim, IsOk());
    sim_ = sim.ok() ? std::move(sim).value().release() : nullptr;
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(sim_, nullptr);
    ASSERT_THAT(sim_->ClearFaults(), IsOk());
    auto session = Session::Connect(sim_->Connect());
    ASSERT_THAT(session, IsOk());
    session_ = *session;
    vim_ = std::make_unique<Vim>(*session_, session_->content());
  }

  // A REST client sharing the SOAP session's connections. With `via_rest`, /api/session answers
  // 404 (an injected fault), as on vSphere before 7.0U2, so the client falls back to /rest.
  std::unique_ptr<RestClient> ConnectRest(bool via_rest = false) {
    auto options = sim_->Connect();
    options.retry.backoff.initial = std::chrono::milliseconds(10);
    if (via_rest) {
      EXPECT_THAT(sim_->InjectFault("POST /api/session:*:http404"), IsOk());
    }
    auto client = RestClient::Connect(options, session_->options().transport);
    if (via_rest) {
      EXPECT_THAT(sim_->ClearFaults(), IsOk());
    }
    EXPECT_THAT(client, IsOk());
    if (!client.ok()) return nullptr;
    EXPECT_EQ((*client)->flavor(), via_rest ? RestFlavor::kRest : RestFlavor::kApi);
    return std::move(client).value();
  }

  // The simulator's count of REST calls for a route key ("POST /api/session").
  static int RestCalls(const std::string& key) {
    auto body = sim_->Control("GET", "/stats");
    EXPECT_THAT(body, IsOk());
    if (!body.ok()) return -1;
    const json stats = json::parse(*body, nullptr, false);
    if (!stats.contains("rest") || !stats["rest"].contains(key)) return 0;
    return stats["rest"][key].get<int>();
  }

  StatusOr<std::vector<DynamicId>> ObjectsOf(const std::string& type) {
    VSRAY_ASSIGN_OR_RETURN(auto objects, vim_->ListByType(type, {"name"}));
    std::vector<DynamicId> out;
    for (const auto& object : objects) out.push_back({object.obj.type, object.obj.value});
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }

  // Names are unique per test: the simulator lives for the whole suite.
  static std::string Unique(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + "-" + std::to_string(++counter);
  }

  void ExerciseTagging(RestClient& rest);
  void ExerciseContentLibrary(RestClient& rest);

  static SimProcess* sim_;
  std::shared_ptr<Session> session_;
  std::unique_ptr<Vim> vim_;
};

SimProcess* RestIntegrationTest::sim_ = nullptr;

void RestIntegrationTest::ExerciseTagging(RestClient& rest) {
  auto vms = ObjectsOf("VirtualMachine");
  ASSERT_THAT(vms, IsOk());
  ASSERT_GE(vms->size(), 2u);
  const DynamicId vm = vms->at(0);
  const DynamicId other = vms->at(1);
  EXPECT_EQ(vm.type, "VirtualMachine");
  // The simulator lives for the whole suite: start from VMs without tags.
  for (const DynamicId& object : {vm, other}) {
    auto stale = rest.ListAttachedTags(object);
    ASSERT_THAT(stale, IsOk());
    if (!stale->empty()) {
      ASSERT_THAT(rest.DetachTagsFromObject(object, *stale), IsOk());
    }
    stale = rest.ListAttachedTags(object);
    ASSERT_THAT(stale, IsOk());
    ASSERT_TRUE(stale->empty());
  }

  // Categories.
  const std::string category_name = Unique("ray");
  auto category_id = rest.CreateCategory(
      {"", category_name, "Ray nodes", TagCardinality::kMultiple, {"VirtualMachine"}});
  ASSERT_THAT(category_id, IsOk());
  auto duplicate = rest.CreateCategory({"", category_name, "", TagCardinality::kMultiple, {}});
  EXPECT_THAT(duplicate, StatusIs(StatusCode::kAlreadyExists));
  auto ids = rest.ListCategories();
  ASSERT_THAT(ids, IsOk());
  EXPECT_NE(std::find(ids->begin(), ids->end(), *category_id), ids->end());
  auto category = rest.FindCategoryByName(category_name);
  ASSERT_THAT(category, IsOk());
  EXPECT_EQ(category->id, *category_id);
  EXPECT_EQ(category->description, "Ray nodes");
  EXPECT_EQ(category->cardinality, TagCardinality::kMultiple);
  EXPECT_EQ(category->associable_types, std::vector<std::string>{"VirtualMachine"});
  EXPECT_THAT(rest.FindCategoryByName(Unique("absent")), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(rest.GetCategory("urn:vmomi:InventoryServiceCategory:absent:GLOBAL"),
              StatusIs(StatusCode::kNotFound));

  // Tags.
  std::vector<std::string> tags;
  for (const char* name : {"head", "worker", "gpu"}) {
    auto tag = rest.CreateTag({"", name, "", *category_id});
    ASSERT_THAT(tag, IsOk());
    tags.push_back(*tag);
  }
  EXPECT_THAT(rest.CreateTag({"", "head", "", *category_id}), StatusIs(StatusCode::kAlreadyExists));
  auto in_category = rest.ListTagsForCategory(*category_id);
  ASSERT_THAT(in_category, IsOk());
  EXPECT_EQ(in_category->size(), 3u);
  auto worker = rest.FindTagByName(*category_id, "worker");
  ASSERT_THAT(worker, IsOk());
  EXPECT_EQ(worker->id, tags[1]);
  EXPECT_EQ(worker->category_id, *category_id);
  EXPECT_THAT(rest.FindTagByName(*category_id, "absent"), StatusIs(StatusCode::kNotFound));
  auto missing_tag = rest.GetTag("urn:vmomi:InventoryServiceTag:absent:GLOBAL");
  EXPECT_THAT(missing_tag, StatusIs(StatusCode::kNotFound));

  // Bulk attach, bulk reads.
  ASSERT_THAT(rest.AttachTagsToObject(vm, tags), IsOk());
  ASSERT_THAT(rest.AttachTag(tags[0], other), IsOk());
  auto on_objects = rest.ListAttachedTagsOnObjects({vm, other});
  ASSERT_THAT(on_objects, IsOk());
  std::map<std::string, std::vector<std::string>> by_object;
  for (auto& entry : *on_objects) {
    std::sort(entry.tag_ids.begin(), entry.tag_ids.end());
    by_object[entry.object.id] = entry.tag_ids;
  }
  auto sorted_tags = tags;
  std::sort(sorted_tags.begin(), sorted_tags.end());
  EXPECT_EQ(by_object[vm.id], sorted_tags);
  EXPECT_EQ(by_object[other.id], std::vector<std::string>{tags[0]});
  auto on_tags = rest.ListAttachedObjectsOnTags({tags[0], tags[2]});
  ASSERT_THAT(on_tags, IsOk());
  ASSERT_EQ(on_tags->size(), 2u);
  for (const auto& entry : *on_tags) {
    const std::size_t expected = entry.tag_id == tags[0] ? 2u : 1u;
    EXPECT_EQ(entry.objects.size(), expected) << entry.tag_id;
  }

  // Bulk detach; single detach.
  ASSERT_THAT(rest.DetachTagsFromObject(vm, {tags[0], tags[1]}), IsOk());
  auto left = rest.ListAttachedTags(vm);
  ASSERT_THAT(left, IsOk());
  EXPECT_EQ(*left, std::vector<std::string>{tags[2]});
  ASSERT_THAT(rest.DetachTag(tags[0], other), IsOk());
  left = rest.ListAttachedTags(other);
  ASSERT_THAT(left, IsOk());
  EXPECT_TRUE(left->empty());
  on_tags = rest.ListAttachedObjectsOnTags({tags[0]});
  ASSERT_THAT(on_tags, IsOk());
  for (const auto& entry : *on_tags) EXPECT_TRUE(entry.objects.empty()) << entry.tag_id;

  // A bulk call naming a tag that doesn't exist reports it, and still does the rest.
  Status partial =
      rest.AttachTagsToObject(other, {tags[1], "urn:vmomi:InventoryServiceTag:absent:GLOBAL"});
  EXPECT_THAT(partial, StatusIs(StatusCode::kNotFound));
  EXPECT_NE(partial.message().find("absent"), std::string::npos) << partial;
  left = rest.ListAttachedTags(other);
  ASSERT_THAT(left, IsOk());
  EXPECT_EQ(*left, std::vector<std::string>{tags[1]});
  EXPECT_THAT(rest.AttachTag("urn:vmomi:InventoryServiceTag:absent:GLOBAL", vm),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(RestIntegrationTest, LogsInOnApiSharingTheSoapConnectionsAndLogsOut) {
  ASSERT_THAT(sim_->ResetStats(), IsOk());
  auto rest = ConnectRest();
  ASSERT_NE(rest, nullptr);
  EXPECT_EQ(rest->login_count(), 1);
  EXPECT_EQ(RestCalls("POST /api/session"), 1);
  EXPECT_EQ(RestCalls("POST /rest/com/vmware/cis/session"), 0);
  rest.reset();
  EXPECT_EQ(RestCalls("DELETE /api/session"), 1);
}

TEST_F(RestIntegrationTest, WrongPasswordIsRefusedWithoutEchoingIt) {
  auto rest = RestClient::Connect(sim_->Connect("user", "Not-The-Pa55word"));
  ASSERT_THAT(rest, Not(IsOk()));
  EXPECT_THAT(rest, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(rest.status().fault(), "InvalidLogin");
  EXPECT_NE(rest.status().message().find("'user'"), std::string::npos) << rest.status();
  EXPECT_NE(rest.status().message().find(sim_->server()), std::string::npos) << rest.status();
  EXPECT_EQ(rest.status().ToString().find("Not-The-Pa55word"), std::string::npos);

  // The /rest login checks the password too.
  ASSERT_THAT(sim_->InjectFault("POST /api/session:*:http404"), IsOk());
  rest = RestClient::Connect(sim_->Connect("user", "Not-The-Pa55word"));
  ASSERT_THAT(rest, Not(IsOk()));
  EXPECT_THAT(rest, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(rest.status().fault(), "InvalidLogin");
}

TEST_F(RestIntegrationTest, WrongCaIsRefused) {
  auto options = sim_->Connect();
  options.tls.ca_file = "/etc/ssl/certs/ca-certificates.crt";  // real CAs, not the sim's
  auto rest = RestClient::Connect(options);
  ASSERT_THAT(rest, Not(IsOk()));
  EXPECT_THAT(rest, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(rest.status().fault(), "TlsVerification");
}

TEST_F(RestIntegrationTest, TaggingOnApi) {
  auto rest = ConnectRest();
  ASSERT_NE(rest, nullptr);
  ASSERT_THAT(sim_->ResetStats(), IsOk());
  ExerciseTagging(*rest);
  EXPECT_GT(
      RestCalls("POST /api/cis/tagging/tag-association?action=attach-multiple-tags-to-object"), 0);
  EXPECT_EQ(RestCalls("POST /rest/com/vmware/cis/tagging/category"), 0);
}

TEST_F(RestIntegrationTest, TaggingThroughTheRestFallback) {
  auto rest = ConnectRest(/*via_rest=*/true);
  ASSERT_NE(rest, nullptr);
  ASSERT_THAT(sim_->ResetStats(), IsOk());
  ExerciseTagging(*rest);
  EXPECT_GT(RestCalls("POST /rest/com/vmware/cis/tagging/category"), 0);
  EXPECT_GT(RestCalls("POST /rest/com/vmware/cis/tagging/tag-association?~action="
                      "attach-multiple-tags-to-object"),
            0);
  EXPECT_EQ(RestCalls("POST /api/cis/tagging/category"), 0);
  rest.reset();
  EXPECT_EQ(RestCalls("DELETE /rest/com/vmware/cis/session"), 1);
}

TEST_F(RestIntegrationTest, ExpiredSessionIsRenewedOnce) {
  for (bool via_rest : {false, true}) {
    auto rest = ConnectRest(via_rest);
    ASSERT_NE(rest, nullptr);
    ASSERT_THAT(rest->ListCategories(), IsOk());
    ASSERT_THAT(sim_->ExpireSessions(), IsOk());
    // Not idempotent, yet repeated after the re-login: the 401 call never ran.
    auto category =
        rest->CreateCategory({"", Unique("after-expiry"), "", TagCardinality::kSingle, {}});
    ASSERT_THAT(category, IsOk());
    EXPECT_EQ(rest->login_count(), 2) << "via_rest=" << via_rest;
    auto found = rest->GetCategory(*category);
    ASSERT_THAT(found, IsOk());
    EXPECT_EQ(found->cardinality, TagCardinality::kSingle);
  }
}

TEST_F(RestIntegrationTest, Injected503IsRetriedForListsAndReportedForCreates) {
  auto rest = ConnectRest();
  ASSERT_NE(rest, nullptr);
  ASSERT_THAT(sim_->ResetStats(), IsOk());
  ASSERT_THAT(sim_->InjectFault("GET /api/cis/tagging/category:1:http503"), IsOk());
  auto ids = rest->ListCategories();
  EXPECT_THAT(ids, IsOk());
  EXPECT_EQ(RestCalls("GET /api/cis/tagging/category"), 2);

  ASSERT_THAT(sim_->InjectFault("POST /api/cis/tagging/category:1:http503"), IsOk());
  const std::string name = Unique("not-created");
  auto created = rest->CreateCategory({"", name, "", TagCardinality::kSingle, {}});
  EXPECT_THAT(created, StatusIs(StatusCode::kUnavailable));
  EXPECT_NE(created.status().message().find("create tag category '" + name + "'"),
            std::string::npos);
  EXPECT_EQ(RestCalls("POST /api/cis/tagging/category"), 1);
  EXPECT_THAT(rest->FindCategoryByName(name), StatusIs(StatusCode::kNotFound));

  // A dropped connection on an idempotent bulk read is survived as well.
  ASSERT_THAT(
      sim_->InjectFault(
          "POST /api/cis/tagging/tag-association?action=list-attached-tags-on-objects:1:drop"),
      IsOk());
  auto vms = ObjectsOf("VirtualMachine");
  ASSERT_THAT(vms, IsOk());
  auto attached = rest->ListAttachedTagsOnObjects(*vms);
  EXPECT_THAT(attached, IsOk());
}

void RestIntegrationTest::ExerciseContentLibrary(RestClient& rest) {
  auto datastores = ObjectsOf("Datastore");
  ASSERT_THAT(datastores, IsOk());
  ASSERT_FALSE(datastores->empty());
  auto pools = ObjectsOf("ResourcePool");
  ASSERT_THAT(pools, IsOk());
  ASSERT_FALSE(pools->empty());

  const std::string library_name = Unique("images");
  auto library = rest.CreateLocalLibrary(library_name, datastores->at(0).id);
  ASSERT_THAT(library, IsOk());
  auto found = rest.FindLibraryByName(library_name);
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(*found, *library);
  EXPECT_THAT(rest.FindLibraryByName(Unique("absent")), StatusIs(StatusCode::kNotFound));

  auto item = rest.CreateLibraryItem(*library, "frozen-ovf", "ovf");
  ASSERT_THAT(item, IsOk());
  auto found_item = rest.FindLibraryItemByName(*library, "frozen-ovf");
  ASSERT_THAT(found_item, IsOk());
  EXPECT_EQ(*found_item, *item);
  EXPECT_THAT(rest.FindLibraryItemByName(*library, "absent"), StatusIs(StatusCode::kNotFound));
  auto info = rest.GetLibraryItem(*item);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->name, "frozen-ovf");
  EXPECT_EQ(info->library_id, *library);
  EXPECT_EQ(info->type, "ovf");
  EXPECT_THAT(rest.GetLibraryItem("absent-item"), StatusIs(StatusCode::kNotFound));

  // Deploying an item without an OVF file fails with the server's reason.
  OvfDeploySpec spec;
  spec.name = Unique("frozen");
  spec.resource_pool_id = pools->at(0).id;
  spec.datastore_id = datastores->at(0).id;
  auto failed = rest.DeployOvf(*item, spec);
  ASSERT_THAT(failed, Not(IsOk()));
  EXPECT_EQ(failed.status().fault(), "OvfDeployFailed") << failed.status();
  EXPECT_NE(failed.status().message().find(spec.name), std::string::npos) << failed.status();
  // The server's reason (the simulator: the missing .ovf file), not a placeholder.
  EXPECT_EQ(failed.status().message().find("without details"), std::string::npos)
      << failed.status();
  EXPECT_THAT(rest.DeployOvf("absent-item", spec), StatusIs(StatusCode::kNotFound));
}

TEST_F(RestIntegrationTest, ContentLibraryAndOvfDeployThroughTheRestFallback) {
  // vsray-sim serves /api for session and tagging only; content library and OVF deploy are
  // exercised over /rest.
  auto rest = ConnectRest(/*via_rest=*/true);
  ASSERT_NE(rest, nullptr);
  ExerciseContentLibrary(*rest);

  auto datastores = ObjectsOf("Datastore");
  auto pools = ObjectsOf("ResourcePool");
  ASSERT_THAT(datastores, IsOk());
  ASSERT_THAT(pools, IsOk());
  auto library = rest->CreateLocalLibrary(Unique("ovfs"), datastores->at(0).id);
  ASSERT_THAT(library, IsOk());
  auto item = testing::UploadOvfItem(*rest, *session_->options().transport, *library,
                                     "frozen-template", testing::MinimalOvf(false));
  ASSERT_THAT(item, IsOk());

  OvfDeploySpec spec;
  spec.name = Unique("frozen-deployed");
  spec.resource_pool_id = pools->at(0).id;
  spec.datastore_id = datastores->at(0).id;
  auto vm = rest->DeployOvf(*item, spec);
  ASSERT_THAT(vm, IsOk());
  EXPECT_EQ(vm->type, "VirtualMachine");
  // The VM exists on the SOAP side under that name.
  auto named = vim_->FindByName("VirtualMachine", spec.name);
  ASSERT_THAT(named, IsOk());
  ASSERT_EQ(named->size(), 1u);
  EXPECT_EQ(named->at(0).value, vm->id);
}

TEST_F(RestIntegrationTest, ContentLibraryOnApiWhenTheServerHasIt) {
  auto rest = ConnectRest();
  ASSERT_NE(rest, nullptr);
  auto probe = rest->FindLibraries("probe");
  if (!probe.ok() && probe.status().code() == StatusCode::kNotFound) {
    GTEST_SKIP() << "vsray-sim lacks /api content library routes: " << probe.status();
  }
  ASSERT_THAT(probe, IsOk());
  ExerciseContentLibrary(*rest);
}

}  // namespace
}  // namespace vsray::vsphere
