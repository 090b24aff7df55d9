#include "easgate/pipeline/delegation_stage.hpp"

#include "easgate/common/text.hpp"
#include "easgate/config/units.hpp"
#include "easgate/directory/account_checks.hpp"

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

    void accepted() override { delegation_.accepted(); }

    boost::asio::awaitable<common::Result<bool>> renew() override {
        co_return co_await service_->renew(delegation_);
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

// Whom to impersonate: the directory's canonical name (the enterprise form, the UPN, would stay in
// the ticket as "alice@corp.example.com@REALM"); the configuration requires the directory stage.
common::Result<std::string> DelegationStage::impersonated(const RequestContext& request) const {
    if (!request.user)
        return Failure::unavailable("no directory entry for " + request.identity->display_name())
            .because("no_directory_entry");
    // The name is only unique within its domain: an account of another domain (found through a
    // Global Catalog, or a base_dn over several domains) must not be taken for the namesake in ours.
    const auto& dn = request.user->distinguished_name;
    if (const auto domain = directory::domain_of(dn).dns_name;
        !domain.empty() && !common::equals_ignoring_case(domain, realm_)) {
        return Failure::refused(
                   "account " + dn + " is in the domain " + domain + ", not in easgate's realm " + realm_ +
                   ": easgate delegates only for accounts of its own domain (point directory.base_dn "
                   "and directory.uris at that domain's DCs, not at a Global Catalog, or run an "
                   "easgate with a keytab of each domain)")
            .because("other_domain");
    }
    return request.user->sam_account_name + "@" + realm_;
}

common::Result<> DelegationStage::take(RequestContext& request, const std::string& user,
                                       delegation::UserDelegation delegation) const {
    if (delegation.authorization_bytes() > max_authorization_bytes_)
        return too_large(user, delegation.authorization_bytes());
    request.credentials = std::make_shared<DelegatedTokens>(delegation_, std::move(delegation));
    return {};
}

std::optional<common::Result<>> DelegationStage::decide_now(RequestContext& request) {
    if (!request.identity) return common::Result<>{};  // optional mode: the device's own credentials
    const auto user = impersonated(request);
    if (!user) return common::Result<>{user.error()};
    auto delegation = delegation_->delegate_now(*user, target_spn_, request.user->object_sid);
    if (!delegation) return std::nullopt;
    request.delegation_from_cache = true;
    return take(request, *user, std::move(*delegation));
}

boost::asio::awaitable<common::Result<>> DelegationStage::process(RequestContext& request) {
    if (!request.identity) co_return common::Result<>{};
    const auto user = impersonated(request);
    if (!user) co_return user.error();
    const auto asked = std::chrono::steady_clock::now();
    auto delegation = co_await delegation_->delegate(*user, target_spn_, &request.delegation_from_cache,
                                                     request.user->object_sid);
    request.delegation_time = std::chrono::steady_clock::now() - asked;
    if (!delegation) co_return delegation.error();
    co_return take(request, *user, std::move(*delegation));
}

}  // namespace easgate::pipeline
