#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "checks.hpp"
#include "easgate/upstream/backend_diagnosis.hpp"
#include "probe.hpp"

namespace easgate::doctor {
namespace {

namespace http = boost::beast::http;

constexpr const char* exchange_area = "exchange";

// Why an answer other than a 401 stops easgate's users, where easgate delegates.
std::string unexpected_answer_remedy(const HttpResponse& response) {
    const unsigned status = response.result_int();
    if (status / 100 == 3) {
        return "it redirects to " + std::string(response[http::field::location]) +
               " (a load balancer's or a sign-in page): easgate follows no redirect; point "
               "upstreams[].servers at "
               "Exchange itself";
    }
    if (status == 403)
        return "IIS refuses before authenticating: check SSL Settings on Microsoft-Server-ActiveSync (client "
               "certificates must be Ignore: easgate presents none)";
    if (status == 404) return "no ActiveSync at this URL: check upstreams[].servers";
    if (status / 100 == 5) return "start the MSExchangeSyncAppPool application pool; see Exchange's IIS log";
    return "see Exchange's IIS log for why it answered " + std::to_string(status);
}

// What IIS answers a device's first request before any credentials: where easgate delegates, a 401
// offering Negotiate, which on_challenge waits for and always relies on (IIS asks no more).
void judge_anonymous_answer(const HttpResponse& response, const config::UpstreamConfig& upstream,
                            bool delegating, const std::string& url, Report& report) {
    const std::string check = url + " without credentials";
    const unsigned status = response.result_int();
    const std::string found = "OPTIONS /Microsoft-Server-ActiveSync: " + std::to_string(status);
    if (!delegating) {
        if (status / 100 == 5 || status == 404)
            report.warn(exchange_area, check, found, unexpected_answer_remedy(response));
        else
            report.pass(exchange_area, check, found);
        return;
    }
    if (status == 401) {
        const auto challenges = upstream::challenges_of(response);
        const auto refusal = upstream::read_backend_refusal(challenges, false);
        if (upstream::offers_negotiate(challenges)) {
            report.pass(exchange_area, check,
                        found + " offering " + refusal.offered + ": Windows Authentication with Negotiate");
        } else {
            report.fail(
                exchange_area, check,
                "negotiate_not_offered: " + found + " offering " + refusal.offered + ": " + refusal.cause,
                refusal.remedy);
        }
        return;
    }
    if (status / 100 == 2) {
        const bool waits = upstream.send_authorization == config::SendAuthorization::on_challenge;
        report.warn(
            exchange_area, check,
            found + ": Exchange lets in requests without credentials (Anonymous Authentication)" +
                (waits ? ", so it never asks for easgate's token (send_authorization: on_challenge)" : ""),
            "turn Anonymous Authentication off on Microsoft-Server-ActiveSync and Windows "
            "Authentication (Negotiate) on: IIS Manager → Default Web Site → Microsoft-Server-ActiveSync "
            "→ Authentication");
        return;
    }
    report.warn(exchange_area, check, found + ": not the 401 of Windows Authentication",
                unexpected_answer_remedy(response));
}

// Kerberos refuses tickets between clocks more than 5 minutes apart; IIS dates every answer.
void judge_clock(const HttpResponse& response, bool delegating, const std::string& url, Report& report) {
    const std::string check = url + " clock";
    const auto ahead =
        upstream::clock_ahead_of(response[http::field::date], std::chrono::system_clock::now());
    if (!ahead) {
        report.skip(exchange_area, check,
                    "its answer has no Date header that reads as a time within 10 years of this host's");
        return;
    }
    // Both clocks are read to the second, at different instants: one second apart is no difference.
    std::string found = std::chrono::abs(*ahead) <= std::chrono::seconds(1)
                            ? "Exchange's clock agrees with this host's"
                            : "Exchange's clock is " + upstream::clock_difference(*ahead) + " this host's";
    found += " (its Date header, to the second)";
    const auto off = std::chrono::abs(*ahead);
    if (off > upstream::kerberos_skew && delegating) {
        report.fail(
            exchange_area, check,
            "clock_skew: " + found + ": Kerberos refuses tickets between clocks more than 5 minutes apart",
            upstream::clock_remedy);
    } else if (off > std::chrono::seconds(60)) {
        report.warn(exchange_area, check, found, upstream::clock_remedy);
    } else {
        report.pass(exchange_area, check, found);
    }
}

}  // namespace

void check_exchange_servers(const config::Config& config, Report& report) {
    for (const auto& upstream : config.upstreams) {
        const bool delegating = config.kerberos && !upstream.service_principal.empty();
        for (const auto& server : upstream.servers) {
            const std::string connection = "connection to " + server.url;
            Probe probe(config.limits.upstream_connect_timeout, upstream.ca_file);
            if (const auto error = probe.open(server.host, server.port, server.tls); !error.empty()) {
                report.fail(exchange_area, connection, error,
                            "check upstreams[].servers, the network path, and upstreams[].ca_file");
                continue;
            }
            report.pass(exchange_area, connection,
                        server.tls ? "TLS: its certificate verified, for the name " + server.host
                                   : "TCP (plain http: nothing verifies the server)");
            HttpRequest request(http::verb::options, "/Microsoft-Server-ActiveSync", 11);
            request.set(http::field::host, server.host_header());
            request.set(http::field::user_agent, "easgate-doctor");
            HttpResponse response;
            // As long as easgate waits: an application pool that is starting answers late.
            probe.set_timeout(config.limits.upstream_timeout);
            if (const auto error = probe.exchange(request, response); !error.empty()) {
                report.fail(exchange_area, "answer of " + server.url, error,
                            "check that Exchange is up: IIS, and its MSExchangeSyncAppPool application pool");
                continue;
            }
            judge_anonymous_answer(response, upstream, delegating, server.url, report);
            judge_clock(response, delegating, server.url, report);
        }
    }
}

}  // namespace easgate::doctor
