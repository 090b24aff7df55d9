#include "easgate/pipeline/delegation_stage.hpp"

#include "easgate/config/units.hpp"

namespace easgate::pipeline {
namespace {

using common::Failure;

// The delegated user's tokens, made when the upstream sends one: bound to its TLS connection
// (Extended Protection) or not, from the service ticket the stage made sure of.
class DelegatedTokens final : public upstream::TokenSource {
public:
    DelegatedTokens(std::shared_ptr<delegation::DelegationService> service,
                    delegation::UserDelegation delegation)
        : service_(std::move(service)), delegation_(std::move(delegation)) {}

    boost::asio::awaitable<common::Result<std::string>> token(std::string channel_binding) override {
        auto token = service_->token(delegation_, channel_binding);
        // The user was let through moments ago: whatever fails now is the infrastructure's.
        if (!token) co_return Failure::unavailable(token.error().reason).because(token.error().cause);
        co_return std::move(*token);
    }

private:
    std::shared_ptr<delegation::DelegationService> service_;
    delegation::UserDelegation delegation_;
};

}  // namespace

// The PAC in a Kerberos ticket lists every group of the user: thousands of groups make tokens of
// tens of KiB, which HTTP.sys refuses with 400 unless its limits were raised to match.
Failure DelegationStage::too_large(const std::string& user, std::size_t bytes) const {
    return Failure::bad_gateway(
               "the Authorization header for " + user + " would be " + std::to_string(bytes) +
               " bytes, over upstreams[].max_authorization_bytes (" +
               config::format_size(max_authorization_bytes_) +
               "): the user's Kerberos ticket is large because of their many group memberships. Raise "
               "max_authorization_bytes together with MaxFieldLength and MaxRequestBytes (HTTP.sys, on every "
               "Exchange server), or reduce the user's groups")
        .because("authorization_too_large");
}

boost::asio::awaitable<common::Result<>> DelegationStage::process(RequestContext& request) {
    if (!request.identity) co_return common::Result<>{};  // optional mode: the device's own credentials
    // Impersonate the directory's canonical name: the enterprise form (the UPN) would stay in the
    // ticket as "alice@corp.example.com@REALM". The configuration requires the directory stage.
    if (!request.user)
        co_return Failure::unavailable("no directory entry for " + request.identity->principal_name())
            .because("no_directory_entry");
    std::string user = request.user->sam_account_name + "@" + realm_;
    const auto asked = std::chrono::steady_clock::now();
    auto delegation = co_await delegation_->delegate(user, target_spn_, &request.delegation_from_cache);
    request.delegation_time = std::chrono::steady_clock::now() - asked;
    if (!delegation) co_return std::move(delegation.error());
    if (delegation->authorization_bytes() > max_authorization_bytes_)
        co_return too_large(user, delegation->authorization_bytes());
    request.credentials = std::make_shared<DelegatedTokens>(delegation_, std::move(*delegation));
    co_return common::Result<>{};
}

}  // namespace easgate::pipeline
