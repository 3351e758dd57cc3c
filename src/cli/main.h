// The whole `vsray` command line as a function: the `vsray` binary (vsray_main.cc) and the
// Python module's console script (vsray._vsray.main) both run it.
#ifndef VSRAY_CLI_MAIN_H_
#define VSRAY_CLI_MAIN_H_

namespace vsray::cli {

// Parses argv (argv[0] is the program name, argc entries) and runs one subcommand, on this
// process's stdin, stdout and stderr; returns the exit code.
int Main(int argc, char** argv);

}  // namespace vsray::cli

#endif  // VSRAY_CLI_MAIN_H_
