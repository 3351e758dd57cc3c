// The vAPI REST client against vsray-sim over verified HTTPS: login, tagging on /api and through
// the /rest fallback, session expiry, injected 503s, content library and OVF deploy.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "support/sim_process.h"
#include "vsphere/rest.h"
#include "vsphere/session.h"
#include "vsphere/vim.h"

namespace vsray::vsphere {
namespace {

using nlohmann::json;
using testing::SimProcess;

// A minimal OVF descriptor (no disks) that the simulator can import.
constexpr char kOvf[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References/>
  <VirtualSystem ovf:id="frozen">
    <Info>A frozen VM template</Info>
    <Name>frozen</Name>
    <OperatingSystemSection ovf:id="94"><Info>Linux</Info></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>frozen</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>1 virtual CPU</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>64 MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>64</rasd:VirtualQuantity>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
)";

class RestIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto sim = SimProcess::Start({"--vms", "2", "--hosts", "1"});
    EXPECT_TRUE(sim.ok()) << sim.status();
    sim_ = sim.ok() ? std::move(sim).value().release() : nullptr;
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(sim_, nullptr);
    ASSERT_TRUE(sim_->ClearFaults().ok());
    auto session = Session::Connect(sim_->Connect());
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *session;
    vim_ = std::make_unique<Vim>(*session_, session_->content());
  }

  // A REST client sharing the SOAP session's connections. With `via_rest`, /api/session answers
  // 404 (an injected fault), as on vSphere before 7.0U2, so the client falls back to /rest.
  std::unique_ptr<RestClient> ConnectRest(bool via_rest = false) {
    auto options = sim_->Connect();
    options.retry.backoff.initial = std::chrono::milliseconds(10);
    if (via_rest) {
      EXPECT_TRUE(sim_->InjectFault("POST /api/session:*:http404").ok());
    }
    auto client = RestClient::Connect(options, session_->options().transport);
    if (via_rest) {
      EXPECT_TRUE(sim_->ClearFaults().ok());
    }
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    EXPECT_EQ((*client)->flavor(), via_rest ? RestFlavor::kRest : RestFlavor::kApi);
    return std::move(client).value();
  }

  // The simulator's count of REST calls for a route key ("POST /api/session").
  static int RestCalls(const std::string& key) {
    auto body = sim_->Control("GET", "/stats");
    EXPECT_TRUE(body.ok()) << body.status();
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
  ASSERT_TRUE(vms.ok()) << vms.status();
  ASSERT_GE(vms->size(), 2u);
  const DynamicId vm = vms->at(0);
  const DynamicId other = vms->at(1);
  EXPECT_EQ(vm.type, "VirtualMachine");
  // The simulator lives for the whole suite: start from VMs without tags.
  for (const DynamicId& object : {vm, other}) {
    auto stale = rest.ListAttachedTags(object);
    ASSERT_TRUE(stale.ok()) << stale.status();
    if (!stale->empty()) {
      ASSERT_TRUE(rest.DetachTagsFromObject(object, *stale).ok());
    }
    stale = rest.ListAttachedTags(object);
    ASSERT_TRUE(stale.ok()) << stale.status();
    ASSERT_TRUE(stale->empty());
  }

  // Categories.
  const std::string category_name = Unique("ray");
  auto category_id = rest.CreateCategory(
      {"", category_name, "Ray nodes", TagCardinality::kMultiple, {"VirtualMachine"}});
  ASSERT_TRUE(category_id.ok()) << category_id.status();
  auto duplicate = rest.CreateCategory({"", category_name, "", TagCardinality::kMultiple, {}});
  EXPECT_EQ(duplicate.status().code(), StatusCode::kAlreadyExists) << duplicate.status();
  auto ids = rest.ListCategories();
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_NE(std::find(ids->begin(), ids->end(), *category_id), ids->end());
  auto category = rest.FindCategoryByName(category_name);
  ASSERT_TRUE(category.ok()) << category.status();
  EXPECT_EQ(category->id, *category_id);
  EXPECT_EQ(category->description, "Ray nodes");
  EXPECT_EQ(category->cardinality, TagCardinality::kMultiple);
  EXPECT_EQ(category->associable_types, std::vector<std::string>{"VirtualMachine"});
  EXPECT_EQ(rest.FindCategoryByName(Unique("absent")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(rest.GetCategory("urn:vmomi:InventoryServiceCategory:absent:GLOBAL").status().code(),
            StatusCode::kNotFound);

  // Tags.
  std::vector<std::string> tags;
  for (const char* name : {"head", "worker", "gpu"}) {
    auto tag = rest.CreateTag({"", name, "", *category_id});
    ASSERT_TRUE(tag.ok()) << tag.status();
    tags.push_back(*tag);
  }
  EXPECT_EQ(rest.CreateTag({"", "head", "", *category_id}).status().code(),
            StatusCode::kAlreadyExists);
  auto in_category = rest.ListTagsForCategory(*category_id);
  ASSERT_TRUE(in_category.ok()) << in_category.status();
  EXPECT_EQ(in_category->size(), 3u);
  auto worker = rest.FindTagByName(*category_id, "worker");
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ(worker->id, tags[1]);
  EXPECT_EQ(worker->category_id, *category_id);
  EXPECT_EQ(rest.FindTagByName(*category_id, "absent").status().code(), StatusCode::kNotFound);
  auto missing_tag = rest.GetTag("urn:vmomi:InventoryServiceTag:absent:GLOBAL");
  EXPECT_EQ(missing_tag.status().code(), StatusCode::kNotFound) << missing_tag.status();

  // Bulk attach, bulk reads.
  ASSERT_TRUE(rest.AttachTagsToObject(vm, tags).ok());
  ASSERT_TRUE(rest.AttachTag(tags[0], other).ok());
  auto on_objects = rest.ListAttachedTagsOnObjects({vm, other});
  ASSERT_TRUE(on_objects.ok()) << on_objects.status();
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
  ASSERT_TRUE(on_tags.ok()) << on_tags.status();
  ASSERT_EQ(on_tags->size(), 2u);
  for (const auto& entry : *on_tags) {
    const std::size_t expected = entry.tag_id == tags[0] ? 2u : 1u;
    EXPECT_EQ(entry.objects.size(), expected) << entry.tag_id;
  }

  // Bulk detach; single detach.
  ASSERT_TRUE(rest.DetachTagsFromObject(vm, {tags[0], tags[1]}).ok());
  auto left = rest.ListAttachedTags(vm);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, std::vector<std::string>{tags[2]});
  ASSERT_TRUE(rest.DetachTag(tags[0], other).ok());
  left = rest.ListAttachedTags(other);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_TRUE(left->empty());
  on_tags = rest.ListAttachedObjectsOnTags({tags[0]});
  ASSERT_TRUE(on_tags.ok()) << on_tags.status();
  for (const auto& entry : *on_tags) EXPECT_TRUE(entry.objects.empty()) << entry.tag_id;

  // A bulk call naming a tag that doesn't exist reports it, and still does the rest.
  Status partial =
      rest.AttachTagsToObject(other, {tags[1], "urn:vmomi:InventoryServiceTag:absent:GLOBAL"});
  EXPECT_EQ(partial.code(), StatusCode::kNotFound) << partial;
  EXPECT_NE(partial.message().find("absent"), std::string::npos) << partial;
  left = rest.ListAttachedTags(other);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, std::vector<std::string>{tags[1]});
  EXPECT_EQ(rest.AttachTag("urn:vmomi:InventoryServiceTag:absent:GLOBAL", vm).code(),
            StatusCode::kNotFound);
}

TEST_F(RestIntegrationTest, LogsInOnApiSharingTheSoapConnectionsAndLogsOut) {
  ASSERT_TRUE(sim_->ResetStats().ok());
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
  ASSERT_FALSE(rest.ok());
  EXPECT_EQ(rest.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(rest.status().fault(), "InvalidLogin");
  EXPECT_NE(rest.status().message().find("'user'"), std::string::npos) << rest.status();
  EXPECT_NE(rest.status().message().find(sim_->server()), std::string::npos) << rest.status();
  EXPECT_EQ(rest.status().ToString().find("Not-The-Pa55word"), std::string::npos);

  // The /rest login checks the password too.
  ASSERT_TRUE(sim_->InjectFault("POST /api/session:*:http404").ok());
  rest = RestClient::Connect(sim_->Connect("user", "Not-The-Pa55word"));
  ASSERT_FALSE(rest.ok());
  EXPECT_EQ(rest.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(rest.status().fault(), "InvalidLogin");
}

TEST_F(RestIntegrationTest, WrongCaIsRefused) {
  auto options = sim_->Connect();
  options.tls.ca_file = "/etc/ssl/certs/ca-certificates.crt";  // real CAs, not the sim's
  auto rest = RestClient::Connect(options);
  ASSERT_FALSE(rest.ok());
  EXPECT_EQ(rest.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(rest.status().fault(), "TlsVerification");
}

TEST_F(RestIntegrationTest, TaggingOnApi) {
  auto rest = ConnectRest();
  ASSERT_NE(rest, nullptr);
  ASSERT_TRUE(sim_->ResetStats().ok());
  ExerciseTagging(*rest);
  EXPECT_GT(
      RestCalls("POST /api/cis/tagging/tag-association?action=attach-multiple-tags-to-object"), 0);
  EXPECT_EQ(RestCalls("POST /rest/com/vmware/cis/tagging/category"), 0);
}

TEST_F(RestIntegrationTest, TaggingThroughTheRestFallback) {
  auto rest = ConnectRest(/*via_rest=*/true);
  ASSERT_NE(rest, nullptr);
  ASSERT_TRUE(sim_->ResetStats().ok());
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
    ASSERT_TRUE(rest->ListCategories().ok());
    ASSERT_TRUE(sim_->ExpireSessions().ok());
    // Not idempotent, yet repeated after the re-login: the 401 call never ran.
    auto category =
        rest->CreateCategory({"", Unique("after-expiry"), "", TagCardinality::kSingle, {}});
    ASSERT_TRUE(category.ok()) << category.status();
    EXPECT_EQ(rest->login_count(), 2) << "via_rest=" << via_rest;
    auto found = rest->GetCategory(*category);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->cardinality, TagCardinality::kSingle);
  }
}

TEST_F(RestIntegrationTest, Injected503IsRetriedForListsAndReportedForCreates) {
  auto rest = ConnectRest();
  ASSERT_NE(rest, nullptr);
  ASSERT_TRUE(sim_->ResetStats().ok());
  ASSERT_TRUE(sim_->InjectFault("GET /api/cis/tagging/category:1:http503").ok());
  auto ids = rest->ListCategories();
  EXPECT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(RestCalls("GET /api/cis/tagging/category"), 2);

  ASSERT_TRUE(sim_->InjectFault("POST /api/cis/tagging/category:1:http503").ok());
  const std::string name = Unique("not-created");
  auto created = rest->CreateCategory({"", name, "", TagCardinality::kSingle, {}});
  EXPECT_EQ(created.status().code(), StatusCode::kUnavailable) << created.status();
  EXPECT_NE(created.status().message().find("create tag category '" + name + "'"),
            std::string::npos);
  EXPECT_EQ(RestCalls("POST /api/cis/tagging/category"), 1);
  EXPECT_EQ(rest->FindCategoryByName(name).status().code(), StatusCode::kNotFound);

  // A dropped connection on an idempotent bulk read is survived as well.
  ASSERT_TRUE(
      sim_->InjectFault(
              "POST /api/cis/tagging/tag-association?action=list-attached-tags-on-objects:1:drop")
          .ok());
  auto vms = ObjectsOf("VirtualMachine");
  ASSERT_TRUE(vms.ok()) << vms.status();
  auto attached = rest->ListAttachedTagsOnObjects(*vms);
  EXPECT_TRUE(attached.ok()) << attached.status();
}

void RestIntegrationTest::ExerciseContentLibrary(RestClient& rest) {
  auto datastores = ObjectsOf("Datastore");
  ASSERT_TRUE(datastores.ok()) << datastores.status();
  ASSERT_FALSE(datastores->empty());
  auto pools = ObjectsOf("ResourcePool");
  ASSERT_TRUE(pools.ok()) << pools.status();
  ASSERT_FALSE(pools->empty());

  const std::string library_name = Unique("images");
  auto library = rest.CreateLocalLibrary(library_name, datastores->at(0).id);
  ASSERT_TRUE(library.ok()) << library.status();
  auto found = rest.FindLibraryByName(library_name);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, *library);
  EXPECT_EQ(rest.FindLibraryByName(Unique("absent")).status().code(), StatusCode::kNotFound);

  auto item = rest.CreateLibraryItem(*library, "frozen-ovf", "ovf");
  ASSERT_TRUE(item.ok()) << item.status();
  auto found_item = rest.FindLibraryItemByName(*library, "frozen-ovf");
  ASSERT_TRUE(found_item.ok()) << found_item.status();
  EXPECT_EQ(*found_item, *item);
  EXPECT_EQ(rest.FindLibraryItemByName(*library, "absent").status().code(), StatusCode::kNotFound);
  auto info = rest.GetLibraryItem(*item);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name, "frozen-ovf");
  EXPECT_EQ(info->library_id, *library);
  EXPECT_EQ(info->type, "ovf");
  EXPECT_EQ(rest.GetLibraryItem("absent-item").status().code(), StatusCode::kNotFound);

  // Deploying an item without an OVF file fails with the server's reason.
  OvfDeploySpec spec;
  spec.name = Unique("frozen");
  spec.resource_pool_id = pools->at(0).id;
  spec.datastore_id = datastores->at(0).id;
  auto failed = rest.DeployOvf(*item, spec);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().fault(), "OvfDeployFailed") << failed.status();
  EXPECT_NE(failed.status().message().find(spec.name), std::string::npos) << failed.status();
  // The server's reason (the simulator: the missing .ovf file), not a placeholder.
  EXPECT_EQ(failed.status().message().find("without details"), std::string::npos)
      << failed.status();
  EXPECT_EQ(rest.DeployOvf("absent-item", spec).status().code(), StatusCode::kNotFound);
}

// Uploads kOvf into a library item through an update session (/rest; test plumbing only).
Status UploadOvf(RestClient& rest, HttpTransport& transport, const std::string& item) {
  const bool api = rest.flavor() == RestFlavor::kApi;
  RestRequest create{"create update session",
                     "POST",
                     api ? "/api/content/library/item/update-session"
                         : "/rest/com/vmware/content/library/item/update-session",
                     json{{"create_spec", {{"library_item_id", item}}}},
                     false,
                     {}};
  if (api) create.body = json{{"library_item_id", item}};
  VSRAY_ASSIGN_OR_RETURN(json session, rest.Execute(create));
  if (!session.is_string()) return DataLossError("no update session id");
  const std::string id = session.get<std::string>();
  RestRequest add{
      "add file",
      "POST",
      api ? "/api/content/library/item/updatesession/file/" + id + "?action=add"
          : "/rest/com/vmware/content/library/item/updatesession/file/id:" + id + "?~action=add",
      json{{"file_spec", {{"name", "frozen.ovf"}, {"source_type", "PUSH"}}}},
      false,
      {}};
  VSRAY_ASSIGN_OR_RETURN(json file, rest.Execute(add));
  if (!file.is_object()) return DataLossError("bad file reply: " + file.dump());
  const std::string uri = file.value("/upload_endpoint/uri"_json_pointer, "");
  if (uri.empty()) return DataLossError("no upload endpoint: " + file.dump());
  HttpRequest put;
  put.method = "PUT";
  put.url = uri;
  put.body = kOvf;
  put.headers = {{"vmware-api-session-id", id}, {"Content-Type", "application/octet-stream"}};
  VSRAY_ASSIGN_OR_RETURN(auto uploaded, transport.Send(put));
  if (uploaded.status / 100 != 2) {
    return InternalError("upload: HTTP " + std::to_string(uploaded.status) + " " + uploaded.body);
  }
  RestRequest complete{
      "complete update session",
      "POST",
      api ? "/api/content/library/item/update-session/" + id + "?action=complete"
          : "/rest/com/vmware/content/library/item/update-session/id:" + id + "?~action=complete",
      std::nullopt,
      false,
      {}};
  return rest.Execute(complete).status();
}

TEST_F(RestIntegrationTest, ContentLibraryAndOvfDeployThroughTheRestFallback) {
  // vsray-sim serves /api for session and tagging only; content library and OVF deploy are
  // exercised over /rest.
  auto rest = ConnectRest(/*via_rest=*/true);
  ASSERT_NE(rest, nullptr);
  ExerciseContentLibrary(*rest);

  auto datastores = ObjectsOf("Datastore");
  auto pools = ObjectsOf("ResourcePool");
  ASSERT_TRUE(datastores.ok() && pools.ok());
  auto library = rest->CreateLocalLibrary(Unique("ovfs"), datastores->at(0).id);
  ASSERT_TRUE(library.ok()) << library.status();
  auto item = rest->CreateLibraryItem(*library, "frozen-template", "ovf");
  ASSERT_TRUE(item.ok()) << item.status();
  Status uploaded = UploadOvf(*rest, *session_->options().transport, *item);
  ASSERT_TRUE(uploaded.ok()) << uploaded;

  OvfDeploySpec spec;
  spec.name = Unique("frozen-deployed");
  spec.resource_pool_id = pools->at(0).id;
  spec.datastore_id = datastores->at(0).id;
  auto vm = rest->DeployOvf(*item, spec);
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ(vm->type, "VirtualMachine");
  // The VM exists on the SOAP side under that name.
  auto named = vim_->FindByName("VirtualMachine", spec.name);
  ASSERT_TRUE(named.ok()) << named.status();
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
  ASSERT_TRUE(probe.ok()) << probe.status();
  ExerciseContentLibrary(*rest);
}

}  // namespace
}  // namespace vsray::vsphere
