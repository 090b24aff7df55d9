#include "child_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace easgate::testing {
namespace {

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& out,
            const std::filesystem::path& err) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    return pid;
}

// Waits up to timeout for pid; returns its wait status, or -1 if still running.
int wait_for(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        if (std::chrono::steady_clock::now() >= deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& stdout_file,
                           const std::filesystem::path& stderr_file)
    : pid_(spawn(argv, stdout_file, stderr_file)) {}

ChildProcess::~ChildProcess() { stop(); }

bool ChildProcess::running() { return wait(std::chrono::milliseconds(0)) == -1; }

int ChildProcess::wait(std::chrono::milliseconds timeout) {
    if (status_ == -1) status_ = wait_for(pid_, timeout);
    return status_ == -1 ? -1 : exit_code_of(status_);
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
    if (running()) {
        kill(pid_, SIGTERM);
        status_ = wait_for(pid_, grace);
        if (status_ == -1) {
            kill(pid_, SIGKILL);
            status_ = wait_for(pid_, std::chrono::seconds(5));
        }
    }
    return exit_code_of(status_);
}

void ChildProcess::crash() {
    if (!running()) return;
    ::kill(pid_, SIGKILL);
    status_ = wait_for(pid_, std::chrono::seconds(5));
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    const auto dir = make_temp_dir("command");
    CommandResult result;
    {
        ChildProcess child(argv, dir / "out", dir / "err");
        result.exit_code = child.wait(timeout);
        if (result.exit_code == -1) result.exit_code = child.stop(std::chrono::milliseconds(100));
    }
    result.out = read_file(dir / "out");
    result.err = read_file(dir / "err");
    std::filesystem::remove_all(dir);
    return result;
}

std::string wait_for_text(const std::filesystem::path& file, const std::string& needle,
                          std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto text = read_file(file);
        if (text.find(needle) != std::string::npos) return text;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "";
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::filesystem::path make_temp_dir(const std::string& prefix) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("easgate-" + prefix + "-XXXXXX")).string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return pattern;
}

std::uint16_t free_tcp_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
    return count;
}

}  // namespace easgate::testing
