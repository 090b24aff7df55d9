#pragma once

// A CA's CRL Distribution Point for tests: plain HTTP on loopback, serving what the test publishes,
// so a gateway can fetch CRLs from the URLs written into the test PKI's certificates.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace easgate::testing {

// An HTTP Date field's value (IMF-fixdate) for a clock `ahead` of this one, as IIS dates each answer.
std::string http_date(std::chrono::seconds ahead = {});

// What IIS answers a request without credentials where Windows Authentication is on: a 401 with
// these WWW-Authenticate challenges ("" for none), dated by a clock `ahead` of this one.
std::string iis_refusal(const std::string& challenges = "Negotiate, NTLM", std::chrono::seconds ahead = {});

class CdpServer {
public:
    CdpServer();  // listens on 127.0.0.1, on a free port it keeps for its lifetime
    ~CdpServer();
    CdpServer(const CdpServer&) = delete;
    CdpServer& operator=(const CdpServer&) = delete;

    // http://127.0.0.1:<port>/<name>
    std::string url(const std::string& name) const;
    std::uint16_t port() const { return port_; }
    // GET /<name> answers body from now on; an unpublished name answers 404.
    void publish(const std::string& name, std::string body);
    void unpublish_all();
    // Any request for /<name> gets answer, a whole HTTP answer (status line, fields, body), from now
    // on: a stand-in for another plain HTTP server (Exchange's first answer, for the doctor).
    void answer_with(const std::string& name, std::string answer);
    // How many GETs asked for name.
    int requests(const std::string& name) const;
    // stop() closes the listening socket (fetches are refused); start() opens it again.
    void stop();
    void start();

private:
    void serve();
    void answer(int connection);

    std::uint16_t port_ = 0;
    int listen_fd_ = -1;
    std::atomic<bool> running_{false};
    std::thread thread_;
    mutable std::mutex mutex_;
    std::map<std::string, std::string> bodies_;
    std::map<std::string, std::string> answers_;
    std::map<std::string, int> requests_;
};

}  // namespace easgate::testing
