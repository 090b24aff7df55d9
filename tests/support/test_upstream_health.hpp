#pragma once

// easgate-test-upstream's health: its health check page, and a server whose application pool is
// stopped. Part of support/test_upstream.cpp, which includes it once.
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <string>
#include <string_view>

namespace test_upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// The server's state, as files the tests create and remove say.
struct ServerHealth {
    // --sick-file: while this file exists, the health check page answers 503.
    std::string sick_file;
    // --stopped-file: while this file exists, every request (health checks too) is answered as
    // HTTP.sys answers for a stopped application pool: 503, no Retry-After, and the connection closed.
    std::string stopped_file;

    bool sick() const { return !sick_file.empty() && std::ifstream(sick_file).good(); }
    bool stopped() const { return !stopped_file.empty() && std::ifstream(stopped_file).good(); }
};
inline ServerHealth server_health;

template <class Stream>
void answer_as_stopped_app_pool(Stream& stream) {
    beast::error_code ec;
    asio::write(stream,
                asio::buffer(std::string_view("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html; "
                                              "charset=us-ascii\r\nServer: Microsoft-HTTPAPI/2.0\r\n"
                                              "Connection: close\r\nContent-Length: 34\r\n\r\n"
                                              "<h2>Service Unavailable</h2><hr>\r\n")),
                ec);
}

inline bool is_health_check(std::string_view target) {
    return target.starts_with("/Microsoft-Server-ActiveSync/healthcheck.htm");
}

// The health check page, Exchange's anonymous one for load balancers; false: the connection ends.
template <class Stream>
bool answer_health_check(Stream& stream, const http::request<http::string_body>& request) {
    const bool sick = server_health.sick();
    http::response<http::string_body> response{sick ? http::status::service_unavailable : http::status::ok,
                                               request.version()};
    response.body() = sick ? "sick\n" : "200 OK\n";
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    beast::error_code ec;
    http::write(stream, response, ec);
    return !ec && request.keep_alive();
}

}  // namespace test_upstream
