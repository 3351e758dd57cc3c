#include "common/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace vsray {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.ToString(), "OK");
}

TEST(StatusTest, CarriesCodeMessageAndFault) {
  Status status = NotFoundError("no VM 'x'");
  status.set_fault("ManagedObjectNotFound");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
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
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, "vm-1");
  EXPECT_EQ(good->size(), 4U);
  StatusOr<std::string> bad = InvalidArgumentError("nope");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or("fallback"), "fallback");
}

TEST(StatusOrTest, MoveOnlyValues) {
  StatusOr<std::unique_ptr<int>> p = std::make_unique<int>(7);
  ASSERT_TRUE(p.ok());
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
  EXPECT_EQ(Quarter(7).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vsray
