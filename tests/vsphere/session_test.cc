// Session logic against a scripted fake transport: cookies, re-login, retry rules.
#include "vsphere/session.h"

#include <gtest/gtest.h>

#include "support/fake_transport.h"
#include "support/status_matchers.h"
#include "vsphere/soap.h"

namespace vsray::vsphere {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

std::string Reply(std::string_view method, std::string_view inner) {
  return SoapEnvelope("<" + std::string(method) + "Response xmlns=\"urn:vim25\">" +
                      std::string(inner) + "</" + std::string(method) + "Response>");
}

std::string FaultReply(std::string_view type) {
  return SoapEnvelope("<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>" +
                      std::string(type) + " happened</faultstring><detail><" + std::string(type) +
                      "Fault xmlns=\"urn:vim25\" xsi:type=\"" + std::string(type) + "\"></" +
                      std::string(type) + "Fault></detail></soapenv:Fault>");
}

constexpr char kServiceContent[] =
    "<returnval><rootFolder type=\"Folder\">group-d1</rootFolder>"
    "<propertyCollector type=\"PropertyCollector\">propertyCollector</propertyCollector>"
    "<sessionManager type=\"SessionManager\">SessionManager</sessionManager>"
    "<about><apiVersion>6.7</apiVersion><apiType>VirtualCenter</apiType></about></returnval>";

using testing::FakeTransport;

FakeTransport::Responder Ok(std::string body, std::string cookie = "") {
  return testing::HttpReply(200, std::move(body), std::move(cookie));
}

FakeTransport::Responder Fault(const std::string& type) {
  return testing::HttpReply(500, FaultReply(type));
}

FakeTransport::Responder HttpStatus(long status) {  // NOLINT(google-runtime-int)
  return testing::HttpReply(status, "<html>busy</html>");
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport_ = std::make_shared<FakeTransport>(FakeTransport::SoapMethod);
    transport_->On("RetrieveServiceContent", Ok(Reply("RetrieveServiceContent", kServiceContent)));
    login_number_ = 0;
    transport_->On("Login", [this](const HttpRequest&) -> StatusOr<HttpResponse> {
      HttpResponse response;
      response.status = 200;
      response.body = Reply("Login", "<returnval><key>k</key></returnval>");
      response.headers["set-cookie"] =
          "vmware_soap_session=\"cookie" + std::to_string(++login_number_) + "\"; Path=/; HttpOnly";
      return response;
    });
    transport_->On("Logout", Ok(Reply("Logout", "")));
  }

  ConnectOptions Options() {
    ConnectOptions options;
    options.server = "vc.example:8443";
    options.credentials = {"admin@vsphere.local", "s3cret<&>"};
    options.transport = transport_;
    options.keepalive_interval = std::chrono::milliseconds(0);
    options.retry.backoff.initial = std::chrono::milliseconds(1);
    options.clock = &clock_;
    return options;
  }

  FakeClock clock_;
  std::shared_ptr<FakeTransport> transport_;
  int login_number_ = 0;
};

TEST_F(SessionTest, ConnectReadsServiceContentAndSendsCookie) {
  transport_->On("CurrentTime",
                 Ok(Reply("CurrentTime", "<returnval>2026-01-01T00:00:00Z</returnval>")));
  auto session = Session::Connect(Options());
  ASSERT_THAT(session, IsOk());
  EXPECT_EQ((*session)->content().root_folder, (MoRef{"Folder", "group-d1"}));
  EXPECT_EQ((*session)->content().api_version, "6.7");
  auto reply = (*session)->Call("CurrentTime", {"ServiceInstance", "ServiceInstance"}, "", true);
  ASSERT_THAT(reply, IsOk());
  const HttpRequest last = transport_->requests().back();
  EXPECT_EQ(last.url, "https://vc.example:8443/sdk");
  bool has_cookie = false;
  bool has_action = false;
  for (const auto& [name, value] : last.headers) {
    if (name == "Cookie") has_cookie = value == "vmware_soap_session=\"cookie1\"";
    if (name == "SOAPAction") has_action = value == "urn:vim25/6.7";
  }
  EXPECT_TRUE(has_cookie);
  EXPECT_TRUE(has_action);
  // The password is escaped in the login envelope.
  EXPECT_NE(transport_->requests()[1].body.find("<password>s3cret&lt;&amp;&gt;</password>"),
            std::string::npos);
}

TEST_F(SessionTest, WrongPasswordIsOneClearError) {
  auto fresh = std::make_shared<FakeTransport>(FakeTransport::SoapMethod);
  fresh->On("RetrieveServiceContent", Ok(Reply("RetrieveServiceContent", kServiceContent)));
  fresh->On("Login", Fault("InvalidLogin"));
  auto options = Options();
  options.transport = fresh;
  auto session = Session::Connect(options);
  ASSERT_THAT(session, Not(IsOk()));
  EXPECT_THAT(session, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(session.status().fault(), "InvalidLogin");
  EXPECT_NE(session.status().message().find("admin@vsphere.local"), std::string::npos);
  EXPECT_EQ(session.status().message().find("s3cret"), std::string::npos);
  EXPECT_EQ(fresh->calls("Login"), 1);  // a wrong password is not retried
}

TEST_F(SessionTest, ReloginOnceOnNotAuthenticatedThenRepeatsCall) {
  transport_->On("CreateFolder", Fault("NotAuthenticated"));
  transport_->On("CreateFolder",
                 Ok(Reply("CreateFolder", "<returnval type=\"Folder\">group-v9</returnval>")));
  auto session = Session::Connect(Options());
  ASSERT_THAT(session, IsOk());
  // Not idempotent, but a NotAuthenticated call never ran, so it is repeated after re-login.
  auto reply = (*session)->Call("CreateFolder", {"Folder", "group-v1"}, "<name>x</name>", false);
  ASSERT_THAT(reply, IsOk());
  EXPECT_EQ((*session)->login_count(), 2);
  EXPECT_EQ(transport_->calls("CreateFolder"), 2);
  EXPECT_EQ(transport_->requests().back().headers.back().second, "vmware_soap_session=\"cookie2\"");
}

TEST_F(SessionTest, NotAuthenticatedTwiceIsReportedNotLooped) {
  transport_->On("CurrentTime", Fault("NotAuthenticated"));
  auto session = Session::Connect(Options());
  ASSERT_THAT(session, IsOk());
  auto reply = (*session)->Call("CurrentTime", {"ServiceInstance", "ServiceInstance"}, "", true);
  ASSERT_THAT(reply, Not(IsOk()));
  EXPECT_EQ(reply.status().fault(), "NotAuthenticated");
  EXPECT_EQ(transport_->calls("CurrentTime"), 2);
  EXPECT_EQ((*session)->login_count(), 2);
}

TEST_F(SessionTest, IdempotentCallsRetryOn503AndTransientFaults) {
  transport_->On("RetrievePropertiesEx", HttpStatus(503));
  transport_->On("RetrievePropertiesEx", Fault("HostCommunication"));
  transport_->On("RetrievePropertiesEx", Ok(Reply("RetrievePropertiesEx", "")));
  auto session = Session::Connect(Options());
  ASSERT_THAT(session, IsOk());
  auto reply = (*session)->Call("RetrievePropertiesEx", {"PropertyCollector", "pc"}, "", true);
  EXPECT_THAT(reply, IsOk());
  EXPECT_EQ(transport_->calls("RetrievePropertiesEx"), 3);
  EXPECT_GT(clock_.total_slept(), Clock::Duration::zero());
}

TEST_F(SessionTest, NonIdempotentCallsAreNotRetried) {
  transport_->On("InstantClone_Task", HttpStatus(503));
  auto session = Session::Connect(Options());
  ASSERT_THAT(session, IsOk());
  auto reply = (*session)->Call("InstantClone_Task", {"VirtualMachine", "vm-1"}, "", false);
  ASSERT_THAT(reply, Not(IsOk()));
  EXPECT_THAT(reply, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(transport_->calls("InstantClone_Task"), 1);
}

TEST_F(SessionTest, PermanentFaultsAreNotRetried) {
  transport_->On("PowerOnVM_Task", Fault("InvalidPowerState"));
  auto session = Session::Connect(Options());
  ASSERT_THAT(session, IsOk());
  auto reply = (*session)->Call("PowerOnVM_Task", {"VirtualMachine", "vm-1"}, "", true);
  ASSERT_THAT(reply, Not(IsOk()));
  EXPECT_EQ(reply.status().fault(), "InvalidPowerState");
  EXPECT_EQ(transport_->calls("PowerOnVM_Task"), 1);
}

TEST_F(SessionTest, NonSoapReplyIsDataLoss) {
  auto fresh = std::make_shared<FakeTransport>(FakeTransport::SoapMethod);
  fresh->On("RetrieveServiceContent", Ok("<html>hello</html>"));
  auto options = Options();
  options.transport = fresh;
  auto session = Session::Connect(options);
  ASSERT_THAT(session, Not(IsOk()));
  EXPECT_THAT(session, StatusIs(StatusCode::kDataLoss));
  EXPECT_NE(session.status().message().find("not a vSphere SDK endpoint"), std::string::npos);
}

TEST(ServerAddressTest, ParsesTheAcceptedForms) {
  auto a = ParseServerAddress("vc.local", false);
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->Url("/sdk"), "https://vc.local:443/sdk");
  auto b = ParseServerAddress("https://127.0.0.1:8989/sdk", false);
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->port, 8989);
  EXPECT_EQ(b->host, "127.0.0.1");
  auto c = ParseServerAddress("[::1]:9443", false);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->Url(""), "https://[::1]:9443");
  EXPECT_THAT(ParseServerAddress("http://vc.local", false), Not(IsOk()));
  EXPECT_THAT(ParseServerAddress("http://vc.local", true), IsOk());
  EXPECT_THAT(ParseServerAddress("", false), Not(IsOk()));
  EXPECT_THAT(ParseServerAddress("vc:99999", false), Not(IsOk()));
  EXPECT_THAT(ParseServerAddress("vc:abc", false), Not(IsOk()));
  EXPECT_THAT(ParseServerAddress("ftp://vc", false), Not(IsOk()));
}

TEST(ThumbprintTest, Normalizes) {
  const std::string hex(64, 'a');
  EXPECT_EQ(NormalizeThumbprint(hex).size(), 95U);
  EXPECT_EQ(NormalizeThumbprint(hex).substr(0, 6), "AA:AA:");
  EXPECT_EQ(NormalizeThumbprint("AA:BB"), "");
  EXPECT_EQ(NormalizeThumbprint(std::string(63, 'a') + "g"), "");
  EXPECT_EQ(FormatThumbprint(std::string("\x01\xff", 2)), "01:FF");
}

}  // namespace
}  // namespace vsray::vsphere
