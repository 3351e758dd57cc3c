// The `vsray` binary: everything is in cli::Main (main.cc), which the Python module runs too.
#include "cli/main.h"

int main(int argc, char** argv) { return vsray::cli::Main(argc, argv); }
