#include "config/diagnostics.h"

#include <gtest/gtest.h>

#include "support/status_matchers.h"

namespace vsray::config {
namespace {

using ::vsray::testing::StatusIs;

TEST(ConfigPathTest, DisplaysDottedPathsAndQuotesOddKeys) {
  const ConfigPath root;
  EXPECT_EQ(root.Display(), "(top level)");
  EXPECT_EQ(root.Pointer(), "");
  const ConfigPath frozen = root.Key("provider").Key("vsphere_config").Key("frozen_vm");
  EXPECT_EQ(frozen.Display(), "provider.vsphere_config.frozen_vm");
  EXPECT_EQ(frozen.Pointer(), "/provider/vsphere_config/frozen_vm");
  const ConfigPath head = root.Key("available_node_types").Key("ray.head.default").Key("resources");
  EXPECT_EQ(head.Display(), "available_node_types[\"ray.head.default\"].resources");
  EXPECT_EQ(root.Key("setup_commands").Index(2).Display(), "setup_commands[2]");
  EXPECT_EQ(root.Key("setup_commands").Index(2).Pointer(), "/setup_commands/2");
  EXPECT_EQ(root.Key("file_mounts").Key("~/a/b").Pointer(), "/file_mounts/~0~1a~1b");
  EXPECT_EQ(root.Key("a\"b").Display(), "[\"a\\\"b\"]");
  EXPECT_EQ(frozen.Parent().Display(), "provider.vsphere_config");
}

TEST(SourceMapTest, FallsBackToTheNearestAncestor) {
  SourceMap lines;
  const ConfigPath provider = ConfigPath().Key("provider");
  lines.Set(ConfigPath().Pointer(), {0, 1});
  lines.Set(provider.Pointer(), {5, 6});
  EXPECT_EQ(lines.ValueLine(provider), 6);
  EXPECT_EQ(lines.KeyLine(provider), 5);
  EXPECT_EQ(lines.ValueLine(provider.Key("vsphere_config").Key("frozen_vm")), 6);
  EXPECT_EQ(lines.ValueLine(ConfigPath().Key("elsewhere")), 1);
  const SourceMap empty;
  EXPECT_EQ(empty.ValueLine(provider), 1);
}

TEST(ConfigErrorTest, IsOneLineWithSourceLineAndPath) {
  const Status status = ConfigError("cluster.yaml", 12, "provider.vsphere_config.frozen_vm",
                                    "'datastore' is required\nwhen 'library_item' is given");
  EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(status.message(),
            "cluster.yaml:12: provider.vsphere_config.frozen_vm: 'datastore' is required when "
            "'library_item' is given");
  EXPECT_EQ(ConfigError("c.yaml", 0, "", "bad").message(), "c.yaml:1: bad");
}

TEST(EditDistanceTest, CountsEditsAndTranspositions) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3U);
  EXPECT_EQ(EditDistance("datastroe", "datastore"), 1U);
  EXPECT_EQ(EditDistance("Datastore", "datastore"), 0U);
  EXPECT_EQ(EditDistance("", "abc"), 3U);
  EXPECT_EQ(EditDistance("abc", ""), 3U);
}

TEST(ClosestMatchTest, SuggestsOnlyLikelyTypos) {
  const std::vector<std::string> keys = {"datacenter", "datastore", "folder", "frozen_vm"};
  EXPECT_EQ(ClosestMatch("datacentre", keys), "datacenter");
  EXPECT_EQ(ClosestMatch("frozenvm", keys), "frozen_vm");
  EXPECT_EQ(ClosestMatch("folders", keys), "folder");
  EXPECT_EQ(ClosestMatch("namespace", keys), "");
  EXPECT_EQ(ClosestMatch("x", keys), "");
  EXPECT_EQ(ClosestMatch("anything", {}), "");
}

TEST(RedactSecretTest, ReplacesEveryOccurrence) {
  EXPECT_EQ(RedactSecret("a hunter2 b hunter2", "hunter2"), "a ***** b *****");
  EXPECT_EQ(RedactSecret("short ab", "ab"), "short ab");  // too short to redact sensibly
  EXPECT_EQ(RedactSecret("nothing", ""), "nothing");
}

}  // namespace
}  // namespace vsray::config
