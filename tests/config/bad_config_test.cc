// The bad-config corpus: tests/testdata/configs/bad/NAME.{yaml,json} has exactly one problem
// and NAME.expect says which error it must give:
//   line: N          the line the error must name
//   path: P          the YAML path it must name ("" for file-level errors)
//   message: TEXT    a part of the message
//   env: NAME=VALUE  environment for the load (repeatable; default: none)
//   secret: TEXT     must never appear in the message (the file's password)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "config/cluster_config.h"
#include "support/status_matchers.h"
#include "test_util.h"

namespace vsray::config {
namespace {

using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

struct Expectation {
  std::string file;
  int line = 0;
  std::string path;
  std::string message;
  std::map<std::string, std::string> env;
  std::vector<std::string> secrets;
};

std::vector<Expectation> LoadCorpus() {
  std::vector<Expectation> corpus;
  const std::filesystem::path dir = testing::TestData("bad");
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() == ".expect") continue;
    Expectation expectation;
    expectation.file = path.string();
    std::istringstream lines(
        testing::ReadFile(path.parent_path() / (path.stem().string() + ".expect")));
    std::string line;
    while (std::getline(lines, line)) {
      const std::size_t colon = line.find(": ");
      const std::string key = line.substr(0, colon == std::string::npos ? line.size() : colon);
      const std::string value = colon == std::string::npos ? "" : line.substr(colon + 2);
      if (key == "line") {
        expectation.line = std::stoi(value);
      } else if (key == "path" || key == "path:") {
        expectation.path = value;
      } else if (key == "message") {
        expectation.message = value;
      } else if (key == "env") {
        const std::size_t equals = value.find('=');
        expectation.env[value.substr(0, equals)] = value.substr(equals + 1);
      } else if (key == "secret") {
        expectation.secrets.push_back(value);
      }
    }
    corpus.push_back(std::move(expectation));
  }
  std::sort(corpus.begin(), corpus.end(),
            [](const Expectation& a, const Expectation& b) { return a.file < b.file; });
  return corpus;
}

class BadConfigTest : public ::testing::TestWithParam<Expectation> {};

TEST_P(BadConfigTest, GivesOneLocatedLineWithoutThePassword) {
  const Expectation& expected = GetParam();
  ASSERT_GT(expected.line, 0) << "no 'line:' in the .expect of " << expected.file;
  ASSERT_FALSE(expected.message.empty()) << "no 'message:' in the .expect of " << expected.file;
  testing::TempDir home;
  std::map<std::string, std::string> env = expected.env;
  env["HOME"] = home.path();
  // A password in the environment must not leak either.
  if (env.count("VSPHERE_PASSWORD") == 0 &&
      expected.file.find("missing_password") == std::string::npos &&
      expected.file.find("missing_credentials") == std::string::npos) {
    env["VSPHERE_PASSWORD"] = "env-Pa55word-secret";
  }
  LoadOptions options;
  options.env = testing::FakeEnv(env);
  auto config = LoadClusterConfigFile(expected.file, options);
  ASSERT_THAT(config, Not(IsOk())) << expected.file << " loaded";
  EXPECT_THAT(config, StatusIs(StatusCode::kInvalidArgument));
  const std::string message = config.status().message();
  RecordProperty("message", message);  // in --gtest_output=xml, for reading the corpus
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  std::string prefix = expected.file + ":" + std::to_string(expected.line) + ": ";
  if (!expected.path.empty()) prefix += expected.path + ": ";
  EXPECT_EQ(message.rfind(prefix, 0), 0U)
      << "expected prefix: " << prefix << "\n  got: " << message;
  EXPECT_NE(message.find(expected.message), std::string::npos)
      << "expected: " << expected.message << "\n  got: " << message;
  for (const std::string& secret : expected.secrets) {
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
  }
  EXPECT_EQ(message.find("env-Pa55word-secret"), std::string::npos) << message;
}

std::string CaseName(const ::testing::TestParamInfo<Expectation>& info) {
  std::string name = std::filesystem::path(info.param.file).stem().string();
  for (char& c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadConfigTest, ::testing::ValuesIn(LoadCorpus()), CaseName);

TEST(BadConfigCorpusTest, HasAtLeastThirtyCases) { EXPECT_GE(LoadCorpus().size(), 30U); }

}  // namespace
}  // namespace vsray::config
