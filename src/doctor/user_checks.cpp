#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "checks.hpp"
#include "easgate/delegation/delegation_service.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/upstream/backend_diagnosis.hpp"
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
// or expired, delegable, not in Protected Users, in require_group when set; null when not (reported).
directory::FoundUser check_account(const std::string& upn, SharedDirectory& shared, Report& report) {
    try {
        auto found = run_to_completion(
            shared.client()->find(directory::AccountSearch::by_attribute("userPrincipalName", upn)));
        if (!found) {
            fail_with(report, "user", upn, found.error(),
                      "fix the account in Active Directory Users and Computers (Account tab), or the "
                      "UPN: it must be the account's userPrincipalName");
            return nullptr;
        }
        report.pass(
            "user", upn,
            (*found)->distinguished_name +
                ": enabled, not locked out or expired, delegable (not sensitive, not in Protected Users)");
        return *found;
    } catch (const config::ConfigError& e) {
        report.fail("user", upn, e.what(), "correct the directory: section");
        return nullptr;
    }
}

void judge_answer(const HttpResponse& response, const std::string& principal, const std::string& url,
                  Report& report) {
    const std::string check = "Exchange accepts the token (" + url + ")";
    const std::string status = std::to_string(response.result_int());
    const auto refusal = upstream::read_backend_refusal(
        upstream::challenges_of(response), true, true,
        upstream::clock_ahead_of(response[http::field::date], std::chrono::system_clock::now()));
    if (response.result_int() / 100 == 2) {
        report.pass("exchange", check,
                    "OPTIONS /Microsoft-Server-ActiveSync as " + principal + ": " + status);
        return;
    }
    const std::string found = "OPTIONS /Microsoft-Server-ActiveSync as " + principal + ": " + status +
                              ", WWW-Authenticate offers " + refusal.offered;
    if (response.result_int() != 401) {
        report.warn("exchange", check, found, "see Exchange's IIS log for why it answered " + status);
    } else {
        report.fail("exchange", check, refusal.cause + "; " + found, refusal.remedy);
    }
}

// OPTIONS, which every device sends first, with the token.
void ask_exchange(Probe& probe, const config::UpstreamTarget& server, const std::string& token,
                  const std::string& principal, Report& report) {
    HttpRequest request(http::verb::options, "/Microsoft-Server-ActiveSync", 11);
    request.set(http::field::host, server.host_header());
    request.set(http::field::user_agent, "easgate-doctor");
    request.set(http::field::authorization, "Negotiate " + token);
    HttpResponse response;
    if (const auto error = probe.exchange(request, response); !error.empty()) {
        report.fail("exchange", "answer of " + server.url, error, "check that Exchange is up");
        return;
    }
    judge_answer(response, principal, server.url, report);
}

// S4U2Self and S4U2Proxy as the request path does them, then a token for each server on a
// connection of its own, bound to it when Extended Protection applies.
void check_upstream(const config::Config& config, const config::UpstreamConfig& upstream,
                    const std::string& principal, Report& report) {
    delegation::DelegationService service(*config.kerberos);
    const std::string check = "S4U2Self and S4U2Proxy for " + principal + " to " + upstream.service_principal;
    bool delegated = false;
    for (const auto& server : upstream.servers) {
        Probe probe(config.limits.upstream_connect_timeout, upstream.ca_file);
        if (const auto error = probe.open(server.host, server.port, server.tls); !error.empty()) {
            report.skip("exchange", "Exchange accepts the token (" + server.url + ")",
                        "no connection: " + error);
            continue;
        }
        const bool bind = server.tls && upstream.channel_binding == config::ChannelBinding::automatic;
        const auto token = run_to_completion(service.negotiate_token(
            principal, upstream.service_principal,
            bind ? upstream::tls_server_end_point(probe.peer_certificate()) : std::string()));
        if (!token) {
            fail_with(report, "delegation", check, token.error(), "the KDC's log names the refusal");
            return;
        }
        if (!delegated) report.pass("delegation", check, "the KDC issued the ticket; Negotiate token made");
        delegated = true;
        ask_exchange(probe, server, *token, principal, report);
    }
}

}  // namespace

void check_user(const config::Config& config, const std::string& upn, SharedDirectory& shared,
                Report& report) {
    if (!config.directory || !config.kerberos) {
        report.skip("user", upn, "needs the directory: and kerberos: sections");
        return;
    }
    const auto user = check_account(upn, shared, report);
    if (!user) return;
    const std::string principal = user->sam_account_name + "@" + config.kerberos->realm();
    for (const auto& upstream : config.upstreams) check_upstream(config, upstream, principal, report);
}

}  // namespace easgate::doctor
