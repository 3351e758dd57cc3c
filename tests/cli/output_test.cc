// The command line's output helpers: progress drawing (with a fake clock and a given terminal
// size), node state words and failure codes.
#include "cli/output.h"

#include <gtest/gtest.h>

#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace vsray::cli {
namespace {

using std::chrono::seconds;

TerminalInfo Terminal(int rows, int cols, bool ansi = true) {
  return TerminalInfo{.terminal = true, .ansi = ansi, .rows = rows, .cols = cols};
}

// What `draw` writes to stderr.
template <typename Draw>
std::string Stderr(Draw draw) {
  testing::internal::CaptureStderr();
  draw();
  return testing::internal::GetCapturedStderr();
}

// The text after the last "clear to the end of the screen": the block as it stands.
std::string LastFrame(const std::string& out) { return out.substr(out.rfind("\x1b[J") + 3); }

TEST(ProgressTest, OneLinePerNodeWhileTheyFit) {
  FakeClock clock;
  Progress progress(true, Terminal(10, 80), clock);
  const std::string out = Stderr([&] {
    progress.Update("node-a", "cloning");
    clock.Advance(seconds(65));
    progress.Update("node-b", "configuring");
  });
  EXPECT_EQ(LastFrame(out), "vsray [1m05s] 2 VM(s)\n  node-a  cloning\n  node-b  configuring\n");
  EXPECT_NE(out.find("\x1b[2F"), std::string::npos);  // redrawn over the 2 lines of before
}

TEST(ProgressTest, CountsPerStateWhenNodesDoNotFit) {
  FakeClock clock;
  Progress progress(true, Terminal(6, 80), clock);
  const std::string out = Stderr([&] {
    for (int i = 0; i < 8; ++i) progress.Update("node-" + std::to_string(i), "cloning");
    progress.Update("node-0", "running, 10.0.0.1");
    progress.Update("node-1", "failed: no host");
  });
  EXPECT_EQ(LastFrame(out), "vsray [0s] 8 VM(s): running 1 \u00b7 failed 1 \u00b7 cloning 6\n");
  // Never more lines drawn than the terminal has: the block moved up at most 5 rows.
  EXPECT_EQ(out.find("\x1b[6F"), std::string::npos);
  EXPECT_EQ(out.find("\x1b[7F"), std::string::npos);
}

TEST(ProgressTest, LinesAreCutToTheWidth) {
  FakeClock clock;
  Progress progress(true, Terminal(10, 12), clock);
  const std::string out = Stderr([&] { progress.Update("a-long-node-name", "cloning"); });
  EXPECT_EQ(LastFrame(out), "vsray [0s] \n  a-long-no\n");
}

TEST(ProgressTest, PlainLinesWithoutEscapeCodes) {
  FakeClock clock;
  Progress progress(true, Terminal(3, 80, /*ansi=*/false), clock);
  const std::string out = Stderr([&] {
    progress.Update("node-a", "cloning");
    clock.Advance(seconds(7));
    progress.Update("node-a", "created");
  });
  EXPECT_EQ(out, "vsray: node-a: cloning (0s)\nvsray: node-a: created (7s)\n");
}

TEST(ProgressTest, DisabledOrFinishedPrintsNothing) {
  FakeClock clock;
  Progress quiet(false, Terminal(10, 80), clock);
  Progress done(true, Terminal(10, 80), clock);
  done.Finish();
  EXPECT_EQ(Stderr([&] {
              quiet.Update("node-a", "cloning");
              done.Update("node-a", "cloning");
            }),
            "");
}

TEST(NodeStateWordTest, TheTablesWords) {
  EXPECT_EQ(NodeStateWord("poweredOn", ""), "running");
  EXPECT_EQ(NodeStateWord("poweredOff", "created"), "stopped");
  EXPECT_EQ(NodeStateWord("suspended", ""), "suspended");
  EXPECT_EQ(NodeStateWord("poweredOn", "creating"), "creating");
  EXPECT_EQ(NodeStateWord("", ""), "unknown");
}

TEST(FailureTest, CodesAndLines) {
  Status tls = UnauthenticatedError("TLS: not trusted");
  tls.set_fault("TlsVerification");
  EXPECT_EQ(FailureCode(tls), "tls");
  EXPECT_EQ(FailureCode(UnauthenticatedError("wrong password")), "login_failed");
  EXPECT_EQ(FailureCode(DeadlineExceededError("slow")), "timeout");
  EXPECT_EQ(FailureCode(CancelledError("stop")), "interrupted");
  EXPECT_EQ(FailureCode(InternalError("x"), "clone_failed"), "clone_failed");
  Status fault = InternalError("cannot power on");
  fault.set_fault("InvalidPowerState");
  const Failure failure = Failure::Of(fault, "worker", "vm-42", "clone_failed");
  EXPECT_EQ(failure.code, "clone_failed");
  EXPECT_EQ(failure.fault, "InvalidPowerState");
  EXPECT_EQ(failure.Line(), "node type 'worker': vm-42: cannot power on");
  const auto json = FailuresJson({failure, Failure::Of(NotFoundError("gone"), "", "", "x")});
  EXPECT_EQ(json[0]["fault"], "InvalidPowerState");
  EXPECT_TRUE(json[1]["node_type"].is_null() && json[1]["id"].is_null() &&
              json[1]["fault"].is_null());
  EXPECT_EQ(json[1]["code"], "not_found");
}

}  // namespace
}  // namespace vsray::cli
