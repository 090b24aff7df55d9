#pragma once

// IIS with Windows Authentication offering NTLM only (Negotiate taken out of its providers) and
// Basic: every Kerberos token is answered 401. Plain http on 127.0.0.1, for as long as this lives.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "child_process.hpp"

namespace easgate::testing {

class NegotiateLessBackend {
public:
    explicit NegotiateLessBackend(const std::filesystem::path& work)
        : port_(free_tcp_port()),
          process_({"python3", "-c", script, std::to_string(port_)}, work / "backend.out",
                   work / "backend.err") {
        EXPECT_FALSE(wait_for_text(work / "backend.out", "ready").empty()) << read_file(work / "backend.err");
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
    static constexpr const char* script = R"(
import http.server, sys
class Backend(http.server.BaseHTTPRequestHandler):
    def answer(self):
        self.send_response(401)
        self.send_header('WWW-Authenticate', 'NTLM')
        self.send_header('WWW-Authenticate', 'Basic realm="mail.example.test"')
        self.send_header('Content-Length', '0')
        self.end_headers()
    do_GET = do_POST = do_OPTIONS = answer
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Backend)
print('ready', flush=True)
server.serve_forever()
)";

    std::uint16_t port_;
    ChildProcess process_;
};

}  // namespace easgate::testing
