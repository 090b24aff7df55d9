#include "cdp_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <stdexcept>
#include <system_error>

namespace easgate::testing {
namespace {

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

int listen_on(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // start() after stop(): same port
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fail("bind");
    if (::listen(fd, 16) != 0) fail("listen");
    return fd;
}

std::uint16_t port_of(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) fail("getsockname");
    return ntohs(address.sin_port);
}

void send_all(int fd, const std::string& text) {
    for (std::size_t sent = 0; sent < text.size();) {
        const auto n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
    }
}

}  // namespace

std::string http_date(std::chrono::seconds ahead) {
    const auto when = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + ahead);
    std::tm utc{};
    gmtime_r(&when, &utc);
    std::array<char, 64> date{};
    std::strftime(date.data(), date.size(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
    return date.data();
}

std::string iis_refusal(const std::string& challenges, std::chrono::seconds ahead) {
    std::string answer = "HTTP/1.1 401 Unauthorized\r\nServer: Microsoft-IIS/10.0\r\n";
    std::size_t start = 0;
    while (start < challenges.size()) {  // one field per scheme, as IIS sends them
        const auto end = std::min(challenges.find(", ", start), challenges.size());
        answer += "WWW-Authenticate: " + challenges.substr(start, end - start) + "\r\n";
        start = end + 2;
    }
    return answer + "Date: " + http_date(ahead) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

CdpServer::CdpServer() {
    listen_fd_ = listen_on(0);
    port_ = port_of(listen_fd_);
    running_ = true;
    thread_ = std::thread([this] { serve(); });
}

CdpServer::~CdpServer() { stop(); }

std::string CdpServer::url(const std::string& name) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + name;
}

void CdpServer::publish(const std::string& name, std::string body) {
    const std::lock_guard lock(mutex_);
    bodies_[name] = std::move(body);
}

void CdpServer::unpublish_all() {
    const std::lock_guard lock(mutex_);
    bodies_.clear();
}

void CdpServer::answer_with(const std::string& name, std::string answer) {
    const std::lock_guard lock(mutex_);
    answers_[name] = std::move(answer);
}

int CdpServer::requests(const std::string& name) const {
    const std::lock_guard lock(mutex_);
    const auto found = requests_.find(name);
    return found == requests_.end() ? 0 : found->second;
}

void CdpServer::stop() {
    if (!running_.exchange(false)) return;
    thread_.join();
    ::close(listen_fd_);
    listen_fd_ = -1;
}

void CdpServer::start() {
    if (running_) return;
    listen_fd_ = listen_on(port_);
    running_ = true;
    thread_ = std::thread([this] { serve(); });
}

// One request per connection; the poll timeout lets stop() end the loop.
void CdpServer::serve() {
    while (running_) {
        pollfd waiting{listen_fd_, POLLIN, 0};
        if (::poll(&waiting, 1, 50) <= 0) continue;
        const int connection = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection < 0) continue;
        answer(connection);
        ::close(connection);
    }
}

void CdpServer::answer(int connection) {
    const timeval two_seconds{2, 0};
    ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds);
    std::string request;
    char chunk[1024];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
        const auto n = ::recv(connection, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        request.append(chunk, static_cast<std::size_t>(n));
    }
    const auto path_start = request.find(" /");
    const auto path_end = request.find(' ', path_start + 1);
    if (path_start == std::string::npos || path_end == std::string::npos) return;
    const std::string name = request.substr(path_start + 2, path_end - path_start - 2);
    std::string body;
    std::string whole_answer;
    bool found = false;
    {
        const std::lock_guard lock(mutex_);
        ++requests_[name];
        if (const auto it = answers_.find(name); it != answers_.end()) whole_answer = it->second;
        if (const auto it = bodies_.find(name); it != bodies_.end()) {
            body = it->second;
            found = true;
        }
    }
    if (!whole_answer.empty()) {
        send_all(connection, whole_answer);
        return;
    }
    send_all(connection, std::string(found ? "HTTP/1.1 200 OK" : "HTTP/1.1 404 Not Found") +
                             "\r\nContent-Type: application/pkix-crl\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

}  // namespace easgate::testing
