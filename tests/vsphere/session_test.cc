// Session logic against a scripted fake transport: cookies, re-login, retry rules.
#include "vsphere/session.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <mutex>

#include "vsphere/soap.h"

namespace vsray::vsphere {
namespace {

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

// Answers each SOAP method with a scripted queue of responses (the last one repeats).
class FakeTransport : public HttpTransport {
 public:
  using Responder = std::function<StatusOr<HttpResponse>(const HttpRequest&)>;

  void On(const std::string& method, Responder responder) {
    std::lock_guard lock(mu_);
    script_[method].push_back(std::move(responder));
  }

  StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    const auto start = request.body.find("<soapenv:Body><") + 15;
    const auto end = request.body.find_first_of(" >", start);
    const std::string method = request.body.substr(start, end - start);
    std::lock_guard lock(mu_);
    requests.push_back(request);
    calls[method]++;
    auto& queue = script_[method];
    if (queue.empty()) return InternalError("unscripted " + method);
    Responder responder = queue.front();
    if (queue.size() > 1) queue.pop_front();
    return responder(request);
  }

  std::vector<HttpRequest> requests;
  std::map<std::string, int> calls;

 private:
  std::mutex mu_;
  std::map<std::string, std::deque<Responder>> script_;
};

FakeTransport::Responder Ok(std::string body, std::string cookie = "") {
  return [body, cookie](const HttpRequest&) -> StatusOr<HttpResponse> {
    HttpResponse response;
    response.status = 200;
    response.body = body;
    if (!cookie.empty()) response.headers["set-cookie"] = cookie;
    return response;
  };
}

FakeTransport::Responder Fault(const std::string& type) {
  return [type](const HttpRequest&) -> StatusOr<HttpResponse> {
    HttpResponse response;
    response.status = 500;
    response.body = FaultReply(type);
    return response;
  };
}

FakeTransport::Responder HttpStatus(long status) {  // NOLINT(google-runtime-int)
  return [status](const HttpRequest&) -> StatusOr<HttpResponse> {
    HttpResponse response;
    response.status = status;
    response.body = "<html>busy</html>";
    return response;
  };
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport_ = std::make_shared<FakeTransport>();
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
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->content().root_folder, (MoRef{"Folder", "group-d1"}));
  EXPECT_EQ((*session)->content().api_version, "6.7");
  auto reply = (*session)->Call("CurrentTime", {"ServiceInstance", "ServiceInstance"}, "", true);
  ASSERT_TRUE(reply.ok()) << reply.status();
  const HttpRequest& last = transport_->requests.back();
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
  EXPECT_NE(transport_->requests[1].body.find("<password>s3cret&lt;&amp;&gt;</password>"),
            std::string::npos);
}

TEST_F(SessionTest, WrongPasswordIsOneClearError) {
  auto fresh = std::make_shared<FakeTransport>();
  fresh->On("RetrieveServiceContent", Ok(Reply("RetrieveServiceContent", kServiceContent)));
  fresh->On("Login", Fault("InvalidLogin"));
  auto options = Options();
  options.transport = fresh;
  auto session = Session::Connect(options);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(session.status().fault(), "InvalidLogin");
  EXPECT_NE(session.status().message().find("admin@vsphere.local"), std::string::npos);
  EXPECT_EQ(session.status().message().find("s3cret"), std::string::npos);
  EXPECT_EQ(fresh->calls["Login"], 1);  // a wrong password is not retried
}

TEST_F(SessionTest, ReloginOnceOnNotAuthenticatedThenRepeatsCall) {
  transport_->On("CreateFolder", Fault("NotAuthenticated"));
  transport_->On("CreateFolder",
                 Ok(Reply("CreateFolder", "<returnval type=\"Folder\">group-v9</returnval>")));
  auto session = Session::Connect(Options());
  ASSERT_TRUE(session.ok());
  // Not idempotent, but a NotAuthenticated call never ran, so it is repeated after re-login.
  auto reply = (*session)->Call("CreateFolder", {"Folder", "group-v1"}, "<name>x</name>", false);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ((*session)->login_count(), 2);
  EXPECT_EQ(transport_->calls["CreateFolder"], 2);
  EXPECT_EQ(transport_->requests.back().headers.back().second, "vmware_soap_session=\"cookie2\"");
}

TEST_F(SessionTest, NotAuthenticatedTwiceIsReportedNotLooped) {
  transport_->On("CurrentTime", Fault("NotAuthenticated"));
  auto session = Session::Connect(Options());
  ASSERT_TRUE(session.ok());
  auto reply = (*session)->Call("CurrentTime", {"ServiceInstance", "ServiceInstance"}, "", true);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().fault(), "NotAuthenticated");
  EXPECT_EQ(transport_->calls["CurrentTime"], 2);
  EXPECT_EQ((*session)->login_count(), 2);
}

TEST_F(SessionTest, IdempotentCallsRetryOn503AndTransientFaults) {
  transport_->On("RetrievePropertiesEx", HttpStatus(503));
  transport_->On("RetrievePropertiesEx", Fault("HostCommunication"));
  transport_->On("RetrievePropertiesEx", Ok(Reply("RetrievePropertiesEx", "")));
  auto session = Session::Connect(Options());
  ASSERT_TRUE(session.ok());
  auto reply = (*session)->Call("RetrievePropertiesEx", {"PropertyCollector", "pc"}, "", true);
  EXPECT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(transport_->calls["RetrievePropertiesEx"], 3);
  EXPECT_GT(clock_.total_slept(), Clock::Duration::zero());
}

TEST_F(SessionTest, NonIdempotentCallsAreNotRetried) {
  transport_->On("InstantClone_Task", HttpStatus(503));
  auto session = Session::Connect(Options());
  ASSERT_TRUE(session.ok());
  auto reply = (*session)->Call("InstantClone_Task", {"VirtualMachine", "vm-1"}, "", false);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(transport_->calls["InstantClone_Task"], 1);
}

TEST_F(SessionTest, PermanentFaultsAreNotRetried) {
  transport_->On("PowerOnVM_Task", Fault("InvalidPowerState"));
  auto session = Session::Connect(Options());
  ASSERT_TRUE(session.ok());
  auto reply = (*session)->Call("PowerOnVM_Task", {"VirtualMachine", "vm-1"}, "", true);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().fault(), "InvalidPowerState");
  EXPECT_EQ(transport_->calls["PowerOnVM_Task"], 1);
}

TEST_F(SessionTest, NonSoapReplyIsDataLoss) {
  auto fresh = std::make_shared<FakeTransport>();
  fresh->On("RetrieveServiceContent", Ok("<html>hello</html>"));
  auto options = Options();
  options.transport = fresh;
  auto session = Session::Connect(options);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(session.status().message().find("not a vSphere SDK endpoint"), std::string::npos);
}

TEST(ServerAddressTest, ParsesTheAcceptedForms) {
  auto a = ParseServerAddress("vc.local", false);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->Url("/sdk"), "https://vc.local:443/sdk");
  auto b = ParseServerAddress("https://127.0.0.1:8989/sdk", false);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 8989);
  EXPECT_EQ(b->host, "127.0.0.1");
  auto c = ParseServerAddress("[::1]:9443", false);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Url(""), "https://[::1]:9443");
  EXPECT_FALSE(ParseServerAddress("http://vc.local", false).ok());
  EXPECT_TRUE(ParseServerAddress("http://vc.local", true).ok());
  EXPECT_FALSE(ParseServerAddress("", false).ok());
  EXPECT_FALSE(ParseServerAddress("vc:99999", false).ok());
  EXPECT_FALSE(ParseServerAddress("vc:abc", false).ok());
  EXPECT_FALSE(ParseServerAddress("ftp://vc", false).ok());
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
