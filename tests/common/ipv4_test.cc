#include "common/ipv4.h"

#include <gtest/gtest.h>

#include "support/status_matchers.h"

namespace vsray {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;

TEST(Ipv4CidrTest, ParsesBlocksAndSingleAddresses) {
  auto cidr = ParseIpv4Cidr("192.168.0.0/16");
  ASSERT_THAT(cidr, IsOk());
  EXPECT_TRUE(cidr->Contains(*ParseIpv4("192.168.44.1")));
  EXPECT_FALSE(cidr->Contains(*ParseIpv4("192.169.0.1")));
  auto single = ParseIpv4Cidr("10.1.2.3");
  ASSERT_THAT(single, IsOk());
  EXPECT_EQ(single->prefix_length, 32);
  EXPECT_TRUE(ParseIpv4Cidr("0.0.0.0/0")->Contains(*ParseIpv4("8.8.8.8")));
}

TEST(Ipv4CidrTest, RejectsMalformedBlocks) {
  for (const char* bad : {"", "10.0.0/8", "10.0.0.0/33", "a.b.c.d/1", "10.0.0.256/8", "10.0.0.0/",
                          "10.0.0.0/8x", "010.0.0.0/8", "10.0.0.1/8"}) {
    EXPECT_THAT(ParseIpv4Cidr(bad), Not(IsOk())) << bad;
  }
}

}  // namespace
}  // namespace vsray
