#include "config/yaml_tree.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "support/status_matchers.h"

namespace vsray::config {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

using nlohmann::json;

TEST(ResolvePlainScalarTest, TypesScalarsLikePyYaml) {
  EXPECT_EQ(ResolvePlainScalar(""), json(nullptr));
  EXPECT_EQ(ResolvePlainScalar("~"), json(nullptr));
  EXPECT_EQ(ResolvePlainScalar("null"), json(nullptr));
  EXPECT_EQ(ResolvePlainScalar("NULL"), json(nullptr));
  for (const char* text : {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}) {
    EXPECT_EQ(ResolvePlainScalar(text), json(true)) << text;
  }
  for (const char* text : {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}) {
    EXPECT_EQ(ResolvePlainScalar(text), json(false)) << text;
  }
  EXPECT_EQ(ResolvePlainScalar("y"), json("y"));  // PyYAML: a string
  EXPECT_EQ(ResolvePlainScalar("tRue"), json("tRue"));
  EXPECT_EQ(ResolvePlainScalar("42"), json(42));
  EXPECT_EQ(ResolvePlainScalar("-7"), json(-7));
  EXPECT_EQ(ResolvePlainScalar("+7"), json(7));
  EXPECT_EQ(ResolvePlainScalar("0"), json(0));
  EXPECT_EQ(ResolvePlainScalar("0x1F"), json(31));
  EXPECT_EQ(ResolvePlainScalar("017"), json(15));
  EXPECT_EQ(ResolvePlainScalar("0b101"), json(5));
  EXPECT_EQ(ResolvePlainScalar("1_000"), json(1000));
  EXPECT_EQ(ResolvePlainScalar("1:30"), json(90));
  EXPECT_EQ(ResolvePlainScalar("09"), json("09"));  // not octal, not decimal: a string
  EXPECT_EQ(ResolvePlainScalar("9223372036854775807"), json(9223372036854775807LL));
  EXPECT_TRUE(ResolvePlainScalar("99999999999999999999").is_number_float());
  EXPECT_EQ(ResolvePlainScalar("1.5"), json(1.5));
  EXPECT_EQ(ResolvePlainScalar("1."), json(1.0));
  EXPECT_EQ(ResolvePlainScalar(".5"), json(0.5));
  EXPECT_EQ(ResolvePlainScalar("-2.5"), json(-2.5));
  EXPECT_EQ(ResolvePlainScalar("1.0e+3"), json(1000.0));
  EXPECT_EQ(ResolvePlainScalar("1e3"), json(1000.0));
  EXPECT_EQ(ResolvePlainScalar("1:30.5"), json(90.5));
  EXPECT_TRUE(ResolvePlainScalar("1.0").is_number_float());
  EXPECT_EQ(ResolvePlainScalar(".inf").get<double>(), INFINITY);
  EXPECT_EQ(ResolvePlainScalar("-.Inf").get<double>(), -INFINITY);
  EXPECT_TRUE(std::isnan(ResolvePlainScalar(".nan").get<double>()));
  EXPECT_EQ(ResolvePlainScalar("1.2.3"), json("1.2.3"));
  EXPECT_EQ(ResolvePlainScalar("."), json("."));
  EXPECT_EQ(ResolvePlainScalar("10.0.0.0/8"), json("10.0.0.0/8"));
  EXPECT_EQ(ResolvePlainScalar("ray.head.default"), json("ray.head.default"));
}

TEST(ParseConfigTextTest, QuotedAndBlockScalarsAreStrings) {
  auto document = ParseConfigText(
      "a: \"yes\"\nb: '42'\nc: |\n  two\n  lines\nd: !!str 5\ne: >\n  folded\nf: plain\n", "t");
  ASSERT_THAT(document, IsOk());
  const json& root = document->root;
  EXPECT_EQ(root["a"], json("yes"));
  EXPECT_EQ(root["b"], json("42"));
  EXPECT_EQ(root["c"], json("two\nlines\n"));
  EXPECT_EQ(root["d"], json("5"));
  EXPECT_EQ(root["e"], json("folded\n"));
  EXPECT_EQ(root["f"], json("plain"));
}

TEST(ParseConfigTextTest, RecordsLinesOfKeysAndValues) {
  const std::string text =
      "# comment\n"
      "cluster_name: x\n"    // 2
      "provider:\n"          // 3
      "  vsphere_config:\n"  // 4
      "    frozen_vm:\n"     // 5
      "      name: f\n"      // 6
      "      datastore:\n"   // 7 (null)
      "      cluster: c\n"   // 8
      "list:\n"              // 9
      "  - a\n"              // 10
      "  - b\n";             // 11
  auto document = ParseConfigText(text, "t.yaml");
  ASSERT_THAT(document, IsOk());
  const SourceMap& lines = document->lines;
  const ConfigPath frozen = ConfigPath().Key("provider").Key("vsphere_config").Key("frozen_vm");
  EXPECT_EQ(lines.ValueLine(ConfigPath().Key("cluster_name")), 2);
  EXPECT_EQ(lines.KeyLine(frozen), 5);
  EXPECT_EQ(lines.ValueLine(frozen.Key("name")), 6);
  EXPECT_EQ(lines.ValueLine(frozen.Key("datastore")), 7);  // not the next key's line
  EXPECT_EQ(lines.ValueLine(frozen.Key("cluster")), 8);
  EXPECT_EQ(lines.ValueLine(ConfigPath().Key("list").Index(1)), 11);
  EXPECT_TRUE(document->root["provider"]["vsphere_config"]["frozen_vm"]["datastore"].is_null());
}

TEST(ParseConfigTextTest, AppliesMergeKeysWithExplicitKeysWinning) {
  auto document = ParseConfigText(
      "base: &base {resource_pool: p1, datastore: d1}\n"
      "worker:\n"
      "  <<: *base\n"
      "  datastore: d2\n"
      "multi:\n"
      "  <<: [{a: 1}, {a: 2, b: 3}]\n",
      "t");
  ASSERT_THAT(document, IsOk());
  EXPECT_EQ(document->root["worker"], json({{"resource_pool", "p1"}, {"datastore", "d2"}}));
  EXPECT_EQ(document->root["multi"], json({{"a", 1}, {"b", 3}}));
  EXPECT_EQ(document->lines.ValueLine(ConfigPath().Key("worker").Key("datastore")), 4);
}

TEST(ParseConfigTextTest, ReadsJsonWithLines) {
  auto document =
      ParseConfigText("{\n  \"a\": 1,\n  \"b\": [true, null, \"x\"],\n  \"c\": 1.5\n}", "c.json");
  ASSERT_THAT(document, IsOk());
  EXPECT_EQ(document->root, json({{"a", 1}, {"b", {true, nullptr, "x"}}, {"c", 1.5}}));
  EXPECT_EQ(document->lines.ValueLine(ConfigPath().Key("b")), 3);
}

TEST(ParseConfigTextTest, ReadsJsonThatYamlRefuses) {
  // Tabs for indentation are fine in JSON but not in YAML block context.
  auto document = ParseConfigText("{\n\t\"a\":\t{\n\t\t\"b\": 1\n\t}\n}\n", "c.json");
  ASSERT_THAT(document, IsOk());
  EXPECT_EQ(document->root["a"]["b"], json(1));
}

TEST(ParseConfigTextTest, EmptyDocumentIsNull) {
  for (const char* text : {"", "\n\n", "# nothing\n# here\n", "\xEF\xBB\xBF"}) {
    auto document = ParseConfigText(text, "t");
    ASSERT_THAT(document, IsOk());
    EXPECT_TRUE(document->root.is_null());
  }
}

struct BadText {
  const char* text;
  const char* expected;
};

TEST(ParseConfigTextTest, RejectsBadTextWithLine) {
  const BadText cases[] = {
      {"a: 1\nb: [1, 2\nc: 3\n", "t.yaml:"},
      {"a: 1\nb: 2\na: 3\n", "t.yaml:3: (top level): duplicate key 'a' (first given on line 1)"},
      {"a: 1\n\x01\x02\x03", "t.yaml:2: not a text file (control byte 0x01)"},
      {"a: 1\nb: \xff\xfe\n", "t.yaml:2: not UTF-8 text (invalid byte 0xff)"},
      {"a: \xc0\xaf\n", "t.yaml:1: not UTF-8 text"},  // overlong encoding
      {"a: 1\n---\nb: 2\n", "t.yaml:2: more than one YAML document"},
      // yaml-cpp's LoadAll never returned on this; PyYAML says the same as libyaml.
      {" r: 1\n,a:\n", "t.yaml:2: YAML syntax error: did not find expected <document start>"},
      {"a: *nowhere\n", "t.yaml:1: YAML syntax error: found undefined alias 'nowhere'"},
      {"a: &x [*x]\n", "t.yaml:1: a"},  // an alias inside its own anchor
      {"---\na: 1\n---\nb: 2\n", "t.yaml:3: more than one YAML document"},
      {"a: !python/object x\n", "t.yaml:1: a: unsupported YAML tag '!python/object'"},
      {"a: !!int abc\n", "t.yaml:1: a: the value does not match its tag"},
      {"? [a, b]\n: 1\n", "t.yaml:1: (top level): mapping keys must be plain strings"},
      {"a:\n  b: 1\n  b: 2\n", "t.yaml:3: a: duplicate key 'b'"},
  };
  for (const BadText& bad : cases) {
    auto document = ParseConfigText(bad.text, "t.yaml");
    ASSERT_THAT(document, Not(IsOk())) << bad.text;
    EXPECT_THAT(document, StatusIs(StatusCode::kInvalidArgument));
    EXPECT_EQ(document.status().message().rfind(bad.expected, 0), 0U)
        << document.status().message();
    EXPECT_EQ(document.status().message().find('\n'), std::string::npos);
  }
}

TEST(ParseConfigTextTest, SyntaxErrorNamesItsLine) {
  auto document = ParseConfigText("a: 1\nb:\n  - x\n  y: 2\n", "s.yaml");
  ASSERT_THAT(document, Not(IsOk()));
  EXPECT_EQ(document.status().message().rfind("s.yaml:4: YAML syntax error: ", 0), 0U)
      << document.status().message();
}

TEST(ParseConfigTextTest, StopsAliasBombs) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 7; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += std::string(k ? ", " : "") + "*a" + std::to_string(i - 1);
    text += "]\n";
  }
  auto document = ParseConfigText(text, "bomb.yaml");
  ASSERT_THAT(document, Not(IsOk()));
  EXPECT_NE(document.status().message().find("more than 1,000,000 values"), std::string::npos);
}

TEST(ToYamlTest, RoundTripsTrickyValues) {
  const json tree = {
      {"strings",
       {"yes", "no", "1.0", "42", "", "null", "~", "a: b", "- x", "#hash", "two\nlines", "üñí",
        "0x10", "1:30", " padded ", "'quoted'", "\"dq\""}},
      {"numbers", {1, -2, 1.0, 2.5, 1e300, 9223372036854775807LL}},
      {"flags", {true, false, nullptr}},
      {"yes", "key that reads as a bool"},
      {"empty_object", json::object()},
      {"empty_list", json::array()},
      {"nested", {{"a", {{"b", {1, {{"c", "d"}}}}}}}},
  };
  const std::string yaml = ToYaml(tree);
  auto document = ParseConfigText(yaml, "roundtrip");
  ASSERT_THAT(document, IsOk()) << document.status() << "\n" << yaml;
  EXPECT_EQ(document->root, tree) << yaml;
  EXPECT_TRUE(document->root["numbers"][2].is_number_float());
}

}  // namespace
}  // namespace vsray::config
