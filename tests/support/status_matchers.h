// gMock matchers for Status and StatusOr<T>: `EXPECT_THAT(x, IsOk())`,
// `ASSERT_THAT(x, StatusIs(StatusCode::kNotFound))`,
// `EXPECT_THAT(x, StatusIs(StatusCode::kNotFound, HasSubstr("vm-1")))`. A mismatch prints the
// whole status (code, message, fault), as `<< status` did.
#ifndef VSRAY_TESTS_SUPPORT_STATUS_MATCHERS_H_
#define VSRAY_TESTS_SUPPORT_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include <ostream>
#include <string>

#include "common/status.h"

namespace vsray {

// gtest prints a StatusOr through this (e.g. "NOT_FOUND: ..." or "OK").
template <typename T>
void PrintTo(const StatusOr<T>& value, std::ostream* os) {
  *os << (value.ok() ? std::string("OK") : value.status().ToString());
}

namespace testing {

inline const Status& GetStatus(const Status& status) { return status; }
template <typename T>
Status GetStatus(const StatusOr<T>& value) {
  return value.status();
}

MATCHER(IsOk, "is OK") {
  const Status status = GetStatus(arg);
  if (!status.ok()) *result_listener << "which is " << status.ToString();
  return status.ok();
}

MATCHER_P(StatusIs, code, "has code " + std::string(StatusCodeName(code))) {
  const Status status = GetStatus(arg);
  *result_listener << "which is " << (status.ok() ? std::string("OK") : status.ToString());
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + std::string(StatusCodeName(code)) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher)) {
  const Status status = GetStatus(arg);
  *result_listener << "which is " << (status.ok() ? std::string("OK") : status.ToString());
  return status.code() == code &&
         ::testing::Matches(::testing::Matcher<std::string>(message_matcher))(status.message());
}

}  // namespace testing
}  // namespace vsray

#endif  // VSRAY_TESTS_SUPPORT_STATUS_MATCHERS_H_
