#include "inproc_rig.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <deque>
#include <thread>

#include "child_process.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

using tcp = asio::ip::tcp;

void make_pki(const std::filesystem::path& dir, LoopbackPki& files);

// Made on first use; removed when the process exits.
struct PkiFolder {
    PkiFolder() { make_pki(dir, files); }
    std::filesystem::path dir = make_temp_dir("inproc-pki");
    LoopbackPki files;
    ~PkiFolder() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
};

void make_pki(const std::filesystem::path& dir, LoopbackPki& files) {
    auto server_ca = TestCa::create_root("inproc server CA");
    auto device_ca = TestCa::create_root("inproc device CA");
    files.server_ca = dir / "server-ca.pem";
    files.device_ca = dir / "device-ca.pem";
    write_file(files.server_ca, server_ca.cert_pem());
    write_file(files.device_ca, device_ca.cert_pem());
    CertSpec server;
    server.common_name = "localhost";
    server.ip_addresses = {"127.0.0.1"};
    server.client_auth_eku = false;
    server.server_auth_eku = true;
    std::tie(files.server_cert, files.server_key) = server_ca.issue(server).write(dir, "server");
    CertSpec alice;
    alice.common_name = "alice@example.test";
    alice.upn = "alice@example.test";
    std::tie(files.alice_cert, files.alice_key) = device_ca.issue(alice).write(dir, "alice");
}

}  // namespace

const LoopbackPki& loopback_pki() {
    static const PkiFolder folder;
    return folder.files;
}

config::ListenerConfig loopback_listener() {
    const auto& pki = loopback_pki();
    config::ListenerConfig listener;
    listener.address = "127.0.0.1";
    listener.port = 0;
    listener.certificate = pki.server_cert.string();
    listener.private_key = pki.server_key.string();
    listener.client_auth.trusted_ca_file = pki.device_ca.string();
    return listener;
}

asio::ssl::context loopback_server_tls() {
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.use_certificate_chain_file(loopback_pki().server_cert.string());
    tls.use_private_key_file(loopback_pki().server_key.string(), asio::ssl::context::pem);
    return tls;
}

void run_bounded(asio::io_context& context, std::function<asio::awaitable<void>()> test,
                 std::chrono::seconds limit) {
    std::exception_ptr thrown;
    bool finished = false;
    context.restart();  // after an earlier run, which stopped it
    asio::co_spawn(context, test(), [&](std::exception_ptr error) {
        thrown = error;
        finished = true;
        context.stop();  // what the test left running (a session, the fake Exchange) stops with it
    });
    std::thread runner([&] { context.run_for(limit); });
    runner.join();
    if (thrown) std::rethrow_exception(thrown);
    if (!finished) ADD_FAILURE() << "the test did not finish within " << limit.count() << "s";
}

asio::awaitable<bool> eventually(std::function<bool()> condition, std::chrono::milliseconds limit) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= until) co_return false;
        pause.expires_after(std::chrono::milliseconds(5));
        co_await pause.async_wait(use_nothrow);
    }
    co_return true;
}

asio::awaitable<std::string> read_to_end(TlsClientStream& stream, std::chrono::milliseconds limit) {
    beast::get_lowest_layer(stream).expires_after(limit);
    std::string received;
    char chunk[4096];
    for (;;) {
        auto [ec, read] = co_await stream.async_read_some(asio::buffer(chunk), use_nothrow);
        received.append(chunk, read);
        if (ec) co_return received;
    }
}

std::string http_response(unsigned status, const std::string& body, const std::string& extra_fields) {
    return "HTTP/1.1 " + std::to_string(status) + " Fake\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n" + extra_fields + "\r\n" + body;
}

struct FakeExchange::State {
    explicit State(asio::any_io_executor executor)
        : acceptor(executor, {asio::ip::make_address("127.0.0.1"), 0}) {}

    ExchangeStep next_step() {
        if (script.empty()) return ExchangeStep::answer(http_response(500, "script used up\n"));
        auto step = std::move(script.front());
        script.pop_front();
        return step;
    }

    tcp::acceptor acceptor;
    std::deque<ExchangeStep> script;
    std::function<void()> on_request;
    std::vector<http::request<http::string_body>> requests;
    std::vector<std::shared_ptr<tcp::socket>> sockets;
    std::size_t held_closed = 0;
};

namespace {

asio::awaitable<void> serve(std::shared_ptr<FakeExchange::State> state, std::shared_ptr<tcp::socket> socket);

asio::awaitable<void> accept_all(std::shared_ptr<FakeExchange::State> state) {
    for (;;) {
        auto [ec, socket] = co_await state->acceptor.async_accept(use_nothrow);
        if (ec) co_return;
        state->sockets.push_back(std::make_shared<tcp::socket>(std::move(socket)));
        asio::co_spawn(state->acceptor.get_executor(), serve(state, state->sockets.back()), asio::detached);
    }
}

asio::awaitable<void> serve(std::shared_ptr<FakeExchange::State> state, std::shared_ptr<tcp::socket> socket) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> request;
        auto [ec, read] = co_await http::async_read(*socket, buffer, request, use_nothrow);
        if (ec) co_return;
        state->requests.push_back(std::move(request));
        if (state->on_request) state->on_request();
        const auto step = state->next_step();
        if (step.act == ExchangeStep::Act::close) {
            socket->close();
            co_return;
        }
        if (step.act == ExchangeStep::Act::hold) {
            char byte;
            auto [read_ec, n] = co_await socket->async_read_some(asio::buffer(&byte, 1), use_nothrow);
            if (read_ec == asio::error::eof || read_ec == asio::error::connection_reset) ++state->held_closed;
            co_return;
        }
        auto [write_ec, written] =
            co_await asio::async_write(*socket, asio::buffer(step.response), use_nothrow);
        if (write_ec) co_return;
    }
}

}  // namespace

FakeExchange::FakeExchange(asio::any_io_executor executor, std::vector<ExchangeStep> script)
    : state_(std::make_shared<State>(executor)) {
    this->script(std::move(script));
    asio::co_spawn(executor, accept_all(state_), asio::detached);
}

FakeExchange::~FakeExchange() {
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    for (const auto& socket : state_->sockets) socket->close(ignored);
}

void FakeExchange::script(std::vector<ExchangeStep> steps) {
    state_->script.assign(std::make_move_iterator(steps.begin()), std::make_move_iterator(steps.end()));
}

void FakeExchange::on_request(std::function<void()> callback) { state_->on_request = std::move(callback); }
std::uint16_t FakeExchange::port() const { return state_->acceptor.local_endpoint().port(); }
std::string FakeExchange::url() const { return "http://127.0.0.1:" + std::to_string(port()); }
const std::vector<http::request<http::string_body>>& FakeExchange::requests() const {
    return state_->requests;
}
std::size_t FakeExchange::connections() const { return state_->sockets.size(); }
std::size_t FakeExchange::held_closed() const { return state_->held_closed; }

config::UpstreamConfig fake_exchange_upstream(const FakeExchange& exchange, config::SendAuthorization send) {
    config::UpstreamConfig upstream;
    upstream.name = "fake-exchange";
    upstream.servers.push_back(*config::parse_upstream_url(exchange.url()));
    upstream.service_principal = "HTTP/exchange.example.test";
    upstream.send_authorization = send;
    return upstream;
}

config::LimitsConfig short_limits() {
    config::LimitsConfig limits;
    limits.header_timeout = std::chrono::seconds(10);
    limits.idle_timeout = std::chrono::seconds(10);
    limits.client_body_timeout = std::chrono::seconds(10);
    limits.upstream_connect_timeout = std::chrono::seconds(5);
    limits.upstream_timeout = std::chrono::seconds(10);
    limits.max_long_poll = std::chrono::seconds(60);  // far beyond any test's bound
    return limits;
}

asio::awaitable<common::Result<std::string>> FakeTokenSource::token(std::string) {
    ++calls_;
    if (failure_) co_return *failure_;
    co_return token_;
}

asio::awaitable<common::Result<bool>> FakeTokenSource::renew() {
    ++renewals_;
    if (renewal_failure_) co_return *renewal_failure_;
    if (!renewed_token_) co_return false;
    token_ = *renewed_token_;
    co_return true;
}

}  // namespace easgate::testing
