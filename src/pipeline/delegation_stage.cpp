#include "easgate/pipeline/delegation_stage.hpp"

#include "easgate/config/units.hpp"

namespace easgate::pipeline {
namespace {

using common::Failure;

// The delegated user's tokens: the unbound one the stage made, or one bound to the upstream TLS
// connection (Extended Protection), made from the cached service ticket without a KDC round trip.
class DelegatedTokens final : public upstream::TokenSource {
public:
    DelegatedTokens(std::shared_ptr<delegation::DelegationService> service, std::string user,
                    std::string target_spn, std::string unbound_token)
        : service_(std::move(service)),
          user_(std::move(user)),
          target_spn_(std::move(target_spn)),
          unbound_token_(std::move(unbound_token)) {}

    boost::asio::awaitable<common::Result<std::string>> token(std::string channel_binding) override {
        if (channel_binding.empty()) co_return unbound_token_;
        auto token = co_await service_->negotiate_token(user_, target_spn_, std::move(channel_binding));
        // The user was let through moments ago: whatever fails now is the infrastructure's.
        if (!token) co_return Failure::unavailable(token.error().reason).because(token.error().cause);
        co_return std::move(*token);
    }

private:
    std::shared_ptr<delegation::DelegationService> service_;
    std::string user_;
    std::string target_spn_;
    std::string unbound_token_;
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
    auto token = co_await delegation_->negotiate_token(user, target_spn_, {}, &request.delegation_from_cache);
    request.delegation_time = std::chrono::steady_clock::now() - asked;
    if (!token) co_return std::move(token.error());
    const std::size_t authorization_bytes = std::string_view("Negotiate ").size() + token->size();
    if (authorization_bytes > max_authorization_bytes_) co_return too_large(user, authorization_bytes);
    request.credentials =
        std::make_shared<DelegatedTokens>(delegation_, std::move(user), target_spn_, std::move(*token));
    co_return common::Result<>{};
}

}  // namespace easgate::pipeline
