// Terminal output of the vsray command line: the JSON contract (one document per command),
// tables, per-node progress and confirmations.
#ifndef VSRAY_CLI_OUTPUT_H_
#define VSRAY_CLI_OUTPUT_H_

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace vsray::cli {

// The version of the --json contract (README "JSON output", docs/json-contract.schema.json).
inline constexpr int kJsonSchemaVersion = 1;

// The one --json document of a run. main() says which subcommand runs and whether --json was
// given; commands build their document with JsonDocument and print it with PrintJson; a fatal
// error (FailRun) prints {"error": ...} instead when nothing was printed yet.
void SetJsonOutput(std::string command, bool enabled);
bool JsonOutputEnabled();
// {"schema_version": 1, "command": "<subcommand>", "cluster_name": ...} (cluster_name only
// when not empty).
nlohmann::json JsonDocument(const std::string& cluster_name = "");
// Prints `document` on stdout (once per run; later calls are ignored).
void PrintJson(const nlohmann::json& document);

// A short stable word for a failure, from its status ("timeout", "not_found", "interrupted",
// ...); `fallback` for codes without a word of their own.
std::string FailureCode(const Status& status, std::string_view fallback = "failed");

// The one-line error of a fatal failure on stderr and, with --json and no document printed yet,
// {"error": {"code", "fault", "message"}} on stdout. `code` "" = FailureCode(status).
// Returns `exit_code`.
int FailRun(const Status& status, int exit_code, std::string_view code = "");

// One failed item (a node not made, not terminated, ...), the same shape in every command.
struct Failure {
  std::string node_type;  // "" = not known
  std::string id;         // "" = not known (e.g. a clone that never existed)
  std::string code;       // FailureCode
  std::string fault;      // the vSphere fault name, "" = none
  std::string message;

  static Failure Of(const Status& status, std::string node_type, std::string id,
                    std::string_view fallback_code);
  // "node type 'worker': vm-42: message" as stderr shows it.
  std::string Line() const;
};
nlohmann::json FailuresJson(const std::vector<Failure>& failures);

// A node's state in one word, as both the table and JSON show it: "creating" while vsray
// still sets it up (`vsray_status` the vsray-node-status tag), else from vSphere's power
// state: "running", "stopped", "suspended", "unknown".
std::string NodeStateWord(const std::string& power_state, const std::string& vsray_status);

// Whether a stream is a terminal.
bool IsTerminal(std::FILE* stream);

// What progress may draw on stderr.
struct TerminalInfo {
  bool terminal = false;  // stderr is a terminal
  bool ansi = false;      // and may get escape codes (not TERM=dumb, no NO_COLOR)
  int rows = 24;          // its size (TIOCGWINSZ), 24x80 when unknown
  int cols = 80;
};
TerminalInfo StderrTerminal();

// Prints rows under a header, columns padded to their widest cell.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// Live progress of 1 to 1,000 nodes, on stderr. With escape codes: a header line with the
// elapsed time and one line per node, redrawn in place while they fit the terminal; counts per
// state ("cloning 8 · configuring 3 · running 40") on one line when they do not. Otherwise (CI
// logs, pipes, TERM=dumb, NO_COLOR): one plain line per change. Thread-safe.
class Progress {
 public:
  // `enabled` false: prints nothing (--quiet).
  Progress(bool enabled, TerminalInfo terminal, Clock& clock = SystemClock::Instance());
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Sets (or adds) the state of `item`.
  void Update(const std::string& item, const std::string& state);
  // Stops redrawing; later output goes below the last drawn lines.
  void Finish();

 private:
  void Redraw();
  std::string Elapsed() const;
  std::string Counts() const;
  std::string Fit(std::string line) const;

  const bool enabled_;
  const TerminalInfo terminal_;
  Clock& clock_;
  const Clock::TimePoint start_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> items_;
  std::size_t drawn_ = 0;  // lines drawn by the last redraw
  bool finished_ = false;
};

// "vsray: connecting to vCenter <server>…" on stderr while connecting, when it is a terminal
// (not --quiet); erased once connected when escape codes may be used.
class ConnectingNotice {
 public:
  ConnectingNotice(bool quiet, const std::string& server);
  ~ConnectingNotice() { Done(); }
  ConnectingNotice(const ConnectingNotice&) = delete;
  ConnectingNotice& operator=(const ConnectingNotice&) = delete;
  void Done();

 private:
  bool erase_ = false;
};

// Asks `question` on the terminal; true only for an answer starting with y/Y.
bool Confirm(const std::string& question);

}  // namespace vsray::cli

#endif  // VSRAY_CLI_OUTPUT_H_
