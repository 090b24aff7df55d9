// Isolation under load: every numbered lab user (user01..user50) with several devices at once on a
// per-request and a per-connection backend, behind one easgate, for a minute (EASGATE_STRESS_SECONDS).
// Each request says whose certificate sent it (expect=<principal>); the lab backend compares that
// with the principal Kerberos authenticated and answers 409 on a difference, and
// check-connections.sh proves afterwards that no backend connection carried two users.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "child_process.hpp"
#include "easgate_process.hpp"
#include "lab_environment.hpp"

namespace easgate::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using DeviceStream = beast::ssl_stream<beast::tcp_stream>;

constexpr int devices_per_user = 3;
// Batches in flight per backend. Devices are idle most of the time, as phones are; this many
// busy at once keeps both cores loaded without queueing for minutes behind the CGI backend.
constexpr int lanes_per_backend = 12;
constexpr auto batch_timeout = std::chrono::seconds(30);

std::chrono::seconds stress_duration() {
    const char* seconds = std::getenv("EASGATE_STRESS_SECONDS");
    return std::chrono::seconds(seconds ? std::atoi(seconds) : EASGATE_STRESS_DEFAULT_SECONDS);
}

// What one backend's devices saw.
struct Tally {
    std::uint64_t requests = 0;           // sent
    std::uint64_t answered = 0;           // 200 from the backend as the certificate's user
    std::uint64_t mismatches = 0;         // the backend saw another user (409, or another user in a 200)
    std::uint64_t misrouted = 0;          // an answer to a request this device did not send
    std::uint64_t pipelined_batches = 0;  // 2 or 3 requests written before reading the answers
    std::uint64_t device_connections = 0;
    std::uint64_t without_token = 0;                // answered on a backend connection authenticated earlier
    std::map<std::string, std::uint64_t> failures;  // everything else, by what happened
    std::map<std::string, std::uint64_t> answered_by_user;
    // Backend connection (Apache's key) → the device connections whose requests it carried.
    std::map<std::string, std::set<std::uint64_t>> backend_connections;
};

struct Device {
    std::string user;
    std::string principal;
    std::string device_id;
    asio::ssl::context* tls;
    std::unique_ptr<DeviceStream> stream;
    beast::flat_buffer buffer;
    std::uint64_t connection_serial = 0;  // which of the run's device connections is open
    std::uint64_t sequence = 0;
    bool busy = false;
};

// One easgate listener, its backend, and the devices of every user on it.
struct Backend {
    std::string name;
    std::uint16_t port;
    std::vector<Device> devices;
    std::vector<std::size_t> turns;  // the round's order of devices
    std::size_t next = 0;
    Tally tally;
};

class IsolationStress {
public:
    IsolationStress(asio::io_context& context, const LabEnvironment& lab, Clock::time_point deadline)
        : context_(context), lab_(lab), deadline_(deadline), rng_(20240609) {}

    // A lane sends batches from the backend's devices in turn until the deadline.
    asio::awaitable<void> lane(Backend& backend) {
        while (Clock::now() < deadline_) {
            Device& device = next_device(backend);
            device.busy = true;
            co_await batch(backend, device);
            device.busy = false;
        }
    }

    std::uint64_t next_connection_serial() { return ++connection_serial_; }

private:
    // Every device once per round. The first round goes through the users' first devices, then their
    // second ones..., so that every user is served early on; later rounds are shuffled, which also
    // lets one user's devices meet.
    Device& next_device(Backend& backend) {
        for (;;) {
            if (backend.next == backend.turns.size()) {
                std::shuffle(backend.turns.begin(), backend.turns.end(), rng_);
                backend.next = 0;
            }
            if (Device& device = backend.devices[backend.turns[backend.next++]]; !device.busy) return device;
        }
    }

    asio::awaitable<void> batch(Backend& backend, Device& device) {
        Tally& tally = backend.tally;
        const int count = rng_() % 4 == 0 ? 2 + static_cast<int>(rng_() % 2) : 1;
        std::vector<std::string> queries;
        std::string wire;
        for (int i = 0; i < count; ++i) {
            const std::string body(8 + rng_() % 200, 'b');
            queries.push_back("Cmd=" + std::string(i % 2 ? "FolderSync" : "Sync") + "&User=" + device.user +
                              "&DeviceId=" + device.device_id + "&DeviceType=StressDevice&expect=" +
                              device.principal + "&n=" + std::to_string(++device.sequence));
            wire += "POST /Microsoft-Server-ActiveSync?" + queries.back() +
                    " HTTP/1.1\r\nHost: " + lab_.at("LAB_GW_HOST") + ":" + std::to_string(backend.port) +
                    "\r\nMS-ASProtocolVersion: 14.1\r\nContent-Type: application/vnd.ms-sync.wbxml\r\n"
                    "Content-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
        }
        tally.requests += count;
        if (count > 1) ++tally.pipelined_batches;
        std::size_t answers = 0;
        bool keep_open = rng_() % 6 != 0;  // now and then a device reconnects
        std::string stage = "connecting: ";
        try {
            if (!device.stream) co_await connect(backend, device);
            stage = "device connection: ";
            beast::get_lowest_layer(*device.stream).expires_after(batch_timeout);
            co_await asio::async_write(*device.stream, asio::buffer(wire), asio::use_awaitable);
            for (; answers < queries.size(); ++answers) {
                http::response_parser<http::string_body> parser;
                parser.body_limit(1 << 20);
                co_await http::async_read(*device.stream, device.buffer, parser, asio::use_awaitable);
                judge(tally, device, queries[answers], parser.get());
                keep_open = keep_open && parser.get().keep_alive();
            }
        } catch (const boost::system::system_error& error) {
            ++tally.failures[stage + error.code().message()];
            tally.failures["no answer"] += queries.size() - answers;
            keep_open = false;
        }
        if (!keep_open) {
            device.stream.reset();
            device.buffer.clear();
        }
    }

    asio::awaitable<void> connect(Backend& backend, Device& device) {
        device.stream = std::make_unique<DeviceStream>(context_, *device.tls);
        device.buffer.clear();
        const auto host = lab_.at("LAB_GW_HOST");
        SSL_set_tlsext_host_name(device.stream->native_handle(), host.c_str());
        device.stream->set_verify_callback(asio::ssl::host_name_verification(host));
        auto& tcp = beast::get_lowest_layer(*device.stream);
        tcp.expires_after(batch_timeout);
        co_await tcp.async_connect({asio::ip::make_address(lab_.at("LAB_GW_IP")), backend.port},
                                   asio::use_awaitable);
        co_await device.stream->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        device.connection_serial = next_connection_serial();
        ++backend.tally.device_connections;
    }

    static void judge(Tally& tally, const Device& device, const std::string& query,
                      const http::response<http::string_body>& response) {
        const auto report = nlohmann::json::parse(response.body(), nullptr, false);
        if (report.is_discarded() || !report.is_object()) {
            ++tally.failures["status " + std::to_string(response.result_int()) +
                             " without the backend's report"];
            return;
        }
        if (report.value("query", "") != query) {
            ++tally.misrouted;
            std::cerr << "MISROUTED: " << device.principal << " sent " << query << ", answer was for "
                      << report.value("query", "") << "\n";
            return;
        }
        const auto user = report.value("user", "");
        if (response.result_int() == 409 || user != device.principal) {
            ++tally.mismatches;
            std::cerr << "MISMATCH: " << device.principal << "'s request " << query << " reached Exchange as "
                      << user << " on " << report.value("connection", "") << "\n";
            return;
        }
        if (response.result() != http::status::ok) {
            ++tally.failures["status " + std::to_string(response.result_int())];
            return;
        }
        ++tally.answered;
        ++tally.answered_by_user[device.user];
        if (report.value("authorization", "").empty()) ++tally.without_token;
        tally.backend_connections[report.value("connection", "")].insert(device.connection_serial);
    }

    asio::io_context& context_;
    const LabEnvironment& lab_;
    Clock::time_point deadline_;
    std::minstd_rand rng_;
    std::uint64_t connection_serial_ = 0;
};

std::vector<std::string> numbered_users(const std::string& lab_users) {
    std::vector<std::string> users;
    std::istringstream words(lab_users);
    for (std::string user; words >> user;) {
        if (user.starts_with("user")) users.push_back(user);
    }
    return users;
}

// One easgate with a listener per backend: per_request (every-request) and per_connection
// (connection-bound).
std::string stress_config(const LabEnvironment& lab) {
    return "listeners:\n" + lab.listener_yaml(0, lab.at("LAB_CA_FILE"), "every-request") +
           lab.listener_yaml(0, lab.at("LAB_CA_FILE"), "connection-bound") + "upstreams:\n" +
           lab.upstream_yaml("every-request", "LAB_MAIL_BASE_URL", "per_request") +
           lab.upstream_yaml("connection-bound", "LAB_MAIL_CONN_BOUND_BASE_URL", "per_connection") +
           lab.directory_yaml() + lab.kerberos_yaml() +
           // Pooled connections are dropped before Apache's KeepAliveTimeout (60 s) would close them.
           "limits:\n  upstream_idle_timeout: 30s\n";
}

// Each user's device certificate, as a TLS client context.
void load_device_certificates(std::map<std::string, asio::ssl::context>& tls, const LabEnvironment& lab,
                              const std::vector<std::string>& users) {
    const std::filesystem::path certificates = lab.at("LAB_CLIENT_CERT_DIR");
    for (const auto& user : users) {
        auto& user_tls = tls.emplace(user, asio::ssl::context::tls_client).first->second;
        user_tls.load_verify_file(lab.at("LAB_CA_FILE"));
        user_tls.set_verify_mode(asio::ssl::verify_peer);
        user_tls.use_certificate_chain_file((certificates / (user + ".pem")).string());
        user_tls.use_private_key_file((certificates / (user + ".key")).string(), asio::ssl::context::pem);
    }
}

// devices_per_user devices of every user on each backend, the users' first devices first.
void add_devices(std::array<Backend, 2>& backends, const std::vector<std::string>& users,
                 const LabEnvironment& lab, std::map<std::string, asio::ssl::context>& tls) {
    for (auto& backend : backends) {
        for (int d = 1; d <= devices_per_user; ++d) {
            for (const auto& user : users) {
                backend.turns.push_back(backend.devices.size());
                backend.devices.push_back({.user = user,
                                           .principal = user + "@" + lab.at("LAB_REALM"),
                                           .device_id = "STRESS" + user + "D" + std::to_string(d),
                                           .tls = &tls.at(user)});
            }
        }
    }
}

// Prints what one backend's devices saw and checks it; the number of requests sent.
std::uint64_t report_backend(const Backend& backend, std::size_t users) {
    const auto& t = backend.tally;
    std::size_t shared = 0;  // backend connections that served more than one device connection
    for (const auto& [key, device_connections] : t.backend_connections)
        shared += device_connections.size() > 1;
    std::cout << backend.name << ": " << users << " users x " << devices_per_user << " devices, "
              << t.device_connections << " device connections, " << t.requests << " requests ("
              << t.pipelined_batches << " pipelined batches), " << t.answered << " answered as the user, "
              << t.mismatches << " mismatches, " << t.misrouted << " misrouted; "
              << t.backend_connections.size() << " backend connections, " << shared
              << " of them reused by several device connections; " << t.without_token
              << " answered without a token on an authenticated connection\n";
    for (const auto& [what, count] : t.failures) std::cout << "  " << count << " x " << what << "\n";

    EXPECT_EQ(t.mismatches, 0u) << backend.name;
    EXPECT_EQ(t.misrouted, 0u) << backend.name;
    EXPECT_TRUE(t.failures.empty()) << backend.name << ": not every request was answered 200";
    EXPECT_EQ(t.answered, t.requests) << backend.name;
    EXPECT_EQ(t.answered_by_user.size(), users) << backend.name << ": some users were never served";
    EXPECT_GT(shared, 0u) << backend.name << ": no pooled connection was reused, so the pool went untested";
    return t.requests;
}

// What easgate said about anything but a 200.
void print_log_except_200s(const EasgateProcess& gateway) {
    std::istringstream log(gateway.log());
    std::cerr << "--- easgate log, except 200s ---\n";
    for (std::string line; std::getline(log, line);) {
        if (line.find("\" 200 ") == std::string::npos) std::cerr << line << "\n";
    }
}

TEST(IsolationStress, FiftyUsersWithThreeDevicesEachOnBothBackendsNeverCrossUsers) {
    const auto& lab = LabEnvironment::get();
    const auto users = numbered_users(lab.at("LAB_USERS"));
    ASSERT_GE(users.size(), 50u) << "the lab has too few users: provision it again (LAB_REPROVISION=1)";
    const auto work = make_temp_dir("lab-stress");
    asio::io_context context;
    std::map<std::string, asio::ssl::context> tls;  // each user's device certificate
    std::array<Backend, 2> backends{Backend{.name = "per_request"}, Backend{.name = "per_connection"}};
    EasgateProcess gateway(work, stress_config(lab));
    ASSERT_TRUE(gateway.started()) << gateway.log();
    const auto ports = gateway.device_ports();
    ASSERT_EQ(ports.size(), backends.size()) << gateway.log();
    for (std::size_t i = 0; i < backends.size(); ++i) backends[i].port = ports[i];
    load_device_certificates(tls, lab, users);
    add_devices(backends, users, lab, tls);

    const auto principals_log = lab.at("LAB_MAIL_PRINCIPAL_LOG");
    const auto first_line = count_of(read_file(principals_log), "\n") + 1;
    const auto duration = stress_duration();
    const auto started = Clock::now();
    IsolationStress stress(context, lab, started + duration);
    for (auto& backend : backends) {
        for (int lane = 0; lane < lanes_per_backend; ++lane)
            asio::co_spawn(context, stress.lane(backend), asio::detached);
    }
    context.run();  // the lanes stop at the deadline; each batch is bounded by batch_timeout
    const auto seconds = std::chrono::duration<double>(Clock::now() - started).count();

    std::uint64_t total = 0;
    for (const auto& backend : backends) total += report_backend(backend, users.size());
    EXPECT_GT(backends[1].tally.without_token, 0u)
        << "per_connection never reused an authenticated connection";
    std::cout << "total: " << total << " requests in " << seconds << " s, " << total / seconds
              << " requests/s\n";

    const auto check =
        run_command({"bash", std::string(EASGATE_SOURCE_DIR) + "/tests/lab/check-connections.sh",
                     "--from-line", std::to_string(first_line), principals_log});
    std::cout << check.out;
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    if (::testing::Test::HasFailure()) print_log_except_200s(gateway);
    gateway.stop();
    std::filesystem::remove_all(work);
}

}  // namespace
}  // namespace easgate::testing
