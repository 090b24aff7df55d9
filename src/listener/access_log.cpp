// The access log line of each answered request, and its figures in /metrics.
#include <spdlog/fmt/fmt.h>

#include "downstream_session_internal.hpp"
#include "easgate/common/logging.hpp"

namespace easgate::listener {
namespace {

std::int64_t milliseconds(std::chrono::steady_clock::duration elapsed) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
}

std::string_view or_dash(std::string_view value) { return value.empty() ? std::string_view("-") : value; }

// The account as Active Directory names it (the certificate's name need not be it: a SID or
// altSecurityIdentities may map it to another): its userPrincipalName, else its sAMAccountName.
std::string_view account_name(const directory::FoundUser& account) {
    if (!account) return "-";
    return or_dash(account->upn.empty() ? account->sam_account_name : account->upn);
}

}  // namespace

// Fields come from what easgate parsed, never from the raw request: the query (whose base64 form
// carries the policy key) and the Authorization header stay out of the log. Views only: the line
// itself is the one thing formatted.
void DownstreamSession::log_access(const AdmittedRequest& request, unsigned status, const std::string& reason,
                                   std::uint64_t bytes_out) const {
    const auto elapsed = std::chrono::steady_clock::now() - started_;
    const auto& eas = request.eas;
    runtime_->requests->count(eas::command_label(eas), status, request.long_poll, elapsed);
    const std::string_view target = request.line.target;
    const std::string_view path = target.substr(0, target.find('?'));
    const std::string_view who = who_.empty() ? std::string_view("- -") : std::string_view(who_);
    const auto space = who.find(' ');
    const auto& trip = exchange_.trip();
    const bool went_upstream = request.forwarded && trip.server != nullptr;
    const common::LogField fields[] = {
        {"peer", who.substr(0, space), true},
        {"user", who.substr(space + 1), true},
        {"method", request.line.method, true},
        {"path", path, true},
        {"status", static_cast<std::int64_t>(status), true},
        {"ms", milliseconds(elapsed)},
        {"account", account_name(request.account)},
        {"cmd", or_dash(eas.command)},
        {"device_id", or_dash(eas.device_id)},
        {"device_type", or_dash(eas.device_type)},
        {"protocol", or_dash(eas.protocol_version)},
        {"bytes_in", static_cast<std::int64_t>(request.body_rate ? request.body_rate->received() : 0)},
        {"bytes_out", static_cast<std::int64_t>(bytes_out)},
        {"upstream", runtime_->upstream->name()},
        {"server", went_upstream ? std::string_view(trip.server->url) : std::string_view("-")},
        {"delegation_ms", milliseconds(request.delegation_time)},
        {"upstream_ms", went_upstream ? milliseconds(trip.to_header) : 0},
        {"cache_hit", request.ticket_from_cache ? (*request.ticket_from_cache ? "yes" : "no") : "-"},
        {"policy", or_dash(request.policy_rule)},
        {"reason", or_dash(reason)},
    };
    fmt::memory_buffer message;  // on the stack unless the path is long
    const fmt::format_int status_text(status);
    // A refused request's target may hold quotes and any byte: written \xNN in the message.
    const auto escaped_path = common::escaped_log_word(path, true);
    for (const std::string_view part :
         {who, std::string_view(" \""), std::string_view(request.line.method), std::string_view(" "),
          escaped_path ? std::string_view(*escaped_path) : path, std::string_view("\" "),
          std::string_view(status_text.data(), status_text.size())}) {
        message.append(part.data(), part.data() + part.size());
    }
    common::log_with_fields(!reason.empty(), {message.data(), message.size()}, fields);
}

}  // namespace easgate::listener
