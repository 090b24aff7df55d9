#include "easgate/pipeline/delegation_stage.hpp"

#include "easgate/config/units.hpp"

namespace easgate::pipeline {

// The PAC in a Kerberos ticket lists every group of the user: thousands of groups make tokens of
// tens of KiB, which HTTP.sys refuses with 400 unless its limits were raised to match.
Verdict DelegationStage::too_large(const std::string& user, std::size_t bytes) const {
    return Verdict::bad_gateway(
        "the Authorization header for " + user + " would be " + std::to_string(bytes) +
        " bytes, over upstreams[].max_authorization_bytes (" + config::format_size(max_authorization_bytes_) +
        "): the user's Kerberos ticket is large because of their many group memberships. Raise "
        "max_authorization_bytes together with MaxFieldLength and MaxRequestBytes (HTTP.sys, on every "
        "Exchange server), or reduce the user's groups");
}

boost::asio::awaitable<Verdict> DelegationStage::process(RequestContext& request) {
    if (!request.identity) co_return Verdict::proceed();  // optional mode: the device's own credentials
    // Impersonate the directory's canonical name: the enterprise form (the UPN) would stay in the
    // ticket as "alice@corp.example.com@REALM". The configuration requires the directory stage.
    if (!request.user)
        co_return Verdict::unavailable("no directory entry for " + request.identity->principal_name());
    std::string user = request.user->sam_account_name + "@" + realm_;
    const auto result = co_await delegation_->negotiate_token(user, target_spn_);
    switch (result.failure) {
        case delegation::DelegationFailure::none: {
            const std::size_t authorization_bytes =
                std::string_view("Negotiate ").size() + result.negotiate_token.size();
            if (authorization_bytes > max_authorization_bytes_)
                co_return too_large(user, authorization_bytes);
            request.delegated =
                DelegatedUser{delegation_, std::move(user), target_spn_, result.negotiate_token};
            co_return Verdict::proceed();
        }
        case delegation::DelegationFailure::user_refused:
            co_return Verdict::refuse(result.detail);
        case delegation::DelegationFailure::infrastructure:
            co_return Verdict::unavailable(result.detail);
    }
    co_return Verdict::unavailable("delegation answered with an unknown outcome");
}

}  // namespace easgate::pipeline
