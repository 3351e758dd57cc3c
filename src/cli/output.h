// Terminal output of the vsray command line: tables, per-node progress and confirmations.
#ifndef VSRAY_CLI_OUTPUT_H_
#define VSRAY_CLI_OUTPUT_H_

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

namespace vsray::cli {

// Whether a stream is a terminal (progress is redrawn in place only then).
bool IsTerminal(std::FILE* stream);

// Prints rows under a header, columns padded to their widest cell.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// Live progress of several nodes, on stderr. On a terminal: one line per node, redrawn in place
// as states change. Otherwise (CI logs, pipes): one plain line per change. Thread-safe.
class Progress {
 public:
  // `enabled` false: prints nothing (--quiet, --json on a pipe).
  Progress(bool enabled, bool terminal);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Sets (or adds) the state of `item`.
  void Update(const std::string& item, const std::string& state);
  // Stops redrawing; later output goes below the last drawn lines.
  void Finish();

 private:
  void Redraw();

  const bool enabled_;
  const bool terminal_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> items_;
  std::size_t drawn_ = 0;  // lines drawn by the last redraw
  bool finished_ = false;
};

// Asks `question` on the terminal; true only for an answer starting with y/Y.
bool Confirm(const std::string& question);

}  // namespace vsray::cli

#endif  // VSRAY_CLI_OUTPUT_H_
