#include "support/fake_transport.h"

#include <gtest/gtest.h>

namespace vsray::testing {

using vsphere::HttpRequest;
using vsphere::HttpResponse;

std::string FakeTransport::SoapMethod(const HttpRequest& request) {
  constexpr std::string_view kBody = "<soapenv:Body><";
  const auto start = request.body.find(kBody);
  if (start == std::string::npos) return "";
  const auto begin = start + kBody.size();
  const auto end = request.body.find_first_of(" >", begin);
  return request.body.substr(begin, end - begin);
}

FakeTransport::KeyOf FakeTransport::MethodAndPath(std::string base) {
  return [base = std::move(base)](const HttpRequest& request) {
    EXPECT_TRUE(request.url.starts_with(base)) << request.url;
    return request.method + " " + request.url.substr(std::min(base.size(), request.url.size()));
  };
}

void FakeTransport::On(const std::string& key, Responder responder) {
  std::lock_guard lock(mu_);
  script_[key].push_back(std::move(responder));
}

StatusOr<HttpResponse> FakeTransport::Send(const HttpRequest& request) {
  const std::string key = key_of_(request);
  Responder responder;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    ++calls_[key];
    auto& queue = script_[key];
    if (queue.empty()) return InternalError("unscripted request " + key);
    responder = queue.front();
    if (queue.size() > 1) queue.pop_front();
  }
  return responder(request);
}

int FakeTransport::calls(const std::string& key) const {
  std::lock_guard lock(mu_);
  const auto it = calls_.find(key);
  return it == calls_.end() ? 0 : it->second;
}

std::vector<HttpRequest> FakeTransport::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

HttpRequest FakeTransport::last(const std::string& key) const {
  std::lock_guard lock(mu_);
  for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) {
    if (key_of_(*it) == key) return *it;
  }
  ADD_FAILURE() << "no request " << key;
  return {};
}

FakeTransport::Responder HttpReply(long status, std::string body,  // NOLINT(google-runtime-int)
                                   std::string cookie) {
  return [status, body = std::move(body),
          cookie = std::move(cookie)](const HttpRequest&) -> StatusOr<HttpResponse> {
    HttpResponse response;
    response.status = status;
    response.body = body;
    if (!cookie.empty()) response.headers["set-cookie"] = cookie;
    return response;
  };
}

std::optional<std::string> HeaderOf(const HttpRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

}  // namespace vsray::testing
