#pragma once

// Real processes for end-to-end tests: easgate, the test upstream and curl run as they would in
// production, and are always stopped, even when a test fails.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace easgate::testing {

class ChildProcess {
public:
    // Starts argv[0] (searched in PATH) with stdout and stderr appended to the given files.
    ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& stdout_file,
                 const std::filesystem::path& stderr_file);
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();  // stops it if still running

    bool running();
    // Waits up to timeout for the process to end; its exit code (or 128+signal), or -1 if still running.
    int wait(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL after grace; returns the wait status' exit code (or 128+signal).
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    // SIGKILL, as a crash or a power cut would end it: no handler runs, the kernel closes its sockets.
    void crash();
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int status_ = -1;
};

struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs a command to completion (killed after timeout) and returns its exit code and output.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Polls until text containing needle appears in file; returns the file's contents then, or "".
std::string wait_for_text(const std::filesystem::path& file, const std::string& needle,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20));

std::string read_file(const std::filesystem::path& path);

// How many times needle occurs in text (overlaps included): log lines, KDC exchanges.
std::size_t count_of(const std::string& text, const std::string& needle);
// The first line of text that holds needle, without its line end; "" when none does.
std::string line_holding(const std::string& text, const std::string& needle);
std::filesystem::path make_temp_dir(const std::string& prefix);
std::uint16_t free_tcp_port();  // bound and released; good enough on a test machine
// The first free descriptor number of process pid: with its limit just above it, the next socket it
// opens takes it and the one after that fails with EMFILE; with its limit at it, the next fails.
int first_free_descriptor(pid_t pid);

}  // namespace easgate::testing
