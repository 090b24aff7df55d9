#include "child_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

extern char** environ;

namespace easgate::testing {
namespace {

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// argv[0] as execvp would find it, looked up before fork: a forked child may only make system calls.
std::string executable_path(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path = std::getenv("PATH");
    std::string_view directories = path ? path : "/usr/bin:/bin";
    while (!directories.empty()) {
        const std::size_t colon = directories.find(':');
        const std::string directory(directories.substr(0, colon));
        const std::string candidate = (directory.empty() ? "." : directory) + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
        directories.remove_prefix(colon == std::string_view::npos ? directories.size() : colon + 1);
    }
    return name;  // execve fails with ENOENT, reported as for any other failure to start
}

// Everything the child needs, made before fork.
struct LaunchPlan {
    std::string executable;
    std::vector<char*> argv;
    std::string out;
    std::string err;
};

// Runs in the forked child: async-signal-safe calls only. On failure the errno goes to report_fd.
[[noreturn]] void become(const LaunchPlan& plan, pid_t parent, int report_fd) {
    // The child dies with the test binary, however that ends: SIGKILL, abort, an ASan report.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // it ended before the line above took effect
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // the launcher thread blocks every signal; easgate must not
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(plan.out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int err = open(plan.err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0 && out >= 0 && err >= 0 && dup2(in, 0) == 0 && dup2(out, 1) == 1 && dup2(err, 2) == 2) {
        for (const int fd : {in, out, err}) {
            if (fd > 2) close(fd);
        }
        execve(plan.executable.c_str(), plan.argv.data(), environ);
    }
    const int failure = errno;
    [[maybe_unused]] const auto written = write(report_fd, &failure, sizeof failure);
    _exit(127);
}

pid_t fork_and_exec(const LaunchPlan& plan) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) become(plan, parent, report[1]);
    close(report[1]);
    int failure = 0;
    const ssize_t got = pid < 0 ? 0 : read(report[0], &failure, sizeof failure);  // 0: exec closed it
    close(report[0]);
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (got > 0) {
        waitpid(pid, nullptr, 0);
        throw std::runtime_error("cannot start " + std::string(plan.argv[0]) + ": " + std::strerror(failure));
    }
    return pid;
}

// PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: a child
// forked by a test's short-lived thread (a device loop, a crasher) would die with that thread. So
// every child is forked by this thread, which lives as long as the test binary, with every signal
// blocked so that none meant for the process lands on it.
class Launcher {
public:
    static Launcher& of_this_process() {
        static std::mutex guard;
        static Launcher* launcher = nullptr;  // never deleted: it must outlive every child
        static pid_t owner = 0;
        const std::lock_guard lock(guard);
        if (owner != getpid()) {  // first use, or a forked copy of the process without the thread
            launcher = new Launcher;
            owner = getpid();
        }
        return *launcher;
    }

    pid_t launch(const LaunchPlan& plan) {
        std::packaged_task<pid_t()> job([&plan] { return fork_and_exec(plan); });
        auto pid = job.get_future();
        {
            const std::lock_guard lock(mutex_);
            jobs_.push_back(&job);
        }
        wake_.notify_one();
        return pid.get();
    }

private:
    Launcher() {
        sigset_t all, previous;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &previous);
        std::thread([this] { serve(); }).detach();
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    }

    [[noreturn]] void serve() {
        for (;;) {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return !jobs_.empty(); });
            auto* job = jobs_.front();
            jobs_.pop_front();
            lock.unlock();
            (*job)();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::packaged_task<pid_t()>*> jobs_;
};

pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& out,
            const std::filesystem::path& err) {
    LaunchPlan plan{executable_path(argv.at(0)), {}, out.string(), err.string()};
    for (const auto& a : argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
    plan.argv.push_back(nullptr);
    return Launcher::of_this_process().launch(plan);
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

std::string line_holding(const std::string& text, const std::string& needle) {
    const auto at = text.find(needle);
    if (at == std::string::npos) return "";
    const auto begin = text.rfind('\n', at);
    const auto start = begin == std::string::npos ? 0 : begin + 1;
    return text.substr(start, text.find('\n', at) - start);
}

int first_free_descriptor(pid_t pid) {
    std::vector<bool> used;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        const auto fd = static_cast<std::size_t>(std::stoi(entry.path().filename()));
        if (used.size() <= fd) used.resize(fd + 1);
        used[fd] = true;
    }
    std::size_t free = 0;
    while (free < used.size() && used[free]) ++free;
    return static_cast<int>(free);
}

}  // namespace easgate::testing
