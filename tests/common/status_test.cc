#include "common/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/status_matchers.h"

namespace vsray {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

TEST(StatusTest, DefaultIsOk) {
  Status status;
  EXPECT_THAT(status, IsOk());
  EXPECT_EQ(status.ToString(), "OK");
}

TEST(StatusTest, CarriesCodeMessageAndFault) {
  Status status = NotFoundError("no VM 'x'");
  status.set_fault("ManagedObjectNotFound");
  EXPECT_THAT(status, Not(IsOk()));
  EXPECT_THAT(status, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(status.ToString(), "NOT_FOUND: no VM 'x' [fault=ManagedObjectNotFound]");
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsFault) {
  Status status = UnavailableError("connection reset");
  status.set_fault("HostCommunication");
  const Status wrapped = status.WithContext("PowerOnVM_Task vm-1");
  EXPECT_EQ(wrapped.message(), "PowerOnVM_Task vm-1: connection reset");
  EXPECT_EQ(wrapped.fault(), "HostCommunication");
  EXPECT_EQ(OkStatus().WithContext("x"), OkStatus());
}

TEST(StatusOrTest, HoldsValueOrError) {
  StatusOr<std::string> good = std::string("vm-1");
  ASSERT_THAT(good, IsOk());
  EXPECT_EQ(*good, "vm-1");
  EXPECT_EQ(good->size(), 4U);
  StatusOr<std::string> bad = InvalidArgumentError("nope");
  EXPECT_THAT(bad, Not(IsOk()));
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(bad.value_or("fallback"), "fallback");
}

TEST(StatusOrTest, MoveOnlyValues) {
  StatusOr<std::unique_ptr<int>> p = std::make_unique<int>(7);
  ASSERT_THAT(p, IsOk());
  std::unique_ptr<int> taken = std::move(p).value();
  EXPECT_EQ(*taken, 7);
}

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd");
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  VSRAY_ASSIGN_OR_RETURN(int half, Half(x));
  VSRAY_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusOrTest, AssignOrReturnPropagatesFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_THAT(Quarter(7), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vsray
