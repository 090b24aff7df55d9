// easgate-bench-upstream: a fast stand-in for Exchange in benchmarks, Asio coroutines on one
// thread or, with --threads, on several, each with a listening socket of its own on the port
// (SO_REUSEPORT: the kernel spreads the connections). The test upstream is thread-per-connection.
// Plain HTTP, or HTTPS with TLS 1.2 or 1.3. Answers every request with --response-bytes (Sync and
// the rest), reads and discards upload bodies (SendMail), and holds a Ping for ?hold= or
// --ping-hold seconds, or until it is stopped.
#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto no_throw = asio::as_tuple(asio::use_awaitable);
using namespace asio::experimental::awaitable_operators;

struct Settings {
    std::uint16_t port = 0;
    std::string cert, key;    // HTTPS when given
    std::string tls = "1.3";  // "1.2" or "1.3": the only version offered
    std::size_t response_bytes = 4096;
    double ping_hold = 3600;
    unsigned threads = 1;
};

// ?hold=N in the target, else fallback.
double hold_seconds(std::string_view target, double fallback) {
    const auto at = target.find("hold=");
    if (at == std::string_view::npos) return fallback;
    double value = fallback;
    std::from_chars(target.data() + at + 5, target.data() + target.size(), value);
    return value;
}

template <class Stream>
asio::awaitable<bool> read_request(Stream& stream, beast::flat_buffer& buffer, std::string& target,
                                   bool& keep_alive) {
    http::request_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    if (auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, no_throw); ec)
        co_return false;
    thread_local char scratch[64 * 1024];  // every body on a thread is poured into the same bucket
    while (!parser.is_done()) {
        parser.get().body().data = scratch;
        parser.get().body().size = sizeof scratch;
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, no_throw);
        if (ec && ec != http::error::need_buffer) co_return false;
    }
    target = std::string(parser.get().target());
    keep_alive = parser.get().keep_alive();
    co_return true;
}

template <class Stream>
asio::awaitable<void> serve(Stream stream, const Settings& settings, const std::string& answer) {
    beast::flat_buffer buffer;
    std::string target;
    bool keep_alive = true;
    while (keep_alive && co_await read_request(stream, buffer, target, keep_alive)) {
        if (target.find("Cmd=Ping") != std::string::npos) {
            asio::steady_timer held(
                stream.get_executor(),
                std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::duration<double>(hold_seconds(target, settings.ping_hold))));
            // The proxy closing the connection (its device left) ends the hold too.
            char byte;
            const auto ended = co_await (held.async_wait(no_throw) ||
                                         stream.async_read_some(asio::buffer(&byte, 1), no_throw));
            if (ended.index() == 1) break;
        }
        http::response<http::string_body> response{http::status::ok, 11};
        response.set(http::field::content_type, "application/vnd.ms-sync.wbxml");
        response.body() = target.find("Cmd=SendMail") != std::string::npos ? std::string() : answer;
        response.keep_alive(keep_alive);
        response.prepare_payload();
        if (auto [ec, n] = co_await http::async_write(stream, response, no_throw); ec) break;
    }
}

asio::awaitable<void> serve_tls(tcp::socket socket, asio::ssl::context& tls, const Settings& settings,
                                const std::string& answer) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), tls);
    if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, no_throw); ec) co_return;
    co_await serve(std::move(stream), settings, answer);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, asio::ssl::context* tls,
                                  const Settings& settings) {
    const std::string answer(settings.response_bytes, 'x');
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(no_throw);
        if (ec) continue;
        socket.set_option(tcp::no_delay(true));
        const auto executor = acceptor.get_executor();
        if (tls) {
            asio::co_spawn(executor, serve_tls(std::move(socket), *tls, settings, answer), asio::detached);
        } else {
            asio::co_spawn(executor, serve(beast::tcp_stream(std::move(socket)), settings, answer),
                           asio::detached);
        }
    }
}

std::optional<asio::ssl::context> server_tls(const Settings& settings) {
    if (settings.cert.empty()) return std::nullopt;
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.use_certificate_chain_file(settings.cert);
    tls.use_private_key_file(settings.key, asio::ssl::context::pem);
    const int version = settings.tls == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(tls.native_handle(), version);
    SSL_CTX_set_max_proto_version(tls.native_handle(), version);
    return tls;
}

}  // namespace

int main(int argc, char** argv) {
    Settings settings;
    CLI::App cli{"easgate-bench-upstream: a fast Exchange stand-in for benchmarks"};
    cli.add_option("--port", settings.port, "port on 127.0.0.1 (0: any free one)");
    cli.add_option("--cert", settings.cert, "server certificate chain (PEM): HTTPS");
    cli.add_option("--key", settings.key, "its private key");
    cli.add_option("--tls", settings.tls, "TLS version offered")->check(CLI::IsMember({"1.2", "1.3"}));
    cli.add_option("--response-bytes", settings.response_bytes, "body size of each answer");
    cli.add_option("--ping-hold", settings.ping_hold, "seconds a Ping is held (a ?hold= in it wins)");
    cli.add_option("--threads", settings.threads, "threads, each accepting on the port")
        ->check(CLI::Range(1u, 64u));
    CLI11_PARSE(cli, argc, argv);
    auto tls = server_tls(settings);
    std::vector<std::unique_ptr<asio::io_context>> loops;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
    std::uint16_t port = settings.port;
    for (unsigned t = 0; t < settings.threads; ++t) {
        auto& io = *loops.emplace_back(std::make_unique<asio::io_context>(1));
        auto& acceptor = *acceptors.emplace_back(std::make_unique<tcp::acceptor>(io));
        const tcp::endpoint at{asio::ip::make_address("127.0.0.1"), port};
        acceptor.open(at.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        // Only when needed: with it, a leftover upstream on the port would share it unnoticed.
        if (settings.threads > 1)
            acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
        acceptor.bind(at);
        acceptor.listen(4096);
        port = acceptor.local_endpoint().port();  // port 0: the others join the one the first got
        asio::co_spawn(io, accept_loop(acceptor, tls ? &*tls : nullptr, settings), asio::detached);
    }
    std::cout << "listening on port " << port << std::endl;
    asio::signal_set stop(*loops.front(), SIGINT, SIGTERM);
    stop.async_wait([&loops](auto, int) {
        for (auto& io : loops) io->stop();
    });
    std::vector<std::thread> others;
    for (std::size_t t = 1; t < loops.size(); ++t) others.emplace_back([&io = *loops[t]] { io.run(); });
    loops.front()->run();
    for (auto& thread : others) thread.join();
}
