// vAPI REST client against a scripted fake transport: login and fallback, re-login, error
// mapping, retry rules, request shapes of both dialects, and that no secret leaks.
#include "vsphere/rest.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "support/fake_transport.h"
#include "support/status_matchers.h"

namespace vsray::vsphere {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

using nlohmann::json;

constexpr char kBase[] = "https://vc.example:8443";
constexpr char kUser[] = "administrator@vsphere.local";
constexpr char kPassword[] = "Pa55-w0rd!";

using testing::FakeTransport;
using testing::HeaderOf;

FakeTransport::Responder Reply(long status, std::string body) {  // NOLINT(google-runtime-int)
  return testing::HttpReply(status, std::move(body));
}

FakeTransport::Responder Reply(long status, const json& body) {  // NOLINT(google-runtime-int)
  return Reply(status, body.dump());
}

// Answers 200 with `body` only when the request carries `token`, else 401.
FakeTransport::Responder NeedsToken(const std::string& token, const json& body) {
  return [token, body](const HttpRequest& request) -> StatusOr<HttpResponse> {
    HttpResponse response;
    if (HeaderOf(request, "vmware-api-session-id") == token) {
      response.status = 200;
      response.body = body.dump();
    } else {
      response.status = 401;
      response.body = R"({"error_type":"UNAUTHENTICATED","messages":[]})";
    }
    return response;
  };
}

json ApiError(const std::string& type, const std::string& message) {
  return {{"error_type", type},
          {"messages", json::array({{{"id", "vapi.x"}, {"default_message", message}}})}};
}

json RestError(const std::string& type, const std::string& message) {
  return {{"type", "com.vmware.vapi.std.errors." + type},
          {"value", {{"messages", json::array({{{"default_message", message}}})}}}};
}

json BodyOf(const HttpRequest& request) { return json::parse(request.body, nullptr, false); }

class RestClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport_ = std::make_shared<FakeTransport>(FakeTransport::MethodAndPath(kBase));
    logins_ = std::make_shared<int>(0);
    auto logins = logins_;
    // Each login hands out a new token: tok-1, tok-2, ...
    transport_->On("POST /api/session", [logins](const HttpRequest&) -> StatusOr<HttpResponse> {
      HttpResponse response;
      response.status = 201;
      response.body = "\"tok-" + std::to_string(++*logins) + "\"";
      return response;
    });
    transport_->On("DELETE /api/session", Reply(204, std::string()));
  }

  ConnectOptions Options() {
    ConnectOptions options;
    options.server = "vc.example:8443";
    options.credentials = {kUser, kPassword};
    options.keepalive_interval = std::chrono::milliseconds(0);
    options.retry.backoff.initial = std::chrono::milliseconds(10);
    options.clock = &clock_;
    return options;
  }

  std::unique_ptr<RestClient> Connect() {
    auto client = RestClient::Connect(Options(), transport_);
    EXPECT_THAT(client, IsOk());
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // A transport scripted for a server without /api (vSphere before 7.0U2).
  void ScriptRestOnly() {
    transport_ = std::make_shared<FakeTransport>(FakeTransport::MethodAndPath(kBase));
    transport_->On("POST /api/session", Reply(404, std::string("404 page not found\n")));
    transport_->On("POST /rest/com/vmware/cis/session", Reply(200, json{{"value", "rtok-1"}}));
    transport_->On("DELETE /rest/com/vmware/cis/session", Reply(200, std::string()));
  }

  FakeClock clock_;
  std::shared_ptr<FakeTransport> transport_;
  std::shared_ptr<int> logins_;
};

TEST(BasicAuthorizationTest, EncodesUserColonPasswordInBase64) {
  EXPECT_EQ(BasicAuthorization({"Aladdin", "open sesame"}), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(BasicAuthorization({"user", "pass"}), "Basic dXNlcjpwYXNz");
  EXPECT_EQ(BasicAuthorization({"a", "bc"}), "Basic YTpiYw==");    // 4 bytes: two '='
  EXPECT_EQ(BasicAuthorization({"ab", "cde"}), "Basic YWI6Y2Rl");  // 6 bytes: none
  EXPECT_EQ(BasicAuthorization({"ab", "c"}), "Basic YWI6Yw==");
  EXPECT_EQ(BasicAuthorization({"u", "\xC3\xA9t\xC3\xA9"}), "Basic dTrDqXTDqQ==");  // UTF-8
}

TEST_F(RestClientTest, ApiLoginSendsBasicAuthThenTheTokenHeader) {
  transport_->On("GET /api/cis/tagging/category", Reply(200, json::array({"c1", "c2"})));
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->flavor(), RestFlavor::kApi);
  EXPECT_EQ(client->login_count(), 1);

  const HttpRequest login = transport_->last("POST /api/session");
  EXPECT_EQ(HeaderOf(login, "Authorization"), BasicAuthorization({kUser, kPassword}));
  EXPECT_FALSE(HeaderOf(login, "vmware-api-session-id").has_value());

  auto ids = client->ListCategories();
  ASSERT_THAT(ids, IsOk());
  EXPECT_EQ(*ids, (std::vector<std::string>{"c1", "c2"}));
  const HttpRequest list = transport_->last("GET /api/cis/tagging/category");
  EXPECT_EQ(HeaderOf(list, "vmware-api-session-id"), "tok-1");
  EXPECT_FALSE(HeaderOf(list, "Authorization").has_value());  // the password is sent once
}

TEST_F(RestClientTest, CloseDeletesTheSessionAndLaterCallsAreCancelled) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  client->Close();
  EXPECT_EQ(transport_->calls("DELETE /api/session"), 1);
  EXPECT_EQ(HeaderOf(transport_->last("DELETE /api/session"), "vmware-api-session-id"), "tok-1");
  auto ids = client->ListCategories();
  EXPECT_THAT(ids, StatusIs(StatusCode::kCancelled));
  client.reset();  // the destructor does not log out twice
  EXPECT_EQ(transport_->calls("DELETE /api/session"), 1);
}

TEST_F(RestClientTest, DestructorLogsOut) {
  Connect().reset();
  EXPECT_EQ(transport_->calls("DELETE /api/session"), 1);
}

TEST_F(RestClientTest, FallsBackToRestWhenApiSessionIs404) {
  ScriptRestOnly();
  transport_->On("POST /rest/com/vmware/cis/tagging/category",
                 Reply(200, json{{"value", "urn:cat-1"}}));
  transport_->On("GET /rest/com/vmware/cis/tagging/category/id:urn:cat-1",
                 Reply(200, json{{"value",
                                  {{"id", "urn:cat-1"},
                                   {"name", "ray"},
                                   {"description", ""},
                                   {"cardinality", "SINGLE"},
                                   {"associable_types", {"VirtualMachine"}}}}}));
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->flavor(), RestFlavor::kRest);
  const HttpRequest login = transport_->last("POST /rest/com/vmware/cis/session");
  EXPECT_EQ(HeaderOf(login, "Authorization"), BasicAuthorization({kUser, kPassword}));
  EXPECT_EQ(HeaderOf(login, "vmware-use-header-authn"), "true");

  auto id = client->CreateCategory({"", "ray", "", TagCardinality::kSingle, {"VirtualMachine"}});
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(*id, "urn:cat-1");
  const HttpRequest create = transport_->last("POST /rest/com/vmware/cis/tagging/category");
  EXPECT_EQ(HeaderOf(create, "vmware-api-session-id"), "rtok-1");
  EXPECT_EQ(BodyOf(create), (json{{"create_spec",
                                   {{"name", "ray"},
                                    {"description", ""},
                                    {"cardinality", "SINGLE"},
                                    {"associable_types", {"VirtualMachine"}}}}}));

  auto category = client->GetCategory("urn:cat-1");
  ASSERT_THAT(category, IsOk());
  EXPECT_EQ(category->name, "ray");
  EXPECT_EQ(category->cardinality, TagCardinality::kSingle);
  EXPECT_EQ(category->associable_types, std::vector<std::string>{"VirtualMachine"});

  client.reset();
  EXPECT_EQ(transport_->calls("DELETE /rest/com/vmware/cis/session"), 1);
  EXPECT_EQ(transport_->calls("DELETE /api/session"), 0);
}

TEST_F(RestClientTest, NoVapiEndpointAtAllIsUnimplemented) {
  transport_ = std::make_shared<FakeTransport>(FakeTransport::MethodAndPath(kBase));
  transport_->On("POST /api/session", Reply(404, std::string("not here")));
  transport_->On("POST /rest/com/vmware/cis/session", Reply(404, std::string("not here")));
  auto client = RestClient::Connect(Options(), transport_);
  ASSERT_THAT(client, Not(IsOk()));
  EXPECT_THAT(client, StatusIs(StatusCode::kUnimplemented));
  EXPECT_NE(client.status().message().find("vc.example:8443"), std::string::npos);
}

TEST_F(RestClientTest, ApiRequestShapes) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("POST /api/cis/tagging/category", Reply(201, json("urn:c")));
  transport_->On("POST /api/cis/tagging/tag", Reply(201, json("urn:t")));
  transport_->On("POST /api/cis/tagging/tag?action=list-tags-for-category",
                 Reply(200, json::array({"urn:t"})));
  transport_->On("POST /api/cis/tagging/tag-association/urn:t?action=attach",
                 Reply(204, std::string()));
  transport_->On("POST /api/cis/tagging/tag-association/urn:t?action=detach",
                 Reply(204, std::string()));

  ASSERT_THAT(client->CreateCategory({"", "ray", "d", TagCardinality::kMultiple, {}}), IsOk());
  EXPECT_EQ(BodyOf(transport_->last("POST /api/cis/tagging/category")),
            (json{{"name", "ray"},
                  {"description", "d"},
                  {"cardinality", "MULTIPLE"},
                  {"associable_types", json::array()}}));
  auto tag = client->CreateTag({"", "head", "", "urn:c"});
  ASSERT_THAT(tag, IsOk());
  EXPECT_EQ(*tag, "urn:t");
  EXPECT_EQ(BodyOf(transport_->last("POST /api/cis/tagging/tag")),
            (json{{"name", "head"}, {"description", ""}, {"category_id", "urn:c"}}));
  auto tags = client->ListTagsForCategory("urn:c");
  ASSERT_THAT(tags, IsOk());
  EXPECT_EQ(BodyOf(transport_->last("POST /api/cis/tagging/tag?action=list-tags-for-category")),
            (json{{"category_id", "urn:c"}}));
  const DynamicId vm{"VirtualMachine", "vm-1"};
  ASSERT_THAT(client->AttachTag("urn:t", vm), IsOk());
  ASSERT_THAT(client->DetachTag("urn:t", vm), IsOk());
  EXPECT_EQ(BodyOf(transport_->last("POST /api/cis/tagging/tag-association/urn:t?action=attach")),
            (json{{"object_id", {{"type", "VirtualMachine"}, {"id", "vm-1"}}}}));
}

TEST_F(RestClientTest, IdsAreEncodedInPaths) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("GET /api/cis/tagging/tag/urn:x%2Fy%20z%3Fq:GLOBAL",
                 Reply(200, json{{"id", "urn:x/y z?q:GLOBAL"}, {"name", "odd"}}));
  auto tag = client->GetTag("urn:x/y z?q:GLOBAL");
  ASSERT_THAT(tag, IsOk());
  EXPECT_EQ(tag->name, "odd");
}

TEST_F(RestClientTest, RestRequestShapesForAssociationsAndLibraries) {
  ScriptRestOnly();
  const std::string assoc = "POST /rest/com/vmware/cis/tagging/tag-association";
  transport_->On(assoc + "/id:urn:t?~action=attach", Reply(200, std::string()));
  transport_->On(assoc + "?~action=attach-multiple-tags-to-object",
                 Reply(200, json{{"value", {{"success", true}}}}));
  transport_->On(assoc + "?~action=list-attached-tags-on-objects",
                 Reply(200, json{{"value",
                                  {{{"object_id", {{"type", "VirtualMachine"}, {"id", "vm-1"}}},
                                    {"tag_ids", {"urn:a", "urn:b"}}}}}}));
  transport_->On("POST /rest/com/vmware/cis/tagging/tag/id:urn:c?~action=list-tags-for-category",
                 Reply(200, json::object()));  // the simulator leaves out an empty value
  transport_->On("POST /rest/com/vmware/content/library?~action=find",
                 Reply(200, json{{"value", {"lib-1"}}}));
  transport_->On("POST /rest/com/vmware/content/library/item?~action=find",
                 Reply(200, json{{"value", {"item-1"}}}));
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  const DynamicId vm{"VirtualMachine", "vm-1"};

  ASSERT_THAT(client->AttachTag("urn:t", vm), IsOk());
  EXPECT_EQ(BodyOf(transport_->last(assoc + "/id:urn:t?~action=attach")),
            (json{{"object_id", {{"type", "VirtualMachine"}, {"id", "vm-1"}}}}));
  ASSERT_THAT(client->AttachTagsToObject(vm, {"urn:a", "urn:b"}), IsOk());
  EXPECT_EQ(BodyOf(transport_->last(assoc + "?~action=attach-multiple-tags-to-object")),
            (json{{"object_id", {{"type", "VirtualMachine"}, {"id", "vm-1"}}},
                  {"tag_ids", {"urn:a", "urn:b"}}}));
  auto attached = client->ListAttachedTagsOnObjects({vm});
  ASSERT_THAT(attached, IsOk());
  ASSERT_EQ(attached->size(), 1u);
  EXPECT_EQ(attached->at(0).object, vm);
  EXPECT_EQ(attached->at(0).tag_ids, (std::vector<std::string>{"urn:a", "urn:b"}));
  EXPECT_EQ(BodyOf(transport_->last(assoc + "?~action=list-attached-tags-on-objects")),
            (json{{"object_ids", {{{"type", "VirtualMachine"}, {"id", "vm-1"}}}}}));

  auto tags = client->ListTagsForCategory("urn:c");
  ASSERT_THAT(tags, IsOk());
  EXPECT_TRUE(tags->empty());

  auto library = client->FindLibraryByName("images");
  ASSERT_THAT(library, IsOk());
  EXPECT_EQ(*library, "lib-1");
  EXPECT_EQ(BodyOf(transport_->last("POST /rest/com/vmware/content/library?~action=find")),
            (json{{"spec", {{"name", "images"}}}}));
  auto item = client->FindLibraryItemByName("lib-1", "frozen");
  ASSERT_THAT(item, IsOk());
  EXPECT_EQ(*item, "item-1");
  EXPECT_EQ(BodyOf(transport_->last("POST /rest/com/vmware/content/library/item?~action=find")),
            (json{{"spec", {{"library_id", "lib-1"}, {"name", "frozen"}}}}));
  // By name over every library: a FindSpec without library_id.
  auto anywhere = client->FindLibraryItems("frozen");
  ASSERT_THAT(anywhere, IsOk());
  EXPECT_EQ(*anywhere, std::vector<std::string>{"item-1"});
  EXPECT_EQ(BodyOf(transport_->last("POST /rest/com/vmware/content/library/item?~action=find")),
            (json{{"spec", {{"name", "frozen"}}}}));
}

TEST_F(RestClientTest, BulkAssociationReadsOnApi) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("POST /api/cis/tagging/tag-association?action=list-attached-objects-on-tags",
                 Reply(200, json::array({{{"tag_id", "urn:a"},
                                          {"object_ids",
                                           {{{"type", "VirtualMachine"}, {"id", "vm-1"}},
                                            {{"type", "VirtualMachine"}, {"id", "vm-2"}}}}},
                                         {{"tag_id", "urn:b"}, {"object_ids", nullptr}}})));
  transport_->On("POST /api/cis/tagging/tag-association?action=list-attached-tags",
                 Reply(200, json::array({"urn:a"})));
  auto objects = client->ListAttachedObjectsOnTags({"urn:a", "urn:b"});
  ASSERT_THAT(objects, IsOk());
  ASSERT_EQ(objects->size(), 2u);
  EXPECT_EQ(objects->at(0).tag_id, "urn:a");
  EXPECT_EQ(objects->at(0).objects,
            (std::vector<DynamicId>{{"VirtualMachine", "vm-1"}, {"VirtualMachine", "vm-2"}}));
  EXPECT_TRUE(objects->at(1).objects.empty());
  EXPECT_EQ(BodyOf(transport_->last(
                "POST /api/cis/tagging/tag-association?action=list-attached-objects-on-tags")),
            (json{{"tag_ids", {"urn:a", "urn:b"}}}));
  auto tags = client->ListAttachedTags({"VirtualMachine", "vm-1"});
  ASSERT_THAT(tags, IsOk());
  EXPECT_EQ(*tags, std::vector<std::string>{"urn:a"});
}

TEST_F(RestClientTest, BatchFailuresBecomeStatuses) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  const std::string attach =
      "POST /api/cis/tagging/tag-association?action=attach-multiple-tags-to-object";
  transport_->On(attach,
                 Reply(200, json{{"success", false},
                                 {"error_messages",
                                  {{{"id", "cis.tagging.objectNotFound.error"},
                                    {"default_message", "Tagging object urn:x not found"}}}}}));
  transport_->On(attach, Reply(200, json{{"success", false},
                                         {"error_messages",
                                          {{{"id", "cis.tagging.unauthorized"},
                                            {"default_message", "no privilege"}}}}}));
  const DynamicId vm{"VirtualMachine", "vm-1"};
  Status status = client->AttachTagsToObject(vm, {"urn:x"});
  EXPECT_THAT(status, StatusIs(StatusCode::kNotFound));
  EXPECT_NE(status.message().find("Tagging object urn:x not found"), std::string::npos);
  status = client->AttachTagsToObject(vm, {"urn:y"});
  EXPECT_THAT(status, StatusIs(StatusCode::kUnknown));
  EXPECT_NE(status.message().find("no privilege"), std::string::npos);
}

TEST_F(RestClientTest, ReloginOn401ThenRepeatsTheCallOnce) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("POST /api/cis/tagging/tag",
                 Reply(401, json{{"error_type", "UNAUTHENTICATED"}, {"messages", json::array()}}));
  transport_->On("POST /api/cis/tagging/tag", Reply(201, json("urn:t")));
  // Not idempotent, but a 401 call was never executed, so it is repeated after the re-login.
  auto tag = client->CreateTag({"", "head", "", "urn:c"});
  ASSERT_THAT(tag, IsOk());
  EXPECT_EQ(client->login_count(), 2);
  EXPECT_EQ(transport_->calls("POST /api/cis/tagging/tag"), 2);
  EXPECT_EQ(HeaderOf(transport_->last("POST /api/cis/tagging/tag"), "vmware-api-session-id"),
            "tok-2");
}

TEST_F(RestClientTest, Persistent401IsReportedNotLooped) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("GET /api/cis/tagging/category",
                 Reply(401, json{{"error_type", "UNAUTHENTICATED"}, {"messages", json::array()}}));
  auto ids = client->ListCategories();
  ASSERT_THAT(ids, Not(IsOk()));
  EXPECT_THAT(ids, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(transport_->calls("GET /api/cis/tagging/category"), 2);
  EXPECT_EQ(client->login_count(), 2);
}

TEST_F(RestClientTest, ConcurrentCallsShareOneRelogin) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 8;
  // Every call with the first token is held until all of them are in flight, then refused, so
  // all threads see the 401 of the same session at once.
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    int arrived = 0;
  };
  auto gate = std::make_shared<Gate>();
  auto ok_reply = NeedsToken("tok-2", json::array({"c"}));
  transport_->On("GET /api/cis/tagging/category",
                 [gate, ok_reply](const HttpRequest& request) -> StatusOr<HttpResponse> {
                   if (HeaderOf(request, "vmware-api-session-id") == "tok-1") {
                     std::unique_lock lock(gate->mu);
                     ++gate->arrived;
                     gate->cv.notify_all();
                     gate->cv.wait_for(lock, std::chrono::seconds(10),
                                       [&] { return gate->arrived >= kThreads; });
                   }
                   return ok_reply(request);
                 });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      if (client->ListCategories().ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(gate->arrived, kThreads);
  EXPECT_EQ(ok.load(), kThreads);
  EXPECT_EQ(client->login_count(), 2);  // one re-login for all of them
}

TEST_F(RestClientTest, WrongPasswordIsOneClearErrorWithoutThePassword) {
  transport_ = std::make_shared<FakeTransport>(FakeTransport::MethodAndPath(kBase));
  transport_->On("POST /api/session",
                 Reply(401, ApiError("UNAUTHENTICATED", "Authentication required.")));
  auto client = RestClient::Connect(Options(), transport_);
  ASSERT_THAT(client, Not(IsOk()));
  EXPECT_THAT(client, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(client.status().fault(), "InvalidLogin");
  EXPECT_NE(client.status().message().find(kUser), std::string::npos);
  EXPECT_NE(client.status().message().find("vc.example:8443"), std::string::npos);
  EXPECT_EQ(client.status().message().find(kPassword), std::string::npos);
  EXPECT_EQ(transport_->calls("POST /api/session"), 1);  // not retried
}

TEST_F(RestClientTest, WrongPasswordOnRestFallback) {
  auto fresh = std::make_shared<FakeTransport>(FakeTransport::MethodAndPath(kBase));
  fresh->On("POST /api/session", Reply(404, std::string("404 page not found")));
  fresh->On("POST /rest/com/vmware/cis/session", Reply(401, std::string()));
  auto client = RestClient::Connect(Options(), fresh);
  ASSERT_THAT(client, Not(IsOk()));
  EXPECT_THAT(client, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(client.status().fault(), "InvalidLogin");
}

TEST_F(RestClientTest, LoginReplyWithoutTokenIsDataLoss) {
  transport_ = std::make_shared<FakeTransport>(FakeTransport::MethodAndPath(kBase));
  transport_->On("POST /api/session", Reply(201, json{{"nothing", 1}}));
  auto client = RestClient::Connect(Options(), transport_);
  ASSERT_THAT(client, Not(IsOk()));
  EXPECT_THAT(client, StatusIs(StatusCode::kDataLoss));
}

TEST(RestErrorStatusTest, MapsApiErrorReplies) {
  struct Case {
    long http;  // NOLINT(google-runtime-int)
    std::string type;
    StatusCode code;
  };
  const std::vector<Case> cases = {
      {404, "NOT_FOUND", StatusCode::kNotFound},
      {400, "ALREADY_EXISTS", StatusCode::kAlreadyExists},
      {401, "UNAUTHENTICATED", StatusCode::kUnauthenticated},
      {403, "UNAUTHORIZED", StatusCode::kPermissionDenied},
      {400, "INVALID_ARGUMENT", StatusCode::kInvalidArgument},
      {503, "SERVICE_UNAVAILABLE", StatusCode::kUnavailable},
      {400, "NOT_ALLOWED_IN_CURRENT_STATE", StatusCode::kFailedPrecondition},
      {500, "INTERNAL_SERVER_ERROR", StatusCode::kInternal},
      {400, "NOT_FOUND", StatusCode::kNotFound},  // the type wins over the HTTP status
  };
  for (const auto& c : cases) {
    const Status status =
        RestErrorStatus(c.http, ApiError(c.type, "the server says " + c.type).dump(), "do x");
    EXPECT_EQ(status.code(), c.code) << c.type;
    EXPECT_EQ(status.fault(), c.type);
    EXPECT_TRUE(status.message().starts_with("do x: the server says " + c.type)) << status;
    EXPECT_NE(status.message().find("HTTP " + std::to_string(c.http)), std::string::npos);
  }
}

TEST(RestErrorStatusTest, MapsRestErrorReplies) {
  Status status = RestErrorStatus(404, RestError("not_found", "Tag urn:x missing").dump(), "get");
  EXPECT_THAT(status, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(status.fault(), "NOT_FOUND");
  EXPECT_NE(status.message().find("Tag urn:x missing"), std::string::npos);

  status = RestErrorStatus(400, RestError("already_exists", "dup").dump(), "create");
  EXPECT_THAT(status, StatusIs(StatusCode::kAlreadyExists));
  status = RestErrorStatus(403, RestError("unauthorized", "no").dump(), "create");
  EXPECT_THAT(status, StatusIs(StatusCode::kPermissionDenied));
  status = RestErrorStatus(400, RestError("invalid_argument", "bad").dump(), "create");
  EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument));
  status = RestErrorStatus(503, RestError("service_unavailable", "later").dump(), "list");
  EXPECT_THAT(status, StatusIs(StatusCode::kUnavailable));

  // govmomi's simulator: a type, an empty value, plain-string messages.
  status = RestErrorStatus(
      400, R"({"type":"com.vmware.vapi.std.errors.already_exists","value":{}})", "create");
  EXPECT_THAT(status, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_NE(status.message().find("ALREADY_EXISTS"), std::string::npos);
  status = RestErrorStatus(
      400, R"({"type":"com.vmware.vapi.std.errors.invalid_argument","value":{"messages":["m1"]}})",
      "x");
  EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_NE(status.message().find("m1"), std::string::npos);
}

TEST(RestErrorStatusTest, FallsBackToTheHttpStatus) {
  Status status = RestErrorStatus(404, "404 page not found\n", "get tag urn:x");
  EXPECT_THAT(status, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(status.fault(), "");
  EXPECT_EQ(status.message(), "get tag urn:x: 404 page not found (HTTP 404)");
  EXPECT_THAT(RestErrorStatus(503, "", "x"), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(RestErrorStatus(502, "<html>bad gateway</html>", "x"),
              StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(RestErrorStatus(500, "", "x"), StatusIs(StatusCode::kInternal));
  EXPECT_THAT(RestErrorStatus(409, "", "x"), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(RestErrorStatus(403, "{}", "x"), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(RestErrorStatus(418, "", "x"), StatusIs(StatusCode::kUnknown));
  EXPECT_THAT(RestErrorStatus(400, R"({"error_type":"SOMETHING_NEW"})", "x"),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(RestClientTest, ErrorRepliesOfBothDialectsReachTheCaller) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("GET /api/cis/tagging/tag/urn:gone",
                 Reply(404, ApiError("NOT_FOUND", "The tag urn:gone does not exist.")));
  auto tag = client->GetTag("urn:gone");
  EXPECT_THAT(tag, StatusIs(StatusCode::kNotFound));
  EXPECT_NE(tag.status().message().find("get tag urn:gone"), std::string::npos);
  EXPECT_NE(tag.status().message().find("The tag urn:gone does not exist."), std::string::npos);
  EXPECT_EQ(transport_->calls("GET /api/cis/tagging/tag/urn:gone"), 1);  // permanent: no retry

  ScriptRestOnly();
  transport_->On("POST /rest/com/vmware/cis/tagging/category",
                 Reply(400, RestError("already_exists", "Category ray exists")));
  auto rest = Connect();
  ASSERT_NE(rest, nullptr);
  auto category = rest->CreateCategory({"", "ray", "", TagCardinality::kSingle, {}});
  EXPECT_THAT(category, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_NE(category.status().message().find("create tag category 'ray'"), std::string::npos);
  EXPECT_NE(category.status().message().find("Category ray exists"), std::string::npos);
}

TEST_F(RestClientTest, GarbageReplyIsDataLossNamingTheCall) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("GET /api/cis/tagging/category", Reply(200, std::string("<html>proxy</html>")));
  auto ids = client->ListCategories();
  ASSERT_THAT(ids, Not(IsOk()));
  EXPECT_THAT(ids, StatusIs(StatusCode::kDataLoss));
  EXPECT_NE(ids.status().message().find("list tag categories"), std::string::npos);
  EXPECT_NE(ids.status().message().find("not JSON"), std::string::npos);

  // JSON of the wrong shape is DATA_LOSS too, not an exception.
  transport_->On("GET /api/cis/tagging/category/urn:c", Reply(200, json::array({1, 2})));
  auto category = client->GetCategory("urn:c");
  EXPECT_THAT(category, StatusIs(StatusCode::kDataLoss));
  EXPECT_NE(category.status().message().find("get tag category urn:c"), std::string::npos);
  transport_->On("GET /api/cis/tagging/tag/urn:t", Reply(200, json{{"name", 42}}));
  EXPECT_THAT(client->GetTag("urn:t"), StatusIs(StatusCode::kDataLoss));
}

TEST_F(RestClientTest, IdempotentCallsRetryOn503) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("GET /api/cis/tagging/category",
                 Reply(503, ApiError("SERVICE_UNAVAILABLE", "busy")));
  transport_->On("GET /api/cis/tagging/category", Reply(503, std::string("")));
  transport_->On("GET /api/cis/tagging/category", Reply(200, json::array({"c1"})));
  auto ids = client->ListCategories();
  ASSERT_THAT(ids, IsOk());
  EXPECT_EQ(transport_->calls("GET /api/cis/tagging/category"), 3);
  EXPECT_GT(clock_.total_slept(), Clock::Duration::zero());

  // attach is idempotent too, and so are the bulk calls.
  const std::string attach = "POST /api/cis/tagging/tag-association/urn:t?action=attach";
  transport_->On(attach, Reply(503, std::string()));
  transport_->On(attach, Reply(204, std::string()));
  EXPECT_THAT(client->AttachTag("urn:t", {"VirtualMachine", "vm-1"}), IsOk());
  EXPECT_EQ(transport_->calls(attach), 2);
}

TEST_F(RestClientTest, RetriesStopAfterMaxAttempts) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("GET /api/cis/tagging/category", Reply(503, std::string()));
  auto ids = client->ListCategories();
  EXPECT_THAT(ids, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(transport_->calls("GET /api/cis/tagging/category"), Options().retry.max_attempts);
}

TEST_F(RestClientTest, CreateIsNotRetried) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("POST /api/cis/tagging/category", Reply(503, std::string()));
  transport_->On("POST /api/cis/tagging/category", Reply(201, json("urn:c")));
  auto id = client->CreateCategory({"", "ray", "", TagCardinality::kSingle, {}});
  EXPECT_THAT(id, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(transport_->calls("POST /api/cis/tagging/category"), 1);
  EXPECT_EQ(clock_.total_slept(), Clock::Duration::zero());
}

TEST_F(RestClientTest, TransportFailuresNameTheCallAndRetryWhenIdempotent) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("GET /api/cis/tagging/category", [](const HttpRequest&) -> StatusOr<HttpResponse> {
    return UnavailableError("connection reset");
  });
  auto ids = client->ListCategories();
  EXPECT_THAT(ids, StatusIs(StatusCode::kUnavailable));
  EXPECT_NE(ids.status().message().find("list tag categories: connection reset"),
            std::string::npos);
  EXPECT_EQ(transport_->calls("GET /api/cis/tagging/category"), Options().retry.max_attempts);
}

TEST_F(RestClientTest, FindByNameWalksTheList) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("GET /api/cis/tagging/category", Reply(200, json::array({"c1", "c2", "c3"})));
  transport_->On("GET /api/cis/tagging/category/c1", Reply(200, json{{"id", "c1"}, {"name", "a"}}));
  transport_->On("GET /api/cis/tagging/category/c2",
                 Reply(404, ApiError("NOT_FOUND", "deleted meanwhile")));
  transport_->On("GET /api/cis/tagging/category/c3",
                 Reply(200, json{{"id", "c3"}, {"name", "ray"}, {"cardinality", "SINGLE"}}));
  auto category = client->FindCategoryByName("ray");
  ASSERT_THAT(category, IsOk());
  EXPECT_EQ(category->id, "c3");
  auto missing = client->FindCategoryByName("nope");
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound));
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos);

  transport_->On("POST /api/cis/tagging/tag?action=list-tags-for-category",
                 Reply(200, json::array({"t1", "t2"})));
  transport_->On("GET /api/cis/tagging/tag/t1",
                 Reply(200, json{{"id", "t1"}, {"name", "head"}, {"category_id", "c3"}}));
  transport_->On("GET /api/cis/tagging/tag/t2",
                 Reply(200, json{{"id", "t2"}, {"name", "worker"}, {"category_id", "c3"}}));
  auto tag = client->FindTagByName("c3", "worker");
  ASSERT_THAT(tag, IsOk());
  EXPECT_EQ(tag->id, "t2");
  EXPECT_EQ(tag->category_id, "c3");
  EXPECT_THAT(client->FindTagByName("c3", "gpu"), StatusIs(StatusCode::kNotFound));
}

TEST_F(RestClientTest, ContentLibraryOnApi) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  transport_->On("POST /api/content/library?action=find", Reply(200, json::array()));
  transport_->On("POST /api/content/library?action=find", Reply(200, json::array({"l1", "l2"})));
  transport_->On("POST /api/content/local-library", Reply(201, json("l3")));
  transport_->On("POST /api/content/library/item", Reply(201, json("i2")));
  transport_->On("GET /api/content/library/item/i1", Reply(200, json{{"id", "i1"},
                                                                     {"library_id", "l1"},
                                                                     {"name", "frozen"},
                                                                     {"type", "ovf"},
                                                                     {"size", 10}}));

  EXPECT_THAT(client->FindLibraryByName("images"), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(BodyOf(transport_->last("POST /api/content/library?action=find")),
            (json{{"name", "images"}}));
  EXPECT_THAT(client->FindLibraryByName("images"), StatusIs(StatusCode::kFailedPrecondition));

  auto created = client->CreateLocalLibrary("images", "datastore-1");
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(
      BodyOf(transport_->last("POST /api/content/local-library")),
      (json{{"name", "images"},
            {"type", "LOCAL"},
            {"storage_backings", {{{"type", "DATASTORE"}, {"datastore_id", "datastore-1"}}}}}));

  auto created_item = client->CreateLibraryItem("l3", "frozen", "ovf");
  ASSERT_THAT(created_item, IsOk());
  EXPECT_EQ(*created_item, "i2");
  EXPECT_EQ(BodyOf(transport_->last("POST /api/content/library/item")),
            (json{{"library_id", "l3"}, {"name", "frozen"}, {"type", "ovf"}}));

  auto item = client->GetLibraryItem("i1");
  ASSERT_THAT(item, IsOk());
  EXPECT_EQ(item->name, "frozen");
  EXPECT_EQ(item->library_id, "l1");
  EXPECT_EQ(item->type, "ovf");
}

TEST_F(RestClientTest, DeployOvfSendsTargetAndSpecAndReturnsTheVm) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  const std::string deploy = "POST /api/vcenter/ovf/library-item/i1?action=deploy";
  transport_->On(deploy,
                 Reply(200, json{{"succeeded", true},
                                 {"resource_id", {{"type", "VirtualMachine"}, {"id", "vm-42"}}}}));
  OvfDeploySpec spec;
  spec.name = "frozen-0";
  spec.resource_pool_id = "resgroup-8";
  spec.folder_id = "group-v3";
  spec.datastore_id = "datastore-11";
  auto vm = client->DeployOvf("i1", spec);
  ASSERT_THAT(vm, IsOk());
  EXPECT_EQ(*vm, (DynamicId{"VirtualMachine", "vm-42"}));
  const HttpRequest sent = transport_->last(deploy);
  EXPECT_EQ(BodyOf(sent),
            (json{{"target", {{"resource_pool_id", "resgroup-8"}, {"folder_id", "group-v3"}}},
                  {"deployment_spec",
                   {{"name", "frozen-0"},
                    {"accept_all_EULA", true},
                    {"default_datastore_id", "datastore-11"}}}}));
  EXPECT_EQ(sent.timeout, std::chrono::minutes(30));  // a deploy may take long

  OvfDeploySpec incomplete;
  incomplete.name = "x";
  EXPECT_THAT(client->DeployOvf("i1", incomplete), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(RestClientTest, DeployOvfFailureCarriesTheDeployMessages) {
  ScriptRestOnly();
  const std::string deploy = "POST /rest/com/vmware/vcenter/ovf/library-item/id:i1?~action=deploy";
  transport_->On(
      deploy,
      Reply(200, json{{"value",
                       {{"succeeded", false},
                        {"error",
                         {{"errors",
                           {{{"category", "SERVER"},
                             {"error",
                              {{"@class", "com.vmware.vapi.std.errors.not_found"},
                               {"messages", {{{"default_message", "datastore-9 is gone"}}}}}}},
                            {{"category", "INPUT"},
                             {"message", {{"default_message", "bad network mapping"}}}}}}}}}}}));
  transport_->On(deploy, Reply(200, json{{"value", {{"succeeded", false}}}}));
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  OvfDeploySpec spec;
  spec.name = "frozen-0";
  spec.resource_pool_id = "resgroup-8";
  auto vm = client->DeployOvf("i1", spec);
  ASSERT_THAT(vm, Not(IsOk()));
  EXPECT_THAT(vm, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(vm.status().fault(), "OvfDeployFailed");
  EXPECT_NE(vm.status().message().find("datastore-9 is gone"), std::string::npos);
  EXPECT_NE(vm.status().message().find("bad network mapping"), std::string::npos);
  EXPECT_NE(vm.status().message().find("'frozen-0'"), std::string::npos);
  EXPECT_EQ(transport_->calls(deploy), 1);

  vm = client->DeployOvf("i1", spec);
  EXPECT_THAT(vm, StatusIs(StatusCode::kUnknown));
  EXPECT_EQ(vm.status().fault(), "OvfDeployFailed");
}

// Captures the vsray logger's output at debug level for the test's lifetime.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    level_ = Log()->level();
    Log()->sinks().push_back(sink_);
    Log()->set_level(spdlog::level::trace);
  }
  ~LogCapture() {
    auto& sinks = Log()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    Log()->set_level(level_);
  }
  std::string text() {
    Log()->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::level::level_enum level_;
};

TEST_F(RestClientTest, NeitherPasswordNorTokenReachStatusesOrLogs) {
  LogCapture log;
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  // A server that echoes secrets in its messages, and a proxy page that does too.
  transport_->On("GET /api/cis/tagging/tag/urn:a",
                 Reply(404, ApiError("NOT_FOUND", "session tok-1 (password " +
                                                      std::string(kPassword) + ") lost tag")));
  transport_->On("GET /api/cis/tagging/tag/urn:b",
                 Reply(200, std::string("<html>tok-1 ") + kPassword + "</html>"));
  transport_->On("GET /api/cis/tagging/tag/urn:c",
                 Reply(503, std::string("overloaded, token tok-1")));
  transport_->On("GET /api/cis/tagging/tag/urn:d",
                 [](const HttpRequest&) -> StatusOr<HttpResponse> {
                   return UnavailableError("reset while sending vmware-api-session-id: tok-1");
                 });
  transport_->On(
      "POST /api/cis/tagging/tag-association?action=attach-multiple-tags-to-object",
      Reply(200, json{{"success", false},
                      {"error_messages", {{{"id", "x"}, {"default_message", "tok-1 denied"}}}}}));
  transport_->On("GET /api/cis/tagging/category",
                 Reply(401, ApiError("UNAUTHENTICATED", "tok-1 expired")));
  std::vector<Status> statuses;
  statuses.push_back(client->GetTag("urn:a").status());
  statuses.push_back(client->GetTag("urn:b").status());
  statuses.push_back(client->GetTag("urn:c").status());
  statuses.push_back(client->GetTag("urn:d").status());
  statuses.push_back(client->AttachTagsToObject({"VirtualMachine", "vm-1"}, {"urn:a"}));
  statuses.push_back(client->ListCategories().status());  // 401 twice: tok-1 then tok-2
  for (const Status& status : statuses) {
    ASSERT_THAT(status, Not(IsOk()));
    const std::string text = status.ToString();
    EXPECT_EQ(text.find("tok-1"), std::string::npos) << text;
    EXPECT_EQ(text.find("tok-2"), std::string::npos) << text;
    EXPECT_EQ(text.find(kPassword), std::string::npos) << text;
  }
  // The wrong-password path.
  auto fresh = std::make_shared<FakeTransport>(FakeTransport::MethodAndPath(kBase));
  fresh->On("POST /api/session",
            Reply(401, ApiError("UNAUTHENTICATED", std::string("bad password ") + kPassword)));
  auto refused = RestClient::Connect(Options(), fresh);
  ASSERT_THAT(refused, Not(IsOk()));
  EXPECT_EQ(refused.status().ToString().find(kPassword), std::string::npos);
  client.reset();

  const std::string logged = log.text();
  EXPECT_NE(logged.find("REST GET /api/cis/tagging/tag/urn:a"), std::string::npos)
      << "debug logging of calls is expected; got: " << logged;
  EXPECT_EQ(logged.find("tok-1"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("tok-2"), std::string::npos) << logged;
  EXPECT_EQ(logged.find(kPassword), std::string::npos) << logged;
}

}  // namespace
}  // namespace vsray::vsphere
