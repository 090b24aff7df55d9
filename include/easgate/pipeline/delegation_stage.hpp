#pragma once

#include <memory>
#include <string>

#include "easgate/delegation/delegation_service.hpp"
#include "easgate/pipeline/request_pipeline.hpp"

namespace easgate::pipeline {

// Seed steps 3–4: S4U2Self for the user, S4U2Proxy to the upstream's SPN. Leaves the request a
// TokenSource for "Authorization: Negotiate": Exchange then sees the user, and no password exists.
// The KDC is asked here, so its refusal is the device's answer before Exchange is asked; tokens
// are made by the upstream exchange, only when it sends one.
class DelegationStage final : public RequestStage {
public:
    DelegationStage(std::shared_ptr<delegation::DelegationService> delegation, std::string realm,
                    std::string target_spn, std::uint64_t max_authorization_bytes)
        : delegation_(std::move(delegation)),
          realm_(std::move(realm)),
          target_spn_(std::move(target_spn)),
          max_authorization_bytes_(max_authorization_bytes) {}
    std::optional<common::Result<>> decide_now(RequestContext& request) override;
    boost::asio::awaitable<common::Result<>> process(RequestContext& request) override;

private:
    common::Result<std::string> impersonated(const RequestContext& request) const;
    common::Result<> take(RequestContext& request, const std::string& user,
                          delegation::UserDelegation delegation) const;
    common::Failure too_large(const std::string& user, std::size_t bytes) const;

    std::shared_ptr<delegation::DelegationService> delegation_;
    std::string realm_;
    std::string target_spn_;
    std::uint64_t max_authorization_bytes_;
};

}  // namespace easgate::pipeline
