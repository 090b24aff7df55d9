#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <set>

#include "checks.hpp"
#include "easgate/delegation/delegation_service.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/upstream/channel_binding.hpp"
#include "failure_finding.hpp"
#include "probe.hpp"

namespace easgate::doctor {
namespace {

namespace http = boost::beast::http;

// Runs one of the request path's coroutines to completion on this thread.
template <class Awaitable>
auto run_to_completion(Awaitable awaitable) {
    boost::asio::io_context io;
    auto result = boost::asio::co_spawn(io, std::move(awaitable), boost::asio::use_future);
    io.run();
    return result.get();
}

// The directory's verdict on the user, as `easgate run` reaches it: found once, enabled, not locked
// or expired, delegable, not in Protected Users, in require_group when set.
std::optional<directory::DirectoryUser> check_account(const config::Config& config, const std::string& upn,
                                                      Report& report) {
    try {
        directory::DirectoryClient client(*config.directory, config.kerberos ? &*config.kerberos : nullptr);
        auto found =
            run_to_completion(client.find(directory::AccountSearch::by_attribute("userPrincipalName", upn)));
        if (!found) {
            fail_with(report, "user", upn, found.error(),
                      "fix the account in Active Directory Users and Computers (Account tab), or the "
                      "UPN: it must be the account's userPrincipalName");
            return std::nullopt;
        }
        report.pass(
            "user", upn,
            found->distinguished_name +
                ": enabled, not locked out or expired, delegable (not sensitive, not in Protected Users)");
        return *found;
    } catch (const config::ConfigError& e) {
        report.fail("user", upn, e.what(), "correct the directory: section");
        return std::nullopt;
    }
}

std::string challenges_of(const HttpResponse& response) {
    std::string offered;
    const auto [first, last] = response.equal_range(http::field::www_authenticate);
    for (auto field = first; field != last; ++field) {
        const std::string value(field->value());
        offered += (offered.empty() ? "" : ", ") + value.substr(0, value.find(' '));
    }
    return offered.empty() ? "nothing" : offered;
}

void judge_answer(const HttpResponse& response, const std::string& principal, const std::string& url,
                  Report& report) {
    const std::string check = "Exchange accepts the token (" + url + ")";
    const std::string status = std::to_string(response.result_int());
    const std::string offered = challenges_of(response);
    if (response.result_int() / 100 == 2) {
        report.pass("exchange", check,
                    "OPTIONS /Microsoft-Server-ActiveSync as " + principal + ": " + status);
        return;
    }
    const std::string found = "OPTIONS /Microsoft-Server-ActiveSync as " + principal + ": " + status +
                              ", WWW-Authenticate offers " + offered;
    if (response.result_int() != 401) {
        report.warn("exchange", check, found, "see Exchange's IIS log for why it answered " + status);
    } else if (offered.find("Negotiate") == std::string::npos) {
        report.fail("exchange", check, "Negotiate not offered: " + found,
                    "add Negotiate to Windows Authentication on Microsoft-Server-ActiveSync (IIS Manager → "
                    "Default Web Site → Microsoft-Server-ActiveSync → Authentication → Windows "
                    "Authentication → enabled, Providers → Negotiate above NTLM)");
    } else {
        report.fail(
            "exchange", check, "the token was refused: " + found,
            "IIS refused the ticket: either it can't decrypt it (the SPN must be on the account whose key "
            "IIS "
            "uses: the Alternate Service Account on load-balanced servers), or Extended Protection wants "
            "the token bound to the TLS connection (keep upstreams.channel_binding: auto, and let no "
            "device terminate TLS between easgate and Exchange)");
    }
}

// S4U2Self and S4U2Proxy as the request path does them, then the token to Exchange on a connection
// of its own (bound to it when Extended Protection applies), as OPTIONS, which every device sends first.
void check_exchange(const config::Config& config, const config::UpstreamConfig& upstream,
                    const std::string& principal, Report& report) {
    const auto& server = upstream.servers.front();
    Probe probe(config.limits.upstream_connect_timeout, upstream.ca_file);
    std::string error = probe.connect(server.host, server.port);
    if (error.empty() && server.tls) error = probe.handshake(server.host);
    if (!error.empty()) {
        report.fail("exchange", "connection to " + server.url, error, "check upstreams.servers and ca_file");
        return;
    }
    const bool bind = server.tls && upstream.channel_binding == config::ChannelBinding::automatic;
    const std::string channel_binding = bind ? upstream::tls_server_end_point(probe.peer_certificate()) : "";
    delegation::DelegationService service(*config.kerberos);
    const auto token =
        run_to_completion(service.negotiate_token(principal, upstream.service_principal, channel_binding));
    const std::string check = "S4U2Self and S4U2Proxy for " + principal + " to " + upstream.service_principal;
    if (!token) {
        fail_with(report, "delegation", check, token.error(), "the KDC's log names the refusal");
        return;
    }
    report.pass("delegation", check, "the KDC issued the ticket; Negotiate token made");
    HttpRequest request(http::verb::options, "/Microsoft-Server-ActiveSync", 11);
    request.set(http::field::host, server.host_header());
    request.set(http::field::user_agent, "easgate-doctor");
    request.set(http::field::authorization, "Negotiate " + *token);
    HttpResponse response;
    if (error = probe.exchange(request, response); !error.empty()) {
        report.fail("exchange", "answer of " + server.url, error, "check that Exchange is up");
        return;
    }
    judge_answer(response, principal, server.url, report);
}

}  // namespace

void check_user(const config::Config& config, const std::string& upn, Report& report) {
    if (!config.directory || !config.kerberos) {
        report.skip("user", upn, "needs the directory: and kerberos: sections");
        return;
    }
    const auto user = check_account(config, upn, report);
    if (!user) return;
    const std::string principal = user->sam_account_name + "@" + config.kerberos->realm();
    std::set<std::string> done;
    for (const auto& upstream : config.upstreams)
        if (!upstream.servers.empty() && done.insert(upstream.servers.front().url).second)
            check_exchange(config, upstream, principal, report);
}

}  // namespace easgate::doctor
